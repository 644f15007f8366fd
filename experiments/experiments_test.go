package experiments

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/search"
	"mnistc/training"
)

func TestArticleExperimentParses(t *testing.T) {
	e, err := Load("article.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"quantize": 64, "prune": 65, "clip-absolute": 10, "clip-std": 10, "actquant": 20, "chains": 9, "ptq-calibrated": 15}
	for _, s := range e.Sweeps {
		cells, err := s.Cells()
		if err != nil {
			t.Fatal(err)
		}
		if len(cells) != want[s.Name] {
			t.Errorf("sweep %s: %d cells, want %d", s.Name, len(cells), want[s.Name])
		}
	}
	if len(e.Seeds) != 3 || !reflect.DeepEqual(e.Train.TrainConfig(1), model.DefaultTrainConfig()) {
		t.Errorf("seeds %v, recipe %+v: want 3 seeds and the article's recipe", e.Seeds, e.Train.TrainConfig(1))
	}
	if _, err := Load("quick.yaml"); err != nil {
		t.Fatal(err)
	}
}

// TestChainCells: a two-step sweep chains every choice of step 1 with
// every choice of step 2, in order.
func TestChainCells(t *testing.T) {
	e, err := Load("article.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chains *Sweep
	for _, s := range e.Sweeps {
		if s.Name == "chains" {
			chains = s
		}
	}
	cells, _ := chains.Cells()
	seen := map[string]bool{}
	for _, c := range cells {
		if len(c.Specs) != 2 || !strings.HasPrefix(c.Specs[0], "prune:") || !strings.HasPrefix(c.Specs[1], "quantize:") {
			t.Fatalf("chain %v: want prune then quantize", c.Specs)
		}
		seen[c.Point["keep"]+"/"+c.Point["bits"]] = true
	}
	if len(seen) != 9 {
		t.Errorf("%d distinct keep/bits pairs, want 9", len(seen))
	}
}

// TestSchemaErrors: each mistake is reported with the file, the line and the field.
func TestSchemaErrors(t *testing.T) {
	base := "name: x\nseeds: [1]\ntrain: {epochs: 1}\nsweeps:\n  - name: q\n    rows: bits\n    steps:\n      - methods: [quantize]\n        grid:\n          bits: [2, 4]\n"
	cases := []struct{ name, text, want string }{
		{"unknown top key", base + "colour: red\n", `x.yaml:11: unknown field "colour" at the top level (known: name, description, train, seeds, sweeps, literature, robust)`},
		{"unknown sweep key", strings.Replace(base, "    rows: bits\n", "    rows: bits\n    colour: red\n", 1), `x.yaml:7: unknown field "colour" in sweeps[0] (known: name, rows,`},
		{"wrong type", strings.Replace(base, "epochs: 1", "epochs: many", 1), `x.yaml:3: train.epochs: want a whole number, not "many"`},
		{"grid out of range", strings.Replace(base, "bits: [2, 4]", "bits: [2, 40]", 1), "x.yaml:10: sweeps[0].steps[0]"},
		{"grid value named", strings.Replace(base, "bits: [2, 4]", "bits: [2, 40]", 1), "bits=40 out of range"},
		{"unknown pass", strings.Replace(base, "methods: [quantize]", "methods: [squash]", 1), `unknown pass "squash"`},
		{"rows not a key", strings.Replace(base, "rows: bits", "rows: keep", 1), `rows: "keep" is not a grid key`},
		{"no seeds", strings.Replace(base, "seeds: [1]", "seeds: []", 1), "seeds: at least one seed"},
		{"repeated seed", strings.Replace(base, "seeds: [1]", "seeds: [1, 1]", 1), "seeds: 1 is listed twice"},
		{"bad recipe", strings.Replace(base, "epochs: 1", "epochs: 1, lr: -1", 1), "train:"},
		{"no name", strings.Replace(base, "name: x\n", "", 1), "name: missing"},
		{"not yaml", "name: [unclosed\n", "x.yaml:1: did not find expected"},
	}
	for _, c := range cases {
		_, err := Parse("x.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := Parse("x.yaml", []byte(base)); err != nil {
		t.Errorf("valid file refused: %v", err)
	}
}

const smallExperiment = `name: small
train: {epochs: 1, limit: 2500, val: 500}
seeds: [1, 2]
sweeps:
  - name: quantize
    rows: bits
    steps:
      - methods: [quantize, "quantize:scheme=kmeans"]
        grid: {bits: [2, 4, 8], granularity: channel}
  - name: chain
    rows: keep
    steps:
      - methods: ["prune:scope=global"]
        grid: {keep: [0.5, 0.2]}
      - methods: [actquant]
        grid: {bits: [4]}
`

func smallExp(t *testing.T) *Experiment {
	t.Helper()
	e, err := Parse("small.yaml", []byte(smallExperiment))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var dataDir = sync.OnceValues(data.DefaultDir)

func options(t *testing.T, out string) Options {
	t.Helper()
	dir, err := dataDir()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Out: out, Data: dir, Jobs: 2}
}

// comparable strips the timings from records so two runs can be compared.
func comparable(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Steps = append([]compress.Record(nil), r.Steps...)
		r.Seconds = 0
		if r.Finetune != nil {
			ft := *r.Finetune
			ft.Seconds = 0
			r.Finetune = &ft
		}
		for j := range r.Steps {
			r.Steps[j].EvalMS = 0
		}
		out[i] = r
	}
	return out
}

// TestSweepEndToEnd: a small sweep on a data subset gives one record per
// cell and seed, and a cell's accuracy equals compress.Run on the same
// checkpoint and passes (the path `mnistc compress` takes).
func TestSweepEndToEnd(t *testing.T) {
	e := smallExp(t)
	out := t.TempDir()
	sum, err := Run(context.Background(), e, options(t, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cells != 16 || sum.Ran != 16 || len(sum.Records) != 16 {
		t.Fatalf("cells %d ran %d records %d; want 16 (8 cells × 2 seeds)", sum.Cells, sum.Ran, len(sum.Records))
	}
	logged, torn, err := ReadLog(filepath.Join(out, LogFile))
	if err != nil || torn || len(logged) != 16 {
		t.Fatalf("log: %d records, torn %v, %v", len(logged), torn, err)
	}
	var r Record
	for _, rec := range sum.Records {
		if rec.Seed == 2 && rec.Sweep == "chain" {
			r = rec
		}
	}
	matches, _ := filepath.Glob(filepath.Join(out, "baselines", "seed2-*.npz"))
	ck, err := model.Load(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	full, test, _ := data.Load(options(t, out).Data)
	passes, _ := compress.Build(r.Cell.Specs)
	direct, err := compress.Run(ck, passes, compress.Env{Calib: full.Slice(2000, 2500)}, test)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Total().CorrectAfter, direct.Records[len(direct.Records)-1].CorrectAfter; got != want || r.Seed != 2 {
		t.Errorf("sweep cell %v seed %d: %d correct; compress.Run on the same checkpoint: %d", r.Cell.Specs, r.Seed, got, want)
	}
	if r.Baseline.TestAccuracy != ck.Meta.Test.Accuracy || r.Train.Seed != 2 || r.Train.TrainImages != 2000 {
		t.Errorf("record config %+v / baseline %+v does not describe its checkpoint", r.Train, r.Baseline)
	}
	// the real size is the length of the packed file of the same weights
	b, _, err := mnc.Pack(model.Checkpoint{Params: direct.State.Params, Meta: mnc.Lean(model.Meta{Train: &r.Train,
		ActQuant: direct.State.ActQuant, Source: "mnistc sweep: " + strings.Join(r.Cell.Specs, " → ")})})
	if err != nil {
		t.Fatal(err)
	}
	if r.Packed == nil || r.Packed.Bytes != len(b) || r.Packed.Ratio != float64(4*ck.Params.Count())/float64(len(b)) {
		t.Errorf("packed %+v; packing the same weights gives %d bytes", r.Packed, len(b))
	}
	for _, rec := range sum.Records {
		if rec.Packed == nil || rec.Packed.Bytes <= 0 {
			t.Errorf("%v seed %d: no packed size", rec.Cell.Specs, rec.Seed)
		}
	}
}

// TestSweepResumes: a run stopped after a few cells, then started again,
// ends with exactly the records of an uninterrupted run, none lost or
// repeated, without retraining its baselines; a torn last line from a
// killed run is repaired.
func TestSweepResumes(t *testing.T) {
	e := smallExp(t)
	whole := t.TempDir()
	ref, err := Run(context.Background(), e, options(t, whole))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opt := options(t, out)
	opt.Progress = func(done, _ int, _ time.Duration) {
		if done >= 5 {
			cancel()
		}
	}
	first, err := Run(ctx, e, opt)
	if err == nil || first.Ran < 5 || first.Ran >= 16 {
		t.Fatalf("interrupted run: %d ran, err %v; want a stop after ≥ 5 of 16", first.Ran, err)
	}
	// A SIGKILL mid-write leaves a partial line; simulate one.
	f, _ := os.OpenFile(filepath.Join(out, LogFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"key":"abc","experiment":"sma`)
	f.Close()
	var logs []string
	opt = options(t, out)
	opt.Log = func(format string, a ...any) { logs = append(logs, format) }
	second, err := Run(context.Background(), e, opt)
	if err != nil {
		t.Fatal(err)
	}
	if second.Skipped != first.Ran || second.Ran != 16-first.Ran {
		t.Errorf("resume skipped %d and ran %d; want %d and %d", second.Skipped, second.Ran, first.Ran, 16-first.Ran)
	}
	if joined := strings.Join(logs, "\n"); strings.Contains(joined, "training baseline") || !strings.Contains(joined, "torn") {
		t.Errorf("resume log %q: want cached baselines and a repaired torn line", joined)
	}
	logged, torn, _ := ReadLog(filepath.Join(out, LogFile))
	SortRecords(e, logged)
	SortRecords(e, ref.Records)
	if torn || !reflect.DeepEqual(comparable(logged), comparable(ref.Records)) {
		t.Errorf("resumed log (%d records, torn %v) differs from an uninterrupted run (%d)", len(logged), torn, len(ref.Records))
	}
}

// TestFolderOfAnotherExperiment is refused unless forced.
func TestFolderOfAnotherExperiment(t *testing.T) {
	out := t.TempDir()
	e := smallExp(t)
	if err := claimFolder(e, Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	other, _ := Parse("other.yaml", []byte(strings.Replace(smallExperiment, "seeds: [1, 2]", "seeds: [7]", 1)))
	if err := claimFolder(other, Options{Out: out}); err == nil || !strings.Contains(err.Error(), "another experiment file") {
		t.Errorf("another experiment's folder: %v", err)
	}
	if err := claimFolder(other, Options{Out: out, Force: true}); err != nil {
		t.Errorf("--force: %v", err)
	}
	if err := claimFolder(other, Options{Out: out}); err != nil {
		t.Errorf("same experiment again: %v", err)
	}
}

// TestFreshSetsCompletedRunAside: with Fresh, a completed run's records
// move to previous-*/ and every cell runs again; an incomplete one resumes.
func TestFreshSetsCompletedRunAside(t *testing.T) {
	e, err := Parse("tiny.yaml", []byte(strings.Replace(strings.Replace(smallExperiment, "seeds: [1, 2]", "seeds: [1]", 1), "[2, 4, 8]", "[4]", 1)))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	first, err := Run(context.Background(), e, options(t, out))
	if err != nil {
		t.Fatal(err)
	}
	opt := options(t, out)
	opt.Fresh = true
	second, err := Run(context.Background(), e, opt)
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := filepath.Glob(filepath.Join(out, "previous-*", LogFile))
	if second.Ran != first.Cells || len(prev) != 1 {
		t.Fatalf("fresh run ran %d of %d cells, set aside %v", second.Ran, first.Cells, prev)
	}
	old, _, _ := ReadLog(prev[0])
	SortRecords(e, old) // the log is in completion order, two workers
	SortRecords(e, first.Records)
	if !reflect.DeepEqual(comparable(old), comparable(first.Records)) {
		t.Error("the set-aside records differ from the first run's")
	}
	m, _ := ReadManifest(out)
	if !m.Complete {
		t.Error("manifest not marked complete after a full run")
	}
	// an edited experiment file: refused without --fresh, set aside with it
	edited, _ := Parse("tiny.yaml", append(e.Raw(), []byte("# edited\n")...))
	if err := claimFolder(edited, options(t, out)); err == nil {
		t.Error("an edited experiment file reused a completed run without --fresh")
	}
	if _, err := Run(context.Background(), edited, opt); err != nil {
		t.Fatalf("--fresh after editing the file: %v", err)
	}
	if prev, _ := filepath.Glob(filepath.Join(out, "previous-*", LogFile)); len(prev) != 2 {
		t.Errorf("set aside %v, want two earlier runs", prev)
	}
}

// TestFinetuneCells: a sweep with a fine-tuning budget runs each cell as
// a fine-tune from the seed's baseline with the passes in the loop; its
// records carry the budget and the no-retraining accuracy, resume skips
// them, and a post-training sweep refuses training-only keys.
func TestFinetuneCells(t *testing.T) {
	text := `name: ft
train: {epochs: 1, limit: 2500, val: 500}
seeds: [1]
sweeps:
  - name: prune-retrain
    rows: keep
    finetune: {epochs: 1}
    steps:
      - methods: ["prune:scope=global,schedule=gradual"]
        grid: {keep: [0.05]}
  - name: prune-post
    rows: keep
    steps:
      - methods: ["prune:scope=global"]
        grid: {keep: [0.05]}
`
	e, err := Parse("ft.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	sum, err := Run(context.Background(), e, options(t, out))
	if err != nil {
		t.Fatal(err)
	}
	var ft, post *Record
	for i := range sum.Records {
		if sum.Records[i].Finetune != nil {
			ft = &sum.Records[i]
		} else {
			post = &sum.Records[i]
		}
	}
	if ft == nil || post == nil {
		t.Fatalf("records %+v: want one fine-tuned and one post-training", sum.Records)
	}
	if ft.Finetune.AccNoRetrain != post.Total().AccAfter || ft.Total().AccAfter <= post.Total().AccAfter || ft.Finetune.Train.Epochs != 1 {
		t.Errorf("fine-tuned %.4f (no retraining %.4f), post-training %.4f, budget %+v",
			ft.Total().AccAfter, ft.Finetune.AccNoRetrain, post.Total().AccAfter, ft.Finetune.Train)
	}
	again, err := Run(context.Background(), e, options(t, out))
	if err != nil || again.Ran != 0 {
		t.Errorf("rerun ran %d cells (%v), want 0", again.Ran, err)
	}
	bad := strings.Replace(text, "      - methods: [\"prune:scope=global\"]", "      - methods: [\"prune:scope=global,schedule=gradual\"]", 1)
	if _, err := Parse("bad.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "applies when training") {
		t.Errorf("post-training sweep with a schedule: %v", err)
	}
}

func TestRecoveryExperimentParses(t *testing.T) {
	e, err := Load("recovery.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ft, scratch, students := 0, 0, 0
	for _, s := range e.Sweeps {
		cells, _ := s.Cells()
		switch {
		case s.Distill != nil:
			students += len(cells)
		case s.Finetune != nil && s.Finetune.From == FromScratch:
			scratch += len(cells)
		case s.Finetune != nil:
			ft += len(cells)
		}
	}
	if ft != 46 || scratch != 5 || students != 14 {
		t.Errorf("%d fine-tuning cells, %d from scratch, %d students; want 46 (18 pruning, 10+3 QAT, 2 ternary, 1 W2A2, 3 activation QAT, 6 Deep Compression, 3 controls), 5 (4 + the §4 control) and 14 (6 shared, 2 of the recipe)",
			ft, scratch, students)
	}
}

// TestScratchAndDistillCells: a §4-flow cell trains a fresh network with
// its passes in the loop (the same seed as the baseline, so without passes
// it would be the baseline) and records the no-retraining accuracy of the
// same passes on the baseline; a distillation sweep trains, per width, a
// student from the teacher and one alone, recorded against the teacher.
func TestScratchAndDistillCells(t *testing.T) {
	text := `name: s4
train: {epochs: 1, limit: 2500, val: 500}
seeds: [1]
sweeps:
  - name: section4
    rows: keep
    finetune: {from: scratch}
    steps:
      - methods: ["prune:scope=global,schedule=gradual"]
        grid: {keep: [0.1]}
  - name: distill
    distill: {hidden: [16], epochs: 1}
`
	e, err := Parse("s4.yaml", []byte(text+`  - name: distill-t2
    distill: {hidden: [16], epochs: 1, temperature: 2, alpha: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	sum, err := Run(context.Background(), e, options(t, out))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Records) != 5 || sum.Ran != 4 {
		t.Fatalf("%d records, %d run; want 5 (one §4 cell, two students per distillation sweep, the student alone shared) from 4 runs", len(sum.Records), sum.Ran)
	}
	logged, _, _ := ReadLog(filepath.Join(out, LogFile))
	if ex := Expand(e, logged); !reflect.DeepEqual(comparable(ex), comparable(sum.Records)) {
		t.Errorf("Expand of the log:\n%v\nthe run's records:\n%v", comparable(ex), comparable(sum.Records))
	}
	byKind := map[string]Record{}
	for _, r := range sum.Records {
		if r.Sweep != "distill-t2" {
			byKind[r.Finetune.Kind] = r
		}
	}
	s4, dist, alone := byKind[FromScratch], byKind["distilled"], byKind["alone"]
	if s4.Finetune == nil || s4.Finetune.Train.Epochs != 1 || s4.Finetune.Train.Seed != 1 || s4.Finetune.AccNoRetrain <= 0 ||
		s4.Total().Tensors[0].Sparsity < 0.89 || s4.Total().AccBefore != s4.Baseline.TestAccuracy {
		t.Errorf("§4 cell: %+v, total %+v", s4.Finetune, s4.Total())
	}
	for _, r := range []Record{dist, alone} {
		if r.Total().Sizes[1] != 16 || r.Total().AccBefore != r.Baseline.TestAccuracy || r.Packed == nil || r.Finetune.Seconds <= 0 {
			t.Errorf("%s student: %+v", r.Finetune.Kind, r.Total())
		}
	}
	if dist.Finetune.Train.Distill == nil || alone.Finetune.Train.Distill != nil || dist.Key == alone.Key {
		t.Errorf("distilled %+v, alone %+v", dist.Finetune.Train, alone.Finetune.Train)
	}
	// the student alone is exactly what training that width with the seed gives
	full, _, _ := data.Load(options(t, out).Data)
	tr, va, _ := data.Split(full.Slice(0, 2500), 500)
	cfg := alone.Finetune.Train
	res, _ := training.Train(cfg, tr, va, training.Hooks{})
	_, test, _ := data.Load(options(t, out).Data)
	if got := model.Evaluate(res.Params, test, nil).Correct; got != alone.Total().CorrectAfter {
		t.Errorf("student alone: %d correct in the sweep, %d trained directly", alone.Total().CorrectAfter, got)
	}
	// refused: a distillation sweep with steps, a width of 0, actquant from scratch
	for _, bad := range []string{
		strings.Replace(text, "distill: {hidden: [16], epochs: 1}", "distill: {hidden: [0]}", 1),
		strings.Replace(text, "distill: {hidden: [16], epochs: 1}", "distill: {hidden: [16], alpha: 2}", 1),
		strings.Replace(text, `["prune:scope=global,schedule=gradual"]`, `["actquant:bits=4"]`, 1),
		strings.Replace(text, "from: scratch", "from: nowhere", 1),
	} {
		if _, err := Parse("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// TestSetAsideNamesNeverCollide: two completed runs set aside within the
// same second get two folders; neither overwrites the other's records.
func TestSetAsideNamesNeverCollide(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		d, err := newAsideDir(dir, now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[d] {
			t.Fatalf("newAsideDir returned %s twice", d)
		}
		seen[d] = true
	}
	for i, content := range []string{"first\n", "second\n"} {
		if err := os.WriteFile(filepath.Join(dir, LogFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := setAside(dir, func(string, ...any) {}); err != nil {
			t.Fatalf("set aside %d: %v", i, err)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "previous-*", LogFile))
	if len(logs) != 2 {
		t.Fatalf("set aside %v, want two logs", logs)
	}
	got := map[string]bool{}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		got[string(b)] = true
	}
	if !got["first\n"] || !got["second\n"] {
		t.Errorf("set-aside logs hold %v, want both runs' records", got)
	}
}

// TestSecondSweepOnFolderRefused: while one run holds a folder, another
// refuses it with ErrBusy; once released, the folder can be taken again.
func TestSecondSweepOnFolderRefused(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if _, err := lockFolder(dir); !errors.Is(err, ErrBusy) {
			t.Fatalf("second lock: %v, want ErrBusy", err)
		}
		e, _ := Parse("tiny.yaml", []byte(smallExperiment))
		if _, err := Run(context.Background(), e, Options{Out: dir}); !errors.Is(err, ErrBusy) {
			t.Fatalf("Run on a held folder: %v, want ErrBusy", err)
		}
	}
	unlock()
	again, err := lockFolder(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

// TestLeNet300ExperimentParses: the Deep Compression reproduction trains
// LeNet-300-100 and its k-means cells are fine-tuned with Han et al.'s
// per-layer keep rates; its literature entries name its own sweeps.
func TestLeNet300ExperimentParses(t *testing.T) {
	e, err := Load("lenet300.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Train.TrainConfig(1).Layers; !reflect.DeepEqual(got, []int{300, 100}) {
		t.Errorf("layers %v, want [300 100]", got)
	}
	dc := 0
	for _, s := range e.Sweeps {
		cells, _ := s.Cells()
		for _, c := range cells {
			if s.Finetune != nil && strings.Contains(strings.Join(c.Specs, " "), "scheme=kmeans") &&
				strings.Contains(c.Specs[0], "keep=w1:0.08/w2:0.09/w3:0.26") {
				dc++
			}
		}
	}
	if dc != 2 || len(e.Literature) != 2 {
		t.Errorf("%d fine-tuned Deep Compression cells at Han's rates (want 2: 6 and 4 bits), %d references", dc, len(e.Literature))
	}
	bad := strings.Replace(string(e.Raw()), "compare: deep-compression", "compare: nowhere", 1)
	if _, err := Parse("l.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), `compare "nowhere": not a sweep`) {
		t.Errorf("a reference to no sweep: %v", err)
	}
}

// TestSearchAndSensitivityCells: a search sweep runs mnistc search per
// seed and budget — its record is the search's own result (file bytes,
// validation drop within the budget with the guard, recipe), the state
// folder is gone once the cell is done — and a sensitivity sweep expands
// to one method per layer whose cells are the passes of search.Sensitivity.
func TestSearchAndSensitivityCells(t *testing.T) {
	text := `name: se
train: {epochs: 1, hidden: 32, limit: 2500, val: 500}
seeds: [1]
sweeps:
  - name: search
    search: {max_drop: [2], epochs: 1, trials: 3}
  - name: sens
    sensitivity: {kind: keep, values: [0.5, 0.1]}
  - name: none-fits
    search: {max_drop: [0], guard: 10, epochs: 1, trials: 2}
  - name: sens-units
    sensitivity: {kind: units, values: [0.5]}
`
	e, err := Parse("se.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Sweeps[1].Steps[0].Methods; !reflect.DeepEqual(got, []string{search.SensitivityMethod("keep", "w1"), search.SensitivityMethod("keep", "w2")}) || e.Sweeps[1].Rows != "keep" {
		t.Fatalf("sensitivity keep expands to %q, rows %q", got, e.Sweeps[1].Rows)
	}
	if got := e.Sweeps[3].Steps[0].Methods; len(got) != 1 {
		t.Fatalf("units on one hidden layer: %q", got)
	}
	out := t.TempDir()
	sum, err := Run(context.Background(), e, options(t, out))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Records) != 1+4+1+1 {
		t.Fatalf("%d records, want 7", len(sum.Records))
	}
	var s Record
	for _, r := range sum.Records {
		if r.Sweep == "search" {
			s = r
		}
		if r.Sweep == "none-fits" && (r.Search == nil || !strings.HasPrefix(r.Search.Recipe, "nothing fits") ||
			r.Total().CorrectAfter != r.Baseline.TestCorrect || r.Packed == nil || r.ValAccuracy != r.Baseline.ValAccuracy) {
			t.Errorf("a search with nothing within its budget: %+v, total %+v", r.Search, r.Total())
		}
		if r.Sweep == "sens" && (len(r.Cell.Specs) != 1 || !strings.Contains(r.Cell.Specs[0], "keep=")) {
			t.Errorf("sensitivity cell %q", r.Cell.Specs)
		}
	}
	o := s.Search
	if o == nil || s.Packed == nil || s.Finetune.Kind != "search" || o.Trials < 1 || o.Trials > 3 || o.ValDropPP+o.Guard*o.ValSEPP > 2+1e-9 ||
		s.Packed.Bytes >= 4*s.Total().Sizes[0]*32 || s.Total().AccBefore != s.Baseline.TestAccuracy || len(o.Specs) == 0 ||
		s.Finetune.Train.Distill == nil || s.Finetune.Train.Seed != 1 {
		t.Fatalf("search record: %+v, outcome %+v, packed %+v", s.Finetune, o, s.Packed)
	}
	if math.Abs(100*(s.ValAccuracy-s.Baseline.ValAccuracy)+o.ValDropPP) > 1e-9 {
		t.Errorf("validation: %.4f against the baseline's %.4f, but the search says a drop of %.2f pp", s.ValAccuracy, s.Baseline.ValAccuracy, o.ValDropPP)
	}
	if _, err := os.Stat(filepath.Join(out, searchStateDir)); err == nil {
		t.Errorf("the search state folder %s is left behind", searchStateDir)
	}
	for _, bad := range []string{
		strings.Replace(text, "max_drop: [2]", "max_drop: [2, 2]", 1),
		strings.Replace(text, "max_drop: [2]", "max_drop: [-1]", 1),
		strings.Replace(text, "epochs: 1, trials: 3", "epochs: 1, guard: -1", 1),
		strings.Replace(text, "kind: keep", "kind: colour", 1),
		strings.Replace(text, "values: [0.5, 0.1]", "values: [0.5, 0]", 1),
		strings.Replace(text, "values: [0.5, 0.1]", "values: []", 1),
		strings.Replace(text, "sensitivity: {kind: keep, values: [0.5, 0.1]}", "sensitivity: {kind: keep}\n    distill: {hidden: [8]}", 1),
		strings.Replace(text, "kind: units, values: [0.5]", "kind: bits, values: [2.5]", 1),
	} {
		if _, err := Parse("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
