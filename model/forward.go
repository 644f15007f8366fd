package model

import (
	"math"
	"sort"
	"sync"

	"mnistc/internal/dense"
	"mnistc/internal/kernel"
	"mnistc/internal/par"
)

// chunkRows is how many images one forward GEMM takes at a time: large
// enough for BLAS to run near its peak, small enough to stay in cache-sized
// working sets and bound memory.
const chunkRows = 2048

// Forward computes the logits of n images x (n×inputs, row-major) into a
// new n×classes slice, applying activation quantization when aq is non-nil.
//
// An image with at most half of its inputs non-zero (every MNIST digit)
// runs every layer over its non-zero inputs only (kernel.AccumRows, rows in
// order); denser images go through BLAS GEMMs in chunks. The path depends on
// the image alone, so an image's logits do not depend on the others.
func Forward(p Params, x []float32, n int, aq *ActQuant) []float32 {
	return through(p, x, n, aq, p.Depth())
}

// Activations returns the ReLU output of hidden layer l (1 ≤ l < depth) for
// n images x (n×width), with the quantizers of the activations before it
// applied (the input's, and those of hidden layers 1..l−1) but not its own:
// what the activation quantizer of layer l+1's input calibrates on.
func Activations(p Params, x []float32, n int, aq *ActQuant, l int) []float32 {
	if l < 1 || l >= p.Depth() {
		panic("model: Activations of a layer that is not hidden")
	}
	return through(p, x, n, aq, l)
}

// through runs layers 1..upto and returns their output (n×width of layer
// upto): logits when upto is the last layer, else that hidden layer's ReLU
// output before its own quantizer.
func through(p Params, x []float32, n int, aq *ActQuant, upto int) []float32 {
	in := p.Inputs()
	if len(x) != n*in {
		panic("model: Forward input length does not match n×inputs")
	}
	width := p.Layers[upto-1].Out()
	out := make([]float32, n*width)
	widest := 0
	for _, s := range p.Sizes() {
		widest = max(widest, s)
	}
	limit := dense.MaxSparse(in)
	var denseRows []int
	var mu sync.Mutex
	par.Rows(n, 32, func(a, b int) {
		idx, vals := make([]int32, widest+8), make([]float32, widest+8) // NonZero's room
		buf := [2][]float32{make([]float32, widest), make([]float32, widest)}
		var xq []float32
		if aq != nil {
			xq = make([]float32, in)
		}
		var mine []int
		for r := a; r < b; r++ {
			cur := x[r*in : (r+1)*in]
			if aq != nil {
				copy(xq, cur)
				aq.QuantizeActivations(xq, aq.Range(0))
				cur = xq
			}
			k := kernel.NonZero(cur, idx, vals)
			if k > limit {
				mine = append(mine, r)
				continue
			}
			for l := 0; l < upto; l++ {
				L := p.Layers[l]
				o := buf[l%2][:L.Out()]
				if l == upto-1 {
					o = out[r*width : (r+1)*width]
				}
				if l > 0 {
					k = kernel.NonZero(cur, idx, vals)
				}
				copy(o, L.B.Data)
				kernel.AccumRows(o, L.W.Data, L.Out(), idx[:k], vals[:k])
				if l < p.Depth()-1 {
					dense.Relu(o)
					if aq != nil && l < upto-1 {
						aq.QuantizeActivations(o, aq.Range(l+1))
					}
				}
				cur = o
			}
		}
		mu.Lock()
		denseRows = append(denseRows, mine...)
		mu.Unlock()
	})
	if len(denseRows) > 0 {
		sort.Ints(denseRows)
		denseThrough(p, x, denseRows, aq, upto, out)
	}
	return out
}

// ForwardBLAS is Forward with every image through the BLAS GEMMs (the path
// Forward takes for dense inputs), for comparisons.
func ForwardBLAS(p Params, x []float32, n int, aq *ActQuant) []float32 {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	logits := make([]float32, n*p.Classes())
	denseThrough(p, x, rows, aq, p.Depth(), logits)
	return logits
}

// denseThrough runs the images rows of x through layers 1..upto by BLAS
// GEMMs, chunkRows at a time, writing their outputs into out.
func denseThrough(p Params, x []float32, rows []int, aq *ActQuant, upto int, out []float32) {
	in := p.Inputs()
	width := p.Layers[upto-1].Out()
	chunk := min(chunkRows, len(rows))
	xin := make([]float32, chunk*in)
	var bufs [][]float32
	for l := 0; l < upto; l++ {
		bufs = append(bufs, make([]float32, chunk*p.Layers[l].Out()))
	}
	for lo := 0; lo < len(rows); lo += chunkRows {
		batch := rows[lo:min(lo+chunkRows, len(rows))]
		m := len(batch)
		for k, r := range batch {
			copy(xin[k*in:(k+1)*in], x[r*in:(r+1)*in])
		}
		cur := xin[:m*in]
		if aq != nil {
			aq.QuantizeActivations(cur, aq.Range(0))
		}
		for l := 0; l < upto; l++ {
			L := p.Layers[l]
			o := bufs[l][:m*L.Out()]
			dense.Layer(cur, m, L.In(), L.W.Data, L.B.Data, L.Out(), o)
			if l < p.Depth()-1 {
				dense.Relu(o)
				if aq != nil && l < upto-1 {
					aq.QuantizeActivations(o, aq.Range(l+1))
				}
			}
			cur = o
		}
		for k, r := range batch {
			copy(out[r*width:(r+1)*width], cur[k*width:(k+1)*width])
		}
	}
}

// Argmax returns the index of the largest of v (the first on ties).
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// logSoftmaxAt returns log softmax(v)[k], computed stably in float64.
func logSoftmaxAt(v []float32, k int) float64 {
	mx := float64(v[Argmax(v)])
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	return float64(v[k]) - mx - math.Log(s)
}
