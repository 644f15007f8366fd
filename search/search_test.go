package search

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/retrain"
	"mnistc/training"
)

var (
	smallOnce              sync.Once
	smallCk                model.Checkpoint
	smallTrain, smallVal   data.Set
	smallErr               error
	smallHidden, smallData = 24, 2400
)

// small returns a 784-24-10 network trained for 2 epochs on 1,900 MNIST
// images, with its training and validation (500 images) split: a search
// over it takes seconds.
func small(t testing.TB) (model.Checkpoint, data.Set, data.Set) {
	t.Helper()
	smallOnce.Do(func() {
		dir, err := data.DefaultDir()
		if err != nil {
			smallErr = err
			return
		}
		full, _, err := data.Load(dir)
		if err != nil {
			smallErr = err
			return
		}
		smallTrain, smallVal, smallErr = data.Split(full.Slice(0, smallData), 500)
		if smallErr != nil {
			return
		}
		cfg := model.DefaultTrainConfig()
		cfg.Epochs, cfg.Layers = 2, []int{smallHidden}
		res, err := training.Train(cfg, smallTrain, smallVal, training.Hooks{})
		if err != nil {
			smallErr = err
			return
		}
		smallCk = model.Checkpoint{Params: res.Params, Meta: model.Meta{Train: &res.Config, Source: "test"}}
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallCk, smallTrain, smallVal
}

func quickOptions() Options {
	o := DefaultOptions()
	o.Epochs, o.Trials = 1, 6
	return o
}

// TestSearchStaysWithinBudget: whatever the budget, the model returned
// loses at most that much validation accuracy — checked on the packed
// file itself, decoded — and every accepted trial did too; with no budget
// at all the search finds nothing or a model that loses nothing.
func TestSearchStaysWithinBudget(t *testing.T) {
	ck, train, val := small(t)
	base := model.Evaluate(ck.Params, val, nil)
	for _, budget := range []float64{0.5, 2, 0} {
		o := quickOptions()
		o.MaxDrop = budget
		res, err := Run(ck, train, val, o)
		if budget == 0 && errors.Is(err, ErrNothingFits) {
			continue
		}
		if err != nil {
			t.Fatalf("budget %g: %v", budget, err)
		}
		f, err := mnc.Decode(res.Packed)
		if err != nil {
			t.Fatal(err)
		}
		back, err := f.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		got := model.Evaluate(back.Params, val, back.Meta.ActQuant)
		drop := 100 * float64(base.Correct-got.Correct) / float64(val.Len())
		if drop > budget+1e-9 || drop != res.ValDropPP || res.Bytes != len(res.Packed) || res.Bytes >= res.FloatBytes {
			t.Errorf("budget %g pp: the packed model loses %.2f pp (result says %.2f), %d bytes of %d", budget, drop, res.ValDropPP, res.Bytes, res.FloatBytes)
		}
		// the guard, recounted from the decoded model's answers
		lost, gained := disagreements(rightOf(ck.Params, val, nil), rightOf(back.Params, val, back.Meta.ActQuant))
		if lost-gained != base.Correct-got.Correct {
			t.Errorf("budget %g: lost %d − gained %d ≠ the %d fewer correct", budget, lost, gained, base.Correct-got.Correct)
		}
		if se := pairedSEPP(lost, gained, val.Len()); math.Abs(se-res.ValSEPP) > 1e-9 || drop+o.Guard*se > budget+1e-9 {
			t.Errorf("budget %g pp: the packed model loses %.2f pp with a standard error of %.3f pp (result says %.3f): beyond the budget at guard %g",
				budget, drop, se, res.ValSEPP, o.Guard)
		}
		accepted := 0
		for _, tr := range res.Trials {
			if tr.Accepted {
				accepted++
				if tr.DropPP+o.Guard*tr.SEPP > budget+1e-9 {
					t.Errorf("budget %g: trial %d accepted at %.2f pp + %g × %.2f pp", budget, tr.N, tr.DropPP, o.Guard, tr.SEPP)
				}
			}
		}
		if accepted == 0 || len(res.Trials) > o.Trials {
			t.Errorf("budget %g: %d trials, %d accepted", budget, len(res.Trials), accepted)
		}
	}
}

// TestPairedSE: the standard error of a paired accuracy difference from
// McNemar's counts, against the sample variance of d ∈ {−1, 0, 1} worked
// by hand; none when the two agree everywhere.
func TestPairedSE(t *testing.T) {
	// 3 lost, 1 gained of 100: d has mean −0.02 and E[d²] = 0.04, so the
	// variance of the mean is (0.04 − 0.0004)/100
	if got, want := pairedSEPP(3, 1, 100), 100*math.Sqrt((0.04-0.0004)/100); math.Abs(got-want) > 1e-12 {
		t.Errorf("pairedSEPP(3, 1, 100) = %v, want %v", got, want)
	}
	if got := pairedSEPP(0, 0, 5000); got != 0 {
		t.Errorf("no disagreement: SE %v, want 0", got)
	}
	if a, b := pairedSEPP(40, 10, 5000), pairedSEPP(70, 40, 5000); !(b > a) {
		t.Errorf("more disagreement at the same net loss must widen the error: %v then %v", a, b)
	}
}

// TestRecipeReproducesBytes: fine-tuning the input model with the
// result's specs and training settings, as `mnistc finetune` does, and
// packing with lean metadata gives the search's file byte for byte.
func TestRecipeReproducesBytes(t *testing.T) {
	ck, train, val := small(t)
	res, err := Run(ck, train, val, quickOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg := retrain.DefaultTrain()
	cfg.Epochs, cfg.LR, cfg.Seed, cfg.Batch = res.Train.Epochs, res.Train.LR, res.Train.Seed, res.Train.Batch
	cfg.Schedule, cfg.Distill = res.Train.Schedule, res.Train.Distill
	if cfg.Distill == nil {
		t.Fatal("the default search distils, but the result's training config has no distillation")
	}
	cfg.Layers = []int{model.DefaultHidden}
	if err := retrain.Check(res.Specs); err != nil {
		t.Fatal(err)
	}
	out, _, err := retrain.Run(ck, retrain.Config{Train: cfg, Passes: res.Specs}, train, val, val, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := mnc.Pack(model.Checkpoint{Params: out.Params, Meta: mnc.Lean(out.Meta)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, res.Packed) {
		t.Errorf("the recipe %q packs into %d bytes that differ from the search's %d", res.Specs, len(b), len(res.Packed))
	}
}

// TestResumeGivesTheSameResult: a search stopped after a few trials (as
// a kill after its last state write leaves it) and continued with more
// ends exactly where one uninterrupted run does, also when the kept model
// is lost and has to be fine-tuned again; a state of another search is
// refused.
func TestResumeGivesTheSameResult(t *testing.T) {
	ck, train, val := small(t)
	want, err := Run(ck, train, val, quickOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := quickOptions()
	o.StateDir, o.Trials = dir, 3
	if _, err := Run(ck, train, val, o); err != nil {
		t.Fatal(err)
	}
	models, _ := filepath.Glob(filepath.Join(dir, "model-*.npz"))
	if len(models) != 1 {
		t.Fatalf("state folder keeps %d models, want the accepted one", len(models))
	}
	os.Remove(models[0]) // lost: it is fine-tuned again, to the same bits
	o.Trials = quickOptions().Trials
	var log bytes.Buffer
	o.Log = &log
	got, err := Run(ck, train, val, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Packed, want.Packed) || len(got.Trials) != len(want.Trials) || got.Recipe.Key() != want.Recipe.Key() {
		t.Errorf("resumed: %d bytes after %d trials (%s); uninterrupted: %d bytes after %d trials (%s)",
			got.Bytes, len(got.Trials), got.Recipe, want.Bytes, len(want.Trials), want.Recipe)
	}
	if !strings.Contains(log.String(), "resuming: 3 trials") || strings.Count(log.String(), "(recorded)") < 3 {
		t.Errorf("the resumed run's log does not show the recorded trials:\n%s", log.String())
	}
	// the same folder for another budget: refused, naming it
	o.MaxDrop = 3
	if _, err := Run(ck, train, val, o); err == nil || !strings.Contains(err.Error(), "another search") {
		t.Errorf("a state of another search: %v", err)
	}
}

// TestRecipeSpecs: a recipe's specs are canonical pass specs that
// finetune accepts, prune only below what neuron pruning leaves, and a
// step down a ladder changes exactly one dimension.
func TestRecipeSpecs(t *testing.T) {
	r := plain(3)
	if len(r.Specs()) != 0 || r.Key() != "(none)" {
		t.Errorf("the plain recipe has specs %q", r.Specs())
	}
	r = r.with(dim{"units", 0}, 4) // 0.5 of hidden layer 1
	r = r.with(dim{"keep", 1}, 2)  // w2 0.5: all that survives, so no magnitude pruning of it
	r = r.with(dim{"keep", 0}, 10) // w1 0.03
	r = r.with(dim{"bits", 0}, 5)  // 3 bits
	r = r.with(dim{"bits", 2}, 4)  // 4 bits
	r = r.with(dim{"bias", 0}, 1)  // 8 bits
	want := []string{
		"prune:keep=w1:0.5,layers=w1,method=neuron",
		"prune:keep=w1:0.03,layers=w1,method=magnitude,schedule=gradual,scope=layer",
		"quantize:bits=4,granularity=tensor,layers=w3,scheme=kmeans",
		"quantize:bits=3,granularity=tensor,layers=w1,scheme=kmeans",
		"quantize:bits=8,granularity=tensor,layers=b1/b2/b3,range=minmax,scheme=symmetric",
	}
	if got := r.Specs(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("specs\n%q\nwant\n%q", got, want)
	}
	if err := retrain.Check(r.Specs()); err != nil {
		t.Errorf("finetune refuses the specs: %v", err)
	}
	for _, text := range r.Specs() {
		if s, err := compress.ParseSpec(text); err != nil || s.String() != text {
			t.Errorf("%q is not canonical (%v)", text, err)
		}
	}
	// w2 kept at what survives: one step down is the next rung, also
	// from a surviving fraction between rungs (7/16 of the units)
	if d, ok := r.down(dim{"keep", 1}, 1); !ok || d.Keep[1] != 0.3 {
		t.Errorf("w2 keep one step down from 0.5: %v (%v)", d.Keep, ok)
	}
	odd := r.with(dim{"units", 0}, 5)
	if d, ok := odd.down(dim{"keep", 1}, 1); odd.Keep[1] != 0.4375 || !ok || d.Keep[1] != 0.3 {
		t.Errorf("w2 keep one step down from %g: %v (%v)", odd.Keep[1], d.Keep, ok)
	}
	if d, ok := r.down(dim{"bits", 0}, 4); !ok || d.Bits[0] != 1 || d.Key() == r.Key() {
		t.Errorf("w1 bits 4 steps down from 3: %v", d.Bits)
	}
	end := r.with(dim{"bias", 0}, len(biasLadder)-1)
	if _, ok := end.down(dim{"bias", 0}, 1); ok {
		t.Errorf("a step past the ladder's end was allowed")
	}
	tiny := plain(2).with(dim{"keep", 1}, len(keepLadder)-1)
	if tiny.fits([]int{784, 16, 10}) {
		t.Errorf("keep %g of 160 weights keeps none, yet fits", tiny.Keep[1])
	}
}

// TestSensitivity: every layer is swept over every value; keeping all
// weights changes nothing, pruning w1 to 1 % loses more than pruning it
// to half, fewer weights pack smaller; the CSV and a plot per sweep are
// written.
func TestSensitivity(t *testing.T) {
	ck, _, val := small(t)
	opt := DefaultSensitivity()
	res, err := Sensitivity(ck, val, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2*len(opt.Keeps) + 2*len(opt.Bits) + len(opt.Units); len(res.Points) != want {
		t.Fatalf("%d points, want %d", len(res.Points), want)
	}
	at := map[[3]string]Point{}
	for _, p := range res.Points {
		at[[3]string{p.Layer, p.Kind, num(p.Value)}] = p
	}
	all, half, one := at[[3]string{"w1", "keep", "1"}], at[[3]string{"w1", "keep", "0.5"}], at[[3]string{"w1", "keep", "0.01"}]
	if all.DeltaPP != 0 || one.DeltaPP >= half.DeltaPP || one.Bytes >= half.Bytes || half.Bytes >= all.Bytes {
		t.Errorf("w1 keep 1 / 0.5 / 0.01: %+.2f / %+.2f / %+.2f pp, %d / %d / %d bytes", all.DeltaPP, half.DeltaPP, one.DeltaPP, all.Bytes, half.Bytes, one.Bytes)
	}
	if u := at[[3]string{"w1", "units", "0.5"}]; u.Bytes >= all.Bytes {
		t.Errorf("half the units packs into %d bytes, not fewer than %d", u.Bytes, all.Bytes)
	}
	dir := filepath.Join(t.TempDir(), "sens")
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "sensitivity.csv"))
	if err != nil || !strings.HasPrefix(string(csv), "layer,kind,value,val_accuracy,delta_pp,bytes\n") || strings.Count(string(csv), "\n") != len(res.Points)+1 {
		t.Errorf("sensitivity.csv: %v\n%s", err, csv)
	}
	for _, k := range []string{"keep", "bits", "units"} {
		for _, ext := range []string{".png", ".svg"} {
			if st, err := os.Stat(filepath.Join(dir, "sensitivity-"+k+ext)); err != nil || st.Size() < 1000 {
				t.Errorf("plot %s%s: %v", k, ext, err)
			}
		}
	}
	if _, err := Sensitivity(ck, val, SensitivityOptions{Keeps: []float64{0}}); err == nil {
		t.Errorf("keep 0 accepted")
	}
}
