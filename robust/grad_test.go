package robust

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"mnistc/model"
)

// archs are the networks the gradient tests cover: one, two and three
// hidden layers, MNIST's 784 inputs (small widths keep the tests fast).
var archs = [][]int{{784, 24, 10}, {784, 24, 16, 10}, {784, 20, 16, 12, 10}}

// testImages returns n images: the first half MNIST-like (about 80 % of
// pixels zero: the sparse first layer), the rest dense (the GEMM), with
// pixels exactly 0 and 1 among them.
func testImages(n, in int, rng *rand.Rand) ([]float32, []uint8) {
	x := make([]float32, n*in)
	y := make([]uint8, n)
	for i := 0; i < n; i++ {
		y[i] = uint8(rng.Intn(10))
		for j := 0; j < in; j++ {
			v := rng.Float32()
			switch {
			case i < n/2 && rng.Float32() < 0.8:
				v = 0
			case rng.Float32() < 0.05:
				v = 1
			}
			x[i*in+j] = v
		}
	}
	return x, y
}

// randomNet returns Glorot weights with random biases (so that ReLU units
// are both on and off).
func randomNet(sizes []int, seed int64) model.Params {
	rng := rand.New(rand.NewSource(seed))
	p := model.InitGlorot(sizes, rng)
	for _, l := range p.Layers {
		for i := range l.B.Data {
			l.B.Data[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	return p
}

// refLoss is an independent float64 forward pass: the cross-entropy of one
// image, with aq's quantizers applied (on the float32 rounding of each
// value, as the network sees them).
func refLoss(p model.Params, aq *model.ActQuant, x []float64, y int) float64 {
	a := x
	for l, L := range p.Layers {
		if aq != nil {
			a = quant64(aq, a, l)
		}
		out := make([]float64, L.Out())
		for j := range out {
			s := float64(L.B.Data[j])
			for i, v := range a {
				s += v * float64(L.W.Data[i*L.Out()+j])
			}
			out[j] = s
		}
		if l < p.Depth()-1 {
			for j, v := range out {
				out[j] = math.Max(v, 0)
			}
		}
		a = out
	}
	mx := math.Inf(-1)
	for _, v := range a {
		mx = math.Max(mx, v)
	}
	var s float64
	for _, v := range a {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s) - a[y]
}

func quant64(aq *model.ActQuant, a []float64, l int) []float64 {
	v := make([]float32, len(a))
	for i, x := range a {
		v[i] = float32(x)
	}
	aq.QuantizeActivations(v, aq.Range(l))
	out := make([]float64, len(a))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Input gradients match central finite differences of the float64
// reference loss, on every architecture, for sparse and dense images, with
// a batch smaller than n (chunking).
func TestInputGradFiniteDifferences(t *testing.T) {
	for k, sizes := range archs {
		t.Run(model.ArchName(sizes), func(t *testing.T) {
			p := randomNet(sizes, int64(k+1))
			rng := rand.New(rand.NewSource(7))
			const n = 6
			x, y := testImages(n, sizes[0], rng)
			grad := make([]float32, len(x))
			a := NewAttacker(p, nil, 4)
			loss := a.InputGrad(grad, x, y, n)
			var refSum float64
			in := sizes[0]
			for i := 0; i < n; i++ {
				img := make([]float64, in)
				for j := range img {
					img[j] = float64(x[i*in+j])
				}
				refSum += refLoss(p, nil, img, int(y[i]))
				for _, j := range rng.Perm(in)[:40] {
					const h = 1e-5
					old := img[j]
					img[j] = old + h
					up := refLoss(p, nil, img, int(y[i]))
					img[j] = old - h
					down := refLoss(p, nil, img, int(y[i]))
					img[j] = old
					fd := (up - down) / (2 * h)
					g := float64(grad[i*in+j])
					if math.Abs(g-fd) > 1e-4+1e-3*math.Abs(fd) {
						t.Errorf("image %d pixel %d: gradient %.7g, finite difference %.7g", i, j, g, fd)
					}
				}
			}
			if math.Abs(loss-refSum) > 1e-4*refSum {
				t.Errorf("summed loss %.7g, reference %.7g", loss, refSum)
			}
		})
	}
}

// refSTEGrad is the stated straight-through estimator, written out in
// float64 for one image: the quantized forward pass, then a backward pass
// in which each quantizer passes the gradient where its input lies in
// [Lo, Hi] and stops it elsewhere, and ReLU passes it where its input is
// > 0.
func refSTEGrad(p model.Params, aq *model.ActQuant, x []float64, y int) []float64 {
	var raws, zs [][]float64 // raws[l]: layer l's input before its quantizer
	a := x
	for l, L := range p.Layers {
		raws = append(raws, a)
		a = quant64(aq, a, l)
		z := make([]float64, L.Out())
		for j := range z {
			s := float64(L.B.Data[j])
			for i, v := range a {
				s += v * float64(L.W.Data[i*L.Out()+j])
			}
			z[j] = s
		}
		zs = append(zs, z)
		a = make([]float64, len(z))
		for j, v := range z {
			a[j] = math.Max(v, 0)
		}
	}
	logits := zs[len(zs)-1]
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(v - mx)
	}
	dz := make([]float64, len(logits))
	for j, v := range logits {
		dz[j] = math.Exp(v-mx) / s
	}
	dz[y]--
	for l := p.Depth() - 1; l >= 0; l-- {
		L := p.Layers[l]
		r := aq.Range(l)
		da := make([]float64, L.In())
		for i := range da {
			if raw := raws[l][i]; raw < float64(r.Lo) || raw > float64(r.Hi) {
				continue // clamped: the STE stops the gradient
			}
			for j, d := range dz {
				da[i] += d * float64(L.W.Data[i*L.Out()+j])
			}
			if l > 0 && zs[l-1][i] <= 0 {
				da[i] = 0 // ReLU off
			}
		}
		dz = da
	}
	return dz
}

// With activation quantization, gradients are the straight-through
// estimator as stated, on every architecture, with ranges narrow enough
// that some pixels and hidden units are clamped (their gradient is zero).
func TestInputGradSTE(t *testing.T) {
	for k, sizes := range archs {
		for _, bits := range []int{2, 8} {
			t.Run(fmt.Sprintf("%s/%dbit", model.ArchName(sizes), bits), func(t *testing.T) {
				p := randomNet(sizes, int64(k+1))
				aq := &model.ActQuant{Bits: bits, Calib: "minmax", Ranges: []model.Range{{Lo: 0.1, Hi: 0.9}}}
				for range sizes[1 : len(sizes)-1] {
					aq.Ranges = append(aq.Ranges, model.Range{Lo: 0, Hi: 0.5})
				}
				if err := aq.Validate(p.Depth()); err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewSource(3))
				const n = 4
				in := sizes[0]
				x, y := testImages(n, in, rng)
				grad := InputGrad(p, aq, x, y, n)
				var stopped, passed int
				for i := 0; i < n; i++ {
					img := make([]float64, in)
					for j := range img {
						img[j] = float64(x[i*in+j])
					}
					ref := refSTEGrad(p, aq, img, int(y[i]))
					for j, want := range ref {
						g := float64(grad[i*in+j])
						if math.Abs(g-want) > 1e-5+1e-4*math.Abs(want) {
							t.Fatalf("image %d pixel %d: gradient %.7g, STE reference %.7g", i, j, g, want)
						}
						if v := x[i*in+j]; v < 0.1 || v > 0.9 {
							stopped++
							if g != 0 {
								t.Fatalf("image %d pixel %d = %v outside the input range [0.1, 0.9]: gradient %v, want 0", i, j, v, g)
							}
						} else if g != 0 {
							passed++
						}
					}
				}
				if stopped == 0 || passed == 0 {
					t.Fatalf("%d pixels stopped, %d passed: the test does not exercise the STE", stopped, passed)
				}
			})
		}
	}
}
