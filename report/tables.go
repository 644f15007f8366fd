package report

import (
	"fmt"
	"sort"
	"strings"

	"mnistc/experiments"
)

// Grid lays a sweep's cells out as a table: one row per value of the
// sweep's rows key, one column per remaining choice (method and other grid
// values), in the experiment file's order.
type Grid struct {
	Sweep   *experiments.Sweep
	RowKey  string
	Rows    []string
	Columns []string
	At      map[[2]string]Cell
	// Labels holds each column's short label (see columnLabels).
	Labels map[string]string
}

// NewGrid builds the table of sweep s from the aggregated cells.
func NewGrid(s *experiments.Sweep, cells []Cell) Grid {
	g := Grid{Sweep: s, RowKey: s.Rows, At: map[[2]string]Cell{}}
	seenR, seenC := map[string]bool{}, map[string]bool{}
	for _, c := range cells {
		if c.Sweep != s.Name {
			continue
		}
		row := c.Point[s.Rows]
		if s.Rows == "" {
			row = c.Label()
		}
		col := columnLabel(c, s.Rows)
		if !seenR[row] {
			seenR[row] = true
			g.Rows = append(g.Rows, row)
		}
		if !seenC[col] {
			seenC[col] = true
			g.Columns = append(g.Columns, col)
		}
		g.At[[2]string{row, col}] = c
	}
	if s.Rows != "" {
		sortNumeric(g.Rows)
	}
	g.Labels = columnLabels(g)
	return g
}

// columnLabel names a cell's column: each step's method (its arguments,
// or the pass name when it has none) and the grid values other than the
// rows key.
func columnLabel(c Cell, rowKey string) string {
	if rowKey == "" {
		return "result"
	}
	var parts []string
	for _, m := range c.Methods {
		name, args, _ := strings.Cut(m, ":")
		if args == "" {
			args = name
		} else if len(c.Methods) > 1 {
			args = name + " " + args
		}
		parts = append(parts, args)
	}
	var keys []string
	for k := range c.Point {
		if k != rowKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+c.Point[k])
	}
	return strings.Join(parts, ", ")
}

// sortNumeric sorts numeric row values in descending order (bits and keep
// rates read from large to small), leaving non-numeric ones as they are.
func sortNumeric(v []string) {
	nums := make([]float64, len(v))
	for i, s := range v {
		if _, err := fmt.Sscan(s, &nums[i]); err != nil {
			return
		}
	}
	sort.SliceStable(v, func(i, j int) bool {
		var a, b float64
		fmt.Sscan(v[i], &a)
		fmt.Sscan(v[j], &b)
		return a > b
	})
}

// pct formats an accuracy stat as mean ± std in percent.
func pct(s Stat) string {
	if s.N > 1 {
		return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
	}
	return fmt.Sprintf("%.2f", 100*s.Mean)
}

// AccuracyTable renders test accuracy (%, mean ± std over seeds).
func (g Grid) AccuracyTable() string {
	if g.RowKey == "" {
		return g.listTable()
	}
	return g.table(func(c Cell) string { return pct(c.Acc) })
}

// SizeTable renders the bytes each cell needs and its compression ratio.
func (g Grid) SizeTable() string {
	return g.table(func(c Cell) string {
		if c.Size.Mean == 0 {
			return "0 (ratio undefined†)"
		}
		return fmt.Sprintf("%.0f (%.1f×)", c.Size.Mean, c.Ratio.Mean)
	})
}

// PackedTable renders the length of each cell's packed .mnc file and its
// ratio against float32.
func (g Grid) PackedTable() string {
	return g.table(func(c Cell) string {
		if c.Packed.N == 0 {
			return "—"
		}
		if c.AllZero {
			return fmt.Sprintf("%.0f (all-zero†)", c.Packed.Mean)
		}
		return fmt.Sprintf("%.0f (%.1f×)", c.Packed.Mean, c.PackedRatio.Mean)
	})
}

// HasPacked reports whether any cell has a packed size.
func (g Grid) HasPacked() bool {
	for _, c := range g.At {
		if c.Packed.N > 0 {
			return true
		}
	}
	return false
}

func (g Grid) table(f func(Cell) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| %s |", g.RowKey)
	for _, c := range g.Columns {
		if l, ok := g.Labels[c]; ok {
			c = l
		}
		fmt.Fprintf(&b, " %s |", escape(c))
	}
	b.WriteString("\n|---:|")
	b.WriteString(strings.Repeat("---:|", len(g.Columns)))
	b.WriteString("\n")
	for _, r := range g.Rows {
		fmt.Fprintf(&b, "| %s |", r)
		for _, c := range g.Columns {
			if cell, ok := g.At[[2]string{r, c}]; ok {
				fmt.Fprintf(&b, " %s |", f(cell))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// listTable is the table of a sweep without a rows key: one row per chain.
func (g Grid) listTable() string {
	var b strings.Builder
	b.WriteString("| chain | accuracy % | Δ pp | bytes (size model) | ratio | bits/weight | packed .mnc bytes | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range g.Rows {
		c := g.At[[2]string{r, "result"}]
		packed := "— | —"
		if c.Packed.N > 0 {
			packed = fmt.Sprintf("%.0f | %.1f×", c.Packed.Mean, c.PackedRatio.Mean)
		}
		fmt.Fprintf(&b, "| %s | %s | %+.2f | %.0f | %.1f× | %.2f | %s |\n", escape(r), pct(c.Acc), c.Delta.Mean, c.Size.Mean, c.Ratio.Mean, c.Bits.Mean, packed)
	}
	return b.String()
}

func escape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// BaselineTable lists each seed's baseline test accuracy and their mean.
func BaselineTable(recs []experiments.Record) string {
	seen := map[int64]experiments.Baseline{}
	var seeds []int64
	for _, r := range recs {
		if _, ok := seen[r.Seed]; !ok {
			seen[r.Seed] = r.Baseline
			seeds = append(seeds, r.Seed)
		}
	}
	sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
	var b strings.Builder
	b.WriteString("| seed | test accuracy % | correct / 10000 |\n|---:|---:|---:|\n")
	var accs []float64
	for _, s := range seeds {
		bl := seen[s]
		accs = append(accs, bl.TestAccuracy)
		fmt.Fprintf(&b, "| %d | %.2f | %d |\n", s, 100*bl.TestAccuracy, bl.TestCorrect)
	}
	fmt.Fprintf(&b, "| mean ± std | %s | |\n", pct(stat(accs)))
	return b.String()
}

// MainTable is a sweep's one table in REPORT.md: for each cell, the test
// accuracy (mean ± std over seeds; bold where the row's leaders stand out),
// the paired change against each seed's baseline (* when its 95 %
// interval excludes 0), the packed size and its ratio, and for a
// fine-tuning cell the accuracy of the same passes without retraining.
func (g Grid) MainTable() string {
	var b strings.Builder
	head := g.RowKey
	if head == "" {
		head = "configuration"
	}
	fmt.Fprintf(&b, "| %s |", head)
	for _, c := range g.Columns {
		fmt.Fprintf(&b, " %s |", escape(g.Labels[c]))
	}
	b.WriteString("\n|---:|" + strings.Repeat("---:|", len(g.Columns)) + "\n")
	for _, r := range g.Rows {
		lead := g.Leaders(r)
		fmt.Fprintf(&b, "| %s |", escape(r))
		for _, col := range g.Columns {
			if c, ok := g.At[[2]string{r, col}]; ok {
				fmt.Fprintf(&b, " %s |", cellText(c, lead[col]))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cellText is one cell of the main table, its lines joined by <br>.
func cellText(c Cell, lead bool) string {
	acc := pct(c.Acc)
	if lead {
		acc = "**" + acc + "**"
	}
	d := c.VsBaseline()
	mark := ""
	if d.Known() && !d.Tie() {
		mark = "*"
	}
	lines := []string{acc, signed(d.Mean) + " pp" + mark, sizeCell(c)}
	if c.Budget != "" && c.Kind == "" {
		lines = append(lines, fmt.Sprintf("w/o retraining %.2f", 100*c.NoRetrain.Mean))
	}
	return strings.Join(lines, "<br>")
}

// sizeCell prints a cell's bytes and ratio: the packed file's when every
// seed's model was packed, else the size model's (said so).
func sizeCell(c Cell) string {
	b, r, real := c.Bytes()
	s := bytesText(b)
	if !real {
		s += " (size model)"
	}
	switch {
	case c.AllZero:
		return s + " · all-zero†"
	case b <= 0:
		return s + " · —"
	}
	return s + " · " + fmt.Sprintf("%.1f×", r)
}

// MainCaption explains the main table's cells.
func (g Grid) MainCaption(seeds int, finetune bool) string {
	s := fmt.Sprintf("Each cell: test accuracy %% (mean ± std over %s); change against each seed's own baseline, pp "+
		"(* where its paired 95 %% t interval over the seeds excludes 0); packed .mnc bytes · ratio against float32", plural(seeds, "seed"))
	if finetune {
		s += "; the same passes without retraining, accuracy %"
	}
	return s + ". **Bold**: the row's methods that no other method beats significantly (paired 95 % interval), marked only where some method is beaten."
}

// detailTables renders a sweep's section of tables.md: one table per
// quantity (accuracy, paired change with its interval, packed and
// size-model bytes, validation accuracy, accuracy without retraining,
// training time), the per-layer breakdown and the label legend.
func (g Grid) detailTables(n, seeds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %d. %s\n\nLabels:\n\n%s\n", n, title(g), g.LegendTable())
	fmt.Fprintf(&b, "Test accuracy %% (mean ± std over %s).\n\n%s\n", plural(seeds, "seed"), g.AccuracyTable())
	fmt.Fprintf(&b, "Change against each seed's baseline, pp, with its paired 95 %% t interval.\n\n%s\n", g.table(func(c Cell) string { return c.VsBaseline().short() }))
	if g.HasPacked() {
		fmt.Fprintf(&b, "Real size: bytes of the packed .mnc file (ratio against float32).\n\n%s\n", g.PackedTable())
	}
	fmt.Fprintf(&b, "Bytes the representation needs by the size model (ratio against float32).\n\n%s\n", g.SizeTable())
	hasVal, ft := false, false
	for _, c := range g.At {
		hasVal = hasVal || c.Val.N > 0
		ft = ft || c.TrainSeconds.N > 0
	}
	if hasVal {
		fmt.Fprintf(&b, "Validation accuracy %% (what selections use).\n\n%s\n", g.table(func(c Cell) string {
			if c.Val.N == 0 {
				return "—"
			}
			return pct(c.Val)
		}))
	}
	if hasNoRetrain(g) {
		fmt.Fprintf(&b, "The same passes without retraining, test accuracy %%.\n\n%s\n", g.table(func(c Cell) string { return pct(c.NoRetrain) }))
	}
	if ft {
		fmt.Fprintf(&b, "Training time, seconds (mean over seeds).\n\n%s\n", g.table(func(c Cell) string { return fmt.Sprintf("%.1f", c.TrainSeconds.Mean) }))
	}
	if l := g.LayerGrid(); l != "" {
		fmt.Fprintf(&b, "Per layer, packed file (means over seeds; bits per kept weight as stored).\n\n%s\n", l)
	}
	return b.String()
}
