package report

import (
	"fmt"
	"math"
	"strings"

	"mnistc/data"
	"mnistc/experiments"
	"mnistc/model"
)

// Files written into a results folder besides the records.
const (
	CSVFile    = "results.csv"
	TablesFile = "tables.md"
	ReportFile = "REPORT.md"
	PlotsDir   = "plots"
)

// Write renders every output of experiment e's records into dir —
// results.csv, tables.md, plots/*.png|svg and REPORT.md — and replaces the
// previous report as a set: everything is rendered and written into a
// staging folder inside dir first, and only when all of it succeeded are
// the files moved into place (each by an atomic rename, the old ones kept
// until the last is in, and put back if a move fails). A failed report
// leaves the previous one as it was; plots the previous report made that
// this one does not are removed. Nothing else in dir is touched.
func Write(dir string, e *experiments.Experiment, recs []experiments.Record) error {
	files, err := renderSet(e, recs)
	if err != nil {
		return fmt.Errorf("report %s: %w", dir, err)
	}
	return replaceSet(dir, files)
}

// renderSet renders the report's files in memory, plots first and
// REPORT.md last (the order they are moved into place).
func renderSet(e *experiments.Experiment, recs []experiments.Record) ([]outFile, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("no records to report")
	}
	experiments.SortRecords(e, recs)
	cells := Aggregate(recs)
	var files []outFile
	addFigure := func(f Figure) error {
		// defence in depth: the name comes from the experiment file
		// (checked when it was read); it must still be a plain file name
		if !ownedPlot(f.Name + ".png") {
			return fmt.Errorf("plot name %q: not a plain file name (%s)", f.Name, experiments.NameRule)
		}
		files = append(files, outFile{PlotsDir + "/" + f.Name + ".png", f.PNG}, outFile{PlotsDir + "/" + f.Name + ".svg", f.SVG})
		return nil
	}
	var tables, body strings.Builder
	for i, s := range e.Sweeps {
		g := NewGrid(s, cells)
		if len(g.Rows) == 0 {
			continue
		}
		fmt.Fprintf(&tables, "## %s\n\nTest accuracy %% (mean ± std over seeds).\n\n%s\n", title(g), g.AccuracyTable())
		fmt.Fprintf(&body, "## %d. %s\n\n", i+1, title(g))
		if err := experiments.CheckName(s.Name); err != nil {
			return nil, fmt.Errorf("sweeps[%d]: name: %v", i, err)
		}
		fig, ok, err := plotSweep(g, fmt.Sprintf("%02d-%s", i+1, s.Name))
		if err != nil {
			return nil, err
		}
		if ok {
			if err := addFigure(fig); err != nil {
				return nil, err
			}
			fmt.Fprintf(&body, "![%s](%s/%s.png)\n\n", s.Name, PlotsDir, fig.Name)
		}
		switch f := s.Finetune; {
		case s.Distill != nil:
			d := s.Distill.Settings()
			fmt.Fprintf(&body, "Each row trains a student with the hidden widths k from the seed's baseline as teacher (loss α·T²·KL(teacher‖student) + (1−α)·CE, T = %g, α = %g) and the same student alone with the same seed and budget (%s). Δ is against the teacher.\n\n",
				d.Temperature, d.Alpha, budgetText(recs, s.Name))
		case f != nil && f.From == experiments.FromScratch:
			fmt.Fprintf(&body, "Each cell trains a fresh network with its passes in the loop from the first step — the article's §4 flow (%s); Δ is against the plainly trained baseline of the same seed and recipe.\n\n", budgetText(recs, s.Name))
		case f != nil:
			fmt.Fprintf(&body, "Each cell fine-tunes the seed's baseline with its passes held in the loop (%s).\n\n", budgetText(recs, s.Name))
		}
		fmt.Fprintf(&body, "Test accuracy %% (mean ± std over %s):\n\n%s\n", plural(len(e.Seeds), "seed"), g.AccuracyTable())
		if s.Distill != nil {
			dt := g.table(func(c Cell) string { return fmt.Sprintf("%+.2f", c.Delta.Mean) })
			fmt.Fprintf(&body, "Δ pp against the teacher (mean over seeds):\n\n%s\n", dt)
			fmt.Fprintf(&tables, "Δ pp against the teacher.\n\n%s\n", dt)
			ts := g.table(func(c Cell) string { return fmt.Sprintf("%.1f", c.TrainSeconds.Mean) })
			fmt.Fprintf(&body, "Training time per student, seconds (mean over seeds; two train at a time):\n\n%s\n", ts)
			fmt.Fprintf(&tables, "Training time, seconds.\n\n%s\n", ts)
			for _, f := range DistillFindings(g) {
				fmt.Fprintf(&body, "- %s\n", f)
			}
			body.WriteString("\n")
		}
		if s.Finetune != nil && g.RowKey != "" {
			nr := g.table(func(c Cell) string { return pct(c.NoRetrain) })
			fmt.Fprintf(&body, "The same passes applied after training, without retraining:\n\n%s\n", nr)
			fmt.Fprintf(&tables, "Without retraining.\n\n%s\n", nr)
			ts := g.table(func(c Cell) string { return fmt.Sprintf("%.1f", c.TrainSeconds.Mean) })
			fmt.Fprintf(&body, "Extra training time per cell, seconds (mean over seeds; cells train two at a time on the run's machine):\n\n%s\n", ts)
			fmt.Fprintf(&tables, "Extra training time, seconds.\n\n%s\n", ts)
		}
		if g.RowKey != "" && g.VariesInSize() {
			sz := g.SizeTable()
			fmt.Fprintf(&tables, "Bytes the representation needs by the size model (compression ratio against float32).\n\n%s\n", sz)
			fmt.Fprintf(&body, "Bytes the representation needs by the size model (ratio against the %d bytes of float32 parameters):\n\n%s\n", model.ParamCount(netSizes(recs[0]))*4, sz)
			if g.HasPacked() {
				pk := g.PackedTable()
				fmt.Fprintf(&tables, "Real size: bytes of the packed .mnc file (ratio against float32).\n\n%s\n", pk)
				fmt.Fprintf(&body, "Real size: bytes of the packed .mnc file, Huffman coding and lean metadata included (ratio against float32):\n\n%s\n", pk)
			}
		}
		for _, f := range Findings(g) {
			fmt.Fprintf(&body, "- %s\n", f)
		}
		body.WriteString("\n")
	}
	fig, hidden, err := ParetoPlot(cells, "pareto")
	if err != nil {
		return nil, err
	}
	if err := addFigure(fig); err != nil {
		return nil, err
	}
	front := Frontier(cells)
	fmt.Fprintf(&body, "## Size against accuracy\n\n![pareto](%s/pareto.png)\n\n", PlotsDir)
	floor := ParetoFloor(cells)
	fmt.Fprintf(&body, "%s; %d below %.0f %% are off the chart. The Pareto frontier among those at or above %.0f %% (none of them is both smaller and more accurate):\n\n",
		plural(len(cells), "configuration"), hidden, floor, floor)
	body.WriteString("| chain | accuracy % | packed bytes | ratio | size model bytes |\n|---|---:|---:|---:|---:|\n")
	for _, c := range front {
		b, r, _ := c.Bytes()
		fmt.Fprintf(&body, "| %s | %s | %.0f | %.1f× | %.0f |\n", escape(c.Label()), pct(c.Acc), b, r, c.Size.Mean)
	}
	body.WriteString("\n")
	for _, f := range Overall(cells) {
		fmt.Fprintf(&body, "- %s\n", f)
	}
	return append(files,
		outFile{CSVFile, CSV(cells)},
		outFile{TablesFile, []byte("# Tables: " + e.Name + "\n\n" + tables.String())},
		outFile{ReportFile, []byte(header(e, recs) + Literature(e, cells) + body.String())}), nil
}

// plotSweep draws a sweep's plot; a variable so a test can make it fail.
var plotSweep = Grid.SweepPlot

func header(e *experiments.Experiment, recs []experiments.Record) string {
	t := recs[0].Train
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", e.Name)
	if e.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(e.Description))
	}
	fmt.Fprintf(&b, "Generated by `mnistc report` from %d records in `%s`; every number below is computed from them.\n\n", len(recs), experiments.LogFile)
	fmt.Fprintf(&b, "**Recipe.** %s, Adam (lr %g, β %g/%g, ε %g), batch %d, %d epochs, Glorot-uniform kernels, zero biases; "+
		"%d training images, the next %d held out as the validation split (all calibration uses it; the test set only gives reported numbers). "+
		"Seeds: %v. Accuracy is on the 10,000 test images.\n\n",
		model.ArchName(netSizes(recs[0])), t.LR, t.Beta1, t.Beta2, t.Eps, t.Batch, t.Epochs, t.TrainImages, t.ValImages, e.Seeds)
	fmt.Fprintf(&b, "**Baselines.**\n\n%s\n", BaselineTable(recs))
	b.WriteString("**Sizes.** \"bytes\" is what the representation needs: codes at their bit width, plus scales, zero-points or codebooks " +
		"(32 bits each), and for sparse tensors Deep Compression's relative indices, whichever of dense and sparse is smaller " +
		"(see the README). The ratio is against the float32 parameters.\n\n")
	return b.String()
}

// Findings states what a sweep's table shows, computed from its cells:
// the spread of each literal (as-printed) column against the best
// corrected column at the same rows, and the best and worst columns at the
// two ends of the rows.
func Findings(g Grid) []string {
	if g.RowKey == "" || len(g.Columns) == 0 {
		return nil
	}
	var out []string
	for _, col := range g.Columns {
		if !strings.Contains(col, "literal") {
			continue
		}
		lo, hi := g.colRange(col)
		var best float64
		bestCol := ""
		for _, other := range g.Columns {
			if strings.Contains(other, "literal") {
				continue
			}
			if _, m := g.colRange(other); m > best {
				best, bestCol = m, other
			}
		}
		s := fmt.Sprintf("The article's formula as printed (`%s`) gives %.2f–%.2f %% over %s = %s; %s.", col, 100*lo, 100*hi,
			g.RowKey, strings.Join(g.Rows, ", "), g.literalEffect(col))
		if bestCol != "" {
			s += fmt.Sprintf(" The corrected method `%s` reaches up to %.2f %%.", bestCol, 100*best)
		}
		out = append(out, s)
	}
	for _, r := range []string{g.Rows[0], g.Rows[len(g.Rows)-1]} {
		bc, wc, ok := g.extremes(r)
		if !ok {
			continue
		}
		b, w := g.At[[2]string{r, bc}], g.At[[2]string{r, wc}]
		out = append(out, fmt.Sprintf("At %s = %s the best is `%s` (%s %%, %+.2f pp against its baseline), the worst `%s` (%s %%).",
			g.RowKey, r, bc, pct(b.Acc), b.Delta.Mean, wc, pct(w.Acc)))
	}
	return out
}

// literalEffect says what a literal column did to the weights, from its
// cells: the sparsity and distinct values of the weights and the size.
func (g Grid) literalEffect(col string) string {
	var sp, d, size []float64
	for _, r := range g.Rows {
		if c, ok := g.At[[2]string{r, col}]; ok {
			sp = append(sp, c.MeanSparsity())
			d = append(d, c.TotalDistinct())
			size = append(size, c.Size.Mean)
		}
	}
	mn, mx := func(v []float64) float64 {
		m := math.Inf(1)
		for _, x := range v {
			m = math.Min(m, x)
		}
		return m
	}, func(v []float64) float64 {
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m
	}
	return fmt.Sprintf("its weight matrices are %.1f–%.1f %% zeros with %.0f–%.0f distinct values, %.0f–%.0f bytes",
		100*mn(sp), 100*mx(sp), mn(d), mx(d), mn(size), mx(size))
}

func (g Grid) colRange(col string) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range g.Rows {
		if c, ok := g.At[[2]string{r, col}]; ok {
			lo, hi = math.Min(lo, c.Acc.Mean), math.Max(hi, c.Acc.Mean)
		}
	}
	return lo, hi
}

func (g Grid) extremes(row string) (best, worst string, ok bool) {
	bv, wv := math.Inf(-1), math.Inf(1)
	for _, col := range g.Columns {
		c, has := g.At[[2]string{row, col}]
		if !has {
			continue
		}
		if c.Acc.Mean > bv {
			bv, best = c.Acc.Mean, col
		}
		if c.Acc.Mean < wv {
			wv, worst = c.Acc.Mean, col
		}
		ok = true
	}
	return best, worst, ok && best != worst
}

// Overall states the smallest configurations within 0.5 and 1 pp of their
// baselines.
func Overall(cells []Cell) []string {
	var out []string
	for _, tol := range []float64{0.5, 1} {
		var best *Cell
		bestBytes := 0.0
		for i := range cells {
			c := &cells[i]
			if b, _, _ := c.Bytes(); c.Delta.Mean >= -tol && (best == nil || b < bestBytes) {
				best, bestBytes = c, b
			}
		}
		if best != nil {
			b, r, real := best.Bytes()
			what := "as a packed .mnc file"
			if !real {
				what = "by the size model"
			}
			out = append(out, fmt.Sprintf("The smallest configuration within %.1f pp of its baseline (mean over seeds) is `%s`: %.0f bytes %s (%.1f× smaller than float32), %s %% (%+.2f pp).",
				tol, best.Label(), b, what, r, pct(best.Acc), best.Delta.Mean))
		}
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// DistillFindings states each width's gain of the distilled student over
// the one trained alone (mean over seeds, with each seed's gain).
func DistillFindings(g Grid) []string {
	var out []string
	for _, r := range g.Rows {
		d, okD := g.At[[2]string{r, "distilled"}]
		a, okA := g.At[[2]string{r, "alone"}]
		if !okD || !okA {
			continue
		}
		out = append(out, fmt.Sprintf("hidden %s: distilled %s %%, alone %s %%: %+.2f pp from distillation.", r, pct(d.Acc), pct(a.Acc), 100*(d.Acc.Mean-a.Acc.Mean)))
	}
	return out
}

// budgetText describes a fine-tuning sweep's budget from its records.
func budgetText(recs []experiments.Record, sweep string) string {
	for _, r := range recs {
		if r.Sweep == sweep && r.Finetune != nil {
			t := r.Finetune.Train
			return fmt.Sprintf("%d epochs, batch %d, Adam lr %g", t.Epochs, t.Batch, t.LR)
		}
	}
	return "no records"
}

// netSizes is the sizes of the network a record's recipe trains: the
// input width and classes its records measured (MNIST's when none), the
// recipe's hidden layers.
func netSizes(r experiments.Record) []int {
	in, cls := data.Pixels, data.Classes
	if len(r.Steps) > 0 {
		if s := r.Steps[0].Sizes; len(s) >= 2 {
			in, cls = s[0], s[len(s)-1]
		}
	}
	return r.Train.Sizes(in, cls)
}
