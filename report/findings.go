package report

import (
	"fmt"
	"sort"
	"strings"
)

// Findings are sentences computed from the records. Every claim carries
// its numbers and, where it compares, the paired 95 % interval over seeds;
// a difference whose interval contains 0 is a tie and is worded as one.
// Nothing is called best or worst on means alone.

// short prints a Diff compactly: "+0.03 [-0.20, +0.26]" (pp implied).
func (d Diff) short() string {
	if !d.Known() {
		return signed(d.Mean)
	}
	return fmt.Sprintf("%s [%s, %s]", signed(d.Mean), signed(d.Lo()), signed(d.Hi()))
}

// holdsTo is the index of the last row of the grid's leading run of rows
// at which col is lossless against its baseline (-1: not even the first).
func (g Grid) holdsTo(col string) int {
	last := -1
	for i, r := range g.Rows {
		c, ok := g.At[[2]string{r, col}]
		if !ok {
			continue
		}
		if !c.VsBaseline().Lossless() {
			break
		}
		last = i
	}
	return last
}

// Summary says how far down the rows every plain column stays lossless
// against its baseline, and at the first row where one does not, each
// column's paired change with its interval; then how far down the others
// stay lossless.
func (g Grid) Summary() string {
	cols := g.plainColumns()
	if len(cols) == 0 || len(g.Rows) < 2 {
		return ""
	}
	lowest := len(g.Rows) - 1
	for _, col := range cols {
		lowest = min(lowest, g.holdsTo(col))
	}
	who := "every method"
	if len(cols) == 1 {
		who = g.Labels[cols[0]]
	}
	var s string
	switch {
	case lowest == len(g.Rows)-1:
		var d []float64
		for _, col := range cols {
			for _, r := range g.Rows {
				if c, ok := g.At[[2]string{r, col}]; ok {
					d = append(d, c.VsBaseline().Mean)
				}
			}
		}
		return fmt.Sprintf("%s stays lossless at every %s tested, down to %s (Δ %s pp)",
			who, g.RowKey, rowText(g.RowKey, g.Rows[lowest]), spanText(d, "%+.2f"))
	case lowest > 0:
		s = fmt.Sprintf("%s stays lossless down to %s; at %s: ", who, rowText(g.RowKey, g.Rows[lowest]), rowText(g.RowKey, g.Rows[lowest+1]))
	case lowest == 0:
		s = fmt.Sprintf("%s is lossless at %s only; at %s: ", who, rowText(g.RowKey, g.Rows[0]), rowText(g.RowKey, g.Rows[1]))
	default:
		s = fmt.Sprintf("%s is not lossless even at %s, the least compressed setting: ", who, rowText(g.RowKey, g.Rows[0]))
		if who == "every method" {
			s = fmt.Sprintf("not every method is lossless even at %s, the least compressed setting: ", rowText(g.RowKey, g.Rows[0]))
		}
	}
	s += g.deltasAt(g.Rows[lowest+1], cols)
	var further []string
	for _, col := range cols {
		if h := g.holdsTo(col); h > lowest+1 && len(cols) > 1 {
			further = append(further, fmt.Sprintf("%s down to %s", g.Labels[col], rowText(g.RowKey, g.Rows[h])))
		}
	}
	if len(further) > 0 {
		s += "; lossless further: " + strings.Join(further, ", ")
	}
	return s
}

// deltasAt lists each column's paired change against its baseline at row,
// highest first: "k-means per-tensor +0.03 [-0.20, +0.26], …" (pp).
func (g Grid) deltasAt(row string, cols []string) string {
	type item struct {
		label string
		d     Diff
	}
	var items []item
	for _, col := range cols {
		if c, ok := g.At[[2]string{row, col}]; ok {
			items = append(items, item{g.Labels[col], c.VsBaseline()})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].d.Mean > items[j].d.Mean })
	var p []string
	for _, it := range items {
		if len(cols) == 1 {
			p = append(p, it.d.short())
		} else {
			p = append(p, it.label+" "+it.d.short())
		}
	}
	return strings.Join(p, ", ") + " pp"
}

// inversion is a column that is significantly more accurate at a more
// compressed row than at a less compressed one.
type inversion struct {
	g          Grid
	col        string
	less, more string // rows: less compressed (higher in the grid) and more
	d          Diff   // more − less, pp
}

// inversions finds, per plain column, the largest significant rise of
// accuracy from a row to a later (more compressed) row of more than 1 pp.
func (g Grid) inversions() []inversion {
	var out []inversion
	for _, col := range g.plainColumns() {
		var best inversion
		for i, ri := range g.Rows {
			ci, ok := g.At[[2]string{ri, col}]
			if !ok {
				continue
			}
			for _, rj := range g.Rows[i+1:] {
				cj, ok := g.At[[2]string{rj, col}]
				if !ok {
					continue
				}
				if d := Paired(cj, ci, testAcc); d.Above() && d.Mean > 1 && d.Mean > best.d.Mean {
					best = inversion{g, col, ri, rj, d}
				}
			}
		}
		if best.col != "" {
			out = append(out, best)
		}
	}
	return out
}

func (v inversion) String() string {
	lo, hi := v.g.At[[2]string{v.less, v.col}], v.g.At[[2]string{v.more, v.col}]
	who := "**" + v.g.Sweep.Name + "**"
	if len(v.g.Columns) > 1 {
		who += ", " + v.g.Labels[v.col]
	}
	s := fmt.Sprintf("%s: not monotone in %s — %s %% at %s, below its %s %% at %s (%s pp)", who, v.g.RowKey,
		pct(lo.Acc), rowText(v.g.RowKey, v.less), pct(hi.Acc), rowText(v.g.RowKey, v.more), v.d.short())
	if len(lo.Sparsity) > 0 {
		i := largestWeight(lo)
		if z := lo.Sparsity[i]; z >= 0.5 && (len(hi.Sparsity) <= i || z > hi.Sparsity[i]) {
			s += fmt.Sprintf("; at %s, %.1f %% of %s's weights are zero", rowText(v.g.RowKey, v.less), 100*z, lo.Weights[i])
			if len(hi.Sparsity) > i {
				s += fmt.Sprintf(" (%.1f %% at %s)", 100*hi.Sparsity[i], rowText(v.g.RowKey, v.more))
			}
		}
	}
	return s
}

// Coinciding names the groups of columns whose means agree at every row
// (their lines overlap in the plot).
func (g Grid) Coinciding() [][]string {
	var out [][]string
	used := map[string]bool{}
	for i, a := range g.Columns {
		if used[a] {
			continue
		}
		group := []string{g.Labels[a]}
		for _, b := range g.Columns[i+1:] {
			if !used[b] && g.coincide(a, b) {
				used[b] = true
				group = append(group, g.Labels[b])
			}
		}
		if len(group) > 1 {
			out = append(out, group)
		}
	}
	return out
}

// Leaders are the columns of a row that no other column beats
// significantly (paired over seeds). It is nil when that is every column
// of the row: nothing stands out.
func (g Grid) Leaders(row string) map[string]bool {
	out := map[string]bool{}
	n := 0
	for _, a := range g.Columns {
		ca, ok := g.At[[2]string{row, a}]
		if !ok {
			continue
		}
		n++
		beaten := false
		for _, b := range g.Columns {
			if cb, ok := g.At[[2]string{row, b}]; ok && b != a && Paired(cb, ca, testAcc).Above() {
				beaten = true
			}
		}
		if !beaten {
			out[a] = true
		}
	}
	if len(out) == n {
		return nil
	}
	return out
}

// Headline returns the findings that open the report, in order: a
// sentence per sweep (the fine-tuning ones when the experiment has any:
// they answer its question; the distillation sweeps in one), the largest
// non-monotone column, the smallest models within 0.5 and 1 pp, and the
// article's formulas in one line.
func (s Study) Headline() []string {
	var out []string
	hasFT := false
	for _, g := range s.Grids {
		for _, c := range g.At {
			hasFT = hasFT || c.Budget != "" && !isControl(c)
		}
	}
	if t := s.controlsText(); t != "" {
		out = append(out, t)
	}
	var distill []string
	var inv []inversion
	for i, g := range s.Grids {
		inv = append(inv, g.inversions()...)
		if g.isControlGrid() {
			continue
		}
		sec := fmt.Sprintf("**%s** (§%d)", g.Sweep.Name, i+1)
		if d := g.Distillation(); d != "" {
			distill = append(distill, fmt.Sprintf("%s: %s.", sec, d))
			continue
		}
		if g.Sweep.Search != nil {
			continue // searchFindings
		}
		ft := false
		for _, c := range g.At {
			ft = ft || c.Budget != ""
		}
		if hasFT && !ft {
			continue
		}
		var p []string
		if sum := g.Summary(); sum != "" {
			p = append(p, sum)
		}
		if vc := s.VsControl(g); vc != "" {
			p = append(p, vc)
		}
		if len(p) > 0 {
			out = append(out, sec+": "+strings.Join(p, "; ")+".")
		}
	}
	out = append(out, distill...)
	if rv, ok := newRobustView(s); ok {
		out = append(out, rv.Headline()...)
	}
	if len(inv) > 0 {
		sort.SliceStable(inv, func(i, j int) bool { return inv[i].d.Mean > inv[j].d.Mean })
		out = append(out, upperFirst(inv[0].String())+".")
	}
	note := "chosen on the validation split"
	if !s.UseVal {
		note = "chosen on test accuracy: these records predate validation accuracy, so the pick is optimistic"
	}
	out = append(out, strings.Join(s.smallestTexts(), " ")+" ("+note+".)")
	if vs := FormulaVerdicts(s.Grids); len(vs) > 0 {
		var p []string
		said := map[string]bool{}
		for _, v := range vs {
			if !said[v.Formula.what] {
				said[v.Formula.what] = true
				p = append(p, fmt.Sprintf("*%s* (%s): %s", v.Formula.what, v.Label, v.Short))
			}
		}
		out = append(out, "The article's formulas as printed (table below) — "+strings.Join(p, "; ")+".")
	}
	return out
}

// SectionFindings returns the sentences under a sweep's table.
func (s Study) SectionFindings(g Grid) []string {
	var out []string
	add := func(t string) {
		if t != "" {
			out = append(out, upperFirst(t)+".")
		}
	}
	if g.isControlGrid() {
		for _, r := range g.Rows {
			for _, col := range g.Columns {
				if c, ok := g.At[[2]string{r, col}]; ok {
					add(fmt.Sprintf("fine-tuning with this budget (%s) and no compression: %s %%, %s pp against the baseline; the fine-tuned cells with the same budget are compared with it",
						c.Budget, pct(c.Acc), c.VsBaseline().short()))
				}
			}
		}
		return out
	}
	add(g.Summary())
	for _, v := range g.inversions() {
		add(v.String())
	}
	add(s.VsControl(g))
	add(s.ControlDetail(g))
	add(g.RetrainGain())
	add(g.Distillation())
	var formula []string
	for _, col := range g.Columns {
		if g.isFormulaColumn(col) {
			formula = append(formula, g.Labels[col])
		}
	}
	switch len(formula) {
	case 0:
	case 1:
		add(formula[0] + " applies the article's formula as printed: see its verdict under Findings")
	default:
		add(strings.Join(formula, " and ") + " apply the article's formula as printed: see the verdict under Findings")
	}
	return out
}
