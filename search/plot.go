package search

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Figure is a rendered plot in PNG and SVG.
type Figure struct {
	Name     string // file name without extension
	PNG, SVG []byte
}

// plotFloorPP is how far below the untouched model the y-axis reaches: the
// interesting part of a sensitivity curve is its first few points of
// loss, and a collapse to chance would flatten it. Points below are noted
// on the axis label.
const plotFloorPP = 10

// Plot draws validation accuracy against the sweep's value, one line per
// layer with markers, the untouched model as a dashed line; the y-axis
// spans what the curves reach down to at most plotFloorPP below it.
func (s SensitivityResult) Plot(kind string) (Figure, error) {
	p := plot.New()
	base := 100 * s.ValAccuracy
	labels := map[string]string{"keep": "keep rate (magnitude pruning, log scale)", "bits": "bits (symmetric, per channel)",
		"units": "fraction of hidden units kept (neuron pruning)"}
	p.Title.Text = fmt.Sprintf("%s: each layer alone, %s; validation split (%d images)", s.Arch, kind, s.ValImages)
	p.X.Label.Text = labels[kind]
	p.Y.Label.Text = "validation accuracy %"
	if kind == "keep" {
		p.X.Scale = plot.LogScale{}
	}
	lo, below := base, 0
	var xs []float64
	byLayer := map[string]plotter.XYs{}
	var layers []string
	for _, pt := range s.Points {
		if pt.Kind != kind {
			continue
		}
		if _, ok := byLayer[pt.Layer]; !ok {
			layers = append(layers, pt.Layer)
		}
		y := 100 * pt.ValAccuracy
		byLayer[pt.Layer] = append(byLayer[pt.Layer], plotter.XY{X: pt.Value, Y: y})
		xs = append(xs, pt.Value)
		if y < base-plotFloorPP {
			below++
		}
		lo = math.Min(lo, y)
	}
	if len(layers) == 0 {
		return Figure{}, fmt.Errorf("plot: no %s points", kind)
	}
	sort.Strings(layers)
	for i, name := range layers {
		pts := byLayer[name]
		sort.Slice(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
		line, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return Figure{}, err
		}
		line.Color, sc.Color, sc.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		sc.Radius = vg.Points(3)
		label := name
		if kind == "units" {
			label = "hidden layer " + strings.TrimPrefix(name, "w") + " (" + name + "'s outputs)"
		}
		p.Add(line, sc)
		p.Legend.Add(label, line, sc)
	}
	ref := plotter.NewFunction(func(float64) float64 { return base })
	ref.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	ref.Color = plotutil.Color(len(layers) + 1)
	p.Add(ref)
	p.Legend.Add(fmt.Sprintf("untouched %.2f %%", base), ref)
	// Curves fall to the left (fewer weights, fewer bits): the legend goes
	// bottom right, where none of them is.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Y.Min = math.Max(lo, base-plotFloorPP) - 0.3
	p.Y.Max = base + 0.5
	if below > 0 {
		p.Y.Label.Text = fmt.Sprintf("validation accuracy %% (%d points below %.0f %% not shown)", below, base-plotFloorPP)
	}
	p.X.Tick.Marker = valueTicks(xs)
	if kind == "keep" {
		p.X.Min, p.X.Max = minOf(xs)/1.25, maxOf(xs)*1.25
	} else {
		d := 0.04 * (maxOf(xs) - minOf(xs))
		p.X.Min, p.X.Max = minOf(xs)-d, maxOf(xs)+d
	}
	p.Add(plotter.NewGrid())
	return render(p, "sensitivity-"+kind, 7, 4.5)
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

// valueTicks labels exactly the swept values.
type valueTicks []float64

func (v valueTicks) Ticks(min, max float64) []plot.Tick {
	seen := map[float64]bool{}
	var out []plot.Tick
	for _, x := range v {
		if x >= min && x <= max && !seen[x] {
			seen[x] = true
			out = append(out, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
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
