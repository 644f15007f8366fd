package compress

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
)

// calibSet returns n synthetic images of dim pixels, about 40 % non-zero
// and uniform in (0, 1] where they are (labels unused: all 0).
func calibSet(seed int64, n, dim int) data.Set {
	rng := rand.New(rand.NewSource(seed))
	x := make([]float32, n*dim)
	for i := range x {
		if rng.Float64() < 0.4 {
			x[i] = float32(1 - rng.Float64())
		}
	}
	return data.Set{X: x, Y: make([]uint8, n), Dim: dim}
}

func applyCalib(t *testing.T, spec string, s State, calib data.Set) State {
	t.Helper()
	ps, err := Build([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ps[0].Apply(s, Env{Calib: calib})
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	return out
}

// preActMeans returns the mean pre-activation of each unit of layer l
// (1-based) of p over the images x, in float64, computed here from the
// layer's input as the forward pass gives it.
func preActMeans(p model.Params, x []float32, n int, aq *model.ActQuant, l int) []float64 {
	L := p.Layers[l-1]
	in := layerInput(p, x, n, aq, l)
	m := make([]float64, L.Out())
	for r := 0; r < n; r++ {
		for i, v := range in[r*L.In() : (r+1)*L.In()] {
			if v == 0 {
				continue
			}
			for j, w := range L.W.Data[i*L.Out() : (i+1)*L.Out()] {
				m[j] += float64(v) * float64(w)
			}
		}
	}
	for j := range m {
		m[j] = m[j]/float64(n) + float64(L.B.Data[j])
	}
	return m
}

// maxMeanShift returns the largest |mean pre-activation of p − that of ref|
// over every unit of every layer, and the largest |mean| of ref.
func maxMeanShift(p, ref model.Params, calib data.Set, aq *model.ActQuant) (shift, scale float64) {
	for l := 1; l <= p.Depth(); l++ {
		got, want := preActMeans(p, calib.X, calib.Len(), aq, l), preActMeans(ref, calib.X, calib.Len(), aq, l)
		for j := range got {
			shift = math.Max(shift, math.Abs(got[j]-want[j]))
			scale = math.Max(scale, math.Abs(want[j]))
		}
	}
	return shift, scale
}

// TestBiasCorrectionKeepsMeans: with correct=bias every layer's mean output
// (pre-activation) on the calibration images equals the float network's,
// up to float32 rounding — at 2–4 bits, per tensor and per channel, with
// either rounding, with activation quantization in the state, on a deep
// net — while without it the means move by far more.
func TestBiasCorrectionKeepsMeans(t *testing.T) {
	p := randomNet(41, 60, 24, 12, 5)
	calib := calibSet(42, 300, 60)
	aqState := applyCalib(t, "actquant:bits=6", state(p), calib)
	for _, st := range []State{state(p), aqState} {
		for _, b := range []int{2, 3, 4} {
			for _, gran := range []string{"tensor", "channel"} {
				for _, round := range []string{"nearest", "adaround,iters=50"} {
					base := "quantize:bits=" + itoa(b) + ",granularity=" + gran + ",rounding=" + round
					plain := applyCalib(t, base, st, calib)
					corr := applyCalib(t, base+",correct=bias", st, calib)
					before, scale := maxMeanShift(plain.Params, p, calib, st.ActQuant)
					after, _ := maxMeanShift(corr.Params, p, calib, st.ActQuant)
					if after > 1e-5*scale {
						t.Errorf("%s (actquant %v): mean outputs differ from the float net's by %g (largest mean %g)", base, st.ActQuant != nil, after, scale)
					}
					if before < 100*after || before < 1e-4*scale {
						t.Errorf("%s: without correction the means move by %g, with it by %g: the test does not test", base, before, after)
					}
				}
			}
		}
	}
}

// TestBiasCorrectionTrained: on a trained network at 3 bits per channel
// the corrected means match the float ones, and only biases change.
func TestBiasCorrectionTrained(t *testing.T) {
	ck, val, _ := trained(t)
	plain := applyCalib(t, "quantize:bits=3,granularity=channel", state(ck.Params), val)
	corr := applyCalib(t, "quantize:bits=3,granularity=channel,correct=bias", state(ck.Params), val)
	for l := range corr.Params.Layers {
		if !sameBits(corr.Params.Layers[l].W.Data, plain.Params.Layers[l].W.Data) {
			t.Errorf("w%d: bias correction changed weights", l+1)
		}
	}
	if d, scale := maxMeanShift(corr.Params, ck.Params, val, nil); d > 1e-5*scale {
		t.Errorf("mean outputs differ from the float net's by %g (largest mean %g)", d, scale)
	}
}

// TestGridMatchesQuantizers: the grid the calibrated options round on,
// rounding to nearest, gives the symmetric and affine quantizers' values
// bit for bit, so AdaRound's floor/ceil choices lie on the same levels.
func TestGridMatchesQuantizers(t *testing.T) {
	p := randomParams(43, 40)
	p.Layers[0].W.Data[5] = 0.9 // one large weight: mse clipping saturates it
	for _, b := range []int{2, 3, 4, 8} {
		for _, rest := range []string{"", ",range=mse", ",scheme=affine"} {
			for _, gran := range []string{"tensor", "channel"} {
				spec := "quantize:bits=" + itoa(b) + ",granularity=" + gran + rest
				want := apply(t, spec, state(p))
				s, _ := ParseSpec(spec)
				q := quantize{s}
				for _, name := range []string{"w1", "w2"} {
					tn := p.Get(name)
					gs := q.grids(tn)
					for i, x := range tn.Data {
						g := gs[0]
						if len(gs) > 1 {
							g = gs[i%tn.Shape[1]]
						}
						if got, w := g.nearest(x), want.Params.Get(name).Data[i]; math.Float32bits(got) != math.Float32bits(w) {
							t.Fatalf("%s %s[%d]: grid %v, quantizer %v", spec, name, i, got, w)
						}
					}
				}
			}
		}
	}
}

// TestAdaRoundOnGrid: every weight AdaRound leaves is s·floor(w/s) or
// s·ceil(w/s) (clamped to the grid) of its group's grid, zeros stay zero,
// and the file packs as grid codes of at most b bits, as rounding to
// nearest does, with the same encoding and size formula.
func TestAdaRoundOnGrid(t *testing.T) {
	p := randomNet(44, 60, 24, 12, 5)
	calib := calibSet(45, 300, 60)
	for _, b := range []int{2, 3, 4} {
		for _, rest := range []string{"", ",granularity=channel", ",range=mse", ",scheme=affine,granularity=channel"} {
			spec := "quantize:bits=" + itoa(b) + rest
			near := applyCalib(t, spec, state(p), calib)
			ada := applyCalib(t, spec+",rounding=adaround,iters=200", state(p), calib)
			s, _ := ParseSpec(spec)
			q := quantize{s}
			moved := 0
			for _, name := range model.WeightNames(p.Depth()) {
				tn, got := p.Get(name), ada.Params.Get(name)
				gs := q.grids(tn)
				for i, x := range tn.Data {
					g := gs[0]
					if len(gs) > 1 {
						g = gs[i%tn.Shape[1]]
					}
					tt := float64(x) / float64(g.s)
					lo, hi := g.value(g.code(math.Floor(tt))), g.value(g.code(math.Ceil(tt)))
					v := got.Data[i]
					if math.Float32bits(v) != math.Float32bits(lo) && math.Float32bits(v) != math.Float32bits(hi) {
						t.Fatalf("%s %s[%d] = %v: neither floor %v nor ceil %v of %v", spec, name, i, v, lo, hi, x)
					}
					if v != near.Params.Get(name).Data[i] {
						moved++
					}
				}
				if ada.Enc[name] != near.Enc[name] {
					t.Errorf("%s %s: encoding %+v, rounding to nearest %+v", spec, name, ada.Enc[name], near.Enc[name])
				}
			}
			if moved == 0 {
				t.Errorf("%s: AdaRound rounded every weight to nearest", spec)
			}
			_, f, err := mnc.Pack(model.Checkpoint{Params: ada.Params})
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range f.Tensors {
				if tn.Name[0] == 'w' && (tn.Map != mnc.Grid || tn.Bits > b) {
					t.Errorf("%s %s packs as %v with %d bits, want grid codes of ≤ %d bits", spec, tn.Name, tn.Map, tn.Bits, b)
				}
			}
		}
	}
}

// TestAdaRoundReconstruction: on each layer AdaRound's reconstruction error
// on the calibration images is at most round-to-nearest's (per column, by
// construction) and on these layers well below it; the errors it reports
// are those of the weights it returns.
func TestAdaRoundReconstruction(t *testing.T) {
	p := randomNet(46, 60, 24, 12, 5)
	calib := calibSet(47, 400, 60)
	n := calib.Len()
	for _, b := range []int{2, 3, 4} {
		for _, gran := range []string{"tensor", "channel"} {
			s, _ := ParseSpec("quantize:bits=" + itoa(b) + ",granularity=" + gran)
			q := quantize{s}
			cur := p.Clone() // earlier layers rounded to nearest
			for l := 1; l <= p.Depth(); l++ {
				L := p.Layers[l-1]
				xf, xq := layerInput(p, calib.X, n, nil, l), layerInput(cur, calib.X, n, nil, l)
				gs := q.grids(&L.W)
				res := adaRound(L.W.Data, L.B.Data, L.In(), L.Out(), gs, xf, xq, n, l < p.Depth(), adaConfig{iters: 300, lambda: 100, seed: 1})
				near := append([]float32(nil), L.W.Data...)
				for i, x := range near {
					near[i] = gs[i%len(gs)].nearest(x)
				}
				target := make([]float32, n*L.Out())
				for r := 0; r < n; r++ {
					copy(target[r*L.Out():], L.B.Data)
				}
				gemm(false, n, L.Out(), L.In(), xf, L.W.Data, 1, target)
				sum := func(e []float64) (s float64) {
					for _, x := range e {
						s += x
					}
					return s
				}
				ea := sum(columnErrors(res.W, L.B.Data, L.In(), L.Out(), xq, target, n, l < p.Depth()))
				en := sum(columnErrors(near, L.B.Data, L.In(), L.Out(), xq, target, n, l < p.Depth()))
				if math.Abs(ea-res.Err) > 1e-9*en || math.Abs(en-res.NearestErr) > 1e-9*en {
					t.Errorf("%s layer %d: reported errors %g, %g; recomputed %g, %g", s, l, res.Err, res.NearestErr, ea, en)
				}
				if ea > en {
					t.Errorf("%s layer %d: AdaRound error %g > round-to-nearest %g", s, l, ea, en)
				}
				if ea > 0.9*en {
					t.Errorf("%s layer %d: AdaRound error %g, round-to-nearest %g: less than 10 %% better", s, l, ea, en)
				}
				copy(cur.Layers[l-1].W.Data, near)
			}
		}
	}
}

// TestCalibratedDeterministic: the same spec (seed) gives the same bits.
func TestCalibratedDeterministic(t *testing.T) {
	p := randomNet(48, 60, 24, 12, 5)
	calib := calibSet(49, 300, 60)
	spec := "quantize:bits=3,granularity=channel,rounding=adaround,iters=100,correct=bias,seed=7"
	a, b := applyCalib(t, spec, state(p), calib), applyCalib(t, spec, state(p), calib)
	for k, tn := range a.Params.Tensors() {
		if !sameBits(tn.Data, b.Params.Tensors()[k].Data) {
			t.Fatalf("%s differs between two runs of %s", tn.Name, spec)
		}
	}
}

// TestCalibratedKeepsPruned: after pruning, AdaRound and bias correction
// leave every pruned weight exactly +0.
func TestCalibratedKeepsPruned(t *testing.T) {
	p := randomNet(50, 60, 24, 12, 5)
	calib := calibSet(51, 300, 60)
	pruned := apply(t, "prune:keep=0.3", state(p))
	for _, spec := range []string{"quantize:bits=2,rounding=adaround,iters=100,correct=bias", "quantize:bits=3,granularity=channel,scheme=affine,rounding=adaround,iters=100"} {
		out := applyCalib(t, spec, pruned, calib)
		for _, name := range model.WeightNames(p.Depth()) {
			for i, x := range pruned.Params.Get(name).Data {
				if x == 0 && math.Float32bits(out.Params.Get(name).Data[i]) != 0 {
					t.Fatalf("%s: pruned %s[%d] became %v", spec, name, i, out.Params.Get(name).Data[i])
				}
			}
		}
	}
}

// TestCalibratedSpecs: the options validate like the other keys, keep the
// canonical form of specs without them, and the calibrated pass is refused
// in the training loop (it does not rewrite in place) and without images.
func TestCalibratedSpecs(t *testing.T) {
	for text, want := range map[string]string{
		"quantize:bits=3": "quantize:bits=3,granularity=tensor,layers=weights,range=minmax,scheme=symmetric",
		"quantize:bits=3,correct=none,rounding=nearest":                             "quantize:bits=3,granularity=tensor,layers=weights,range=minmax,scheme=symmetric",
		"quantize:bits=3,correct=bias":                                              "quantize:bits=3,correct=bias,granularity=tensor,layers=weights,range=minmax,scheme=symmetric",
		"quantize:bits=3,rounding=adaround":                                         "quantize:bits=3,granularity=tensor,iters=1000,lambda=100,layers=weights,range=minmax,rounding=adaround,scheme=symmetric,seed=1",
		"quantize:bits=2,scheme=ternary,correct=bias":                               "quantize:bits=2,correct=bias,delta=0.7,granularity=tensor,layers=weights,scheme=ternary",
		"quantize:bits=4,rounding=adaround,iters=5,seed=3,lambda=0.1,scheme=affine": "quantize:bits=4,granularity=tensor,iters=5,lambda=0.1,layers=weights,rounding=adaround,scheme=affine,seed=3",
	} {
		s, err := ParseSpec(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if s.String() != want {
			t.Errorf("%s: canonical %s, want %s", text, s, want)
		}
		if back, err := ParseSpec(s.String()); err != nil || back.String() != s.String() {
			t.Errorf("%s does not parse back to itself: %v %v", s, back, err)
		}
	}
	for text, msg := range map[string]string{
		"quantize:bits=3,rounding=adaround,scheme=kmeans": "scheme=symmetric or affine",
		"quantize:bits=1,rounding=adaround":               "bits ≥ 2",
		"quantize:bits=3,iters=10":                        "iters applies to rounding=adaround only",
		"quantize:bits=3,seed=2,correct=bias":             "seed applies to rounding=adaround only",
		"quantize:bits=3,correct=yes":                     "correct=yes",
		"quantize:bits=3,rounding=adaround,iters=0":       "iters=0 out of range",
		"quantize:bits=3,rounding=adaround,lambda=-1":     "lambda=-1 out of range",
	} {
		if _, err := ParseSpec(text); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want one saying %q", text, err, msg)
		}
	}
	for _, text := range []string{"quantize:bits=3,correct=bias", "quantize:bits=3,rounding=adaround"} {
		ps, err := Build([]string{text})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ps[0].(Rewriter); ok {
			t.Errorf("%s rewrites in place, but has no calibration images there", text)
		}
		if _, err := ps[0].Apply(state(randomNet(52, 60, 8, 5)), Env{}); err == nil || !strings.Contains(err.Error(), "calibration") {
			t.Errorf("%s without calibration images: error %v", text, err)
		}
	}
}
