package infer

import (
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
)

// The tests compress their networks by hand rather than with package
// compress: what the evaluator sees is the point (grids s·k made in
// float32, codebooks, zeros), and this keeps infer's tests independent of
// the passes' code.

var testSet = sync.OnceValues(func() (data.Set, error) {
	dir, err := data.DefaultDir()
	if err != nil {
		return data.Set{}, err
	}
	_, test, err := data.Load(dir)
	return test, err
})

func mnist(t testing.TB) data.Set {
	s, err := testSet()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// step is one compression step over every weight tensor (biases stay
// float32, as the passes leave them).
type step struct {
	spec  string
	apply func(w *model.Tensor)
}

func chainName(sizes []int, chain []step) string {
	var names []string
	for _, s := range chain {
		names = append(names, s.spec)
	}
	return model.ArchName(sizes) + " " + strings.Join(names, " → ")
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

// thin keeps one entry in n wherever it falls (not the largest, as prune
// does), so the kept values span the whole range.
func thin(n int) step {
	return step{spec: "prune:method=random", apply: func(w *model.Tensor) {
		for i := range w.Data {
			if (i*7919)%n != 0 {
				w.Data[i] = 0
			}
		}
	}}
}

// groups calls f with the indices of each quantization group: one per
// output column when perChannel, else the whole tensor.
func groups(w *model.Tensor, perChannel bool, f func(idx []int)) {
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

// symmetric puts each group on levels s·k, |k| ≤ 2^(b−1)−1, s = max|w|/that
// in float32, as the quantizers do.
func symmetric(bits int, perChannel bool) step {
	return step{spec: "quantize:bits=" + strconv.Itoa(bits), apply: func(w *model.Tensor) {
		qmax := float64(int(1)<<(bits-1) - 1)
		groups(w, perChannel, func(idx []int) {
			m := 0.0
			for _, i := range idx {
				m = math.Max(m, float64(abs32(w.Data[i])))
			}
			if m > 0 {
				onGrid(w, idx, float32(m/qmax), qmax)
			}
		})
	}}
}

// dyadic puts every weight on levels k·2^−8, |k| ≤ 31: with activations
// on power-of-two steps too, every product and sum of the evaluation is
// exact in float32, whatever its order (784 inputs × 255 × 31 < 2^24).
func dyadic() step {
	return step{spec: "quantize:dyadic", apply: func(w *model.Tensor) {
		idx := make([]int, len(w.Data))
		for i := range idx {
			idx[i] = i
		}
		onGrid(w, idx, 1.0/256, 31)
	}}
}

func onGrid(w *model.Tensor, idx []int, s float32, qmax float64) {
	for _, i := range idx {
		k := math.Max(-qmax, math.Min(qmax, math.RoundToEven(float64(w.Data[i]/s))))
		w.Data[i] = s * float32(int(k)) // int: −0 becomes +0
	}
}

// affine puts each group on 2^b levels s·k from round(min/s) up.
func affine(bits int) step {
	return step{spec: "quantize:affine", apply: func(w *model.Tensor) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range w.Data {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
		s := float32((hi - lo) / float64(int(1)<<bits-1))
		k0 := math.Round(lo / float64(s))
		for i, v := range w.Data {
			k := math.Min(math.Max(math.RoundToEven(float64(v/s)), k0), k0+float64(int(1)<<bits-1))
			w.Data[i] = s * float32(int(k))
		}
	}}
}

// codebook maps each non-zero entry of a group to the nearest of 2^b
// arbitrary centroids spread over its range.
func codebook(bits int, perChannel bool) step {
	return step{spec: "quantize:kmeans", apply: func(w *model.Tensor) {
		groups(w, perChannel, func(idx []int) {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, i := range idx {
				lo, hi = math.Min(lo, float64(w.Data[i])), math.Max(hi, float64(w.Data[i]))
			}
			cent := make([]float32, 1<<bits)
			for c := range cent {
				cent[c] = float32(lo + (hi-lo)*(float64(c)+0.37)/float64(len(cent)))
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

// binarize: sign(w)·mean|w| per tensor (a two-entry codebook).
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

// network returns Glorot weights of the sizes with non-zero biases after
// the steps.
func network(sizes []int, seed int64, chain ...step) model.Params {
	p := model.InitGlorot(sizes, rand.New(rand.NewSource(seed)))
	for l, d := range p.Layers {
		for i := range d.B.Data {
			d.B.Data[i] = 0.02 * float32((i+l)%5)
		}
	}
	for _, s := range chain {
		for l := range p.Layers {
			s.apply(&p.Layers[l].W)
		}
	}
	return p
}

// minmax calibrates activation quantization to bits on the images x as
// the minmax rule does, layer after layer: the input over [0, 1], each
// hidden layer over [0, its largest ReLU output] with the earlier
// quantizers applied.
func minmax(p model.Params, bits int, x []float32, n int) *model.ActQuant {
	aq := &model.ActQuant{Bits: bits, Calib: "minmax", Ranges: make([]model.Range, p.Depth())}
	aq.Ranges[0] = model.Range{Lo: 0, Hi: 1}
	for l := 1; l < p.Depth(); l++ {
		hi := float32(0)
		for _, v := range model.Activations(p, x, n, aq, l) {
			hi = max(hi, v)
		}
		aq.Ranges[l] = model.Range{Lo: 0, Hi: hi}
	}
	return aq
}

// pack packs the checkpoint and decodes it, as a file would be read.
func pack(t testing.TB, ck model.Checkpoint) *mnc.File {
	t.Helper()
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// packed returns the network of the sizes after the chain, as a checkpoint
// and as the decoded packed file; act > 0 adds activation quantization to
// act bits calibrated on 1,000 test images.
func packed(t testing.TB, sizes []int, act int, chain ...step) (model.Checkpoint, *mnc.File) {
	t.Helper()
	ck := model.Checkpoint{Params: network(sizes, 3, chain...)}
	if act > 0 {
		calib := mnist(t).Slice(0, 1000)
		ck.Meta.ActQuant = minmax(ck.Params, act, calib.X, calib.Len())
	}
	return ck, pack(t, ck)
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}
