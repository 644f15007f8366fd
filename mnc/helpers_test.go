package mnc_test

import (
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"mnistc/model"
)

// The tests build their compressed networks here rather than with package
// compress: the values the file format sees are the point (grids s·k made
// in float32, codebooks, zeros), and this keeps mnc's tests independent of
// the passes' code.

// archs are the networks the tests pack: the article's shape (narrower, to
// stay fast), and a three- and a four-layer one.
var archs = [][]int{{784, 32, 10}, {784, 40, 30, 10}, {784, 32, 24, 16, 10}}

// glorot returns Glorot weights of the given sizes with non-zero biases, as
// after training.
func glorot(sizes []int, seed int64) model.Params {
	p := model.InitGlorot(sizes, rand.New(rand.NewSource(seed)))
	for l, d := range p.Layers {
		for i := range d.B.Data {
			d.B.Data[i] = float32((i+l)%7) * 0.01
		}
	}
	return p
}

// step is one compression step over every weight tensor (biases stay
// float32, as the passes leave them); spec names it as the passes would.
type step struct {
	spec  string
	apply func(w *model.Tensor)
}

// compressed returns Glorot weights of the sizes after the steps, as a
// checkpoint whose source names them.
func compressed(t testing.TB, sizes []int, steps ...step) model.Checkpoint {
	t.Helper()
	p := glorot(sizes, 7)
	var names []string
	for _, s := range steps {
		for l := range p.Layers {
			s.apply(&p.Layers[l].W)
		}
		names = append(names, s.spec)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return model.Checkpoint{Params: p, Meta: model.Meta{Source: "test " + model.ArchName(sizes) + " " + strings.Join(names, " ")}}
}

// prune keeps the keep fraction of entries of largest magnitude.
func prune(keep float64) step {
	return step{spec: "prune", apply: func(w *model.Tensor) {
		order := make([]int, len(w.Data))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return abs32(w.Data[order[a]]) > abs32(w.Data[order[b]]) })
		for _, i := range order[int(math.Round(keep*float64(len(order)))):] {
			w.Data[i] = 0
		}
	}}
}

// pruneUnits zeroes whole output columns (every third unit), as pruning
// neurons leaves a weight matrix.
func pruneUnits() step {
	return step{spec: "prune:method=neuron", apply: func(w *model.Tensor) {
		out := w.Shape[1]
		for i := range w.Data {
			if (i%out)%3 == 1 {
				w.Data[i] = 0
			}
		}
	}}
}

// columns calls f with the indices of each group: one per output column
// when perChannel, else one for the whole tensor.
func columns(w *model.Tensor, perChannel bool, f func(idx []int)) {
	out := w.Shape[1]
	if !perChannel {
		idx := make([]int, len(w.Data))
		for i := range idx {
			idx[i] = i
		}
		f(idx)
		return
	}
	for j := 0; j < out; j++ {
		var idx []int
		for i := j; i < len(w.Data); i += out {
			idx = append(idx, i)
		}
		f(idx)
	}
}

// symmetric puts each group on levels s·k, |k| ≤ 2^(b−1)−1, s = max|w|/that,
// computed in float32 as the quantizers do (zeros stay zeros).
func symmetric(bits int, perChannel bool) step {
	return step{spec: "quantize:symmetric", apply: func(w *model.Tensor) {
		qmax := float64(int(1)<<(bits-1) - 1)
		columns(w, perChannel, func(idx []int) {
			m := 0.0
			for _, i := range idx {
				m = math.Max(m, float64(abs32(w.Data[i])))
			}
			if m == 0 {
				return
			}
			s := float32(m / qmax)
			for _, i := range idx {
				k := math.RoundToEven(float64(w.Data[i] / s))
				w.Data[i] = s * float32(int(k)) // int: −0 becomes +0
			}
		})
	}}
}

// affine puts each group on 2^b levels s·k, k from round(min/s), s spanning
// the group's [min, max].
func affine(bits int, perChannel bool) step {
	return step{spec: "quantize:affine", apply: func(w *model.Tensor) {
		columns(w, perChannel, func(idx []int) {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, i := range idx {
				lo, hi = math.Min(lo, float64(w.Data[i])), math.Max(hi, float64(w.Data[i]))
			}
			if hi <= lo {
				return
			}
			s := float32((hi - lo) / float64(int(1)<<bits-1))
			k0 := math.Round(lo / float64(s))
			for _, i := range idx {
				k := math.Min(math.Max(math.RoundToEven(float64(w.Data[i]/s)), k0), k0+float64(int(1)<<bits-1))
				w.Data[i] = s * float32(int(k))
			}
		})
	}}
}

// codebook maps each non-zero entry of a group to the nearest of 2^b
// centroids spread over its range (what k-means leaves: arbitrary floats).
func codebook(bits int, perChannel bool) step {
	return step{spec: "quantize:kmeans", apply: func(w *model.Tensor) {
		columns(w, perChannel, func(idx []int) {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, i := range idx {
				lo, hi = math.Min(lo, float64(w.Data[i])), math.Max(hi, float64(w.Data[i]))
			}
			k := int(1) << bits
			cent := make([]float32, k)
			for c := range cent {
				cent[c] = float32(lo + (hi-lo)*(float64(c)+0.37)/float64(k)*(1+1e-3*math.Sqrt(float64(c))))
			}
			for _, i := range idx {
				if w.Data[i] == 0 {
					continue
				}
				best := 0
				for c := range cent {
					if abs32(w.Data[i]-cent[c]) < abs32(w.Data[i]-cent[best]) {
						best = c
					}
				}
				w.Data[i] = cent[best]
			}
		})
	}}
}

// binary: sign(w)·mean|w| per tensor; ternary: 0 below a threshold, else
// sign(w)·a.
func binarize() step {
	return step{spec: "quantize:bits=1", apply: func(w *model.Tensor) {
		m := 0.0
		for _, v := range w.Data {
			m += float64(abs32(v))
		}
		a := float32(m / float64(len(w.Data)))
		for i, v := range w.Data {
			if v < 0 {
				w.Data[i] = -a
			} else if v > 0 {
				w.Data[i] = a
			}
		}
	}}
}

func ternary() step {
	return step{spec: "quantize:ternary", apply: func(w *model.Tensor) {
		m := 0.0
		for _, v := range w.Data {
			m = math.Max(m, float64(abs32(v)))
		}
		a, t := float32(0.6*m), float32(0.3*m)
		for i, v := range w.Data {
			switch {
			case v > t:
				w.Data[i] = a
			case v < -t:
				w.Data[i] = -a
			default:
				w.Data[i] = 0
			}
		}
	}}
}

// clip bounds |w| by th, leaving float32 values.
func clip(th float32) step {
	return step{spec: "clip", apply: func(w *model.Tensor) {
		for i, v := range w.Data {
			w.Data[i] = max(-th, min(th, v))
		}
	}}
}

var chains = [][]step{
	nil,
	{symmetric(8, true)},
	{symmetric(8, false)},
	{symmetric(4, true)},
	{affine(8, true)},
	{affine(3, false)},
	{binarize()},
	{ternary()},
	{codebook(3, false)},
	{codebook(2, true)},
	{prune(0.5)},
	{prune(0.05)},
	{prune(0.1), symmetric(4, true)},
	{prune(0.02), codebook(5, false)},
	{pruneUnits()},
	{clip(0.05)},
	{prune(0.1), binarize()},
	{symmetric(16, true)},
	{prune(0.3), affine(12, false)},
}

func chainName(sizes []int, chain []step) string {
	var names []string
	for _, s := range chain {
		names = append(names, s.spec)
	}
	return model.ArchName(sizes) + " " + strings.Join(names, " → ")
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// sameBits reports the first tensor entry that differs in its bits.
func sameBits(t testing.TB, what string, want, have model.Params) {
	t.Helper()
	if !slices.Equal(want.Sizes(), have.Sizes()) {
		t.Fatalf("%s: sizes %v, want %v", what, have.Sizes(), want.Sizes())
	}
	w, h := want.Tensors(), have.Tensors()
	for i := range w {
		if w[i].Name != h[i].Name || !slices.Equal(w[i].Shape, h[i].Shape) {
			t.Fatalf("%s: tensor %s %v came back as %s %v", what, w[i].Name, w[i].Shape, h[i].Name, h[i].Shape)
		}
		for j := range w[i].Data {
			if math.Float32bits(w[i].Data[j]) != math.Float32bits(h[i].Data[j]) {
				t.Fatalf("%s: %s[%d] = %v after the round trip, was %v", what, w[i].Name, j, h[i].Data[j], w[i].Data[j])
			}
		}
	}
}
