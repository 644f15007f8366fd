package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/experiments"
	"mnistc/mnc"
	"mnistc/model"
)

// The synthetic record set in testdata/synthetic: a small experiment with
// hand-chosen per-seed accuracies, so that every finding below follows from
// numbers a reader can check by hand. It is written by synthRecords (go test
// ./report -run Synthetic -update) and read back like a results folder.
//
// Per seed 1, 2, 3 (test accuracy; the validation split is test + 0.2 pp
// unless noted):
//   - baselines 97.80, 97.60, 97.70 (validation 98.00, 97.90, 97.95);
//   - quantize per-tensor: 8-bit +0.02/−0.01/0 pp, 4-bit −0.6/−0.5/−0.7 pp
//     (a clear loss), 2-bit 12, 10, 11 %;
//   - quantize per-channel: 8-bit +0.01/0/−0.01, 4-bit −0.1/−0.2/−0.15
//     (lossless: interval above −0.5 pp), 2-bit −2/−3/−2.5 pp;
//   - the article's literal formula: 9.74 % everywhere, all weights zero;
//   - qat (fine-tuned, per-channel): 4-bit +0.4/+0.5/+0.45, 2-bit
//     −0.4/−0.3/−0.5 on test but −0.8 pp on validation;
//   - control (the same budget, no compression): +0.45/+0.5/+0.4.
//
// So QAT at 4 bits ties the control (paired −0.05/0/+0.05), and the
// smallest cell within 0.5 pp is qat 2-bit on test but qat 4-bit on
// validation.
const synthYAML = `name: synthetic
train: {epochs: 1}
seeds: [1, 2, 3]
sweeps:
  - name: quantize
    rows: bits
    steps:
      - methods: ["quantize:granularity=tensor", "quantize:granularity=channel", "quantize:scheme=literal"]
        grid: {bits: [8, 4, 2]}
  - name: qat
    rows: bits
    finetune: {epochs: 1}
    steps:
      - methods: ["quantize:granularity=channel"]
        grid: {bits: [4, 2]}
  - name: control
    rows: threshold
    finetune: {epochs: 1}
    steps:
      - methods: [clip]
        grid: {threshold: [1000000]}
`

var (
	synthBase    = [3]float64{0.9780, 0.9760, 0.9770}
	synthBaseVal = [3]float64{0.9800, 0.9790, 0.9795}
)

// synthCell is one cell's hand-chosen outcome: per-seed change against
// the baseline in pp (or absolute accuracy when abs), packed bytes, the
// share of w1 that is zero, and for fine-tuned cells the accuracy without
// retraining (pp change) and the validation change when it differs.
type synthCell struct {
	delta    [3]float64
	abs      bool
	packed   int
	zeros    float64
	post     *[3]float64
	valDelta *[3]float64
}

var synthCells = map[string]synthCell{
	"quantize/bits=8/granularity=tensor":  {delta: [3]float64{0.02, -0.01, 0}, packed: 80000},
	"quantize/bits=4/granularity=tensor":  {delta: [3]float64{-0.6, -0.5, -0.7}, packed: 26000},
	"quantize/bits=2/granularity=tensor":  {delta: [3]float64{12, 10, 11}, abs: true, packed: 1500, zeros: 0.99},
	"quantize/bits=8/granularity=channel": {delta: [3]float64{0.01, 0, -0.01}, packed: 92000},
	"quantize/bits=4/granularity=channel": {delta: [3]float64{-0.1, -0.2, -0.15}, packed: 40000},
	"quantize/bits=2/granularity=channel": {delta: [3]float64{-2, -3, -2.5}, packed: 6600},
	"quantize/bits=8/scheme=literal":      {delta: [3]float64{9.74, 9.74, 9.74}, abs: true, packed: 840, zeros: 1},
	"quantize/bits=4/scheme=literal":      {delta: [3]float64{9.74, 9.74, 9.74}, abs: true, packed: 840, zeros: 1},
	"quantize/bits=2/scheme=literal":      {delta: [3]float64{9.74, 9.74, 9.74}, abs: true, packed: 840, zeros: 1},
	"qat/bits=4/granularity=channel":      {delta: [3]float64{0.4, 0.5, 0.45}, packed: 39700, post: &[3]float64{-0.1, -0.2, -0.15}},
	"qat/bits=2/granularity=channel": {delta: [3]float64{-0.4, -0.3, -0.5}, packed: 7000, post: &[3]float64{-2, -3, -2.5},
		valDelta: &[3]float64{-0.8, -0.8, -0.8}},
	"control/threshold=1000000": {delta: [3]float64{0.45, 0.5, 0.4}, packed: 407300, post: &[3]float64{0, 0, 0}},
}

// synthKey names a cell for synthCells: sweep/grid point/method arguments.
func synthKey(c experiments.Cell) string {
	k := c.Sweep + "/"
	var pt []string
	for _, key := range sortedKeys(c.Point) {
		pt = append(pt, key+"="+c.Point[key])
	}
	k += strings.Join(pt, "/")
	if _, args, ok := strings.Cut(c.Methods[0], ":"); ok {
		k += "/" + args
	}
	return k
}

// synthRecords builds the synthetic records from synthCells.
func synthRecords(t *testing.T, e *experiments.Experiment) []experiments.Record {
	t.Helper()
	var recs []experiments.Record
	for si, seed := range e.Seeds {
		for _, s := range e.Sweeps {
			cells, err := s.Cells()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cells {
				sc, ok := synthCells[synthKey(c)]
				if !ok {
					t.Fatalf("no synthetic outcome for %s", synthKey(c))
				}
				recs = append(recs, synthRecord(c, si, seed, sc))
			}
		}
	}
	return recs
}

func synthRecord(c experiments.Cell, si int, seed int64, sc synthCell) experiments.Record {
	base := synthBase[si]
	acc := base + sc.delta[si]/100
	if sc.abs {
		acc = sc.delta[si] / 100
	}
	val := synthBaseVal[si] + (acc - base)
	if sc.valDelta != nil {
		val = synthBaseVal[si] + sc.valDelta[si]/100
	}
	const dense = 407080
	size := sc.packed - 300
	if sc.zeros == 1 {
		size = 0
	}
	tot := compress.Record{Pass: "total", AccBefore: base, AccAfter: acc, DeltaPP: 100 * (acc - base), CorrectAfter: int(acc*10000 + 0.5),
		Sizes: []int{784, 128, 10}, DenseBytes: dense, SizeBytes: size, Ratio: float64(dense) / float64(max(1, size)),
		Tensors: []compress.TensorStats{{Name: "w1", Shape: []int{784, 128}, Sparsity: sc.zeros, DistinctValues: 16}, {Name: "w2", Shape: []int{128, 10}, Sparsity: sc.zeros, DistinctValues: 16}}}
	if c.Sweep == "control" {
		tot.SizeBytes, tot.Ratio = dense, 1
	}
	r := experiments.Record{Key: synthKey(c) + "/" + string(rune('0'+seed)), Experiment: "synthetic", Sweep: c.Sweep, Seed: seed, Cell: c,
		Train:       model.TrainConfig{Layers: []int{128}, Epochs: 1, Batch: 32, LR: 0.001, Seed: seed, TrainImages: 55000, ValImages: 5000},
		Baseline:    experiments.Baseline{TestAccuracy: base, TestCorrect: int(base*10000 + 0.5), ValAccuracy: synthBaseVal[si]},
		Steps:       []compress.Record{tot},
		ValAccuracy: val, Seconds: 0.5 + float64(si),
		Packed: &experiments.Packed{Bytes: sc.packed, MetaBytes: 200, Ratio: float64(dense) / float64(sc.packed),
			Tensors: []mnc.TensorSummary{
				{Name: "w1", Shape: []int{784, 128}, Weights: 100352, Kept: int(100352 * (1 - sc.zeros)), CodeBitsHuffman: 3.5, Bytes: sc.packed * 9 / 10},
				{Name: "b1", Shape: []int{128}, Weights: 128, Kept: 128, CodeBitsHuffman: 32, Bytes: 520},
				{Name: "w2", Shape: []int{128, 10}, Weights: 1280, Kept: int(1280 * (1 - sc.zeros)), CodeBitsHuffman: 3.7, Bytes: sc.packed / 20},
			}},
	}
	if sc.post != nil {
		r.Finetune = &experiments.FinetuneResult{Train: model.TrainConfig{Epochs: 1, Batch: 32, LR: 0.0001}, AccNoRetrain: base + sc.post[si]/100, Seconds: 2}
	}
	return r
}

// loadSynthetic reads the synthetic experiment and its records from
// testdata/synthetic, writing them first with -update.
func loadSynthetic(t *testing.T) (*experiments.Experiment, []experiments.Record) {
	return loadFixture(t, "synthetic", "Synthetic", synthYAML, synthRecords)
}

// loadFixture reads a synthetic experiment (its file text yamlText) and
// its records from testdata/name, writing them first with -update from
// gen; run is the -run pattern that rewrites them, for the message.
func loadFixture(t *testing.T, name, run, yamlText string, gen func(*testing.T, *experiments.Experiment) []experiments.Record) (*experiments.Experiment, []experiments.Record) {
	t.Helper()
	dir := filepath.Join("testdata", name)
	e, err := experiments.Parse(filepath.Join(dir, experiments.CopyFile), []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var b strings.Builder
		for _, r := range gen(t, e) {
			j, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(j, '\n'))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, data := range map[string]string{experiments.CopyFile: yamlText, experiments.LogFile: b.String()} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, _, err := experiments.ReadLog(filepath.Join(dir, experiments.LogFile))
	if err != nil || len(recs) == 0 {
		t.Fatalf("reading the %s records: %v (%d records; go test ./report -run %s -update writes them)", name, err, len(recs), run)
	}
	experiments.SortRecords(e, recs)
	return e, recs
}

// findingsText is every finding of a study: the headline, the formula
// table and each section's sentences.
func findingsText(st Study) string {
	var b strings.Builder
	for _, f := range st.Headline() {
		b.WriteString("- " + f + "\n")
	}
	b.WriteString("\n" + FormulaTable(FormulaVerdicts(st.Grids)) + "\n")
	for _, g := range st.Grids {
		b.WriteString("## " + g.Sweep.Name + "\n")
		for _, f := range st.SectionFindings(g) {
			b.WriteString("- " + f + "\n")
		}
		for _, n := range g.SizeNotes() {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

// TestFindingsSynthetic: the findings of the synthetic records match the
// golden file, and say what the hand-chosen numbers imply.
func TestFindingsSynthetic(t *testing.T) {
	e, recs := loadSynthetic(t)
	st := NewStudy(e, Aggregate(recs))
	got := findingsText(st)
	golden(t, filepath.Join("synthetic", "findings.md"), []byte(got))
	for _, want := range []string{
		// per-tensor 4-bit loses 0.6 pp, interval [-0.85, -0.35]: not lossless
		"at 4-bit: per-channel -0.15 [-0.27, -0.03], per-tensor -0.60 [-0.85, -0.35] pp",
		// QAT 4-bit against the control: paired -0.05/0/+0.05 pp, a tie
		"against fine-tuning without compression (1 epoch, batch 32, Adam lr 0.0001): level (tie) at bits = 4, below at bits = 2",
		// chosen on validation: qat 2-bit loses 0.8 pp there
		"Smallest with a mean change within 0.5 pp of the baseline: qat: 4-bit",
		"*weight quantization* (quantize: literal): near chance (9.74 %) at bits = 8, 4, 2",
		"† All-zero models",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the findings lack %q", want)
		}
	}
}

// TestFindingsFollowData: changing the records changes the findings the
// way the numbers say — a tie with the control becomes a loss, a lossless
// method stops being lossless, and without validation accuracy the choice
// falls back to the test set and says so.
func TestFindingsFollowData(t *testing.T) {
	e, recs := loadSynthetic(t)
	before := findingsText(NewStudy(e, Aggregate(recs)))
	changed := make([]experiments.Record, len(recs))
	copy(changed, recs)
	for i, r := range changed {
		steps := append([]compress.Record(nil), r.Steps...)
		switch synthKey(r.Cell) {
		case "control/threshold=1000000": // the control gains 1 pp more on every seed
			steps[len(steps)-1].AccAfter += 0.01
		case "quantize/bits=4/granularity=channel": // per-channel 4-bit now loses 1 pp more
			steps[len(steps)-1].AccAfter -= 0.01
		}
		steps[len(steps)-1].DeltaPP = 100 * (steps[len(steps)-1].AccAfter - steps[len(steps)-1].AccBefore)
		changed[i].Steps = steps
	}
	after := findingsText(NewStudy(e, Aggregate(changed)))
	if after == before {
		t.Fatal("the findings did not change with the data")
	}
	for _, c := range []struct{ text string }{
		{"level (tie) at bits = 4"},
		{"per-channel -0.15 [-0.27, -0.03]"},
	} {
		if !strings.Contains(before, c.text) || strings.Contains(after, c.text) {
			t.Errorf("%q: in the findings before the change %v, after %v; want before only", c.text, strings.Contains(before, c.text), strings.Contains(after, c.text))
		}
	}
	for _, want := range []string{"below at bits = 4, 2", "per-channel -1.15 [-1.27, -1.03]"} {
		if !strings.Contains(after, want) {
			t.Errorf("after the change the findings lack %q", want)
		}
	}
	// without validation accuracy: the smallest within 0.5 pp is chosen on
	// test (qat 2-bit, -0.4 pp) and the report says the choice is optimistic
	noVal := make([]experiments.Record, len(recs))
	copy(noVal, recs)
	for i := range noVal {
		noVal[i].ValAccuracy, noVal[i].Baseline.ValAccuracy = 0, 0
	}
	fallback := findingsText(NewStudy(e, Aggregate(noVal)))
	for _, want := range []string{"within 0.5 pp of the baseline (and within 1.0 pp): qat: 2-bit", "chosen on test accuracy"} {
		if !strings.Contains(fallback, want) {
			t.Errorf("without validation accuracy the findings lack %q", want)
		}
	}
}

// TestNoBestOnMeans: no finding calls a method best or worst (the old
// sentences did on means alone), in the synthetic report or a random one.
func TestNoBestOnMeans(t *testing.T) {
	e, recs := loadSynthetic(t)
	files, err := renderSet(e, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	e2, recs2 := recordsFor(t, twoSweeps, 7)
	files2, err := renderSet(e2, recs2, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`(?i)\b(best|worst)\b`)
	for _, f := range append(files, files2...) {
		if f.rel == ReportFile && bad.Match(f.data) {
			t.Errorf("REPORT.md says %q", bad.Find(f.data))
		}
	}
}

// TestReportOpensWithFindings: the findings come before the setup, and
// the headline stays short enough to read in one screen.
func TestReportOpensWithFindings(t *testing.T) {
	e, recs := loadSynthetic(t)
	files, err := renderSet(e, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := string(files[len(files)-1].data)
	f, s := strings.Index(rep, "## Findings"), strings.Index(rep, "## Setup")
	if f < 0 || s < f || strings.Count(rep[:f], "\n") > 12 {
		t.Fatalf("## Findings at byte %d, ## Setup at %d: want the findings first, within the first lines", f, s)
	}
	if n := len(NewStudy(e, Aggregate(recs)).Headline()); n > 12 {
		t.Errorf("%d headline findings: too many for one screen", n)
	}
	for _, want := range []string{"## Provenance", "No manifest.json", "### The article's formulas as printed", "## Per-layer breakdown", "| w1 | 784×128 |"} {
		if !strings.Contains(rep, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
}
