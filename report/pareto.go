package report

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ParetoFloor is the lowest accuracy (%) the size plot shows and the
// frontier considers: 85 %, or 10 pp below the best cell when that is
// lower (a model trained for a test reaches less). Cells below it are
// counted in the report.
func ParetoFloor(cells []Cell) float64 {
	best := 0.0
	for _, c := range cells {
		best = math.Max(best, 100*c.Acc.Mean)
	}
	return math.Min(85, math.Floor(best-10))
}

// uncompressed reports whether a cell is no smaller than the float32
// model (its real ratio under 1.02): a control or a pass that saved
// nothing, which has no place on a size/accuracy frontier.
func uncompressed(c Cell) bool {
	_, r, _ := c.Bytes()
	return r < 1.02
}

// Frontier returns the cells at or above ParetoFloor that no other such
// cell beats in both size and accuracy, ordered by size. Accuracy is the
// validation split's when every cell has it (the frontier is a choice,
// reported on test), else the test set's. Controls and cells no smaller
// than float32 are left out. (Below the floor a model is too broken to be
// a trade-off worth listing: the article's literal quantization gives a
// 9.7 % model of a few hundred bytes.)
func (s Study) Frontier() []Cell {
	floor := ParetoFloor(s.Cells)
	var in []Cell
	for _, c := range s.Cells {
		if b, _, _ := c.Bytes(); 100*c.Acc.Mean >= floor && b > 0 && !isControl(c) && !uncompressed(c) {
			in = append(in, c)
		}
	}
	sort.SliceStable(in, func(i, j int) bool {
		bi, _, _ := in[i].Bytes()
		bj, _, _ := in[j].Bytes()
		if bi != bj {
			return bi < bj
		}
		return s.selAcc(in[i]) > s.selAcc(in[j])
	})
	var out []Cell
	best := math.Inf(-1)
	for _, c := range in {
		if a := s.selAcc(c); a > best {
			out = append(out, c)
			best = a
		}
	}
	return out
}

// ParetoPlot draws every configuration's test accuracy against its size
// (log x), the frontier numbered as in the report's table with ± one std
// error bars, the baseline and the controls as horizontal lines, and a
// panel zoomed on the frontier's top. It returns how many cells fell
// below the floor.
func (s Study) ParetoPlot(name string) (Figure, int, error) {
	floor := ParetoFloor(s.Cells)
	front := s.Frontier()
	var all plotter.XYs
	hidden := 0
	real := true
	for _, c := range s.Cells {
		b, _, r := c.Bytes()
		real = real && r
		if 100*c.Acc.Mean < floor || b <= 0 {
			hidden++
			continue
		}
		all = append(all, plotter.XY{X: b, Y: 100 * c.Acc.Mean})
	}
	xLabel := "bytes of the packed .mnc file (log scale)"
	if !real {
		xLabel = "bytes the representation needs, by the size model (log scale)"
	}
	var refs []refLine
	if len(s.Cells) > 0 {
		refs = append(refs, refLine{fmt.Sprintf("baseline, mean of seeds (%.2f %%)", 100*s.Cells[0].Base.Mean), 100 * s.Cells[0].Base.Mean})
	}
	for _, k := range s.Controls {
		refs = append(refs, refLine{fmt.Sprintf("fine-tune without compression, %s (%.2f %%)", k.Budget, 100*k.Acc.Mean), 100 * k.Acc.Mean})
	}
	var fr errPoints
	for _, c := range front {
		b, _, _ := c.Bytes()
		fr.XYs = append(fr.XYs, plotter.XY{X: b, Y: 100 * c.Acc.Mean})
		fr.YErrors = append(fr.YErrors, struct{ Low, High float64 }{100 * c.Acc.Std, 100 * c.Acc.Std})
	}
	xs := make([]float64, 0, len(all))
	for _, p := range all {
		xs = append(xs, p.X)
	}
	if len(xs) == 0 {
		xs = []float64{1, 10}
	}
	x0, x1 := padRange(minOf(xs), maxOf(xs), true)
	var ys []float64
	for i, p := range fr.XYs {
		ys = append(ys, p.Y+fr.YErrors[i].High)
	}
	for _, p := range all {
		ys = append(ys, p.Y)
	}
	top := 0.0
	for _, r := range refs {
		top = math.Max(top, r.y)
		ys = append(ys, r.y)
	}
	for _, p := range fr.XYs {
		top = math.Max(top, p.Y)
	}
	full := window{x0, x1, math.Max(floor, math.Floor(minOf(ys)-1)), math.Min(100, math.Ceil(maxOf(ys)+0.3))}
	// the zoom: the frontier's points and the references within 2.5 pp of
	// the top, and their error bars
	zoom := window{y0: math.Inf(1), y1: math.Min(100, top+0.3)}
	var zx []float64
	for i, p := range fr.XYs {
		if p.Y >= top-2.5 {
			zx = append(zx, p.X)
			zoom.y0 = math.Min(zoom.y0, p.Y-fr.YErrors[i].Low)
			zoom.y1 = math.Max(zoom.y1, math.Min(100, p.Y+fr.YErrors[i].High+0.1))
		}
	}
	for _, r := range refs {
		zoom.y0 = math.Min(zoom.y0, r.y)
	}
	zoom.y0 = math.Floor(10*(zoom.y0-0.1)) / 10
	hasZoom := len(zx) >= 2 && (zoom.y1-zoom.y0)*4 < full.y1-full.y0
	if hasZoom {
		zoom.x0, zoom.x1 = padRange(minOf(zx), maxOf(zx), true)
		zoom.x0, zoom.x1 = zoom.x0/1.15, zoom.x1*1.15
	}
	panelW := figWidth - vg.Inch*0.9
	if hasZoom {
		panelW = (figWidth - vg.Inch*1.5) / 2
	}
	mk := func(w window, title string, labelled func(plotter.XY) bool, box *window) *plot.Plot {
		p := newPanel(xLabel, "test accuracy (%)")
		p.Title.Text = title
		p.Title.TextStyle.Font.Size = smallFont
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = bytesTicks{panelW}
		for i, r := range refs {
			p.Add(hline{r.y, refStyle(i)})
		}
		if box != nil {
			p.Add(zoomBox{*box})
		}
		var in plotter.XYs
		for _, q := range all {
			if q.X >= w.x0 && q.X <= w.x1 && q.Y >= w.y0 && q.Y <= w.y1 {
				in = append(in, q)
			}
		}
		if len(in) > 0 {
			sc, _ := plotter.NewScatter(in)
			sc.GlyphStyle = draw.GlyphStyle{Color: rgb(0xAA, 0xAA, 0xAA), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		if len(fr.XYs) > 0 {
			line, _ := plotter.NewLine(fr.XYs)
			line.LineStyle = draw.LineStyle{Color: seriesColor(0), Width: vg.Points(1.3)}
			p.Add(line)
			var pts errPoints
			var labels plotter.XYLabels // the points' numbers
			for i, q := range fr.XYs {
				if q.X >= w.x0 && q.X <= w.x1 && q.Y >= w.y0 && q.Y <= w.y1 {
					pts.XYs = append(pts.XYs, q)
					pts.YErrors = append(pts.YErrors, fr.YErrors[i])
					if labelled(q) {
						labels.XYs = append(labels.XYs, q)
						labels.Labels = append(labels.Labels, fmt.Sprint(i+1))
					}
				}
			}
			if len(pts.XYs) > 0 {
				bars, _ := plotter.NewYErrorBars(pts)
				bars.LineStyle = draw.LineStyle{Color: seriesColor(3), Width: vg.Points(1)}
				bars.CapWidth = vg.Points(4)
				sc, _ := plotter.NewScatter(pts.XYs)
				sc.GlyphStyle = draw.GlyphStyle{Color: seriesColor(3), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
				p.Add(bars, sc)
			}
			if len(labels.XYs) > 0 {
				p.Add(numbers{labels, pts.XYs})
			}
		}
		// after the plotters, which widen the ranges to their data
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = w.x0, w.x1, w.y0, w.y1
		return p
	}
	entries := []legendItem{
		{"every configuration (mean over seeds)", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: rgb(0xAA, 0xAA, 0xAA), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}}}},
		{"Pareto frontier, numbered as in the table (± one std)", []plot.Thumbnailer{&plotter.Line{LineStyle: draw.LineStyle{Color: seriesColor(0), Width: vg.Points(1.3)}},
			&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: seriesColor(3), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}}}},
	}
	for i, r := range refs {
		entries = append(entries, legendItem{r.label, []plot.Thumbnailer{hline{style: refStyle(i)}}})
	}
	// the frontier's key, so that the figure reads without the table
	var key []legendItem
	for i, c := range front {
		key = append(key, legendItem{fmt.Sprintf("%d  %s", i+1, s.Label(c)), nil})
	}
	lg := newLegendBlock(figWidth-vg.Inch*0.6, entries, key)
	legendH := lg.height()
	plotH := 3.4 * vg.Inch
	var f Figure
	var err error
	if hasZoom {
		left := mk(full, fmt.Sprintf("every configuration at or above %.0f %%", full.y0), func(q plotter.XY) bool { return q.Y < zoom.y0 }, &zoom)
		right := mk(zoom, "zoom on the top of the frontier", func(plotter.XY) bool { return true }, nil)
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
		p := mk(full, "", func(plotter.XY) bool { return true }, nil)
		f, err = render(name, figWidth, plotH+legendH, func(dc draw.Canvas) {
			area := dc
			area.Min.Y += legendH
			drawPanel(p, draw.Crop(area, vg.Points(4), -vg.Points(10), 0, -vg.Points(4)))
			lg.draw(legendArea(dc, legendH))
		})
	}
	return f, hidden, err
}

// numbers writes a label beside each of its points, each where it
// overlaps no point and no label placed before it: to the left or right,
// a little above or below, then further away.
type numbers struct {
	plotter.XYLabels
	avoid plotter.XYs // points the labels must not cover
}

func (n numbers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := newPanel("", "").Legend.TextStyle
	sty.Font.Size = smallFont
	sty.Color = seriesColor(3)
	r := vg.Points(4)
	var taken []vg.Rectangle
	for _, q := range n.avoid {
		x, y := trX(q.X), trY(q.Y)
		taken = append(taken, vg.Rectangle{Min: vg.Point{X: x - r, Y: y - r}, Max: vg.Point{X: x + r, Y: y + r}})
	}
	for i, q := range n.XYs {
		text := n.Labels[i]
		x, y := trX(q.X), trY(q.Y)
		w, h := sty.Width(text), sty.Height(text)
		var at vg.Rectangle
		for _, d := range []vg.Point{{X: -w - r, Y: 1}, {X: r, Y: 1}, {X: -w - r, Y: -h - 1}, {X: r, Y: -h - 1},
			{X: -w / 2, Y: r + 1}, {X: -w / 2, Y: -h - r - 1}, {X: -w - r, Y: h + 2}, {X: r, Y: h + 2},
			{X: -w - r, Y: -2*h - 2}, {X: r, Y: -2*h - 2}, {X: -2*w - r, Y: 1}, {X: w + r, Y: 1}} {
			at = vg.Rectangle{Min: vg.Point{X: x + d.X, Y: y + d.Y}, Max: vg.Point{X: x + d.X + w, Y: y + d.Y + h}}
			if inside(at, c.Rectangle) && !overlaps(at, taken) {
				break
			}
		}
		taken = append(taken, at)
		c.FillText(sty, at.Min, text)
	}
}

func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Max.X <= b.Max.X && a.Min.Y >= b.Min.Y && a.Max.Y <= b.Max.Y
}

func overlaps(a vg.Rectangle, rs []vg.Rectangle) bool {
	for _, b := range rs {
		if a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y {
			return true
		}
	}
	return false
}
