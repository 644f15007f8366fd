package report

import (
	"fmt"
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
// results.csv, tables.md, plots/*.png|svg|pdf and REPORT.md — and replaces
// the previous report as a set: everything is rendered and written into a
// staging folder inside dir first, and only when all of it succeeded are
// the files moved into place (each by an atomic rename, the old ones kept
// until the last is in, and put back if a move fails). A failed report
// leaves the previous one as it was; plots the previous report made that
// this one does not are removed. Nothing else in dir is touched. The
// provenance section reads dir's manifest.json when there is one.
func Write(dir string, e *experiments.Experiment, recs []experiments.Record) error {
	var man *experiments.Manifest
	if m, err := experiments.ReadManifest(dir); err == nil {
		man = &m
	}
	files, err := renderSet(e, recs, man)
	if err != nil {
		return fmt.Errorf("report %s: %w", dir, err)
	}
	return replaceSet(dir, files)
}

// renderSet renders the report's files in memory, plots first and
// REPORT.md last (the order they are moved into place).
func renderSet(e *experiments.Experiment, recs []experiments.Record, man *experiments.Manifest) ([]outFile, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("no records to report")
	}
	experiments.SortRecords(e, recs)
	cells := Aggregate(recs)
	st := NewStudy(e, cells)
	var files []outFile
	addFigure := func(f Figure) error {
		// defence in depth: the name comes from the experiment file
		// (checked when it was read); it must still be a plain file name
		if !ownedPlot(f.Name + ".png") {
			return fmt.Errorf("plot name %q: not a plain file name (%s)", f.Name, experiments.NameRule)
		}
		files = append(files, outFile{PlotsDir + "/" + f.Name + ".png", f.PNG}, outFile{PlotsDir + "/" + f.Name + ".svg", f.SVG},
			outFile{PlotsDir + "/" + f.Name + ".pdf", f.PDF})
		return nil
	}
	var tables, body strings.Builder
	figNo := 0
	seeds := len(e.Seeds)
	for i, s := range e.Sweeps {
		if err := experiments.CheckName(s.Name); err != nil {
			return nil, fmt.Errorf("sweeps[%d]: name: %v", i, err)
		}
		g := NewGrid(s, cells)
		if len(g.Rows) == 0 {
			continue
		}
		fmt.Fprintf(&body, "## %d. %s\n\n", i+1, title(g))
		fig, ok, err := plotSweep(st, g, fmt.Sprintf("%02d-%s", i+1, s.Name))
		if err != nil {
			return nil, err
		}
		if ok {
			if err := addFigure(fig); err != nil {
				return nil, err
			}
			figNo++
			fmt.Fprintf(&body, "![%s](%s/%s.png)\n\n%s\n\n", s.Name, PlotsDir, fig.Name, sweepCaption(figNo, g, fig, seeds, len(st.references(g)) > 1))
		}
		if d := sweepSetup(g, recs); d != "" {
			body.WriteString(d + "\n\n")
		}
		fmt.Fprintf(&body, "%s\n\n%s\n", g.MainCaption(seeds, hasNoRetrain(g)), g.MainTable())
		fmt.Fprintf(&body, "Labels:\n\n%s\n", g.LegendTable())
		if t := searchTable(recs, s.Name); t != "" {
			body.WriteString(t)
			tables.WriteString(fmt.Sprintf("### %d. %s: each search\n\n%s", i+1, s.Name, t))
		}
		for _, f := range st.SectionFindings(g) {
			fmt.Fprintf(&body, "- %s\n", f)
		}
		for _, n := range g.SizeNotes() {
			fmt.Fprintf(&body, "- %s\n", n)
		}
		if t := trainingTime(g); t != "" {
			fmt.Fprintf(&body, "- %s\n", t)
		}
		body.WriteString("\n")
		tables.WriteString(g.detailTables(i+1, seeds))
		for _, n := range g.SizeNotes() {
			fmt.Fprintf(&tables, "- %s\n", n)
		}
		tables.WriteString("\n")
	}
	if rv, ok := newRobustView(st); ok {
		figs, err := plotRobust(rv)
		if err != nil {
			return nil, err
		}
		for _, f := range figs {
			if err := addFigure(f); err != nil {
				return nil, err
			}
		}
		body.WriteString(rv.Section(figs, figNo+1))
		figNo += len(figs)
		tables.WriteString(rv.Tables())
	}
	fig, hidden, err := st.ParetoPlot("pareto")
	if err != nil {
		return nil, err
	}
	if err := addFigure(fig); err != nil {
		return nil, err
	}
	figNo++
	body.WriteString(st.paretoSection(fig, figNo, hidden, seeds))
	body.WriteString(st.layerSection())
	return append(files,
		outFile{CSVFile, CSV(cells)},
		outFile{TablesFile, []byte("# Tables: " + e.Name + "\n\nEvery number of REPORT.md's tables, one table per quantity, and the per-layer breakdown of every cell.\n\n" + tables.String())},
		outFile{ReportFile, []byte(header(e, recs) + st.findingsSection(e, cells, recs, seeds) + setup(e, recs, st.UseVal) + body.String() + ProvenanceSection(man, recs, e))}), nil
}

// plotSweep draws a sweep's plot and plotRobust the robustness plots;
// variables so a test can make them fail.
var (
	plotSweep  = Study.SweepPlot
	plotRobust = robustView.Plots
)

// hasNoRetrain reports whether the grid's cells fine-tune (and so have the
// same passes' accuracy without retraining).
func hasNoRetrain(g Grid) bool {
	for _, c := range g.At {
		if c.Budget != "" && c.Kind == "" {
			return true
		}
	}
	return false
}

// sweepCaption is a sweep figure's caption.
func sweepCaption(n int, g Grid, f Figure, seeds int, control bool) string {
	s := fmt.Sprintf("*Figure %d.* Test accuracy against %s, one line per method (labels below the table); points are means over %s and "+
		"error bars ± one standard deviation over them (the seeds' baselines differ by about as much: the paired intervals in the text are narrower); "+
		"the dashed grey line is the seeds' mean baseline", n, g.RowKey, plural(seeds, "seed"))
	if control {
		s += ", the dash-dotted black line fine-tuning with the same budget and no compression"
	}
	s += ". Points are nudged sideways a little so that coinciding ones stay visible"
	if f.Zoom != "" {
		s += "; " + f.Zoom
	}
	for _, n := range f.Notes {
		s += "; " + n
	}
	return s + "."
}

// sweepSetup says how a sweep's cells were made when not plainly post-training.
func sweepSetup(g Grid, recs []experiments.Record) string {
	s := g.Sweep
	switch f := s.Finetune; {
	case s.Search != nil:
		return searchSetup(recs, s.Name)
	case s.Sensitivity != nil:
		return sensitivitySetup(s)
	case s.Distill != nil:
		d := s.Distill.Settings()
		return fmt.Sprintf("Each row trains a student with the hidden widths k from the seed's baseline as teacher (loss α·T²·KL(teacher‖student) + (1−α)·CE, T = %g, α = %g) and the same student alone with the same seed and budget (%s). Δ is against the teacher.",
			d.Temperature, d.Alpha, budgetText(recs, s.Name))
	case f != nil && f.From == experiments.FromScratch:
		return fmt.Sprintf("Each cell trains a fresh network with its passes in the loop from the first step — the article's §4 flow (%s); Δ is against the plainly trained baseline of the same seed and recipe.", budgetText(recs, s.Name))
	case f != nil:
		return fmt.Sprintf("Each cell fine-tunes the seed's baseline with its passes held in the loop (%s).", budgetText(recs, s.Name))
	}
	return ""
}

// trainingTime states the range of a fine-tuning sweep's training times.
func trainingTime(g Grid) string {
	var t []float64
	for _, c := range g.At {
		if c.TrainSeconds.N > 0 {
			t = append(t, c.TrainSeconds.Mean)
		}
	}
	if len(t) == 0 {
		return ""
	}
	return fmt.Sprintf("Training took %s s per cell (mean over seeds; cells train side by side on the run's machine; per cell in tables.md).", spanText(t, "%.1f"))
}

func header(e *experiments.Experiment, recs []experiments.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", e.Name)
	if e.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(e.Description))
	}
	keys := map[string]bool{}
	for _, r := range recs {
		keys[r.Key] = true
	}
	runs := ""
	if len(keys) < len(recs) {
		runs = fmt.Sprintf(" (%d distinct runs: a configuration that appears in several sweeps is run once and shown in each)", len(keys))
	}
	fmt.Fprintf(&b, "Generated by `mnistc report` from %d records%s in `%s`; every number below is computed from them.\n\n", len(recs), runs, experiments.LogFile)
	return b.String()
}

// setup describes the recipe, the baselines and how sizes are counted.
func setup(e *experiments.Experiment, recs []experiments.Record, useVal bool) string {
	t := recs[0].Train
	split := "calibration and every selection use it; the test set only gives reported numbers"
	if !useVal {
		split = "calibration uses it; these records predate validation accuracy, so the selections below are made on the test set"
	}
	var b strings.Builder
	b.WriteString("## Setup\n\n")
	fmt.Fprintf(&b, "**Recipe.** %s, Adam (lr %g, β %g/%g, ε %g), batch %d, %d epochs, Glorot-uniform kernels, zero biases; "+
		"%d training images, the next %d held out as the validation split (%s). "+
		"Seeds: %v. Accuracy is on the 10,000 test images.\n\n",
		model.ArchName(netSizes(recs[0])), t.LR, t.Beta1, t.Beta2, t.Eps, t.Batch, t.Epochs, t.TrainImages, t.ValImages, split, e.Seeds)
	fmt.Fprintf(&b, "**Baselines.**\n\n%s\n", BaselineTable(recs))
	fmt.Fprintf(&b, "**Sizes.** Tables give the real size: the bytes of the cell's packed .mnc file (codes, relative sparse indices, "+
		"Huffman coding, float32 biases, framing and lean metadata), against the %d bytes of float32 parameters. tables.md also gives the size model's "+
		"count (codes at their bit width, plus scales, zero-points or codebooks at 32 bits each, and for sparse tensors Deep Compression's relative "+
		"indices, whichever of dense and sparse is smaller), which is how the papers count.\n\n", model.ParamCount(netSizes(recs[0]))*4)
	return b.String()
}

// findingsSection opens the report: the headline findings, how to read
// their intervals, the article's formulas and the literature.
func (s Study) findingsSection(e *experiments.Experiment, cells []Cell, recs []experiments.Record, seeds int) string {
	var b strings.Builder
	b.WriteString("## Findings\n\n")
	first, firstSec := "", ""
	for i, sw := range e.Sweeps {
		if sw.Search == nil {
			continue
		}
		sec := fmt.Sprintf("**%s** (§%d)", sw.Name, i+1)
		for _, f := range searchFindings(recs, sw.Name, sec) {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		if first == "" {
			first, firstSec = sw.Name, sec
			continue
		}
		for _, f := range searchVersus(recs, sw.Name, first, sec, firstSec) {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	for _, f := range s.Headline() {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	fmt.Fprintf(&b, "\nIntervals are 95 %% t intervals over the %s of the paired change (each seed against its own baseline, or two methods on the same seed); "+
		"a difference whose interval contains 0 is a tie, within the noise, and is never called better or worse. "+
		"\"Lossless down to X\" means the whole interval of the change lies above −%.1f pp at X and at every less compressed setting "+
		"(a tie alone is not enough: a wide interval that contains 0 also contains large losses).\n\n", plural(seeds, "seed"), LossTolerance)
	if vs := FormulaVerdicts(s.Grids); len(vs) > 0 {
		fmt.Fprintf(&b, "### The article's formulas as printed\n\n%s\n", FormulaTable(vs))
	}
	b.WriteString(Literature(e, cells, s))
	return b.String()
}

// paretoSection is the size/accuracy figure and the frontier's table.
func (s Study) paretoSection(f Figure, n, hidden, seeds int) string {
	var b strings.Builder
	front := s.Frontier()
	fmt.Fprintf(&b, "## Size against accuracy\n\n![pareto](%s/%s.png)\n\n", PlotsDir, f.Name)
	floor := ParetoFloor(s.Cells)
	fmt.Fprintf(&b, "*Figure %d.* Test accuracy against size for the %s (grey; %d below %.0f %% are off the chart). "+
		"The frontier (numbered) is the configurations no other is both smaller and more accurate than, %s; controls and configurations no smaller than float32 are left out. "+
		"Error bars: ± one standard deviation over %s. Dashed grey: the seeds' mean baseline.",
		n, plural(len(s.Cells), "configuration"), hidden, floor, s.SelectionNote(), plural(seeds, "seed"))
	if len(s.Controls) > 0 {
		b.WriteString(" Black lines: fine-tuning without compression, one per budget (legend).")
	}
	if f.Zoom != "" {
		b.WriteString(" " + upperFirst(f.Zoom) + ".")
	}
	b.WriteString("\n\n| # | configuration | test accuracy % | Δ pp [95 % CI] | packed bytes | ratio | size model bytes |\n|---:|---|---:|---:|---:|---:|---:|\n")
	for i, c := range front {
		bb, r, _ := c.Bytes()
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.0f | %s | %.0f |\n", i+1, escape(s.Label(c)), pct(c.Acc), c.VsBaseline().short(), bb, ratioText(r, c), c.Size.Mean)
	}
	b.WriteString("\n")
	for _, t := range s.smallestTexts() {
		fmt.Fprintf(&b, "- %s\n", t)
	}
	fmt.Fprintf(&b, "- Selection: %s.\n\n", s.SelectionNote())
	return b.String()
}

// layerSection gives the per-layer breakdown of the selected cells.
func (s Study) layerSection() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, tol := range []float64{0.5, 1} {
		c, ok := s.Smallest(tol)
		if !ok || seen[cellKey(c)] || len(c.Layers) == 0 {
			continue
		}
		seen[cellKey(c)] = true
		if b.Len() == 0 {
			b.WriteString("## Per-layer breakdown\n\n" + LayerCaption + " Every cell's breakdown is in tables.md.\n\n")
		}
		fmt.Fprintf(&b, "**%s** (smallest within %.1f pp):\n\n%s\n", s.Label(c), tol, LayerTable(c))
	}
	return b.String()
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

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
