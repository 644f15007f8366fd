package model

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// chunkRows is how many images one forward GEMM takes at a time: large
// enough for BLAS to run near its peak, small enough to stay in cache-sized
// working sets and bound memory.
const chunkRows = 2048

// Forward computes the logits of n images x (n×784, row-major) into a new
// n×10 slice, applying activation quantization when aq is non-nil.
func Forward(p Params, x []float32, n int, aq *ActQuant) []float32 {
	if len(x) != n*Inputs {
		panic("model: Forward input length does not match n×784")
	}
	h := p.Hidden()
	logits := make([]float32, n*Classes)
	hid := make([]float32, chunkRows*h)
	var xq []float32
	if aq != nil {
		xq = make([]float32, chunkRows*Inputs)
	}
	for lo := 0; lo < n; lo += chunkRows {
		m := min(chunkRows, n-lo)
		xin := x[lo*Inputs : (lo+m)*Inputs]
		if aq != nil {
			copy(xq, xin)
			xin = xq[:m*Inputs]
			aq.quantizeInPlace(xin, aq.Input)
		}
		hc := hid[:m*h]
		layer(xin, m, Inputs, p.W1.Data, p.B1.Data, h, hc)
		for i, v := range hc {
			if v < 0 {
				hc[i] = 0
			}
		}
		if aq != nil {
			aq.quantizeInPlace(hc, aq.Hidden)
		}
		layer(hc, m, h, p.W2.Data, p.B2.Data, Classes, logits[lo*Classes:(lo+m)*Classes])
	}
	return logits
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
	layer(xin, n, Inputs, p.W1.Data, p.B1.Data, h, out)
	for i, v := range out {
		if v < 0 {
			out[i] = 0
		}
	}
	return out
}

// QuantizeActivations applies aq's rule over range r to v in place; the
// same function the forward pass uses, exported for calibration.
func (a *ActQuant) QuantizeActivations(v []float32, r Range) { a.quantizeInPlace(v, r) }

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
