package training

import (
	"math"
	"math/rand"
	"sort"
	"testing"

	"mnistc/model"
)

// TestSTEGradients: with the hidden activations a fake-quantized over
// [0, hi] (hi the 75th-percentile activation), the gradient of b1 is the
// straight-through estimator, computed here by hand at the quantized
// forward values h: ∂L/∂b1_j = (W2·(softmax(h·W2 + b2) − y))_j where
// 0 < a_j ≤ hi, and exactly 0 where a_j was clamped (a_j > hi) or the ReLU
// is off.
func TestSTEGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	p := model.InitGlorot(sizesOf(32), rng)
	for i := range p.Layers[0].B.Data {
		p.Layers[0].B.Data[i] = float32(rng.NormFloat64() * 0.1)
	}
	s := randomSet(1, 32)
	acts := model.Activations(p, s.X, 1, nil, 1)
	sorted := append([]float32(nil), acts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	hi := sorted[len(sorted)*3/4]
	aq := &model.ActQuant{Bits: 8, Calib: "test", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: hi}}}
	q := p.Clone()
	tg, err := newTrainGraph(&q, 1, nil, aq, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.load(s.X, s.Y, nil, []int{0})
	if _, _, err := tg.run(s.Y, []int{0}); err != nil {
		t.Fatal(err)
	}
	g, _ := tg.grads()
	// The reference, at the quantized forward values (the input is quantized
	// as the graph loads it).
	x := append([]float32(nil), s.X...)
	aq.QuantizeActivations(x, aq.Range(0))
	h := model.Activations(p, x, 1, nil, 1)
	pre := append([]float32(nil), h...)
	aq.QuantizeActivations(h, aq.Range(1))
	z := make([]float32, model.Classes)
	for k := range z {
		z[k] = p.Layers[1].B.Data[k]
		for j := range h {
			z[k] += h[j] * p.Layers[1].W.Data[j*model.Classes+k]
		}
	}
	inside, outside := 0, 0
	for j, a := range pre {
		var want float64
		switch {
		case a > hi:
			outside++
		case a > 0:
			inside++
			for k := 0; k < model.Classes; k++ {
				d := math.Exp(logSoftmaxAt(z, k))
				if k == int(s.Y[0]) {
					d--
				}
				want += float64(p.Layers[1].W.Data[j*model.Classes+k]) * d
			}
		}
		if math.Abs(float64(g[1][j])-want) > 1e-5 || (want == 0 && g[1][j] != 0) {
			t.Errorf("unit %d (a %v, range [0, %v]): ∂L/∂b1 %v, STE by hand %v", j, a, hi, g[1][j], want)
		}
	}
	if inside == 0 || outside == 0 {
		t.Fatalf("%d units inside and %d clamped: the test needs both", inside, outside)
	}
}
