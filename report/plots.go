package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is a rendered plot in PNG, SVG and PDF, and what its caption
// must say about it.
type Figure struct {
	Name          string // file name without extension
	PNG, SVG, PDF []byte
	// Zoom describes the zoomed panel ("" when the figure has one panel).
	Zoom string
	// Notes are facts the caption states: series that coincide.
	Notes []string
}

// series is one line of a sweep plot: points with ± one std error bars.
type series struct {
	label  string
	x, y   []float64 // y in %
	err    []float64 // one std, pp
	dashed bool
	// dotted draws the line dotted with hollow markers: a second figure
	// of the same series (the transfer attack beside the white-box one).
	dotted bool
}

// refLine is a horizontal reference: the baseline or a control.
type refLine struct {
	label string
	y     float64 // %
}

// SweepPlot draws test accuracy against the sweep's rows key, one line
// per column with ± one std error bars over seeds, the baseline (and the
// same-budget control of a fine-tuning sweep) as horizontal lines, and a
// second panel zoomed on the top when the full range would hide where the
// methods differ. ok is false when the rows are not numeric or fewer than
// two (a single row is a reference, drawn in the other plots).
func (s Study) SweepPlot(g Grid, name string) (Figure, bool, error) {
	if len(g.Rows) < 2 || g.isControlGrid() {
		return Figure{}, false, nil
	}
	logX := g.Sweep.LogX || g.RowKey == "bits"
	xs := make([]float64, len(g.Rows))
	for i, r := range g.Rows {
		x, err := strconv.ParseFloat(r, 64)
		if err != nil || logX && x <= 0 {
			return Figure{}, false, nil
		}
		xs[i] = x
	}
	var ser []series
	for _, col := range g.Columns {
		sr := series{label: g.Labels[col], dashed: g.isFormulaColumn(col)}
		for i, r := range g.Rows {
			if c, ok := g.At[[2]string{r, col}]; ok {
				sr.x, sr.y, sr.err = append(sr.x, xs[i]), append(sr.y, 100*c.Acc.Mean), append(sr.err, 100*c.Acc.Std)
			}
		}
		ser = append(ser, sr)
	}
	refs := s.references(g)
	xLabel := g.RowKey
	if logX {
		xLabel += " (log scale)"
	}
	f, err := drawSweep(name, ser, refs, xs, logX, xLabel)
	if err != nil {
		return Figure{}, false, err
	}
	for _, grp := range g.Coinciding() {
		f.Notes = append(f.Notes, strings.Join(grp, ", ")+" coincide at every "+g.RowKey+" (one line hides the other)")
	}
	return f, true, nil
}

// references are the grid's horizontal lines: the mean baseline of the
// seeds, and for a fine-tuning sweep the control with the same budget.
func (s Study) references(g Grid) []refLine {
	var refs []refLine
	for _, r := range g.Rows {
		for _, col := range g.Columns {
			c, ok := g.At[[2]string{r, col}]
			if !ok || len(refs) > 0 {
				continue
			}
			refs = append(refs, refLine{fmt.Sprintf("baseline, mean of seeds (%.2f %%)", 100*c.Base.Mean), 100 * c.Base.Mean})
			if k, ok := s.controlFor(c); ok {
				refs = append(refs, refLine{fmt.Sprintf("no-compression fine-tune, same budget (%.2f %%)", 100*k.Acc.Mean), 100 * k.Acc.Mean})
			}
		}
	}
	return refs
}

// window is a panel's data range.
type window struct{ x0, x1, y0, y1 float64 }

// drawSweep lays out a sweep figure: the full panel, a zoomed panel when
// needed, and the legend below them.
func drawSweep(name string, ser []series, refs []refLine, xs []float64, logX bool, xLabel string) (Figure, error) {
	full, zoom, hasZoom := sweepWindows(ser, refs, xs, logX)
	panelW := figWidth - vg.Inch*0.9
	if hasZoom {
		panelW = (figWidth - vg.Inch*1.5) / 2
	}
	mk := func(w window, title string, box *window) *plot.Plot {
		p := newPanel(xLabel, "test accuracy (%)")
		p.Title.Text = title
		p.Title.TextStyle.Font.Size = smallFont
		if logX {
			p.X.Scale = plot.LogScale{}
		}
		p.X.Tick.Marker = gridTicks{values: xs, log: logX, length: panelW}
		for i, r := range refs {
			p.Add(hline{r.y, refStyle(i)})
		}
		if box != nil {
			p.Add(zoomBox{*box})
		}
		addSeries(p, ser, w, logX)
		// after the plotters, which widen the ranges to their data
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = w.x0, w.x1, w.y0, w.y1
		return p
	}
	var entries []legendItem
	for i, sr := range ser {
		entries = append(entries, legendItem{sr.label, seriesThumbs(i, sr.dashed)})
	}
	for i, r := range refs {
		entries = append(entries, legendItem{r.label, []plot.Thumbnailer{hline{style: refStyle(i)}}})
	}
	lg := newLegendBlock(figWidth-vg.Inch*0.6, entries)
	legendH := lg.height()
	plotH := 3.3 * vg.Inch
	var f Figure
	var err error
	if hasZoom {
		left, right := mk(full, "full range", &zoom), mk(zoom, "zoom on the top", nil)
		f, err = render(name, figWidth, plotH+legendH, func(dc draw.Canvas) {
			area := dc
			area.Min.Y += legendH
			cs := plot.Align([][]*plot.Plot{{left, right}}, draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(14), PadTop: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}, area)
			drawPanel(left, cs[0][0])
			drawPanel(right, cs[0][1])
			lg.draw(legendArea(dc, legendH))
		})
		f.Zoom = fmt.Sprintf("right: zoom on %.1f–%.1f %% (the grey box on the left)", zoom.y0, zoom.y1)
	} else {
		p := mk(full, "", nil)
		f, err = render(name, figWidth, plotH+legendH, func(dc draw.Canvas) {
			area := dc
			area.Min.Y += legendH
			drawPanel(p, draw.Crop(area, vg.Points(4), -vg.Points(10), 0, -vg.Points(4)))
			lg.draw(legendArea(dc, legendH))
		})
	}
	return f, err
}

// legendArea is the strip at the bottom of a figure that holds its legend.
func legendArea(dc draw.Canvas, h vg.Length) draw.Canvas {
	c := dc
	c.Max.Y = dc.Min.Y + h
	c.Min.X += vg.Inch * 0.5
	return c
}

// sweepWindows chooses the panels' ranges. The full panel spans every
// point and its error bar. When the points within 2.5 pp below the
// baseline (where methods that work differ) would take up less than a
// quarter of the full panel's height, a zoomed panel shows that band for
// the rows that have points in it.
func sweepWindows(ser []series, refs []refLine, xs []float64, logX bool) (full, zoom window, ok bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, sr := range ser {
		for i := range sr.y {
			lo, hi = math.Min(lo, sr.y[i]-sr.err[i]), math.Max(hi, sr.y[i]+sr.err[i])
		}
	}
	top := math.Inf(-1)
	for _, r := range refs {
		lo, hi, top = math.Min(lo, r.y), math.Max(hi, r.y), math.Max(top, r.y)
	}
	pad := 0.04 * (hi - lo)
	x0, x1 := padRange(minOf(xs), maxOf(xs), logX)
	full = window{x0, x1, math.Max(0, lo-pad), math.Min(100, hi+pad)}
	if math.IsInf(top, -1) {
		return full, zoom, false
	}
	// the band's lowest point (with its error bar) or the lowest
	// reference, whichever is lower, and no more than 2.5 pp below the top
	zlo := top
	for _, sr := range ser {
		for i := range sr.y {
			if sr.y[i] >= top-2.5 {
				zlo = math.Min(zlo, sr.y[i]-sr.err[i])
			}
		}
	}
	for _, r := range refs {
		zlo = math.Min(zlo, r.y)
	}
	zlo = math.Max(math.Floor(10*(zlo-0.1))/10, math.Floor(2*(top-2.5))/2)
	zhi := math.Min(100, math.Max(hi, top)+0.25)
	for _, sr := range ser {
		for i := range sr.y {
			if sr.y[i] <= zhi {
				zhi = math.Max(zhi, math.Min(100, sr.y[i]+sr.err[i]+0.1))
			}
		}
	}
	zhi = math.Min(zhi, full.y1)
	if (zhi-zlo)*4 > full.y1-full.y0 {
		return full, zoom, false
	}
	var in []float64
	for _, sr := range ser {
		for i := range sr.y {
			if sr.y[i] >= zlo && sr.y[i] <= zhi {
				in = append(in, sr.x[i])
			}
		}
	}
	if minOf(in) == maxOf(in) {
		return full, zoom, false
	}
	zx0, zx1 := padRange(minOf(in), maxOf(in), logX)
	return full, window{zx0, zx1, zlo, zhi}, true
}

// padRange widens [lo, hi] so end points are not drawn on the axes.
func padRange(lo, hi float64, logX bool) (float64, float64) {
	if logX {
		r := math.Pow(hi/lo, 0.05)
		return lo / r, hi * r
	}
	d := 0.05 * (hi - lo)
	return lo - d, hi + d
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// addSeries draws each series into p: its line (clipped to the panel),
// and markers and error bars at the points inside the window, each series
// nudged sideways a little so coinciding points stay visible.
func addSeries(p *plot.Plot, ser []series, w window, logX bool) {
	n := float64(len(ser))
	for i, sr := range ser {
		shift := func(x float64) float64 {
			k := float64(i) - (n-1)/2
			if logX {
				return x * math.Pow(w.x1/w.x0, 0.01*k)
			}
			return x + 0.01*k*(w.x1-w.x0)
		}
		var line plotter.XYs
		var pts errPoints
		for j := range sr.x {
			pt := plotter.XY{X: shift(sr.x[j]), Y: sr.y[j]}
			line = append(line, pt)
			if pt.X >= w.x0 && pt.X <= w.x1 && pt.Y >= w.y0 && pt.Y <= w.y1 {
				pts.XYs = append(pts.XYs, pt)
				pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{sr.err[j], sr.err[j]})
			}
		}
		l, err := plotter.NewLine(line)
		if err != nil {
			continue
		}
		l.LineStyle = draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.3), Dashes: seriesDashes(i, sr.dashed)}
		shape := seriesMarker(i)
		if sr.dotted {
			l.LineStyle.Dashes = dotDashes
			shape = draw.RingGlyph{}
		}
		p.Add(l)
		if len(pts.XYs) == 0 {
			continue
		}
		sc, _ := plotter.NewScatter(pts.XYs)
		sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(3), Shape: shape}
		bars, _ := plotter.NewYErrorBars(pts)
		bars.LineStyle = draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1)}
		bars.CapWidth = vg.Points(5)
		p.Add(bars, sc)
	}
}

// dotDashes is the dotted line of a series' second figure.
var dotDashes = []vg.Length{vg.Points(1.5), vg.Points(2)}

// seriesThumbs are the legend thumbnails of series i.
func seriesThumbs(i int, dashed bool) []plot.Thumbnailer {
	l := &plotter.Line{LineStyle: draw.LineStyle{Color: seriesColor(i), Width: vg.Points(1.3), Dashes: seriesDashes(i, dashed)}}
	sc := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(3), Shape: seriesMarker(i)}}
	return []plot.Thumbnailer{l, sc}
}

// errPoints are (x, mean) points with ± std error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// zoomBox outlines, in the full panel, the window the zoomed panel shows.
type zoomBox struct{ w window }

func (z zoomBox) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	x0, x1 := trX(math.Max(z.w.x0, p.X.Min)), trX(math.Min(z.w.x1, p.X.Max))
	y0, y1 := trY(math.Max(z.w.y0, p.Y.Min)), trY(math.Min(z.w.y1, p.Y.Max))
	sty := draw.LineStyle{Color: rgb(0x99, 0x99, 0x99), Width: vg.Points(0.8)}
	c.StrokeLines(sty, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
}

func title(g Grid) string {
	if g.Sweep.Title != "" {
		return g.Sweep.Title
	}
	return g.Sweep.Name
}
