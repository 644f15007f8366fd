package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The look of every figure: the Okabe–Ito palette (distinguishable with
// the common colour-vision deficiencies), a distinct marker per series,
// fonts sized for a figure embedded at about 16 cm, PNG at 150 dpi.

// okabeIto is Okabe and Ito's eight colours, yellow last (faint on white).
var okabeIto = []color.Color{
	rgb(0xE6, 0x9F, 0x00), // orange
	rgb(0x56, 0xB4, 0xE9), // sky blue
	rgb(0x00, 0x9E, 0x73), // bluish green
	rgb(0x00, 0x72, 0xB2), // blue
	rgb(0xD5, 0x5E, 0x00), // vermillion
	rgb(0xCC, 0x79, 0xA7), // reddish purple
	rgb(0x00, 0x00, 0x00), // black
	rgb(0xC8, 0xB4, 0x00), // yellow, darkened to be seen on white
}

// markers are eight shapes a reader tells apart in grey print too.
var markers = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, diamondGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 255} }

// seriesColor, seriesMarker and seriesDashes style series i: colour and
// marker cycle together; past eight series the lines are dashed.
func seriesColor(i int) color.Color       { return okabeIto[i%len(okabeIto)] }
func seriesMarker(i int) draw.GlyphDrawer { return markers[i%len(markers)] }
func seriesDashes(i int, dashed bool) []vg.Length {
	if dashed || i >= len(okabeIto) {
		return []vg.Length{vg.Points(5), vg.Points(3)}
	}
	return nil
}

// diamondGlyph is a filled diamond.
type diamondGlyph struct{}

func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.25
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
	p.Line(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
	p.Close()
	c.Fill(p)
}

// Sizes of the figures and their text.
const (
	figWidth = 7.5 * vg.Inch
	pngDPI   = 150
)

var (
	fontSize  = vg.Points(10)
	smallFont = vg.Points(8.5)
	greyRef   = rgb(0x66, 0x66, 0x66)
)

// newPanel makes a plot with the house fonts and no title.
func newPanel(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = fontSize
		a.Tick.Label.Font.Size = smallFont
	}
	p.Title.TextStyle.Font.Size = fontSize
	p.Legend.TextStyle.Font.Size = smallFont
	p.Y.Tick.Marker = niceTicks{}
	return p
}

// niceTicks labels a linear axis every 1, 2, 2.5 or 5 × 10^k, the step
// that gives four to eight labels, with an unlabelled tick between.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	decade := math.Pow(10, math.Floor(math.Log10(hi-lo)))
	step := decade
	for _, m := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10} {
		if (hi-lo)/(m*decade) <= 7 {
			step = m * decade
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(m-2.5) < 1e-9 {
		decimals++
	}
	var out []plot.Tick
	for i := math.Ceil(lo/step*2 - 1e-9); i*step/2 <= hi+1e-9*step; i++ {
		v := i * step / 2
		label := ""
		if math.Mod(i, 2) == 0 {
			label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		out = append(out, plot.Tick{Value: v, Label: label})
	}
	return out
}

// textWidth is the width of s in the small font.
func textWidth(s string) vg.Length {
	sty := newPanel("", "").Legend.TextStyle
	sty.Font.Size = smallFont
	return sty.Width(s)
}

// render draws a figure with drawFn at w×h as PNG, SVG and PDF.
func render(name string, w, h vg.Length, drawFn func(draw.Canvas)) (Figure, error) {
	f := Figure{Name: name}
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
	svg := vgsvg.New(w, h)
	pdf := vgpdf.New(w, h)
	pdf.EmbedFonts(false) // embedding adds ~200 kB per figure
	for _, out := range []struct {
		c   vg.CanvasWriterTo
		dst *[]byte
		ext string
	}{{vgimg.PngCanvas{Canvas: png}, &f.PNG, "png"}, {svg, &f.SVG, "svg"}, {pdf, &f.PDF, "pdf"}} {
		drawFn(draw.New(out.c))
		var buf bytes.Buffer
		if _, err := out.c.WriteTo(&buf); err != nil {
			return Figure{}, fmt.Errorf("plot %s.%s: %w", name, out.ext, err)
		}
		*out.dst = buf.Bytes()
	}
	f.PDF = pdfDate.ReplaceAll(f.PDF, []byte("(D:20000101000000)"))
	// without embedding, the writer still points the font descriptor at
	// object 0 for the font file, which is no object: blank the entry
	// (same length, so the offsets hold); viewers then use their own
	// Liberation Serif or a metric-compatible Times
	f.PDF = bytes.ReplaceAll(f.PDF, []byte("/FontFile2 0 0 R"), []byte("                "))
	return f, nil
}

// pdfDate matches the creation and modification dates the PDF writer
// stamps from the clock. They are replaced by a fixed date of the same
// length (the cross-reference offsets stay right), so the same records
// give the same bytes.
var pdfDate = regexp.MustCompile(`\(D:[0-9]{14}\)`)

// gridTicks labels an axis at the grid's values, leaving out labels that
// would collide with a neighbour's (they stay as unlabelled ticks). The
// first and last values are always labelled.
type gridTicks struct {
	values []float64
	log    bool
	length vg.Length // the axis' length on the page, about
	format func(float64) string
}

func (t gridTicks) Ticks(min, max float64) []plot.Tick {
	pos := func(x float64) vg.Length {
		if t.log {
			return t.length * vg.Length((math.Log(x)-math.Log(min))/(math.Log(max)-math.Log(min)))
		}
		return t.length * vg.Length((x-min)/(max-min))
	}
	format := t.format
	if format == nil {
		format = func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	}
	var in []float64
	for _, x := range t.values {
		if x >= min && x <= max {
			in = append(in, x)
		}
	}
	sortFloats(in)
	gap := textWidth("0") // space between labels
	fits := func(a, b float64) bool {
		return math.Abs(float64(pos(b)-pos(a))) >= float64((textWidth(format(a))+textWidth(format(b)))/2+gap)
	}
	var out []plot.Tick
	last := math.NaN()
	for i, x := range in {
		label := ""
		end := i == 0 || i == len(in)-1
		if end && (math.IsNaN(last) || fits(last, x)) || !end && (math.IsNaN(last) || fits(last, x)) && fits(x, in[len(in)-1]) {
			label, last = format(x), x
		}
		out = append(out, plot.Tick{Value: x, Label: label})
	}
	return out
}

// bytesTicks labels a log axis of bytes at 1, 2 and 5 × 10^k as "5 kB",
// leaving out labels that would collide (as gridTicks does).
type bytesTicks struct{ length vg.Length }

func (t bytesTicks) Ticks(min, max float64) []plot.Tick {
	for _, ms := range [][]float64{{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		var v []float64
		n := 0
		for e := math.Floor(math.Log10(min)) - 1; e <= math.Ceil(math.Log10(max)); e++ {
			for _, m := range ms {
				x := m * math.Pow(10, e)
				v = append(v, x)
				if x >= min && x <= max {
					n++
				}
			}
		}
		if n >= 3 || len(ms) > 3 {
			return gridTicks{values: v, log: true, length: t.length, format: bytesText}.Ticks(min, max)
		}
	}
	return nil
}

// drawPanel draws p into c after sizing its x tick labels to the width
// its data area really has there.
func drawPanel(p *plot.Plot, c draw.Canvas) {
	dc := p.DataCanvas(c)
	w := dc.Max.X - dc.Min.X
	switch m := p.X.Tick.Marker.(type) {
	case gridTicks:
		m.length = w
		p.X.Tick.Marker = m
	case bytesTicks:
		m.length = w
		p.X.Tick.Marker = m
	}
	p.Draw(c)
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// hline is a horizontal reference line across a panel (a baseline, a
// control): drawn only where its value is inside the panel's y range.
type hline struct {
	y     float64
	style draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	if h.y < p.Y.Min || h.y > p.Y.Max {
		return
	}
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}

func (h hline) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}

// refStyle is the line style of reference line i: the baseline dashed
// grey, the controls black, dash-dotted, then dotted, then dash-dot-dotted.
func refStyle(i int) draw.LineStyle {
	if i == 0 {
		return draw.LineStyle{Color: greyRef, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	}
	dashes := [][]vg.Length{
		{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
		{vg.Points(1.5), vg.Points(2)},
		{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	}
	return draw.LineStyle{Color: color.Black, Width: vg.Points(1), Dashes: dashes[(i-1)%len(dashes)]}
}

// legendLayout returns how many columns of legend entries fit across a
// width w and the height they then need.
func legendLayout(entries []legendItem, w vg.Length) (cols int, height vg.Length) {
	widest := vg.Length(0)
	for _, e := range entries {
		widest = max(widest, textWidth(e.name))
	}
	colW := widest + vg.Points(30)
	cols = max(1, min(len(entries), int(w/colW)))
	rows := (len(entries) + cols - 1) / cols
	return cols, vg.Length(rows)*(legendRowHeight()+legendPadding) + vg.Points(6)
}

// legendPadding is the space between legend rows.
var legendPadding = vg.Points(2)

// legendRowHeight is the height of one legend entry in the small font.
func legendRowHeight() vg.Length {
	l := plot.NewLegend()
	l.TextStyle.Font.Size = smallFont
	return l.TextStyle.Rectangle("Xg").Max.Y // as plot.Legend spaces its entries
}

// legendItem is one legend entry: a name and what its thumbnail draws.
type legendItem struct {
	name   string
	thumbs []plot.Thumbnailer
}

// drawLegend draws entries in cols columns filling c from the top.
func drawLegend(c draw.Canvas, entries []legendItem, cols int) {
	rows := (len(entries) + cols - 1) / cols
	colW := (c.Max.X - c.Min.X) / vg.Length(cols)
	for k := 0; k < cols; k++ {
		l := plot.NewLegend()
		l.TextStyle.Font.Size = smallFont
		l.Top, l.Left = true, true
		l.ThumbnailWidth = vg.Points(22)
		l.Padding = legendPadding
		for i := k * rows; i < min(len(entries), (k+1)*rows); i++ {
			l.Add(entries[i].name, entries[i].thumbs...)
		}
		sub := c
		sub.Min.X = c.Min.X + vg.Length(k)*colW
		sub.Max.X = sub.Min.X + colW
		l.Draw(sub)
	}
}

// legendBlock is a figure's legend below its panels: groups of entries
// stacked top down, each in as many columns as its widest entry allows.
type legendBlock struct {
	groups  [][]legendItem
	cols    []int
	heights []vg.Length
}

// newLegendBlock lays out the non-empty groups across width w.
func newLegendBlock(w vg.Length, groups ...[]legendItem) legendBlock {
	var l legendBlock
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		c, h := legendLayout(g, w)
		l.groups, l.cols, l.heights = append(l.groups, g), append(l.cols, c), append(l.heights, h)
	}
	return l
}

// height is the block's height.
func (l legendBlock) height() vg.Length {
	var h vg.Length
	for _, x := range l.heights {
		h += x
	}
	return h
}

// draw draws the groups into c from its top.
func (l legendBlock) draw(c draw.Canvas) {
	top := c.Max.Y
	for i, g := range l.groups {
		sub := c
		sub.Max.Y, sub.Min.Y = top, top-l.heights[i]
		drawLegend(sub, g, l.cols[i])
		top -= l.heights[i]
	}
}
