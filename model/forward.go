package model

import (
	"math"
	"sort"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"mnistc/internal/kernel"
	"mnistc/internal/par"
)

// chunkRows is how many images one forward GEMM takes at a time: large
// enough for BLAS to run near its peak, small enough to stay in cache-sized
// working sets and bound memory.
const chunkRows = 2048

// Forward computes the logits of n images x (n×784, row-major) into a new
// n×10 slice, applying activation quantization when aq is non-nil.
//
// An image with at most half of its inputs non-zero (every MNIST digit)
// runs both layers over its non-zero inputs only (kernel.AccumRows, rows in
// order); denser images go through BLAS GEMMs in chunks. The path depends on
// the image alone, so an image's logits do not depend on the others.
func Forward(p Params, x []float32, n int, aq *ActQuant) []float32 {
	if len(x) != n*Inputs {
		panic("model: Forward input length does not match n×784")
	}
	h := p.Hidden()
	logits := make([]float32, n*Classes)
	var dense []int
	var mu sync.Mutex
	par.Rows(n, 32, func(a, b int) {
		width := max(Inputs, h) + 8 // NonZero's room
		idx, vals := make([]int32, width), make([]float32, width)
		hid := make([]float32, h)
		var xq []float32
		if aq != nil {
			xq = make([]float32, Inputs)
		}
		var mine []int
		for r := a; r < b; r++ {
			xin := x[r*Inputs : (r+1)*Inputs]
			if aq != nil {
				copy(xq, xin)
				aq.quantizeInPlace(xq, aq.Input)
				xin = xq
			}
			k := kernel.NonZero(xin, idx, vals)
			if k > int(sparseInput*Inputs) {
				mine = append(mine, r)
				continue
			}
			copy(hid, p.B1.Data)
			kernel.AccumRows(hid, p.W1.Data, h, idx[:k], vals[:k])
			relu(hid)
			if aq != nil {
				aq.quantizeInPlace(hid, aq.Hidden)
			}
			k = kernel.NonZero(hid, idx, vals)
			o := logits[r*Classes : (r+1)*Classes]
			copy(o, p.B2.Data)
			kernel.AccumRows(o, p.W2.Data, Classes, idx[:k], vals[:k])
		}
		mu.Lock()
		dense = append(dense, mine...)
		mu.Unlock()
	})
	if len(dense) > 0 {
		sort.Ints(dense)
		denseForward(p, x, dense, aq, logits)
	}
	return logits
}

// ForwardBLAS is Forward with every image through the BLAS GEMMs (the path
// Forward takes for dense inputs), for comparisons.
func ForwardBLAS(p Params, x []float32, n int, aq *ActQuant) []float32 {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	logits := make([]float32, n*Classes)
	denseForward(p, x, rows, aq, logits)
	return logits
}

// relu clears the negative entries of v by their sign bit, without a
// branch per entry (about half are negative, unpredictably).
func relu(v []float32) {
	for i, x := range v {
		u := math.Float32bits(x)
		v[i] = math.Float32frombits(u &^ uint32(int32(u)>>31))
	}
}

// denseForward runs the images rows of x through BLAS GEMMs, chunkRows
// at a time, writing their logits.
func denseForward(p Params, x []float32, rows []int, aq *ActQuant, logits []float32) {
	h := p.Hidden()
	xin := make([]float32, min(chunkRows, len(rows))*Inputs)
	hid := make([]float32, min(chunkRows, len(rows))*h)
	out := make([]float32, min(chunkRows, len(rows))*Classes)
	for lo := 0; lo < len(rows); lo += chunkRows {
		batch := rows[lo:min(lo+chunkRows, len(rows))]
		m := len(batch)
		for k, r := range batch {
			copy(xin[k*Inputs:(k+1)*Inputs], x[r*Inputs:(r+1)*Inputs])
		}
		xc := xin[:m*Inputs]
		if aq != nil {
			aq.quantizeInPlace(xc, aq.Input)
		}
		hc := hid[:m*h]
		layer(xc, m, Inputs, p.W1.Data, p.B1.Data, h, hc)
		relu(hc)
		if aq != nil {
			aq.quantizeInPlace(hc, aq.Hidden)
		}
		oc := out[:m*Classes]
		layer(hc, m, h, p.W2.Data, p.B2.Data, Classes, oc)
		for k, r := range batch {
			copy(logits[r*Classes:(r+1)*Classes], oc[k*Classes:(k+1)*Classes])
		}
	}
}

// HiddenActivations returns the hidden ReLU outputs (n×H) of n images x,
// with the input quantized by aq when aq is non-nil (the hidden layer's own
// quantizer is not applied): what an activation quantizer calibrates on.
func HiddenActivations(p Params, x []float32, n int, aq *ActQuant) []float32 {
	h := p.Hidden()
	out := make([]float32, n*h)
	xin := x
	if aq != nil {
		xin = append([]float32(nil), x...)
		aq.quantizeInPlace(xin, aq.Input)
	}
	firstLayer(xin, n, p.W1.Data, p.B1.Data, h, 32, out)
	relu(out)
	return out
}

// QuantizeActivations applies aq's rule over range r to v in place; the
// same function the forward pass uses, exported for calibration.
func (a *ActQuant) QuantizeActivations(v []float32, r Range) { a.quantizeInPlace(v, r) }

// sparseInput is the largest fraction of non-zero inputs for which an
// image's first layer runs over its non-zero pixels only (MNIST digits
// have about 19 %); a denser image goes through the BLAS GEMM.
const sparseInput = 0.5

// firstLayer computes out = x·w1 + b1 for m images (w1 is 784×h), at
// least grain images per goroutine. An image with few non-zero pixels sums
// the rows of w1 of those pixels, in pixel order (kernel.AccumRows): work
// in proportion to its ink, not to 784. Which path an image takes depends
// on that image alone, so its result does not depend on the others
// evaluated with it.
func firstLayer(x []float32, m int, w1, b1 []float32, h, grain int, out []float32) {
	var dense []int
	var mu sync.Mutex
	par.Rows(m, grain, func(a, b int) {
		idx := make([]int32, Inputs+8)
		vals := make([]float32, Inputs+8)
		mine := firstLayerRows(x, a, b, w1, b1, h, out, idx, vals, nil)
		mu.Lock()
		dense = append(dense, mine...)
		mu.Unlock()
	})
	sort.Ints(dense)
	firstLayerDense(x, dense, w1, b1, h, out)
}

// firstLayerRows computes rows [a, b) of out = x·w1 + b1 over each image's
// non-zero pixels, with idx and vals (Inputs+8 entries) as scratch, and
// appends to dense the rows with more than sparseInput of their pixels
// non-zero, which it leaves for firstLayerDense.
func firstLayerRows(x []float32, a, b int, w1, b1 []float32, h int, out []float32, idx []int32, vals []float32, dense []int) []int {
	for r := a; r < b; r++ {
		n := kernel.NonZero(x[r*Inputs:(r+1)*Inputs], idx, vals)
		if n > int(sparseInput*Inputs) {
			dense = append(dense, r)
			continue
		}
		o := out[r*h : (r+1)*h]
		copy(o, b1)
		kernel.AccumRows(o, w1, h, idx[:n], vals[:n])
	}
	return dense
}

// firstLayerDense computes the listed rows of out = x·w1 + b1 through
// one BLAS GEMM.
func firstLayerDense(x []float32, rows []int, w1, b1 []float32, h int, out []float32) {
	if len(rows) == 0 {
		return
	}
	in := make([]float32, len(rows)*Inputs)
	for k, r := range rows {
		copy(in[k*Inputs:(k+1)*Inputs], x[r*Inputs:(r+1)*Inputs])
	}
	res := make([]float32, len(rows)*h)
	layer(in, len(rows), Inputs, w1, b1, h, res)
	for k, r := range rows {
		copy(out[r*h:(r+1)*h], res[k*h:(k+1)*h])
	}
}

// layer computes out = in·w + b for m rows (in is m×k, w is k×n).
func layer(in []float32, m, k int, w, b []float32, n int, out []float32) {
	for r := 0; r < m; r++ {
		copy(out[r*n:(r+1)*n], b)
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: m, Cols: k, Stride: k, Data: in},
		blas32.General{Rows: k, Cols: n, Stride: n, Data: w},
		1, blas32.General{Rows: m, Cols: n, Stride: n, Data: out})
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
