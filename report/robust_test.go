package report

import (
	"path/filepath"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/experiments"
	"mnistc/model"
	"mnistc/robust"
)

// The robust synthetic record set in testdata/robust: records with
// hand-chosen robust figures, so that every robustness finding follows
// from numbers a reader can check by hand. Written by robustRecords (go
// test ./report -run Robust -update).
//
// Baselines per seed 1, 2, 3: clean 97.8/97.6/97.7 %, FGSM ε=0.1
// 30/32/31 %, FGSM ε=0.3 2/3/2.5 %, PGD ε=0.1 10/12/11 %, PGD ε=0.3 0 %,
// shift 40/42/41 %, gaussian noise 95/96/95.5 %; the baseline's transfer
// figures equal its white-box ones (the images are crafted on it). Cells
// change every figure by the same per-seed pp unless noted:
//   - quantize-post 8-bit: +0.1/−0.1/0 — a tie everywhere;
//   - 4-bit: +3/+4/+3.5 (more robust), transfer a further +5 above its
//     own white-box figure (no masking), corruptions +0.1/−0.1/0 (tie);
//   - 2-bit: −5/−6/−5.5 (less robust), clean accuracy −3 pp;
//   - prune-retrain keep 0.5: +0.2/−0.2/0 (tie); keep 0.1: white-box
//     +8/+9/+10 but transfer no better than the baseline's (masked);
//   - actquant 8-bit (activations quantized, attacked through the STE):
//     white-box +6/+7/+6.5, transfer at its white-box figure −1 (masked);
//   - distill, 32-unit student: distilled +1/+1.5/+2 (more robust), alone
//     −0.5/+0.5/0 (tie).
const robustYAML = `name: robust-synthetic
train: {epochs: 1}
seeds: [1, 2, 3]
robust: {eps: [0.1, 0.3], pgd_images: 100, corruptions: [shift, gaussian_noise]}
sweeps:
  - name: quantize-post
    rows: bits
    steps:
      - methods: ["quantize:granularity=channel"]
        grid: {bits: [8, 4, 2]}
  - name: prune-retrain
    rows: keep
    finetune: {epochs: 1}
    steps:
      - methods: ["prune:scope=global,schedule=gradual"]
        grid: {keep: [0.5, 0.1]}
  - name: actquant
    rows: bits
    steps:
      - methods: ["quantize:bits=8,granularity=channel"]
      - methods: ["actquant:calib=percentile"]
        grid: {bits: [8]}
  - name: distill
    distill: {hidden: [32]}
`

var robustBase = map[string][3]float64{
	"fgsm_0.1": {0.30, 0.32, 0.31}, "fgsm_0.3": {0.02, 0.03, 0.025},
	"pgd_0.1": {0.10, 0.12, 0.11}, "pgd_0.3": {0, 0, 0},
	"shift": {0.40, 0.42, 0.41}, "gaussian_noise": {0.95, 0.96, 0.955},
}

// robustCell is a cell's hand-chosen change (pp per seed) of every
// figure, of its transfer figures against its own white-box ones, of its
// corruptions, and of its clean accuracy.
type robustCell struct {
	delta, transfer, corrupt [3]float64
	clean                    float64
	ste                      bool
	// transferAtBase: the transfer figures are the baseline's white-box
	// ones (the transfer attack does as well as on the baseline).
	transferAtBase bool
}

var robustCells = map[string]robustCell{
	"quantize-post/bits=8":        {delta: [3]float64{0.1, -0.1, 0}, corrupt: [3]float64{0.1, -0.1, 0}},
	"quantize-post/bits=4":        {delta: [3]float64{3, 4, 3.5}, transfer: [3]float64{5, 5, 5}, corrupt: [3]float64{0.1, -0.1, 0}},
	"quantize-post/bits=2":        {delta: [3]float64{-5, -6, -5.5}, corrupt: [3]float64{-5, -6, -5.5}, clean: -3},
	"prune-retrain/keep=0.5":      {delta: [3]float64{0.2, -0.2, 0}, corrupt: [3]float64{0.2, -0.2, 0}},
	"prune-retrain/keep=0.1":      {delta: [3]float64{8, 9, 10}, corrupt: [3]float64{0.2, -0.2, 0}, transferAtBase: true},
	"actquant/bits=8":             {delta: [3]float64{6, 7, 6.5}, transfer: [3]float64{-1, -1, -1}, corrupt: [3]float64{0.1, 0, -0.1}, ste: true},
	"distill/hidden=32/distilled": {delta: [3]float64{1, 1.5, 2}, transfer: [3]float64{2, 2, 2}, corrupt: [3]float64{1, 1.5, 2}},
	"distill/hidden=32/alone":     {delta: [3]float64{-0.5, 0.5, 0}, transfer: [3]float64{2, 2, 2}, corrupt: [3]float64{-0.5, 0.5, 0}},
}

// robustKey names a cell for robustCells.
func robustKey(c experiments.Cell) string {
	k := c.Sweep + "/"
	var pt []string
	for _, key := range sortedKeys(c.Point) {
		pt = append(pt, key+"="+c.Point[key])
	}
	k += strings.Join(pt, "/")
	if c.Sweep == "distill" {
		k += "/" + c.Methods[0]
	}
	return k
}

// robustResult builds a robust.Result from per-figure accuracies.
func robustResult(clean float64, fig map[string]float64, transfer map[string]float64, ste bool) *robust.Result {
	cm := (fig["shift"] + fig["gaussian_noise"]) / 2
	return &robust.Result{Clean: clean, CleanPGD: clean + 0.001,
		FGSM: map[string]float64{"0.1": fig["fgsm_0.1"], "0.3": fig["fgsm_0.3"]}, PGD: map[string]float64{"0.1": fig["pgd_0.1"], "0.3": fig["pgd_0.3"]},
		TransferFGSM: map[string]float64{"0.1": transfer["fgsm_0.1"], "0.3": transfer["fgsm_0.3"]},
		TransferPGD:  map[string]float64{"0.1": transfer["pgd_0.1"], "0.3": transfer["pgd_0.3"]}, TransferFrom: "seed baseline",
		Corrupt: map[string]float64{"shift": fig["shift"], "gaussian_noise": fig["gaussian_noise"]}, CorruptMean: &cm,
		Images: map[string]int{"clean": 10000, "clean_pgd": 100, "fgsm": 10000, "pgd": 100, "corrupt": 10000}, Eps: []float32{0.1, 0.3},
		STE: ste, PGDSteps: 40, PGDStep: 0.01, Severity: 3, Seed: 1}
}

// robustRecords builds the records from robustCells.
func robustRecords(t *testing.T, e *experiments.Experiment) []experiments.Record {
	t.Helper()
	var recs []experiments.Record
	for si, seed := range e.Seeds {
		base := synthBase[si]
		bfig := map[string]float64{}
		for k, v := range robustBase {
			bfig[k] = v[si]
		}
		baseRes := robustResult(base, bfig, bfig, false)
		for _, s := range e.Sweeps {
			cells, err := s.Cells()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cells {
				rc, ok := robustCells[robustKey(c)]
				if !ok {
					t.Fatalf("no synthetic outcome for %s", robustKey(c))
				}
				acc := base + rc.clean/100
				fig, tr := map[string]float64{}, map[string]float64{}
				for k, v := range bfig {
					d := rc.delta[si]
					if k == "shift" || k == "gaussian_noise" {
						d = rc.corrupt[si]
					}
					fig[k] = clamp01(v + d/100)
					tr[k] = clamp01(fig[k] + rc.transfer[si]/100)
					if rc.transferAtBase {
						tr[k] = v
					}
				}
				tot := compress.Record{Pass: "total", AccBefore: base, AccAfter: acc, DeltaPP: 100 * (acc - base), CorrectAfter: int(acc*10000 + 0.5),
					Sizes: []int{784, 128, 10}, DenseBytes: 407080, SizeBytes: 100000, Ratio: 4.07,
					Tensors: []compress.TensorStats{{Name: "w1", Shape: []int{784, 128}, DistinctValues: 16}, {Name: "w2", Shape: []int{128, 10}, DistinctValues: 16}}}
				r := experiments.Record{Key: robustKey(c) + "/" + string(rune('0'+seed)), Experiment: "robust-synthetic", Sweep: c.Sweep, Seed: seed, Cell: c,
					Train:       model.TrainConfig{Layers: []int{128}, Epochs: 1, Batch: 32, LR: 0.001, Seed: seed, TrainImages: 55000, ValImages: 5000},
					Baseline:    experiments.Baseline{TestAccuracy: base, TestCorrect: int(base*10000 + 0.5), ValAccuracy: synthBaseVal[si], Robust: baseRes},
					Steps:       []compress.Record{tot},
					ValAccuracy: synthBaseVal[si] + (acc - base), Seconds: 1,
					Packed: &experiments.Packed{Bytes: 100300, MetaBytes: 200, Ratio: 407080.0 / 100300},
					Robust: robustResult(acc, fig, tr, rc.ste),
				}
				if s.Finetune != nil || s.Distill != nil {
					r.Finetune = &experiments.FinetuneResult{Train: model.TrainConfig{Epochs: 1, Batch: 32, LR: 0.0001}, AccNoRetrain: base - 0.01, Seconds: 2}
					if s.Distill != nil {
						r.Finetune.Kind = c.Methods[0]
					}
				}
				recs = append(recs, r)
			}
		}
	}
	return recs
}

func clamp01(x float64) float64 { return min(1, max(0, x)) }

// loadRobust reads the robust synthetic experiment and its records from
// testdata/robust, writing them first with -update.
func loadRobust(t *testing.T) (*experiments.Experiment, []experiments.Record) {
	return loadFixture(t, "robust", "Robust", robustYAML, robustRecords)
}

// renderFiles renders a report in memory, by relative path.
func renderFiles(t *testing.T, e *experiments.Experiment, recs []experiments.Record) map[string]string {
	t.Helper()
	files, err := renderSet(e, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		out[f.rel] = string(f.data)
	}
	return out
}

// section returns the text of a "## title" section of a markdown file.
func section(md, title string) string {
	i := strings.Index(md, "\n## "+title+"\n")
	if i < 0 {
		return ""
	}
	s := md[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+4]
	}
	return s
}

// TestRobustSection: with robust figures, REPORT.md has a Robustness
// section whose table holds the means over seeds (baseline row and
// cells), ties are called ties, more and less robust configurations are
// told apart by their paired intervals, masked gradients are flagged
// (and the STE named), and the plots against bits and keep are written
// and shown; the headline answers the question.
func TestRobustSection(t *testing.T) {
	e, recs := loadRobust(t)
	files := renderFiles(t, e, recs)
	rep := files[ReportFile]
	sec := section(rep, "Robustness")
	if sec == "" {
		t.Fatal("REPORT.md has no Robustness section")
	}
	golden(t, filepath.Join("robust", "section.md"), []byte(sec))
	for _, want := range []string{
		// baseline PGD ε=0.1: 10, 12, 11 % → 11.00 ± 1.00
		"| float baseline | 97.70 ± 0.10 | 31.00 ± 1.00 | 2.50 ± 0.50 | 11.00 ± 1.00 | 0.00 ± 0.00 | 11.00 ± 1.00 |",
		// 4-bit PGD ε=0.1: 13, 16, 14.5 % → 14.50 ± 1.50, +3.50 significant
		"14.50 ± 1.50<br>+3.50*",
		// ties called ties, with their numbers
		"level (tie): 8-bit (+0.00 [-0.25, +0.25])",
		"more robust: 4-bit (+3.50 [+2.26, +4.74])",
		"less robust: 2-bit (-5.50 [-6.74, -4.26])",
		// masked: keep 0.1 (transfer at the baseline's figure) and the STE cell
		"Gradient masking: white-box accuracy rises but transfer accuracy does not in prune-retrain: keep=0.1",
		"actquant: 8-bit (PGD-40 at ε = 0.1",
		"attacked through the straight-through estimator",
		"![robust-bits](plots/robust-bits.png)", "![robust-keep](plots/robust-keep.png)",
		"| distill: distilled, hidden=32 |",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("the Robustness section lacks %q", want)
		}
	}
	if strings.Contains(sec, "4-bit (PGD-40") {
		t.Error("4-bit is flagged as masked, but its transfer figures are well above its white-box ones")
	}
	head := section(rep, "Findings")
	for _, want := range []string{"**Robustness**", "compression makes the network more robust in some configurations and less in others",
		"Signs of gradient masking in prune-retrain: keep=0.1, actquant: 8-bit"} {
		if !strings.Contains(head, want) {
			t.Errorf("the findings lack %q", want)
		}
	}
	for _, p := range []string{"robust-bits", "robust-keep"} {
		for _, ext := range []string{".png", ".svg", ".pdf"} {
			if len(files[PlotsDir+"/"+p+ext]) == 0 {
				t.Errorf("%s/%s%s not rendered", PlotsDir, p, ext)
			}
		}
	}
	if !strings.Contains(files[TablesFile], "## Robustness") || !strings.Contains(files[TablesFile], "Transfer PGD-40, change against each seed's baseline") {
		t.Error("tables.md lacks the robustness tables")
	}
	csv := files[CSVFile]
	head0 := csv[:strings.Index(csv, "\n")]
	for _, col := range []string{"robust_pgd_0.1_mean", "robust_pgd_0.1_delta_pp_mean", "robust_corrupt_mean_mean", "robust_transfer_pgd_0.3_mean"} {
		if !strings.Contains(head0, ","+col) {
			t.Errorf("results.csv lacks the column %s", col)
		}
	}
	if !strings.Contains(csv, ",0.145,3.5,") {
		t.Error("results.csv lacks 4-bit's PGD ε=0.1 mean 0.145 and its change +3.5 pp")
	}
}

// TestRobustFollowsData: the findings change with the numbers — a cell
// whose PGD gain is removed becomes a tie; a masked cell whose transfer
// figures rise above its white-box ones is no longer flagged.
func TestRobustFollowsData(t *testing.T) {
	e, recs := loadRobust(t)
	for i := range recs {
		switch robustKey(recs[i].Cell) {
		case "quantize-post/bits=4":
			r := *recs[i].Robust
			r.PGD = map[string]float64{"0.1": recs[i].Baseline.Robust.PGD["0.1"] + 0.001*float64(recs[i].Seed-2), "0.3": r.PGD["0.3"]}
			recs[i].Robust = &r
		case "prune-retrain/keep=0.1":
			r := *recs[i].Robust
			r.TransferPGD = map[string]float64{"0.1": r.PGD["0.1"] + 0.05, "0.3": r.PGD["0.3"] + 0.05}
			r.TransferFGSM = map[string]float64{"0.1": r.FGSM["0.1"] + 0.05, "0.3": r.FGSM["0.3"] + 0.05}
			recs[i].Robust = &r
		}
	}
	sec := section(renderFiles(t, e, recs)[ReportFile], "Robustness")
	if !strings.Contains(sec, "level (tie): 8-bit (+0.00 [-0.25, +0.25]), 4-bit (+0.00 [-0.25, +0.25])") {
		t.Error("4-bit's PGD figure at the baseline's is not called a tie")
	}
	if strings.Contains(sec, "prune-retrain: keep=0.1 (") {
		t.Error("keep 0.1 is still flagged as masked though the transfer attack now hurts it less than its own gradients")
	}
}

// TestNoRobustNoSection: records without robust figures give no
// Robustness section, findings, tables, plots or CSV columns.
func TestNoRobustNoSection(t *testing.T) {
	e, recs := loadSynthetic(t)
	files := renderFiles(t, e, recs)
	for rel, data := range files {
		if strings.Contains(rel, "robust") {
			t.Errorf("%s rendered from records without robust figures", rel)
		}
		if strings.Contains(data, "Robustness") || strings.Contains(data, "robust_") {
			t.Errorf("%s mentions robustness for records without robust figures", rel)
		}
	}
}

// TestRobustPlotNamesOwned: the robustness plots' names are ones a report
// owns (and so removes when it no longer makes them).
func TestRobustPlotNamesOwned(t *testing.T) {
	for _, ax := range robustAxes {
		for _, ext := range []string{".png", ".svg", ".pdf"} {
			if !ownedPlot(ax.name + ext) {
				t.Errorf("%s%s is not a name the report owns", ax.name, ext)
			}
		}
	}
}
