package training

import (
	"math"
	"math/rand"
	"testing"

	"mnistc/model"
)

// TestStepQuantLevels checks the quantizers' levels, ranges and step
// derivatives against values worked by hand.
func TestStepQuantLevels(t *testing.T) {
	w2, w1, a2 := WeightStepQuant(2), WeightStepQuant(1), ActStepQuant(2)
	if w2.Qn != 2 || w2.Qp != 1 || w1.Qn != 1 || w1.Qp != 1 || !w1.Binary || a2.Qn != 0 || a2.Qp != 3 {
		t.Fatalf("quantizers %+v %+v %+v", w2, w1, a2)
	}
	cases := []struct {
		q          StepQuant
		x, s       float64
		level, dds float64
		inside     bool
	}{
		{w2, 0.26, 0.1, 1, 1, false},         // above Qp: saturates at 1, ∂/∂s = Qp
		{w2, 0.07, 0.1, 1, 1 - 0.7, true},    // round(0.7) = 1
		{w2, -0.14, 0.1, -1, -1 + 1.4, true}, // round(−1.4) = −1
		{w2, -0.31, 0.1, -2, -2, false},      // below −Qn
		{w2, -0.02, 0.1, 0, 0.2, true},       // a zero level, not −0
		{w1, 0.03, 0.1, 1, 1 - 0.3, true},    // binary: ±1 inside [−1, 1]
		{w1, -0.25, 0.1, -1, -1, false},      // outside: q(v)
		{a2, 0.5, 0.2, 2, 2 - 2.5, true},     // round-half-even: 2.5 → 2
		{a2, 0.9, 0.2, 3, 3, false},          // above 3
		{a2, 0, 0.2, 0, 0, true},             // ReLU zero
	}
	for _, c := range cases {
		l, in := c.q.Level(c.x / c.s)
		if l != c.level || in != c.inside || (l == 0 && math.Signbit(l)) {
			t.Errorf("%+v Level(%v/%v) = %v, %v; want %v, %v", c.q, c.x, c.s, l, in, c.level, c.inside)
		}
		if d := c.q.StepGrad(c.x, c.s); math.Abs(d-c.dds) > 1e-12 {
			t.Errorf("%+v StepGrad(%v, %v) = %v, want %v", c.q, c.x, c.s, d, c.dds)
		}
	}
	if g := w2.GradScale(100); math.Abs(g-0.1) > 1e-15 {
		t.Errorf("GradScale(100) at Qp 1 = %v, want 0.1", g)
	}
	if s := a2.InitStep([]float32{0.3, -0.3, 0.6, 0}); math.Abs(s-2*0.3/math.Sqrt(3)) > 1e-7 {
		t.Errorf("InitStep = %v, want 2·0.3/√3", s)
	}
}

// TestActStepGradient: the graph's gradient of each hidden layer's learned
// activation step equals the finite difference of the loss LSQ
// differentiates — each quantizer replaced by its straight-through
// linearisation at the current point (â = a + s·(q − v) inside the range,
// s·q outside, q and v fixed there) — times the gradient scale
// 1/sqrt(features·Qp); and the activation gradient passes only inside.
func TestActStepGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(41))
	p := model.InitGlorot(sizesOf(16, 8), rng)
	for _, L := range p.Layers {
		for i := range L.B.Data {
			L.B.Data[i] = float32(rng.NormFloat64() * 0.2)
		}
	}
	const B = 6
	s := randomSet(B, 42)
	for i := range s.X {
		if rng.Float64() < 0.7 {
			s.X[i] = 0
		}
	}
	// Ranges well inside the activations' spread, so both regions occur.
	aq := &model.ActQuant{Bits: 2, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 1.2}, {Lo: 0, Hi: 0.9}}}
	steps := newActSteps(aq, p.Depth())
	tg, err := newTrainGraph(&p, B, nil, aq, steps)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4, 5}
	tg.load(s.X, s.Y, nil, idx)
	if _, _, err := tg.run(s.Y, idx); err != nil {
		t.Fatal(err)
	}
	g, _ := tg.grads()
	if len(g) != tg.nw+2 {
		t.Fatalf("%d gradients, want %d weights and 2 steps", len(g), tg.nw)
	}
	x := append([]float32(nil), s.X...)
	aq.QuantizeActivations(x, aq.Range(0))
	base := make([]float64, len(steps.s))
	for l, v := range steps.s {
		base[l] = float64(v[0])
	}
	lin := linearise(p, x, B, steps.q, base)
	counts := [2]int{}
	for l := range base {
		h := 1e-4 * base[l]
		up, down := append([]float64(nil), base...), append([]float64(nil), base...)
		up[l] += h
		down[l] -= h
		fd := (lin.loss(up, s.Y) - lin.loss(down, s.Y)) / (2 * h)
		got := float64(g[tg.nw+l][0]) / steps.q.GradScale(p.Layers[l].Out())
		if math.Abs(got-fd) > 1e-3*math.Max(1e-3, math.Abs(fd)) {
			t.Errorf("layer %d step: graph %v (unscaled), finite difference %v", l+1, got, fd)
		}
		for _, in := range lin.inside[l] {
			if in {
				counts[0]++
			} else {
				counts[1]++
			}
		}
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("%d activations inside and %d outside: the test needs both", counts[0], counts[1])
	}
}

// linearised is a network whose hidden quantizers are replaced by their
// straight-through linearisation at a base point: per activation, inside
// or not, and q − v (inside) or q (outside) there.
type linearised struct {
	p      model.Params
	x      []float32
	n      int
	inside [][]bool
	coef   [][]float64
}

// linearise records, at steps base, each hidden activation's region and
// coefficient (one image after another).
func linearise(p model.Params, x []float32, n int, q StepQuant, base []float64) *linearised {
	lin := &linearised{p: p, x: x, n: n}
	lin.forward(base, func(l, i int, a, s float64) float64 {
		for len(lin.inside) <= l {
			lin.inside, lin.coef = append(lin.inside, nil), append(lin.coef, nil)
		}
		lv, in := q.Level(a / s)
		c := lv
		if in {
			c = lv - a/s
		}
		lin.inside[l], lin.coef[l] = append(lin.inside[l], in), append(lin.coef[l], c)
		return s * lv
	})
	return lin
}

// loss is the mean cross-entropy with the linearised quantizers at steps s.
func (lin *linearised) loss(s []float64, y []uint8) float64 {
	logits := lin.forward(s, func(l, i int, a, st float64) float64 {
		if lin.inside[l][i] {
			return a + st*lin.coef[l][i]
		}
		return st * lin.coef[l][i]
	})
	C := lin.p.Classes()
	var sum float64
	for r := 0; r < lin.n; r++ {
		z := logits[r*C : (r+1)*C]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var se float64
		for _, v := range z {
			se += math.Exp(v - mx)
		}
		sum -= z[y[r]] - mx - math.Log(se)
	}
	return sum / float64(lin.n)
}

// forward runs the network in float64, passing each hidden ReLU output
// through quant(layer, index within the layer's outputs, a, step).
func (lin *linearised) forward(s []float64, quant func(l, i int, a, s float64) float64) []float64 {
	in := lin.p.Inputs()
	a := make([]float64, lin.n*in)
	for i, v := range lin.x[:lin.n*in] {
		a[i] = float64(v)
	}
	last := lin.p.Depth() - 1
	for l, L := range lin.p.Layers {
		k, m := L.In(), L.Out()
		z := make([]float64, lin.n*m)
		for r := 0; r < lin.n; r++ {
			for j := 0; j < m; j++ {
				v := float64(L.B.Data[j])
				for i := 0; i < k; i++ {
					v += a[r*k+i] * float64(L.W.Data[i*m+j])
				}
				if l < last {
					v = quant(l, r*m+j, math.Max(0, v), s[l])
				}
				z[r*m+j] = v
			}
		}
		a = z
	}
	return a
}
