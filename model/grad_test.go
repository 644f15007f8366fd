package model

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
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

// TestGraphGradientsMatchReference checks the graph's cost and gradients
// against refGrads on random weights, on dense random inputs (the BLAS
// path) and on sparse ones (the non-zero kernels: a fifth of the pixels
// set, as in MNIST), in batches that one and two goroutines share
// (tolerance 1e-5 relative to the largest gradient entry of each tensor,
// float32 accumulation).
func TestGraphGradientsMatchReference(t *testing.T) {
	for _, tc := range []struct {
		name    string
		B       int
		density float64
	}{{"dense", 5, 1}, {"sparse", 5, 0.2}, {"sparse-two-parts", 40, 0.2}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(7))
			p := InitGlorot(16, rng)
			for i := range p.B1.Data {
				p.B1.Data[i] = float32(rng.NormFloat64() * 0.1)
			}
			x := make([]float32, tc.B*Inputs)
			for i := range x {
				if rng.Float64() < tc.density {
					x[i] = rng.Float32()
				}
			}
			y := make([]uint8, tc.B)
			idx := make([]int, tc.B)
			for i := range y {
				y[i], idx[i] = uint8(rng.Intn(Classes)), i
			}
			tg, err := newTrainGraph(&p, tc.B, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for step := 0; step < 2; step++ { // the second step reuses every buffer
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
							t.Fatalf("step %d %s[%d]: graph gradient %v, reference %v (max |g| %v)", step, name, i, got[k][i], want[k][i], scale)
						}
					}
					for i := range got[k] { // dirty the buffers as Adam does
						got[k][i] = 7
					}
				}
			}
		})
	}
}

// TestStepMachineMatchesTapeMachine: the graph run by gorgonia's tape
// machine and by stepMachine gives the same cost, logits and gradients, bit
// for bit, with and without distillation and activation quantization.
func TestStepMachineMatchesTapeMachine(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	const B = 6
	s := randomSet(B, 10)
	for i := range s.X { // MNIST-like: most pixels blank
		if rng.Float64() < 0.8 {
			s.X[i] = 0
		}
	}
	teacher := InitGlorot(16, rng)
	q, _ := SoftTargets(teacher, s, 3)
	aq := &ActQuant{Bits: 4, Calib: "test", Input: Range{0, 1}, Hidden: Range{0, 2}}
	for _, tc := range []struct {
		name string
		d    *Distill
		aq   *ActQuant
	}{{"plain", nil, nil}, {"distill", &Distill{Temperature: 3, Alpha: 0.6}, nil}, {"actquant", nil, aq}} {
		t.Run(tc.name, func(t *testing.T) {
			p := InitGlorot(16, rand.New(rand.NewSource(11)))
			tg, err := newTrainGraph(&p, B, tc.d, tc.aq)
			if err != nil {
				t.Fatal(err)
			}
			idx := []int{0, 1, 2, 3, 4, 5}
			tg.load(s.X, s.Y, q, idx)
			if _, _, err := tg.run(s.Y, idx); err != nil {
				t.Fatal(err)
			}
			ours := map[*G.Node][]float32{}
			for _, n := range append([]*G.Node{tg.cost, tg.logits}, tg.dw...) {
				ours[n] = append([]float32(nil), floats(tg.m.value(n))...)
			}
			vm := G.NewTapeMachine(tg.g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for n, want := range ours {
				got := floats(n.Value())
				if len(got) != len(want) {
					t.Fatalf("%v: %d values from the tape machine, %d from stepMachine", n, len(got), len(want))
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v[%d]: tape machine %v, stepMachine %v", n, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// floats returns a gorgonia value's float32 data, a scalar as one entry.
func floats(v G.Value) []float32 {
	switch d := v.Data().(type) {
	case float32:
		return []float32{d}
	case []float32:
		return d
	}
	return nil
}
