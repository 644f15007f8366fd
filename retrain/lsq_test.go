package retrain

import (
	"math"
	"math/rand"
	"testing"

	"mnistc/compress"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/training"
)

// TestLSQStepGradient: the step gradient Learn returns equals, times
// sqrt(N·Qp), the finite difference of the loss LSQ differentiates — each
// weight replaced by its straight-through linearisation in its step,
// ŵ(s) = w + s·(q − w/s₀) inside the range and s·q outside (q and w/s₀
// fixed at the current step s₀; so ∂ŵ/∂s = q − w/s₀ inside, −Qn or Qp
// outside) — for per-tensor and per-channel steps at 1, 2 and 3 bits; and
// the shadow gradient passes inside the range only.
func TestLSQStepGradient(t *testing.T) {
	for _, text := range []string{"quantize:bits=2,granularity=channel", "quantize:bits=1,granularity=channel", "quantize:bits=3", "quantize:bits=2,layers=w2"} {
		t.Run(text, func(t *testing.T) {
			rng := rand.New(rand.NewSource(5))
			sizes := []int{12, 7, 5}
			shadow := model.InitGlorot(sizes, rng)
			for _, L := range shadow.Layers {
				for i := range L.B.Data {
					L.B.Data[i] = float32(rng.NormFloat64() * 0.3)
				}
			}
			const B = 9
			x, y := make([]float32, B*sizes[0]), make([]uint8, B)
			for i := range x {
				x[i] = rng.Float32()
			}
			for i := range y {
				y[i] = uint8(rng.Intn(sizes[2]))
			}
			c, _, err := Constraints([]string{text}, 100)
			if err != nil {
				t.Fatal(err)
			}
			q, ok := c.(*lsqQuant)
			if !ok {
				t.Fatalf("%s held by %T, want LSQ", text, c)
			}
			dst := shadow.Clone()
			q.Project(&shadow, &dst, 0)
			for _, st := range q.steps { // smaller steps: some weights saturate
				for j := range st {
					st[j] *= 0.7
				}
			}
			q.Project(&shadow, &dst, 1)
			_, g := mlpLossGrad(dst, x, y, B)
			grads := make([][]float32, len(g))
			for k := range g {
				grads[k] = make([]float32, len(g[k]))
				for i, v := range g[k] {
					grads[k][i] = float32(v)
				}
			}
			ds := q.Learn(&shadow, grads)
			inside, outside := 0, 0
			for ti, k := range q.idx {
				groups, w := q.groups[ti], shadow.Tensors()[k].Data
				for j := 0; j < groups; j++ {
					s0 := float64(q.steps[ti][j])
					at := func(s float64) float64 {
						p := dst.Clone()
						d := p.Tensors()[k].Data
						for i := j; i < len(w); i += groups {
							v := float64(w[i]) / s0
							l, in := q.q.Level(v)
							if in {
								d[i] = float32(float64(w[i]) + s*(l-v))
							} else {
								d[i] = float32(s * l)
							}
						}
						loss, _ := mlpLossGrad(p, x, y, B)
						return loss
					}
					h := 1e-3 * s0
					fd := (at(s0+h) - at(s0-h)) / (2 * h)
					got := float64(ds[ti][j]) / q.gscale[ti]
					if math.Abs(got-fd) > 2e-3*math.Max(1e-2, math.Abs(fd)) {
						t.Errorf("%s step %d: Learn %v (unscaled), finite difference %v", q.names[ti], j, got, fd)
					}
				}
				for i, v := range w {
					_, in := q.q.Level(float64(v) / float64(q.steps[ti][i%groups]))
					switch {
					case in && grads[k][i] != float32(g[k][i]):
						t.Fatalf("%s[%d] inside the range: shadow gradient %v, want %v", q.names[ti], i, grads[k][i], g[k][i])
					case !in && grads[k][i] != 0:
						t.Fatalf("%s[%d] outside the range: shadow gradient %v, want 0", q.names[ti], i, grads[k][i])
					case in:
						inside++
					default:
						outside++
					}
				}
			}
			if inside == 0 || outside == 0 {
				t.Fatalf("%d weights inside and %d outside: the test needs both", inside, outside)
			}
		})
	}
}

// mlpLossGrad is the mean cross-entropy of a ReLU network and its gradient
// with respect to every tensor (checkpoint order), in float64.
func mlpLossGrad(p model.Params, x []float32, y []uint8, n int) (float64, [][]float64) {
	acts := [][]float64{make([]float64, len(x))}
	for i, v := range x {
		acts[0][i] = float64(v)
	}
	last := p.Depth() - 1
	for l, L := range p.Layers {
		k, m, a := L.In(), L.Out(), acts[l]
		z := make([]float64, n*m)
		for r := 0; r < n; r++ {
			for j := 0; j < m; j++ {
				v := float64(L.B.Data[j])
				for i := 0; i < k; i++ {
					v += a[r*k+i] * float64(L.W.Data[i*m+j])
				}
				if l < last {
					v = math.Max(0, v)
				}
				z[r*m+j] = v
			}
		}
		acts = append(acts, z)
	}
	C := p.Classes()
	logits := acts[len(acts)-1]
	delta := make([]float64, n*C)
	var loss float64
	for r := 0; r < n; r++ {
		z := logits[r*C : (r+1)*C]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var se float64
		for _, v := range z {
			se += math.Exp(v - mx)
		}
		loss -= z[y[r]] - mx - math.Log(se)
		for c := range z {
			delta[r*C+c] = math.Exp(z[c]-mx) / se / float64(n)
		}
		delta[r*C+int(y[r])] -= 1 / float64(n)
	}
	grads := make([][]float64, 2*p.Depth())
	for l := last; l >= 0; l-- {
		L := p.Layers[l]
		k, m, a := L.In(), L.Out(), acts[l]
		gw, gb, da := make([]float64, k*m), make([]float64, m), make([]float64, n*k)
		for r := 0; r < n; r++ {
			for j := 0; j < m; j++ {
				d := delta[r*m+j]
				gb[j] += d
				for i := 0; i < k; i++ {
					gw[i*m+j] += a[r*k+i] * d
					da[r*k+i] += d * float64(L.W.Data[i*m+j])
				}
			}
		}
		grads[2*l], grads[2*l+1] = gw, gb
		for i := range da { // through the ReLU below
			if a[i] <= 0 {
				da[i] = 0
			}
		}
		delta = da
	}
	return loss / float64(n), grads
}

// TestLSQCheckpointIsAGrid: fine-tuning with the default 2-bit per-channel
// pass (LSQ) saves weights that are exactly step·k in float32, k an
// integer level in [−2, 1] and step the learned one the record gives, that
// mnc packs as a 2-bit grid per channel; biases stay float; and it beats
// the same pass applied after training.
func TestLSQCheckpointIsAGrid(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{"quantize:bits=2,granularity=channel"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccAfter <= rec.AccNoRetrain || rec.Schedules[0]["levels"] != "-2…1" {
		t.Errorf("2-bit LSQ: %.4f post-training, %.4f after; schedule %v", rec.AccNoRetrain, rec.AccAfter, rec.Schedules[0])
	}
	for _, name := range []string{"w1", "w2"} {
		w, steps := out.Params.Get(name), rec.Learned[name]
		cols := w.Shape[1]
		if len(steps) != cols {
			t.Fatalf("%s: %d learned steps, want one per column (%d)", name, len(steps), cols)
		}
		for i, v := range w.Data {
			s := steps[i%cols]
			k := math.Round(float64(v) / float64(s))
			if k < -2 || k > 1 || s*float32(k) != v || math.Signbit(float64(v)) && v == 0 {
				t.Fatalf("%s[%d] = %v is not step %v × a level in [−2, 1]", name, i, v, s)
			}
		}
	}
	if b := out.Params.Get("b1").Data; len(distinct(b)) < len(b)/2 {
		t.Errorf("b1 holds %d distinct values: biases should stay float", len(distinct(b)))
	}
	_, f, err := mnc.Pack(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w1", "w2"} {
		pt := f.Tensor(name)
		if pt.Map != mnc.Grid || pt.Bits > 2 || pt.Groups != out.Params.Get(name).Shape[1] {
			t.Errorf("%s packs as %s, %d bits, %d groups; want a 2-bit grid per channel", name, pt.Map, pt.Bits, pt.Groups)
		}
	}
	t.Logf("2-bit LSQ per channel: before %.4f, post-training %.4f, after %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
}

// TestTTQThreeLevels: trained ternary quantization in the loop
// (learn=ttq) leaves at most three values per layer — 0
// and the learned Wp and −Wn the record gives — and beats post-training TWN.
func TestTTQThreeLevels(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs = 1
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{"quantize:scheme=ternary,learn=ttq"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w1", "w2"} {
		w, sc := out.Params.Get(name).Data, rec.Learned[name]
		if len(sc) != 2 || !(sc[0] > 0) || !(sc[1] > 0) {
			t.Fatalf("%s: learned scales %v, want Wp, Wn > 0", name, sc)
		}
		levels := map[float32]int{}
		for _, v := range w {
			levels[v]++
		}
		if len(levels) > 3 {
			t.Fatalf("%s holds %d values, want at most 3", name, len(levels))
		}
		for v := range levels {
			if v != 0 && v != sc[0] && v != -sc[1] {
				t.Errorf("%s holds %v, not 0, Wp %v or −Wn %v", name, v, sc[0], -sc[1])
			}
		}
	}
	if rec.AccAfter <= rec.AccNoRetrain {
		t.Errorf("TTQ %.4f, post-training TWN %.4f: want a gain", rec.AccAfter, rec.AccNoRetrain)
	}
	t.Logf("TTQ: before %.4f, post-training TWN %.4f, after %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
}

// TestLearnKey: which quantizer holds each spec in the loop, and the specs
// the learn key refuses.
func TestLearnKey(t *testing.T) {
	for text, want := range map[string]string{
		"quantize:bits=2":                     learnLSQ,
		"quantize:bits=4,granularity=channel": learnLSQ,
		"quantize:bits=8":                     learnNone,
		"quantize:bits=2,range=mse":           learnNone,
		"quantize:bits=2,range=minmax":        learnLSQ, // the default range, spelled
		// a sweep cell's canonical spec spells every default: LSQ all the same
		"quantize:bits=2,granularity=channel,layers=weights,range=minmax,scheme=symmetric": learnLSQ,
		"quantize:bits=8,learn=lsq":                     learnLSQ,
		"quantize:bits=2,learn=none":                    learnNone,
		"quantize:scheme=ternary":                       learnNone,
		"quantize:scheme=ternary,learn=ttq":             learnTTQ,
		"quantize:scheme=ternary,delta=0.7":             learnNone,
		"quantize:scheme=ternary,learn=none":            learnNone,
		"quantize:bits=3,scheme=kmeans":                 learnNone,
		"actquant:bits=2":                               learnLSQ,
		"actquant:bits=8":                               learnNone,
		"actquant:bits=4,calib=mse,learn=none":          learnNone,
		"prune:keep=0.1":                                "",
		"quantize:bits=2,learn=lsq,granularity=channel": learnLSQ,
	} {
		s, err := parseLoop(text)
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		if s.Args[learnKey] != want {
			t.Errorf("%s: learn=%q, want %q", text, s.Args[learnKey], want)
		}
		if _, err := compress.ParseSpec(postText(s)); err != nil {
			t.Errorf("%s: post-training spec %s: %v", text, postText(s), err)
		}
	}
	for _, bad := range []string{"quantize:bits=2,learn=yes", "quantize:bits=2,learn=ttq", "quantize:scheme=affine,bits=2,learn=lsq",
		"quantize:bits=2,range=mse,learn=lsq", "quantize:scheme=ternary,delta=0.5,learn=ttq", "prune:keep=0.5,learn=lsq",
		"actquant:bits=2,calib=literal,learn=lsq", "quantize:bits=2,learn="} {
		if err := Check([]string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if !LearnsActivations([]string{"quantize:bits=2", "actquant:bits=2"}) || LearnsActivations([]string{"actquant:bits=2,learn=none"}) {
		t.Error("LearnsActivations")
	}
}

// TestPruneThenLSQ: pruning chained with a learned 2-bit quantizer keeps
// the kept count and puts every weight on its learned grid.
func TestPruneThenLSQ(t *testing.T) {
	ck, tr, va, te := small(t)
	cfg := DefaultTrain()
	cfg.Epochs, cfg.LR = 1, DefaultLR([]string{"prune:keep=0.2"})
	// (after pruning the default is the fixed grid, ChainDefaults: LSQ is asked for)
	out, rec, err := Run(ck, Config{Train: cfg, Passes: []string{"prune:keep=0.2,scope=global", "quantize:bits=2,granularity=channel,learn=lsq"}}, tr, va, te, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := out.Params.Get("w1"), out.Params.Get("w2")
	if nz, want := nonzeros(w1.Data, w2.Data), compress.KeepCount(0.2, len(w1.Data)+len(w2.Data)); nz > want {
		t.Errorf("%d non-zeros, want at most %d", nz, want)
	}
	for _, w := range []*model.Tensor{w1, w2} {
		steps, cols := rec.Learned[w.Name], w.Shape[1]
		for i, v := range w.Data {
			s := steps[i%cols]
			if k := math.Round(float64(v) / float64(s)); k < -2 || k > 1 || s*float32(k) != v {
				t.Fatalf("%s[%d] = %v is not on step %v's 2-bit grid", w.Name, i, v, s)
			}
		}
	}
	t.Logf("keep 0.2 + 2-bit LSQ: before %.4f, post-training %.4f, after %.4f", rec.AccBefore, rec.AccNoRetrain, rec.AccAfter)
}

func TestChainDefaults(t *testing.T) {
	got := ChainDefaults([]string{"prune:keep=0.05,schedule=gradual", "quantize:bits=4,granularity=channel", "quantize:bits=2,learn=lsq"})
	if got[1] != "quantize:bits=4,granularity=channel,learn=none" || got[2] != "quantize:bits=2,learn=lsq" || got[0] != "prune:keep=0.05,schedule=gradual" {
		t.Errorf("after pruning: %q", got)
	}
	plain := []string{"quantize:bits=2,granularity=channel"}
	if got := ChainDefaults(plain); got[0] != plain[0] {
		t.Errorf("no pruning: %q", got)
	}
	if got := ChainDefaults([]string{"prune", "quantize"}); got[1] != "quantize:learn=none" {
		t.Errorf("bare specs: %q", got)
	}
}
