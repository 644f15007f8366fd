// Package handmade builds compressed networks by hand for the tests of the
// packers and evaluators (packages mnc and infer): the values are placed
// exactly on grids s·k made in float32, on codebooks, or at zero, as the
// passes leave them, without package compress — what a file format or an
// evaluator sees is the point, and this keeps those tests independent of
// the passes' code.
package handmade

import (
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"

	"mnistc/model"
)

// Step is one compression step over a weight tensor; Network applies it to
// every weight tensor (biases stay float32, as the passes leave them).
// Spec names it as the passes would.
type Step struct {
	Spec  string
	Apply func(w *model.Tensor)
}

// Network returns Glorot weights of the sizes from the seed, with non-zero
// biases as after training, after the steps.
func Network(sizes []int, seed int64, chain ...Step) model.Params {
	p := model.InitGlorot(sizes, rand.New(rand.NewSource(seed)))
	for l, d := range p.Layers {
		for i := range d.B.Data {
			d.B.Data[i] = 0.02 * float32((i+l)%5)
		}
	}
	for _, s := range chain {
		for l := range p.Layers {
			s.Apply(&p.Layers[l].W)
		}
	}
	return p
}

// ChainName names a network of the sizes after the chain of steps.
func ChainName(sizes []int, chain []Step) string {
	var names []string
	for _, s := range chain {
		names = append(names, s.Spec)
	}
	return model.ArchName(sizes) + " " + strings.Join(names, " → ")
}

// Prune keeps the keep fraction of entries of largest magnitude.
func Prune(keep float64) Step {
	return Step{Spec: "prune:keep=" + strconv.FormatFloat(keep, 'g', -1, 64), Apply: func(w *model.Tensor) {
		order := make([]int, len(w.Data))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return Abs32(w.Data[order[a]]) > Abs32(w.Data[order[b]]) })
		for _, i := range order[int(math.Round(keep*float64(len(order)))):] {
			w.Data[i] = 0
		}
	}}
}

// Groups calls f with the indices of each quantization group of w: one per
// output column when perChannel, else one for the whole tensor.
func Groups(w *model.Tensor, perChannel bool, f func(idx []int)) {
	if !perChannel {
		idx := make([]int, len(w.Data))
		for i := range idx {
			idx[i] = i
		}
		f(idx)
		return
	}
	out := w.Shape[1]
	for j := 0; j < out; j++ {
		var idx []int
		for i := j; i < len(w.Data); i += out {
			idx = append(idx, i)
		}
		f(idx)
	}
}

// OnGrid puts the entries idx of w on the levels s·k, |k| ≤ qmax, computed
// in float32 as the quantizers do (zeros stay zeros, −0 becomes +0).
func OnGrid(w *model.Tensor, idx []int, s float32, qmax float64) {
	for _, i := range idx {
		k := math.Max(-qmax, math.Min(qmax, math.RoundToEven(float64(w.Data[i]/s))))
		w.Data[i] = s * float32(int(k)) // int: −0 becomes +0
	}
}

// Symmetric puts each group on levels s·k, |k| ≤ 2^(b−1)−1, s = max|w|/that
// in float32 (a group of zeros stays as it is).
func Symmetric(bits int, perChannel bool) Step {
	return Step{Spec: quantize(bits, perChannel, ""), Apply: func(w *model.Tensor) {
		qmax := float64(int(1)<<(bits-1) - 1)
		Groups(w, perChannel, func(idx []int) {
			m := 0.0
			for _, i := range idx {
				m = math.Max(m, float64(Abs32(w.Data[i])))
			}
			if m > 0 {
				OnGrid(w, idx, float32(m/qmax), qmax)
			}
		})
	}}
}

// Affine puts each group on 2^b levels s·k, k from round(min/s) up, s
// spanning the group's [min, max] (a constant group stays as it is).
func Affine(bits int, perChannel bool) Step {
	return Step{Spec: quantize(bits, perChannel, "affine"), Apply: func(w *model.Tensor) {
		Groups(w, perChannel, func(idx []int) {
			lo, hi := minMax(w, idx)
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

// Codebook maps each non-zero entry of a group to the nearest of 2^b
// centroids spread unevenly over its range (what k-means leaves: arbitrary
// floats, on no grid).
func Codebook(bits int, perChannel bool) Step {
	return Step{Spec: quantize(bits, perChannel, "kmeans"), Apply: func(w *model.Tensor) {
		Groups(w, perChannel, func(idx []int) {
			lo, hi := minMax(w, idx)
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
					if Abs32(w.Data[i]-cent[c]) < Abs32(w.Data[i]-cent[best]) {
						best = c
					}
				}
				w.Data[i] = cent[best]
			}
		})
	}}
}

// Binarize puts each weight at sign(w)·mean|w| over the tensor (a
// two-entry codebook); zeros stay zeros.
func Binarize() Step {
	return Step{Spec: "quantize:bits=1", Apply: func(w *model.Tensor) {
		m := 0.0
		for _, v := range w.Data {
			m += float64(Abs32(v))
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

// Abs32 is |v|.
func Abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// quantize returns the quantize pass's spec for the arguments, keys sorted
// as compress.Spec.String writes them (scheme "" is the default, symmetric).
func quantize(bits int, perChannel bool, scheme string) string {
	s := "quantize:bits=" + strconv.Itoa(bits)
	if perChannel {
		s += ",granularity=channel"
	}
	if scheme != "" {
		s += ",scheme=" + scheme
	}
	return s
}

// minMax returns the least and the largest of the entries idx of w.
func minMax(w *model.Tensor, idx []int) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, i := range idx {
		lo, hi = math.Min(lo, float64(w.Data[i])), math.Max(hi, float64(w.Data[i]))
	}
	return lo, hi
}
