package retrain

import (
	"math"
	"strconv"
	"sync"
	"testing"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/model"
	"mnistc/training"
)

func spec(t *testing.T, s string) compress.Spec {
	t.Helper()
	sp, err := compress.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestScheduleFractions checks each schedule's fraction of the final
// sparsity against values worked by hand.
func TestScheduleFractions(t *testing.T) {
	one, _ := NewPrune(spec(t, "prune:keep=0.1"), 300)
	it, _ := NewPrune(spec(t, "prune:keep=0.1,schedule=iterative,rounds=3"), 300)
	gr, _ := NewPrune(spec(t, "prune:keep=0.1,schedule=gradual,every=10,ramp=0.5"), 100)
	cases := []struct {
		p    *Prune
		step int
		want float64
	}{
		{one, 0, 1}, {one, 299, 1},
		{it, 0, 1.0 / 3}, {it, 99, 1.0 / 3}, {it, 100, 2.0 / 3}, {it, 199, 2.0 / 3}, {it, 200, 1}, {it, 300, 1},
		// T = 50 steps; at t = 10: 1 − (1 − 10/50)³ = 1 − 0.512; t = 15 is still the t = 10 update.
		{gr, 0, 0}, {gr, 10, 0.488}, {gr, 15, 0.488}, {gr, 40, 1 - 0.008}, {gr, 50, 1}, {gr, 99, 1},
	}
	for _, c := range cases {
		if got := c.p.Fraction(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s at step %d: fraction %v, want %v", c.p.schedule, c.step, got, c.want)
		}
	}
	if got := KeepAt(0.1, 0.5); math.Abs(got-0.55) > 1e-12 {
		t.Errorf("KeepAt(0.1, 0.5) = %v, want 0.55", got)
	}
}

var (
	smallOnce                 sync.Once
	smallCk                   model.Checkpoint
	smallTr, smallVa, smallTe data.Set
	smallErr                  error
)

// small trains one epoch on 3,000 real images once per test binary.
func small(t *testing.T) (model.Checkpoint, data.Set, data.Set, data.Set) {
	t.Helper()
	smallOnce.Do(func() {
		dir, err := data.DefaultDir()
		if err != nil {
			smallErr = err
			return
		}
		full, test, err := data.Load(dir)
		if err != nil {
			smallErr = err
			return
		}
		smallTr, smallVa, smallTe = full.Slice(0, 3000), full.Slice(3000, 3500), test
		cfg := model.DefaultTrainConfig()
		cfg.Epochs = 1
		res, err := training.Train(cfg, smallTr, smallVa, training.Hooks{})
		smallCk, smallErr = model.Checkpoint{Params: res.Params}, err
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallCk, smallTr, smallVa, smallTe
}

// recorder wraps a Prune and checks, after every projection, that each
// tensor has exactly the scheduled number of non-zeros.
type recorder struct {
	*Prune
	t      *testing.T
	checks int
}

func (r *recorder) Project(shadow, dst *model.Params, step int) {
	r.Prune.Project(shadow, dst, step)
	f := r.Fraction(step)
	names, err := r.spec.Layers(dst)
	if err != nil {
		r.t.Fatal(err)
	}
	k, _ := strconv.ParseFloat(r.spec.Args["keep"], 64) // one rate for every pruned tensor
	for _, name := range names {
		tt := dst.Get(name)
		nz := nonzeros(tt.Data)
		if want := compress.KeepCount(KeepAt(k, f), len(tt.Data)); nz != want {
			r.t.Fatalf("step %d (fraction %.3f): %s has %d non-zeros, want %d", step, f, tt.Name, nz, want)
		}
	}
	r.checks++
}

// TestGradualHitsEverySparsity: through a gradual schedule the projected
// weights have exactly the scheduled number of non-zeros at every step.
func TestGradualHitsEverySparsity(t *testing.T) {
	ck, tr, va, _ := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	steps := (tr.Len() + cfg.Batch - 1) / cfg.Batch
	p, err := NewPrune(spec(t, "prune:keep=0.2,schedule=gradual,every=10,ramp=0.8"), steps)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{Prune: p, t: t}
	if _, err := training.FineTune(ck.Params, cfg, r, tr, va, training.Hooks{}); err != nil {
		t.Fatal(err)
	}
	if r.checks != steps+1 {
		t.Errorf("%d projections checked, want %d", r.checks, steps+1)
	}
}

// TestRetrainingRecovers: pruning to keep 0.03 and fine-tuning one epoch
// recovers at least half of what pruning without retraining loses, and the saved
// weights keep exactly the kept count; neuron pruning yields the smaller net.
func TestRetrainingRecovers(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{"prune:keep=0.03,scope=global"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if lost, won := rec.AccBefore-rec.AccNoRetrain, rec.AccAfter-rec.AccNoRetrain; lost < 0.03 || won < lost/2 {
		t.Errorf("keep 0.03: %.4f before, %.4f without retraining, %.4f after; want a loss of ≥ 3 pp, half of it recovered",
			rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
	}
	nz := nonzeros(out.Params.Layers[0].W.Data, out.Params.Layers[1].W.Data)
	if want := compress.KeepCount(0.03, len(out.Params.Layers[0].W.Data)+len(out.Params.Layers[1].W.Data)); nz != want {
		t.Errorf("saved weights: %d non-zeros, want %d", nz, want)
	}
	t.Logf("keep 0.03 global: before %.4f, no retraining %.4f, after %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
	nout, nrec, err := Run(ck, Config{Train: cfg, Passes: []string{"prune:keep=0.25,method=neuron"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if nout.Params.Hidden()[0] != 32 || nrec.Sizes[1] != 32 || nrec.AccAfter <= nrec.AccNoRetrain {
		t.Errorf("neuron keep 0.25: hidden %v, %.4f → %.4f; want 32 units and a gain", nout.Params.Hidden(), nrec.AccNoRetrain, nrec.AccAfter)
	}
}

func TestCheck(t *testing.T) {
	if err := Check([]string{"prune:keep=0.2,scope=global", "quantize:bits=4,granularity=channel"}); err != nil {
		t.Errorf("prune then quantize: %v", err)
	}
	for pass, bad := range map[string]bool{
		"prune:keep=0.1,schedule=gradual": false, "prune:keep=0.5,method=neuron,schedule=iterative": false,
		"quantize:bits=4": false, "clip:std=3": false, "quantize:bits=4,scheme=kmeans": false, "quantize:bits=4,scheme=kmeans,granularity=channel": true, "quantize:bits=4,range=mse": false, "quantize:bits=1,range=mse": true,
		"quantize:bits=16": true, "actquant:bits=4": false, "actquant:bits=12": true,
		"prune:keep=0.1,method=random,schedule=oneshot": true, "prune:keep=0.1,every=5": true,
	} {
		if err := Check([]string{pass}); (err != nil) != bad {
			t.Errorf("Check(%s) = %v", pass, err)
		}
	}
	if _, err := compress.Build([]string{"prune:keep=0.1,schedule=gradual"}); err == nil {
		t.Error("post-training compress accepted a schedule")
	}
}

// TestMSERangeInTheLoop: 2-bit QAT with MSE-chosen clipping ranges saves
// weights with at most 3 levels per channel, recovers accuracy over its
// post-training twin, and records how often the ranges are searched.
func TestMSERangeInTheLoop(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	pass := "quantize:bits=2,granularity=channel,range=mse"
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{pass}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccAfter <= rec.AccNoRetrain || rec.Schedules[0]["mse_search_every"] == "" {
		t.Errorf("2-bit mse: %.4f post-training, %.4f after QAT, schedule %v", rec.AccNoRetrain, rec.AccAfter, rec.Schedules)
	}
	w := out.Params.Layers[0].W
	for g := 0; g < w.Shape[1]; g++ {
		levels := map[float32]bool{}
		for i := 0; i < w.Shape[0]; i++ {
			levels[w.Data[i*w.Shape[1]+g]] = true
		}
		if len(levels) > 3 {
			t.Fatalf("channel %d holds %d levels, want at most 3", g, len(levels))
		}
	}
	t.Logf("2-bit per channel, mse range: before %.4f, post-training %.4f, QAT %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
}

// TestQuantizeInTheLoop: quantization-aware training with the fixed
// projection (learn=none) saves weights with at most 2^b − 1 levels per
// channel that the post-training pass leaves unchanged, and recovers
// accuracy that post-training 2-bit loses; clipping in the loop keeps
// every weight within the threshold.
func TestQuantizeInTheLoop(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	pass := "quantize:bits=2,granularity=channel"
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{pass + ",learn=none"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccAfter <= rec.AccNoRetrain {
		t.Errorf("2-bit per channel: %.4f post-training, %.4f after QAT; want a gain", rec.AccNoRetrain, rec.AccAfter)
	}
	ps, _ := compress.Build([]string{pass})
	again, err := ps[0].Apply(compress.State{Params: out.Params}, compress.Env{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w1", "w2"} {
		a, b := out.Params.Get(name).Data, again.Params.Get(name).Data
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6 {
				t.Fatalf("%s[%d]: QAT weight %v re-quantized to %v", name, i, a[i], b[i])
			}
		}
		cols := out.Params.Get(name).Shape[1]
		for c := 0; c < cols; c++ {
			levels := map[float32]bool{}
			for i := c; i < len(a); i += cols {
				levels[a[i]] = true
			}
			if len(levels) > 3 {
				t.Fatalf("%s column %d: %d levels, want ≤ 3 at 2 bits", name, c, len(levels))
			}
		}
	}
	t.Logf("2-bit per channel: before %.4f, post-training %.4f, QAT %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
	cl, _, err := Run(ck, Config{Train: cfg, Passes: []string{"clip:threshold=0.05"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(cl.Params.Layers[0].W.Data, cl.Params.Layers[1].W.Data...) {
		if math.Abs(float64(v)) > 0.05+1e-7 {
			t.Fatalf("clip in the loop left %v", v)
		}
	}
}

// TestChainInTheLoop: pruning then 4-bit quantization (the fixed
// projection) held from the first step of training (the §4 flow) gives
// weights that are both exactly sparse and on the quantizer's grid, and a
// network that learned.
func TestChainInTheLoop(t *testing.T) {
	_, tr, va, te := small(t)
	cfg := model.DefaultTrainConfig()
	cfg.Epochs = 1
	out, rec, err := Train(Config{Train: cfg, Passes: []string{"prune:keep=0.2,scope=global", "quantize:bits=4,granularity=channel,learn=none"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	nz := nonzeros(out.Params.Layers[0].W.Data, out.Params.Layers[1].W.Data)
	if want := compress.KeepCount(0.2, len(out.Params.Layers[0].W.Data)+len(out.Params.Layers[1].W.Data)); nz > want {
		t.Errorf("%d non-zeros, want at most %d (keep 0.2; quantization may round more to 0)", nz, want)
	}
	ps, _ := compress.Build([]string{"quantize:bits=4,granularity=channel"})
	again, _ := ps[0].Apply(compress.State{Params: out.Params}, compress.Env{})
	for i, v := range again.Params.Layers[0].W.Data {
		if math.Abs(float64(v-out.Params.Layers[0].W.Data[i])) > 1e-6 {
			t.Fatalf("w1[%d] %v is not on the 4-bit grid (%v)", i, out.Params.Layers[0].W.Data[i], v)
		}
	}
	if rec.AccAfter < 0.5 || len(rec.Schedules) != 2 { // chance is 0.1; masks fixed on the random init learn slower
		t.Errorf("accuracy %.4f, %d schedules; want a net that learned and both passes recorded", rec.AccAfter, len(rec.Schedules))
	}
	t.Logf("§4 flow, prune 0.2 + 4-bit, 1 epoch on 3,000 images: %.4f", rec.AccAfter)
}

// TestActivationQAT: 4-bit weights and 4-bit activations trained in the
// loop: the checkpoint carries the calibrated ranges, beats the same passes
// applied after training, and its accuracy is what evaluation with those
// ranges gives.
func TestActivationQAT(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs, cfg.LR = 1, DefaultLR([]string{"quantize"})
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{"quantize:bits=4,granularity=channel", "actquant:bits=4"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	aq := out.Meta.ActQuant
	if aq == nil || aq.Bits != 4 || !(aq.Range(1).Hi > 0) {
		t.Fatalf("checkpoint activation quantizer %+v", aq)
	}
	if r := model.Evaluate(out.Params, te, aq); r.Correct != rec.CorrectAfter {
		t.Errorf("evaluation with the saved ranges: %d correct, record says %d", r.Correct, rec.CorrectAfter)
	}
	if rec.AccAfter < rec.AccNoRetrain {
		t.Errorf("4/4-bit: %.4f post-training, %.4f after QAT", rec.AccNoRetrain, rec.AccAfter)
	}
	t.Logf("4-bit weights + 4-bit activations: before %.4f, post-training %.4f, QAT %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
	if err := Check([]string{"actquant:bits=4,calib=literal"}); err == nil {
		t.Error("literal activation quantization accepted in the loop")
	}
	if _, _, err := Train(Config{Train: cfg, Passes: []string{"actquant:bits=4"}}, tr, va, te, training.Hooks{}); err == nil {
		t.Error("actquant from the first step accepted")
	}
}

// nonzeros counts the non-zero entries of the slices.
func nonzeros(vs ...[]float32) int {
	n := 0
	for _, v := range vs {
		for _, x := range v {
			if x != 0 {
				n++
			}
		}
	}
	return n
}

// TestDeepCompressionInTheLoop: on a three-layer network, per-layer pruning
// (different keep rates per tensor, Han et al.'s form) chained with 3-bit
// k-means weight sharing, held through fine-tuning: every layer keeps at
// most its share of non-zeros, shares at most 8 values, the shared values
// moved during training (they are retrained, not frozen at the first
// clustering), and the network still classifies.
func TestDeepCompressionInTheLoop(t *testing.T) {
	_, tr, va, te := small(t)
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Layers = 1, []int{40, 20}
	base, err := training.Train(cfg, tr, va, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ft := DefaultTrain()
	ft.Epochs = 1
	keep := map[string]float64{"w1": 0.1, "w2": 0.3, "w3": 0.6}
	passes := []string{"prune:keep=w1:0.1/w2:0.3/w3:0.6,schedule=gradual,every=10", "quantize:scheme=kmeans,bits=3"}
	out, rec, err := Run(model.Checkpoint{Params: base.Params}, Config{Train: ft, Passes: passes}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	post, err := compress.Run(model.Checkpoint{Params: base.Params}, mustBuild(t, []string{"prune:keep=w1:0.1/w2:0.3/w3:0.6", passes[1]}), compress.Env{Calib: va}, te)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range keep {
		w := out.Params.Get(name).Data
		if nz, want := nonzeros(w), compress.KeepCount(k, len(w)); nz > want {
			t.Errorf("%s: %d non-zeros, want at most %d", name, nz, want)
		}
		mine, theirs := distinct(w), distinct(post.State.Params.Get(name).Data)
		if len(mine) > 8 || len(mine) < 2 {
			t.Errorf("%s shares %d values, want 2–8 (3 bits)", name, len(mine))
		}
		same := 0
		for v := range mine {
			if theirs[v] {
				same++
			}
		}
		if same == len(mine) {
			t.Errorf("%s: the shared values are those of the clustering after training: not retrained", name)
		}
	}
	if rec.AccAfter < 0.6 || rec.Sizes[1] != 40 || rec.Sizes[2] != 20 {
		t.Errorf("accuracy %.4f, sizes %v; want a working 784-40-20-10", rec.AccAfter, rec.Sizes)
	}
	t.Logf("784-40-20-10 keep 10/30/60 %% + 3-bit sharing: %.4f (no retraining %.4f)", rec.AccAfter, post.Records[len(post.Records)-1].AccAfter)
}

func distinct(v []float32) map[float32]bool {
	m := map[float32]bool{}
	for _, x := range v {
		if x != 0 {
			m[x] = true
		}
	}
	return m
}

func mustBuild(t *testing.T, specs []string) []compress.Pass {
	t.Helper()
	ps, err := compress.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestWholeNumbersFromCanonicalSpecs: a canonical spec renders a large
// whole number as 1e+06; the schedule reads it as a number (it used to
// fail to parse, leave every = 0 and divide by zero), and refuses values
// that are not whole numbers ≥ 1.
func TestWholeNumbersFromCanonicalSpecs(t *testing.T) {
	s := spec(t, "prune:keep=0.5,schedule=gradual,every=1000000")
	p, err := NewPrune(s, 500)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	if p.every != 1000000 {
		t.Errorf("every = %d, want 1000000 (spec %s)", p.every, s)
	}
	for step := 0; step < 500; step += 7 {
		if f := p.Fraction(step); f < 0 || f > 1 {
			t.Fatalf("fraction %v at step %d", f, step)
		}
	}
	bad := spec(t, "prune:keep=0.5,schedule=gradual")
	bad.Args["every"] = "2.5"
	if _, err := NewPrune(bad, 500); err == nil {
		t.Error("every=2.5 accepted")
	}
}
