package training

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"

	"mnistc/model"
)

// refGrads is an independent plain-Go forward and backward pass of the mean
// cross-entropy for a network of any depth, in float64: z_l = a_{l−1}·W_l +
// b_l, a_l = relu(z_l) below the last layer, dz = (softmax(z) − onehot(y))/B
// at the top, then the chain rule. g holds the gradients in checkpoint
// order (w1, b1, …).
func refGrads(p model.Params, x []float32, y []uint8) (cost float64, g [][]float64) {
	B, in := len(y), p.Inputs()
	for _, L := range p.Layers {
		g = append(g, make([]float64, len(L.W.Data)), make([]float64, len(L.B.Data)))
	}
	N := p.Depth()
	for r := 0; r < B; r++ {
		acts := [][]float64{make([]float64, in)} // acts[l]: the input of layer l+1
		for i := range acts[0] {
			acts[0][i] = float64(x[r*in+i])
		}
		var zs [][]float64
		for l, L := range p.Layers {
			a, n := acts[l], L.Out()
			z := make([]float64, n)
			for j := 0; j < n; j++ {
				s := float64(L.B.Data[j])
				for i, ai := range a {
					s += ai * float64(L.W.Data[i*n+j])
				}
				z[j] = s
			}
			zs = append(zs, z)
			next := make([]float64, n)
			for j := range z {
				next[j] = math.Max(z[j], 0)
			}
			acts = append(acts, next)
		}
		z := zs[N-1]
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var se float64
		for _, v := range z {
			se += math.Exp(v - mx)
		}
		cost -= (z[y[r]] - mx - math.Log(se)) / float64(B)
		dz := make([]float64, len(z))
		for k := range dz {
			dz[k] = math.Exp(z[k]-mx) / se
			if k == int(y[r]) {
				dz[k]--
			}
			dz[k] /= float64(B)
		}
		for l := N - 1; l >= 0; l-- {
			L, a, n := p.Layers[l], acts[l], p.Layers[l].Out()
			da := make([]float64, len(a))
			for j := 0; j < n; j++ {
				g[2*l+1][j] += dz[j]
				for i, ai := range a {
					g[2*l][i*n+j] += ai * dz[j]
					da[i] += dz[j] * float64(L.W.Data[i*n+j])
				}
			}
			if l > 0 {
				for i := range da {
					if zs[l-1][i] <= 0 {
						da[i] = 0
					}
				}
			}
			dz = da
		}
	}
	return cost, g
}

// lossAt is the mean cross-entropy of p on (x, y) in float64 (refGrads'
// cost), for finite differences.
func lossAt(p model.Params, x []float32, y []uint8) float64 {
	c, _ := refGrads(p, x, y)
	return c
}

// TestDeepGradientsMatchFiniteDifferences: for 3- and 4-layer networks the
// training graph's gradient of every tensor matches central finite
// differences of the loss (float64 reference, steps 1e-3 and 5e-4 on
// float32 weights), at a sample of entries of each tensor, on sparse MNIST-like
// inputs — and matches the hand-derived reference everywhere.
func TestDeepGradientsMatchFiniteDifferences(t *testing.T) {
	for _, sizes := range [][]int{{784, 24, 16, 10}, {784, 20, 14, 12, 10}} {
		rng := rand.New(rand.NewSource(17))
		p := model.InitGlorot(sizes, rng)
		for _, L := range p.Layers {
			for i := range L.B.Data {
				L.B.Data[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
		const B = 6
		x := make([]float32, B*model.Inputs)
		for i := range x {
			if rng.Float64() < 0.2 {
				x[i] = rng.Float32()
			}
		}
		y := make([]uint8, B)
		idx := make([]int, B)
		for i := range y {
			y[i], idx[i] = uint8(rng.Intn(model.Classes)), i
		}
		tg, err := newTrainGraph(&p, B, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		tg.load(x, y, nil, idx)
		if _, _, err := tg.run(y, idx); err != nil {
			t.Fatal(err)
		}
		got, err := tg.grads()
		if err != nil {
			t.Fatal(err)
		}
		_, ref := refGrads(p, x, y)
		for k, tt := range p.Tensors() {
			var scale float64
			for _, v := range ref[k] {
				scale = math.Max(scale, math.Abs(v))
			}
			for i := range ref[k] {
				if d := math.Abs(float64(got[k][i]) - ref[k][i]); d > 1e-5*math.Max(scale, 1e-3) {
					t.Fatalf("%v %s[%d]: graph %v, reference %v", sizes, tt.Name, i, got[k][i], ref[k][i])
				}
			}
			// finite differences at the entries with the largest gradients and a
			// few random ones
			checked := 0
			for i := 0; i < len(tt.Data) && checked < 12; i++ {
				j := i
				if i >= 6 {
					j = rng.Intn(len(tt.Data))
				} else if math.Abs(ref[k][j]) < 1e-3*scale {
					continue
				}
				checked++
				fd := func(h float32) float64 {
					old := tt.Data[j]
					tt.Data[j] = old + h
					up := lossAt(p, x, y)
					tt.Data[j] = old - h
					down := lossAt(p, x, y)
					tt.Data[j] = old
					return (up - down) / (float64(old+h) - float64(old-h))
				}
				// a step across a ReLU's kink changes the slope: such an entry's
				// two differences disagree, and it is not a test of the gradient
				a, b := fd(1e-3), fd(5e-4)
				if math.Abs(a-b) > 1e-4*math.Max(scale, 1e-2) {
					continue
				}
				if d := math.Abs(b - float64(got[k][j])); d > 1e-3*math.Max(scale, 1e-2) {
					t.Errorf("%v %s[%d]: graph gradient %v, finite difference %v", sizes, tt.Name, j, got[k][j], b)
				}
			}
			if checked == 0 {
				t.Errorf("%v %s: no entry checked", sizes, tt.Name)
			}
		}
	}
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
		sizes   []int
	}{{"dense", 5, 1, sizesOf(16)}, {"sparse", 5, 0.2, sizesOf(16)}, {"sparse-two-parts", 40, 0.2, sizesOf(16)},
		{"deep-dense", 5, 1, sizesOf(16, 12)}, {"deep-sparse", 7, 0.2, sizesOf(16, 12, 8)}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(7))
			p := model.InitGlorot(tc.sizes, rng)
			for i := range p.Layers[0].B.Data {
				p.Layers[0].B.Data[i] = float32(rng.NormFloat64() * 0.1)
			}
			x := make([]float32, tc.B*model.Inputs)
			for i := range x {
				if rng.Float64() < tc.density {
					x[i] = rng.Float32()
				}
			}
			y := make([]uint8, tc.B)
			idx := make([]int, tc.B)
			for i := range y {
				y[i], idx[i] = uint8(rng.Intn(model.Classes)), i
			}
			tg, err := newTrainGraph(&p, tc.B, nil, nil, nil)
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
				for k, name := range model.TensorNames(p.Depth()) {
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
	teacher := model.InitGlorot(sizesOf(16), rng)
	q, _ := SoftTargets(teacher, nil, s, 3)
	aq := &model.ActQuant{Bits: 4, Calib: "test", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 2}}}
	for _, tc := range []struct {
		name string
		d    *model.Distill
		aq   *model.ActQuant
	}{{"plain", nil, nil}, {"distill", &model.Distill{Temperature: 3, Alpha: 0.6}, nil}, {"actquant", nil, aq}} {
		t.Run(tc.name, func(t *testing.T) {
			p := model.InitGlorot(sizesOf(16), rand.New(rand.NewSource(11)))
			tg, err := newTrainGraph(&p, B, tc.d, tc.aq, nil)
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
