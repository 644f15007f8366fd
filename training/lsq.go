package training

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"mnistc/model"
)

// StepQuant is a uniform quantizer whose step size s is learned with the
// network (LSQ, Esser et al. 2020): v = x/s, q(v) = clamp(round(v), −Qn,
// Qp), x̂ = s·q(v). Its derivatives, as the paper defines them:
//
//	∂x̂/∂x = 1 where −Qn ≤ v ≤ Qp, else 0 (the straight-through estimator);
//	∂x̂/∂s = q(v) − v where −Qn ≤ v ≤ Qp, else −Qn or Qp;
//
// and the step's gradient is scaled by g = 1/sqrt(N·Qp) (N the weights
// sharing the step, or the features of an activation), so that steps and
// weights learn at comparable relative rates.
//
// Binary is the 1-bit case: the levels are ±1 (x̂ = ±s), v inside [−1, 1]
// passes the gradient, and ∂x̂/∂s = q(v) − v inside, q(v) outside — the
// same rule on the grid of odd integers.
type StepQuant struct {
	Qn, Qp int
	Binary bool
}

// WeightStepQuant is LSQ's signed quantizer for b-bit weights: the levels
// −2^(b−1) … 2^(b−1)−1 (four at 2 bits: −2s, −s, 0, s), and ±s at 1 bit.
// All 2^b levels fit in b-bit codes.
func WeightStepQuant(bits int) StepQuant {
	if bits <= 1 {
		return StepQuant{Qn: 1, Qp: 1, Binary: true}
	}
	return StepQuant{Qn: 1 << (bits - 1), Qp: 1<<(bits-1) - 1}
}

// ActStepQuant is LSQ's unsigned quantizer for b-bit activations (ReLU
// outputs): the levels 0 … 2^b−1.
func ActStepQuant(bits int) StepQuant { return StepQuant{Qn: 0, Qp: 1<<bits - 1} }

// Level returns q(v), the integer level of v = x/s, and whether v lies
// inside the quantizer's range (where the gradient passes).
func (q StepQuant) Level(v float64) (level float64, inside bool) {
	lo, hi := float64(-q.Qn), float64(q.Qp)
	inside = v >= lo && v <= hi
	if q.Binary {
		if v < 0 {
			return -1, inside
		}
		return 1, inside
	}
	level = math.RoundToEven(v)
	if level < lo {
		level = lo
	} else if level > hi {
		level = hi
	}
	// + 0 turns a −0 (round(−0.3)) into +0: a grid level has no sign of zero
	return level + 0, inside
}

// GradScale is g = 1/sqrt(n·Qp) for a step shared by n values.
func (q StepQuant) GradScale(n int) float64 {
	return 1 / math.Sqrt(float64(max(1, n))*float64(max(1, q.Qp)))
}

// InitStep is the paper's initial step, 2⟨|x|⟩/sqrt(Qp) (0 for all-zero x).
func (q StepQuant) InitStep(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += math.Abs(float64(v))
	}
	if len(x) == 0 {
		return 0
	}
	return 2 * sum / float64(len(x)) / math.Sqrt(float64(max(1, q.Qp)))
}

// MSEStep returns the step, among 200 multiples k/100 (k = 1…200) of
// max|x|/Qp, whose quantization of x has the least squared error (0 for
// all-zero x).
func (q StepQuant) MSEStep(x []float32) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return 0
	}
	base := m / float64(max(1, q.Qp))
	best, bestErr := base, math.Inf(1)
	for k := 1; k <= 200; k++ {
		s := base * float64(k) / 100
		var e float64
		for _, v := range x {
			l, _ := q.Level(float64(v) / s)
			d := float64(v) - s*l
			e += d * d
		}
		if e < bestErr {
			best, bestErr = s, e
		}
	}
	return best
}

// StepGrad returns ∂x̂/∂s at x for step s: q(v) − v inside, q(v) outside.
func (q StepQuant) StepGrad(x, s float64) float64 {
	v := x / s
	l, in := q.Level(v)
	if in {
		return l - v
	}
	return l
}

// Quantize writes s·q(x/s) of each src into dst, in float32 as a packed
// grid stores it (float32 step times an integer level), and reports per
// entry whether it lay inside the range (inside may be nil).
func (q StepQuant) Quantize(dst, src []float32, s float32, inside []bool) {
	for i, x := range src {
		l, in := q.Level(float64(x) / float64(s))
		dst[i] = s * float32(l)
		if inside != nil {
			inside[i] = in
		}
	}
}

// actStepRange is the activation range [0, s·Qp] that model.ActQuant
// quantizes over with the same levels: the evaluator's rule, so training
// and evaluation agree bit for bit.
func actStepRange(s float32, qp int) model.Range { return model.Range{Lo: 0, Hi: s * float32(qp)} }

// ---- graph ops: activation quantization with a learned step ----

// lsqAct fake-quantizes a layer's ReLU output with the step held in a 1×1
// node: the forward pass is model.ActQuant's rule over [0, s·Qp], so the
// network evaluates as it trains; its derivatives are LSQ's (lsqActGrad,
// lsqActStepGrad).
type lsqAct struct {
	aq  *model.ActQuant
	q   StepQuant
	out owned
}

func (*lsqAct) Arity() int                { return 2 }
func (*lsqAct) Type() hm.Type             { return fnType(2, false) }
func (*lsqAct) ReturnsPtr() bool          { return false }
func (*lsqAct) CallsExtern() bool         { return false }
func (*lsqAct) OverwritesInput() int      { return -1 }
func (op *lsqAct) WriteHash(h hash.Hash)  { fmt.Fprintf(h, "mnistc.lsqAct(%d)", op.q.Qp) }
func (op *lsqAct) Hashcode() uint32       { return hashOf(op) }
func (op *lsqAct) String() string         { return fmt.Sprintf("lsqAct[0,%d·s]", op.q.Qp) }
func (*lsqAct) DiffWRT(inputs int) []bool { return []bool{true, true} }
func (*lsqAct) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *lsqAct) Do(v ...G.Value) (G.Value, error) {
	a, ok1 := v[0].Data().([]float32)
	s, ok2 := v[1].Data().([]float32)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("lsqAct takes float32")
	}
	t, out := op.out.get(v[0].Shape()...)
	copy(out, a)
	op.aq.QuantizeActivations(out, actStepRange(s[0], op.q.Qp))
	return t, nil
}

func (op *lsqAct) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&lsqActGrad{q: op.q, aq: op.aq}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	ds, err := G.ApplyOp(&lsqActGrad{q: op.q, aq: op.aq, step: true}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, ds}, nil
}

// lsqActGrad is one of lsqAct's derivatives, from (a, s, g): with step
// unset the STE, g where a lies inside [0, s·Qp], else 0; with step set
// the 1×1 step gradient GradScale(features)·Σ g·∂x̂/∂s over the batch.
// Both read v = a/scale with the evaluator's scale (range/levels).
type lsqActGrad struct {
	q    StepQuant
	aq   *model.ActQuant
	step bool
	out  owned
}

func (*lsqActGrad) Arity() int           { return 3 }
func (*lsqActGrad) Type() hm.Type        { return fnType(3, false) }
func (*lsqActGrad) ReturnsPtr() bool     { return false }
func (*lsqActGrad) CallsExtern() bool    { return false }
func (*lsqActGrad) OverwritesInput() int { return -1 }
func (op *lsqActGrad) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "mnistc.lsqActGrad(%d,%v)", op.q.Qp, op.step)
}
func (op *lsqActGrad) Hashcode() uint32 { return hashOf(op) }
func (op *lsqActGrad) String() string {
	if op.step {
		return "∂lsqAct/∂s"
	}
	return "∂lsqAct/∂a"
}
func (op *lsqActGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.step {
		return tensor.Shape{1, 1}, nil
	}
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *lsqActGrad) Do(v ...G.Value) (G.Value, error) {
	a, ok1 := v[0].Data().([]float32)
	s, ok2 := v[1].Data().([]float32)
	g, ok3 := v[2].Data().([]float32)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("lsqActGrad takes float32")
	}
	r := actStepRange(s[0], op.q.Qp)
	scale := float64(r.Hi / float32(op.q.Qp)) // as model.ActQuant computes it
	if op.step {
		t, out := op.out.get(1, 1)
		var sum float64
		if scale > 0 {
			for i, x := range a {
				if g[i] != 0 {
					sum += float64(g[i]) * op.q.StepGrad(float64(x), scale)
				}
			}
		}
		features := v[0].Shape()[1]
		out[0] = float32(sum * op.q.GradScale(features))
		return t, nil
	}
	t, out := op.out.get(v[0].Shape()...)
	for i, x := range a {
		out[i] = 0
		if x >= r.Lo && x <= r.Hi {
			out[i] = g[i]
		}
	}
	return t, nil
}

// actSteps are the learned steps of the hidden activations: one 1×1
// tensor per hidden layer, shared by the graphs of a run (full and last
// batch) and updated by the optimizer with the weights. aq is the run's
// own copy of the activation quantizer, its hidden ranges kept equal to
// [0, s·Qp] after every step, so per-epoch evaluation and the result
// quantize as the graph does.
type actSteps struct {
	q  StepQuant
	aq *model.ActQuant
	s  [][]float32 // per hidden layer l ≥ 1 (index l−1), one value
}

// newActSteps starts each hidden layer's step from its calibrated range,
// s = hi/Qp (the range as the post-training chain ends with it); a run
// then sets them from the training images (initMSE).
func newActSteps(aq *model.ActQuant, depth int) *actSteps {
	c := *aq
	c.Ranges = append([]model.Range(nil), aq.Ranges...)
	a := &actSteps{q: ActStepQuant(aq.Bits), aq: &c}
	for l := 1; l < depth; l++ {
		s := float64(c.Range(l).Hi) / float64(a.q.Qp)
		a.s = append(a.s, []float32{float32(math.Max(s, minStep))})
	}
	a.sync()
	return a
}

// actInitImages bounds the training images whose activations set the
// initial steps.
const actInitImages = 1000

// initMSE sets each hidden layer's step, first layer first, to the one
// whose quantization of that layer's activations on the first images of x
// has the least squared error (the layers below quantized with their new
// steps): a calibrated range at 2 bits (min/max) is far wider than the
// activations' bulk, and Adam moves a step by about the learning rate per
// update, too slowly to shrink it in a fine-tuning run.
func (a *actSteps) initMSE(p model.Params, x []float32, n int) {
	n = min(n, actInitImages)
	for l := range a.s {
		acts := model.Activations(p, x[:n*p.Inputs()], n, a.aq, l+1)
		if s := a.q.MSEStep(acts); s > 0 {
			a.s[l][0] = float32(s)
		}
		a.sync()
	}
}

// minStep keeps a learned step positive.
const minStep = 1e-6

// sync clamps every step positive and writes the ranges.
func (a *actSteps) sync() {
	for i, s := range a.s {
		if !(s[0] >= minStep) {
			s[0] = minStep
		}
		a.aq.Ranges[i+1] = actStepRange(s[0], a.q.Qp)
	}
}
