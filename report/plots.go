package report

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is a rendered plot in PNG and SVG.
type Figure struct {
	Name     string // file name without extension
	PNG, SVG []byte
}

// errPoints are (x, mean) points with ± std error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// SweepPlot draws test accuracy against the sweep's rows key, one line per
// column with error bars over seeds. ok is false when rows are not numeric.
func (g Grid) SweepPlot(name string) (Figure, bool, error) {
	xs := make([]float64, len(g.Rows))
	for i, r := range g.Rows {
		x, err := strconv.ParseFloat(r, 64)
		if err != nil || (g.Sweep.LogX && x <= 0) {
			return Figure{}, false, nil
		}
		xs[i] = x
	}
	p := plot.New()
	p.Title.Text = title(g)
	p.X.Label.Text = g.RowKey
	p.Y.Label.Text = "test accuracy %"
	if g.Sweep.LogX {
		p.X.Scale = plot.LogScale{}
	}
	p.X.Tick.Marker = valueTicks(xs)
	// Right-hand side, a third of the way up: clear of the curves that rise
	// from the left and of the broken methods near the floor.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Inch * 1.2
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	for ci, col := range g.Columns {
		var pts errPoints
		for i, r := range g.Rows {
			c, ok := g.At[[2]string{r, col}]
			if !ok {
				continue
			}
			pts.XYs = append(pts.XYs, plotter.XY{X: xs[i], Y: 100 * c.Acc.Mean})
			e := 100 * c.Acc.Std
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{e, e})
		}
		sortXY(&pts)
		line, scatter, err := plotter.NewLinePoints(pts.XYs)
		if err != nil {
			return Figure{}, false, err
		}
		line.Color = plotutil.Color(ci)
		line.Dashes = plotutil.Dashes(ci / 7)
		scatter.Color = plotutil.Color(ci)
		scatter.Shape = plotutil.Shape(ci)
		bars, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return Figure{}, false, err
		}
		bars.Color = plotutil.Color(ci)
		p.Add(line, scatter, bars)
		p.Legend.Add(col, line, scatter)
	}
	padX(p, g.Sweep.LogX)
	f, err := render(p, name, 7, 4.5)
	return f, err == nil, err
}

// padX widens the x range so end points are not drawn on the axes.
func padX(p *plot.Plot, logScale bool) {
	if logScale {
		p.X.Min, p.X.Max = p.X.Min/1.25, p.X.Max*1.25
		return
	}
	d := 0.04 * (p.X.Max - p.X.Min)
	p.X.Min, p.X.Max = p.X.Min-d, p.X.Max+d
}

// valueTicks labels exactly the grid's values.
type valueTicks []float64

func (v valueTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, x := range v {
		if x >= min && x <= max {
			out = append(out, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
	}
	return out
}

// ticks125 labels a log axis at 1, 2 and 5 × 10^k, so even a range of
// less than a decade is labelled.
type ticks125 struct{}

func (ticks125) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)) - 1; e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= min && v <= max {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return out
}

func sortXY(e *errPoints) {
	idx := make([]int, len(e.XYs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return e.XYs[idx[a]].X < e.XYs[idx[b]].X })
	xy, ye := make(plotter.XYs, len(idx)), make(plotter.YErrors, len(idx))
	for i, j := range idx {
		xy[i], ye[i] = e.XYs[j], e.YErrors[j]
	}
	e.XYs, e.YErrors = xy, ye
}

func title(g Grid) string {
	if g.Sweep.Title != "" {
		return g.Sweep.Title
	}
	return g.Sweep.Name
}

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

// Frontier returns the cells at or above ParetoFloor that no other such
// cell beats in both size and accuracy, ordered by size. (Below the floor a
// model is too broken to be a trade-off worth listing: the article's
// literal quantization gives a 9.7 % model of a few hundred bytes.)
func Frontier(cells []Cell) []Cell {
	floor := ParetoFloor(cells)
	var s []Cell
	for _, c := range cells {
		if b, _, _ := c.Bytes(); 100*c.Acc.Mean >= floor && b > 0 {
			s = append(s, c)
		}
	}
	sort.SliceStable(s, func(i, j int) bool {
		bi, _, _ := s[i].Bytes()
		bj, _, _ := s[j].Bytes()
		if bi != bj {
			return bi < bj
		}
		return s[i].Acc.Mean > s[j].Acc.Mean
	})
	var out []Cell
	best := math.Inf(-1)
	for _, c := range s {
		if c.Acc.Mean > best {
			out = append(out, c)
			best = c.Acc.Mean
		}
	}
	return out
}

// ParetoPlot draws every cell's accuracy against its size (log x) with the
// Pareto frontier highlighted; it returns how many cells fell below the floor.
func ParetoPlot(cells []Cell, name string) (Figure, int, error) {
	p := plot.New()
	p.Title.Text = "accuracy vs model size (every configuration, mean over seeds)"
	p.X.Label.Text = "bytes of the packed .mnc file (log scale)"
	if len(cells) > 0 {
		if _, _, real := cells[0].Bytes(); !real {
			p.X.Label.Text = "bytes the representation needs, by the size model (log scale)"
		}
	}
	p.Y.Label.Text = "test accuracy %"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ticks125{}
	floor := ParetoFloor(cells)
	var all plotter.XYs
	hidden := 0
	for _, c := range cells {
		b, _, _ := c.Bytes()
		if 100*c.Acc.Mean < floor || b <= 0 {
			hidden++
			continue
		}
		all = append(all, plotter.XY{X: b, Y: 100 * c.Acc.Mean})
	}
	var front plotter.XYs
	for _, c := range Frontier(cells) {
		b, _, _ := c.Bytes()
		front = append(front, plotter.XY{X: b, Y: 100 * c.Acc.Mean})
	}
	if len(all) > 0 {
		sc, err := plotter.NewScatter(all)
		if err != nil {
			return Figure{}, 0, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(1), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add("configuration", sc)
	}
	if len(front) > 0 {
		line, pts, err := plotter.NewLinePoints(front)
		if err != nil {
			return Figure{}, 0, err
		}
		line.Color = plotutil.Color(0)
		line.Width = vg.Points(1.5)
		pts.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(0), Radius: vg.Points(3.5), Shape: draw.RingGlyph{}}
		p.Add(line, pts)
		p.Legend.Add("Pareto frontier", line, pts)
	}
	p.Legend.Left = true
	p.Legend.Top = false
	if len(all) == 0 { // nothing to show: keep the log axis valid
		p.X.Min, p.X.Max = 1, 10
	}
	padX(p, true)
	p.Y.Min, p.Y.Max = floor, 100
	f, err := render(p, name, 7, 4.5)
	return f, hidden, err
}

// render draws p at w×h inches as PNG and SVG.
func render(p *plot.Plot, name string, w, h float64) (Figure, error) {
	f := Figure{Name: name}
	for _, format := range []string{"png", "svg"} {
		wt, err := p.WriterTo(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch, format)
		if err != nil {
			return Figure{}, fmt.Errorf("plot %s.%s: %w", name, format, err)
		}
		var buf bytes.Buffer
		if _, err := wt.WriteTo(&buf); err != nil {
			return Figure{}, fmt.Errorf("plot %s.%s: %w", name, format, err)
		}
		if format == "png" {
			f.PNG = buf.Bytes()
		} else {
			f.SVG = buf.Bytes()
		}
	}
	return f, nil
}
