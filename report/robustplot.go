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

// Plots of robust accuracy against bits and against keep rate: one panel
// per attack (FGSM and PGD at the reference ε, the corruptions' mean),
// one line per sweep column whose rows are that key (post-training and
// retrained side by side), the float baseline under the same attack as a
// reference line.

// robustAxes are the row keys the robustness plots are drawn against.
var robustAxes = []struct{ key, name, what string }{
	{"bits", "robust-bits", "bits"},
	{"keep", "robust-keep", "keep rate"},
}

// Plots draws the robustness figures the records allow (none when no
// sweep has two or more numeric rows of bits or keep with figures).
func (v robustView) Plots() ([]Figure, error) {
	var out []Figure
	for _, ax := range robustAxes {
		f, ok, err := v.plotAgainst(ax.key, ax.name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// panelFigures are the figures the plots show, one panel each.
func (v robustView) panelFigures() []string {
	var out []string
	for _, n := range []string{"fgsm_" + v.ref, "pgd_" + v.ref, "corrupt_mean"} {
		if v.has(n) {
			out = append(out, n)
		}
	}
	return out
}

// seriesLabel names a plotted column: its sweep (and column label when
// the sweep has several) and whether it was retrained.
func seriesLabel(g Grid, col string, c Cell) string {
	l := g.Sweep.Name
	if len(g.Columns) > 1 {
		l += " " + g.Labels[col]
	}
	switch {
	case c.Budget == "":
		return l + " (post-training)"
	case c.Kind == "scratch":
		return l + " (trained with it from scratch)"
	}
	return l + " (retrained)"
}

// plotAgainst draws the panels for the grids whose rows are key.
func (v robustView) plotAgainst(key, name string) (Figure, bool, error) {
	figs := v.panelFigures()
	if len(figs) == 0 {
		return Figure{}, false, nil
	}
	type col struct {
		g   Grid
		col string
	}
	var cols []col
	var xs []float64
	seenX := map[float64]bool{}
	for _, g := range v.st.Grids {
		if g.RowKey != key || len(g.Rows) < 2 || g.isControlGrid() {
			continue
		}
		rx := make([]float64, len(g.Rows))
		numeric := true
		for i, r := range g.Rows {
			x, err := strconv.ParseFloat(r, 64)
			numeric = numeric && err == nil && x > 0
			rx[i] = x
		}
		if !numeric {
			continue
		}
		for _, c := range g.Columns {
			if g.isFormulaColumn(c) {
				continue
			}
			n := 0
			for _, r := range g.Rows {
				if cell, ok := g.At[[2]string{r, c}]; ok && len(cell.Robust) > 0 {
					n++
				}
			}
			if n >= 2 {
				cols = append(cols, col{g, c})
				for _, x := range rx {
					if !seenX[x] {
						seenX[x] = true
						xs = append(xs, x)
					}
				}
			}
		}
	}
	if len(cols) == 0 {
		return Figure{}, false, nil
	}
	sortFloats(xs)
	panels := make([][]series, len(figs))
	var labels []string
	for _, cl := range cols {
		var label string
		for pi, fig := range figs {
			sr := series{}
			for _, r := range cl.g.Rows {
				c, ok := cl.g.At[[2]string{r, cl.col}]
				s, has := c.Robust[fig]
				if !ok || !has || s.N == 0 {
					continue
				}
				x, _ := strconv.ParseFloat(r, 64)
				sr.x, sr.y, sr.err = append(sr.x, x), append(sr.y, 100*s.Mean), append(sr.err, 100*s.Std)
				label = seriesLabel(cl.g, cl.col, c)
			}
			panels[pi] = append(panels[pi], sr)
		}
		labels = append(labels, label)
	}
	for pi := range panels {
		for i := range panels[pi] {
			panels[pi][i].label = labels[i]
		}
	}
	// the transfer attack beside the white-box one, dotted in the same
	// colour: where it sits below the white-box line, the gains are masked
	transfer := map[int][]series{}
	for pi, fig := range figs {
		t := "transfer_" + fig
		if !v.has(t) {
			continue
		}
		for _, cl := range cols {
			sr := series{dotted: true}
			for _, r := range cl.g.Rows {
				c, ok := cl.g.At[[2]string{r, cl.col}]
				s, has := c.Robust[t]
				if !ok || !has || s.N == 0 {
					continue
				}
				x, _ := strconv.ParseFloat(r, 64)
				sr.x, sr.y, sr.err = append(sr.x, x), append(sr.y, 100*s.Mean), append(sr.err, 100*s.Std)
			}
			transfer[pi] = append(transfer[pi], sr)
		}
	}
	f, err := v.drawPanels(name, figs, panels, transfer, xs, key+" (log scale)")
	if err != nil {
		return Figure{}, false, err
	}
	return f, true, nil
}

// drawPanels lays the panels out side by side with one legend below.
func (v robustView) drawPanels(name string, figs []string, panels [][]series, transfer map[int][]series, xs []float64, xLabel string) (Figure, error) {
	n := len(figs)
	panelW := (figWidth - vg.Inch*0.6 - vg.Points(14)*vg.Length(n-1)) / vg.Length(n)
	x0, x1 := padRange(minOf(xs), maxOf(xs), true)
	var plots []*plot.Plot
	for pi, fig := range figs {
		yl := ""
		if pi == 0 {
			yl = "accuracy (%)"
		}
		p := newPanel(xLabel, yl)
		p.Title.Text = v.figureLabel(fig)
		if len(transfer[pi]) > 0 {
			p.Title.Text += " (dotted: transfer)"
		}
		p.Title.TextStyle.Font.Size = smallFont
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = gridTicks{values: xs, log: true, length: panelW}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, sr := range append(panels[pi], transfer[pi]...) {
			for i := range sr.y {
				lo, hi = math.Min(lo, sr.y[i]-sr.err[i]), math.Max(hi, sr.y[i]+sr.err[i])
			}
		}
		if b, ok := v.base[fig]; ok && b.N > 0 {
			y := 100 * b.Mean
			lo, hi = math.Min(lo, y), math.Max(hi, y)
			p.Add(hline{y, refStyle(0)})
		}
		pad := math.Max(0.5, 0.06*(hi-lo))
		w := window{x0, x1, math.Max(0, lo-pad), math.Min(100, hi+pad)}
		addSeries(p, panels[pi], w, true)
		if len(transfer[pi]) > 0 {
			addSeries(p, transfer[pi], w, true)
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = w.x0, w.x1, w.y0, w.y1
		plots = append(plots, p)
	}
	var entries []legendItem
	for i, sr := range panels[0] {
		entries = append(entries, legendItem{sr.label, seriesThumbs(i, false)})
	}
	if len(transfer) > 0 {
		entries = append(entries, legendItem{"dotted, hollow: the same attack crafted on the float baseline (transfer)",
			[]plot.Thumbnailer{&plotter.Line{LineStyle: draw.LineStyle{Color: greyRef, Width: vg.Points(1.3), Dashes: dotDashes}},
				&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: greyRef, Radius: vg.Points(3), Shape: draw.RingGlyph{}}}}})
	}
	entries = append(entries, legendItem{"float baseline, mean of seeds", []plot.Thumbnailer{hline{style: refStyle(0)}}})
	lg := newLegendBlock(figWidth-vg.Inch*0.6, entries)
	legendH := lg.height()
	plotH := 3.0 * vg.Inch
	return render(name, figWidth, plotH+legendH, func(dc draw.Canvas) {
		area := dc
		area.Min.Y += legendH
		cs := plot.Align([][]*plot.Plot{plots}, draw.Tiles{Rows: 1, Cols: n, PadX: vg.Points(14), PadTop: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}, area)
		for i, p := range plots {
			drawPanel(p, cs[0][i])
		}
		lg.draw(legendArea(dc, legendH))
	})
}

// figureCaption is a robustness figure's caption.
func (v robustView) figureCaption(n int, f Figure) string {
	what := "bits"
	for _, ax := range robustAxes {
		if ax.name == f.Name {
			what = ax.what
		}
	}
	var panels []string
	transfer := ""
	for _, fig := range v.panelFigures() {
		panels = append(panels, v.figurePhrase(fig))
		if v.has("transfer_" + fig) {
			transfer = " In the attack panels, dotted lines with hollow markers are the same attack crafted on the float baseline (transfer), in the configuration's colour: " +
				"a configuration whose white-box line rises while its transfer line stays at or below it gains from masked gradients, not robustness."
		}
	}
	return fmt.Sprintf("*Figure %d.* Accuracy under attack and corruption against %s (log scale), one panel each: %s. "+
		"One line per sweep that varies %s, post-training and retrained side by side (legend); points are means over %s and error bars ± one standard deviation over them "+
		"(the paired intervals in the text are narrower); the dashed grey line is the seeds' float baseline under the same attack.%s Points are nudged sideways a little so that coinciding ones stay visible.",
		n, what, strings.Join(panels, "; "), what, plural(v.seeds, "seed"), transfer)
}
