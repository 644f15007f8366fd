package model

import (
	"math"
	"math/rand"
	"testing"
)

// refGrads is an independent plain-Go forward and backward pass of the mean
// cross-entropy: dz = (softmax(z) − onehot(y))/B, then the chain rule.
func refGrads(p Params, x []float32, y []uint8) (cost float64, g [4][]float64) {
	h := p.Hidden()
	B := len(y)
	g = [4][]float64{make([]float64, Inputs*h), make([]float64, h), make([]float64, h*Classes), make([]float64, Classes)}
	for r := 0; r < B; r++ {
		xr := x[r*Inputs : (r+1)*Inputs]
		z1 := make([]float64, h)
		for j := 0; j < h; j++ {
			s := float64(p.B1.Data[j])
			for i := 0; i < Inputs; i++ {
				s += float64(xr[i]) * float64(p.W1.Data[i*h+j])
			}
			z1[j] = s
		}
		a1 := make([]float64, h)
		for j := range z1 {
			a1[j] = math.Max(z1[j], 0)
		}
		z2 := make([]float64, Classes)
		mx := math.Inf(-1)
		for k := 0; k < Classes; k++ {
			s := float64(p.B2.Data[k])
			for j := 0; j < h; j++ {
				s += a1[j] * float64(p.W2.Data[j*Classes+k])
			}
			z2[k] = s
			mx = math.Max(mx, s)
		}
		var se float64
		for _, v := range z2 {
			se += math.Exp(v - mx)
		}
		cost -= (z2[y[r]] - mx - math.Log(se)) / float64(B)
		dz2 := make([]float64, Classes)
		for k := range dz2 {
			dz2[k] = math.Exp(z2[k]-mx) / se
			if k == int(y[r]) {
				dz2[k]--
			}
			dz2[k] /= float64(B)
			g[3][k] += dz2[k]
		}
		for j := 0; j < h; j++ {
			var da float64
			for k := 0; k < Classes; k++ {
				g[2][j*Classes+k] += a1[j] * dz2[k]
				da += dz2[k] * float64(p.W2.Data[j*Classes+k])
			}
			if z1[j] <= 0 {
				continue
			}
			g[1][j] += da
			for i := 0; i < Inputs; i++ {
				g[0][i*h+j] += float64(xr[i]) * da
			}
		}
	}
	return cost, g
}

// TestGraphGradientsMatchReference checks gorgonia's cost and gradients
// against refGrads on random weights and inputs (tolerance 1e-5 relative to
// the largest gradient entry of each tensor, float32 accumulation).
func TestGraphGradientsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	p := InitGlorot(16, rng)
	for i := range p.B1.Data {
		p.B1.Data[i] = float32(rng.NormFloat64() * 0.1)
	}
	const B = 5
	x := make([]float32, B*Inputs)
	for i := range x {
		x[i] = rng.Float32()
	}
	y := []uint8{3, 0, 9, 3, 7}
	tg, err := newTrainGraph(&p, B, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	idx := []int{0, 1, 2, 3, 4}
	tg.load(x, y, nil, idx)
	cost, _, err := tg.run(y, idx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tg.grads()
	if err != nil {
		t.Fatal(err)
	}
	wantCost, want := refGrads(p, x, y)
	if math.Abs(cost-wantCost) > 1e-5 {
		t.Errorf("cost: graph %v, reference %v", cost, wantCost)
	}
	for k, name := range TensorNames {
		var scale float64
		for _, v := range want[k] {
			scale = math.Max(scale, math.Abs(v))
		}
		for i := range want[k] {
			if d := math.Abs(float64(got[k][i]) - want[k][i]); d > 1e-5*math.Max(scale, 1e-3) {
				t.Fatalf("%s[%d]: graph gradient %v, reference %v (max |g| %v)", name, i, got[k][i], want[k][i], scale)
			}
		}
	}
}
