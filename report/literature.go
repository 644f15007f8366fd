package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mnistc/experiments"
)

// Literature renders the experiment's published references beside the
// cells of the sweeps they name: test error before and after, the change
// with its 95 % interval over seeds, kept % and bits per kept weight per
// layer, and the compression ratio counted the paper's way (the size
// model: codes at their width, relative indices and codebooks, no Huffman
// coding) and as the real .mnc file (Huffman-coded, biases, framing and
// metadata included). References that name the same sweep and match the
// same rows share one table. Empty when the experiment cites nothing.
func Literature(e *experiments.Experiment, cells []Cell, st Study) string {
	if len(e.Literature) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Beside the literature\n\n")
	b.WriteString("Published figures are as their sources print them (error in %, kept % and bits per layer, w1 first; one kept value is the whole network's). Ours are means over seeds; " +
		"Δ error is the paired change against each seed's own baseline with its 95 % t interval over the seeds. " +
		"\"ratio, size model\" counts the bytes as Deep Compression's tables do (codes at their bit width, relative indices, codebooks; no Huffman coding); " +
		"\".mnc ratio\" is the real packed file (Huffman coding, float32 biases, framing and metadata included), against float32 parameters. " +
		"Where a source gives one bit width or keep rate, our rows are the sweep's nearest to it.\n\n")
	type group struct {
		sweep string
		rows  []string
		refs  []int
		notes []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, r := range e.Literature {
		g, found := gridNamed(st, r.Compare)
		var rows []string
		note := ""
		if found {
			rows, note = matchRows(g, r)
		}
		k := r.Compare + "\x00" + strings.Join(rows, "\x00")
		gr, ok := byKey[k]
		if !ok {
			gr = &group{sweep: r.Compare, rows: rows}
			byKey[k] = gr
			groups = append(groups, gr)
		}
		gr.refs = append(gr.refs, i)
		if note != "" {
			gr.notes = append(gr.notes, fmt.Sprintf("[%d] %s", i+1, note))
		}
	}
	for _, gr := range groups {
		for _, i := range gr.refs {
			r := e.Literature[i]
			fmt.Fprintf(&b, "- [%d] %s — %s.\n", i+1, r.Source, r.Method)
		}
		b.WriteString("\n| | error before % | error after % | Δ error pp (95 % CI) | kept % per layer | bits per kept weight | index bits | ratio, size model | .mnc ratio |\n")
		b.WriteString("|---|---:|---:|---:|---|---|---|---:|---:|\n")
		for _, i := range gr.refs {
			r := e.Literature[i]
			fmt.Fprintf(&b, "| [%d] published | %.2f | %.2f | %+.2f | %s | %s | | %g× | |\n",
				i+1, r.ErrorBefore, r.ErrorAfter, r.ErrorAfter-r.ErrorBefore, joinFloats(r.Kept, "%g"), joinFloats(r.Bits, "%g"), r.Ratio)
		}
		g, _ := gridNamed(st, gr.sweep)
		for _, c := range literatureCells(g, cells, gr.sweep, gr.rows) {
			before := 100 * (c.Acc.Mean - c.Delta.Mean/100)
			var kept, bits, idx []float64
			for _, l := range c.Layers {
				kept, bits, idx = append(kept, 100*l.Kept), append(bits, l.CodeBits), append(idx, l.IndexBits)
			}
			ci := c.Delta.CI95()
			ciText := ""
			if !math.IsNaN(ci) {
				ciText = fmt.Sprintf(" [%+.2f, %+.2f]", -c.Delta.Mean-ci, -c.Delta.Mean+ci)
			}
			packed := ""
			if c.PackedRatio.N > 0 {
				packed = fmt.Sprintf("%.1f×", c.PackedRatio.Mean)
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.2f ± %.2f | %+.2f%s | %s | %s | %s | %.1f× | %s |\n",
				escape(st.Label(c)), 100-before, 100*(1-c.Acc.Mean), 100*c.Acc.Std, -c.Delta.Mean, ciText,
				joinFloats(kept, "%.1f"), joinFloats(bits, "%.2f"), joinFloats(idx, "%.2f"), c.Ratio.Mean, packed)
		}
		if len(gr.notes) > 0 {
			b.WriteString("\n" + strings.Join(gr.notes, " ") + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// gridNamed returns the study's grid of the sweep called name.
func gridNamed(st Study, name string) (Grid, bool) {
	for _, g := range st.Grids {
		if g.Sweep.Name == name {
			return g, true
		}
	}
	return Grid{}, false
}

// matchRows picks the rows of g to set beside a reference: when the grid's
// rows are keep rates and the reference gives one kept share, or its rows
// are bit widths and the reference gives one width, the row nearest to it
// (on a log scale), with a note when it is not the same value. Otherwise
// nil: every row.
func matchRows(g Grid, r experiments.Reference) ([]string, string) {
	var target float64
	switch {
	case g.RowKey == "keep" && len(r.Kept) == 1:
		target = r.Kept[0] / 100
	case g.RowKey == "bits" && len(r.Bits) > 0 && !slices.ContainsFunc(r.Bits, func(b float64) bool { return b != r.Bits[0] }):
		target = r.Bits[0]
	default:
		return nil, ""
	}
	best, bestD := "", math.Inf(1)
	for _, row := range g.Rows {
		x, err := strconv.ParseFloat(row, 64)
		if err != nil || x <= 0 {
			return nil, ""
		}
		if d := math.Abs(math.Log(x / target)); d < bestD-1e-12 {
			best, bestD = row, d
		}
	}
	if best == "" {
		return nil, ""
	}
	note := ""
	if bestD > 1e-9 {
		what := fmt.Sprintf("%g %% kept", 100*target)
		if g.RowKey == "bits" {
			what = fmt.Sprintf("%g bits", target)
		}
		note = fmt.Sprintf("The sweep has no row at the source's %s; ours beside it are its nearest, %s.", what, rowText(g.RowKey, best))
	}
	return []string{best}, note
}

// literatureCells are the cells of sweep to set beside a reference: those
// at rows (every row when nil), leaving out the article's formulas as
// printed, in the grid's order.
func literatureCells(g Grid, cells []Cell, sweep string, rows []string) []Cell {
	if g.Sweep == nil {
		var out []Cell
		for _, c := range cells {
			if c.Sweep == sweep {
				out = append(out, c)
			}
		}
		return out
	}
	if rows == nil {
		rows = g.Rows
	}
	var out []Cell
	for _, r := range rows {
		for _, col := range g.Columns {
			if c, ok := g.At[[2]string{r, col}]; ok && !g.isFormulaColumn(col) {
				out = append(out, c)
			}
		}
	}
	return out
}

func joinFloats(v []float64, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, " / ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
