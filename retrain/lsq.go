package retrain

import (
	"fmt"
	"math"

	"mnistc/compress"
	"mnistc/model"
	"mnistc/training"
)

// lsqQuant holds b-bit weight quantization with learned step sizes (LSQ,
// Esser et al. 2020) through training: each selected tensor (or each of
// its output columns, granularity=channel) has a step s that the
// optimizer trains with the weights; the forward pass sees
// ŵ = s·clamp(round(w/s), −Qn, Qp) on LSQ's signed levels −2^(b−1) …
// 2^(b−1)−1 (±s at 1 bit), the shadow weights get the gradient where w/s
// lies inside the range and none outside (the straight-through
// estimator), and s gets Σ g·∂ŵ/∂s scaled by 1/sqrt(N·Qp)
// (training.StepQuant). The checkpoint keeps ŵ: float32 step times an
// integer level, the grid mnc packs as codes; the steps are in the record.
type lsqQuant struct {
	q      training.StepQuant
	init   string // how the steps start: "lsq" (the paper's) or "mse"
	names  []string
	idx    []int       // the targets' positions in checkpoint order
	groups []int       // per target: 1, or its columns
	steps  [][]float32 // per target, one step per group: the learned parameters
	gscale []float64   // per target: 1/sqrt(N·Qp), N the weights per step
	dsteps [][]float32 // Learn's output, reused
	inv    [][]float32 // per target: 1/step per group, as the last Project used
	sum    [][]float64 // Learn's sums, reused
	target []bool      // per tensor in checkpoint order: a target
	ready  bool
	spec   compress.Spec
}

func newLSQ(s compress.Spec) (*lsqQuant, error) {
	b, _ := s.Int("bits")
	if b < 1 || b > 8 {
		return nil, fmt.Errorf("quantize: learn=lsq takes bits 1–8, got %s", s.Args["bits"])
	}
	if s.Args["scheme"] != "symmetric" {
		return nil, fmt.Errorf("quantize: learn=lsq learns a symmetric quantizer's step; scheme=%s has none", s.Args["scheme"])
	}
	return &lsqQuant{q: training.WeightStepQuant(b), init: lsqInit, spec: s}, nil
}

// lsqInit is how the steps start: "mse", the step whose quantization of
// the trained weights has the least squared error, or "lsq", the paper's
// 2⟨|w|⟩/sqrt(Qp), made for training from scratch. Fine-tuning the
// 784-128-10 baselines (3 seeds, per channel, 5 epochs at 1e-4) the MSE
// start did better: 1 bit −1.03 pp against −1.59 pp (the paper's start is
// twice XNOR's α there), 2 bits +0.05 pp against −0.07 pp.
const lsqInit = "mse"

// start resolves the targets against the network and sets the initial
// steps from its weights.
func (c *lsqQuant) start(shadow *model.Params) {
	names, err := c.spec.Layers(shadow)
	if err != nil {
		panic("retrain: " + err.Error()) // checked against the network before training
	}
	c.names = names
	c.target = make([]bool, len(shadow.Tensors()))
	for _, name := range names {
		t := shadow.Get(name)
		c.target[indexOf(shadow, name)] = true
		groups := 1
		if c.spec.Args["granularity"] == "channel" && len(t.Shape) == 2 {
			groups = t.Shape[1]
		}
		steps := make([]float32, groups)
		col := make([]float32, len(t.Data)/groups)
		for g := range steps {
			for i := range col {
				col[i] = t.Data[i*groups+g]
			}
			steps[g] = float32(math.Max(c.initStep(col), minStep))
		}
		c.idx = append(c.idx, indexOf(shadow, name))
		c.groups = append(c.groups, groups)
		c.steps = append(c.steps, steps)
		c.gscale = append(c.gscale, c.q.GradScale(len(col)))
		c.dsteps = append(c.dsteps, make([]float32, groups))
		c.inv = append(c.inv, make([]float32, groups))
		c.sum = append(c.sum, make([]float64, groups))
	}
	c.ready = true
}

// minStep keeps a learned step positive.
const minStep = 1e-8

// initStep is the starting step for the weights w of one group.
func (c *lsqQuant) initStep(w []float32) float64 {
	if c.init == "lsq" {
		return c.q.InitStep(w)
	}
	return c.q.MSEStep(w)
}

// Project writes shadow into dst with each target tensor quantized with
// its current steps (set from shadow at the first call).
func (c *lsqQuant) Project(shadow, dst *model.Params, _ int) {
	if !c.ready {
		c.start(shadow)
	}
	src, out := shadow.Tensors(), dst.Tensors()
	for k, t := range src {
		if !c.target[k] {
			copy(out[k].Data, t.Data)
		}
	}
	for i, k := range c.idx {
		c.clampSteps(i)
		w, d, steps, groups, inv := src[k].Data, out[k].Data, c.steps[i], c.groups[i], c.inv[i]
		for j, s := range steps {
			inv[j] = 1 / s
		}
		j := 0 // the column (group) of entry e, wrapping: row-major with groups columns
		lo, hi := int64(-c.q.Qn), int64(c.q.Qp)
		for e, x := range w {
			var l float32
			if c.q.Binary {
				l, _ = signLevel(x * inv[j])
			} else {
				l, _ = intLevel(x*inv[j], lo, hi)
			}
			d[e] = steps[j] * l
			if j++; j == groups {
				j = 0
			}
		}
	}
}

// intLevel is clamp(round(v), lo, hi) and whether lo ≤ v ≤ hi (1 or 0).
// It selects rather than branches (the compiler turns these ifs into
// conditional moves): which weights saturate is random, and mispredicted
// branches cost more than the arithmetic. An integer level has no −0.
func intLevel(v float32, lo, hi int64) (float32, float32) {
	r := int64(math.RoundToEven(float64(v)))
	if r < lo {
		r = lo
	}
	if r > hi {
		r = hi
	}
	var in int32
	if v >= float32(lo) && v <= float32(hi) {
		in = 1
	}
	return float32(r), float32(in)
}

// signLevel is the binary level ±1 of v and whether −1 ≤ v ≤ 1.
func signLevel(v float32) (float32, float32) {
	var neg, in int32
	if v < 0 {
		neg = 1
	}
	if v >= -1 && v <= 1 {
		in = 1
	}
	return 1 - 2*float32(neg), float32(in)
}

// clampSteps keeps target i's steps positive (an optimizer step could
// push one through zero).
func (c *lsqQuant) clampSteps(i int) {
	for j, s := range c.steps[i] {
		if !(s >= minStep) {
			c.steps[i][j] = minStep
		}
	}
}

// Held is nil: quantization holds no entry at zero.
func (c *lsqQuant) Held() [][]bool { return nil }

// Params are the learned steps, per target tensor.
func (c *lsqQuant) Params() [][]float32 { return c.steps }

// Learn computes each step's gradient Σ g·∂ŵ/∂s (scaled) and zeroes the
// shadow gradient where w/s lies outside the range, at the steps the last
// Project used (the optimizer has not moved them since).
func (c *lsqQuant) Learn(shadow *model.Params, grads [][]float32) [][]float32 {
	src := shadow.Tensors()
	for i, k := range c.idx {
		w, g, groups, inv := src[k].Data, grads[k], c.groups[i], c.inv[i]
		ds := c.sum[i]
		clear(ds)
		j := 0
		lo, hi := int64(-c.q.Qn), int64(c.q.Qp)
		for e, x := range w {
			v := x * inv[j]
			var l, in float32
			if c.q.Binary {
				l, in = signLevel(v)
			} else {
				l, in = intLevel(v, lo, hi)
			}
			ge := g[e]
			ds[j] += float64(ge * (l - v*in)) // ∂ŵ/∂s: q − v inside, q outside
			g[e] = ge * in
			if j++; j == groups {
				j = 0
			}
		}
		for j := range ds {
			c.dsteps[i][j] = float32(ds[j] * c.gscale[i])
		}
	}
	return c.dsteps
}

// learned returns the steps per tensor name.
func (c *lsqQuant) learned() map[string][]float32 {
	out := map[string][]float32{}
	for i, n := range c.names {
		out[n] = append([]float32(nil), c.steps[i]...)
	}
	return out
}
