package model

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// TestSTEGradients: with the hidden activations a fake-quantized over
// [0, hi] (hi the 75th-percentile activation), the gradient of b1 is the
// straight-through estimator, computed here by hand at the quantized
// forward values h: ∂L/∂b1_j = (W2·(softmax(h·W2 + b2) − y))_j where
// 0 < a_j ≤ hi, and exactly 0 where a_j was clamped (a_j > hi) or the ReLU
// is off.
func TestSTEGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	p := InitGlorot(32, rng)
	for i := range p.B1.Data {
		p.B1.Data[i] = float32(rng.NormFloat64() * 0.1)
	}
	s := randomSet(1, 32)
	acts := HiddenActivations(p, s.X, 1, nil)
	sorted := append([]float32(nil), acts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	hi := sorted[len(sorted)*3/4]
	aq := &ActQuant{Bits: 8, Calib: "test", Input: Range{0, 1}, Hidden: Range{0, hi}}
	q := p.Clone()
	tg, err := newTrainGraph(&q, 1, nil, aq)
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
	aq.quantizeInPlace(x, aq.Input)
	h := HiddenActivations(p, x, 1, nil)
	pre := append([]float32(nil), h...)
	aq.quantizeInPlace(h, aq.Hidden)
	z := make([]float32, Classes)
	for k := range z {
		z[k] = p.B2.Data[k]
		for j := range h {
			z[k] += h[j] * p.W2.Data[j*Classes+k]
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
			for k := 0; k < Classes; k++ {
				d := math.Exp(logSoftmaxAt(z, k))
				if k == int(s.Y[0]) {
					d--
				}
				want += float64(p.W2.Data[j*Classes+k]) * d
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
