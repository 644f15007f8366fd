// Package dense holds the dense-layer loops shared by evaluation (model)
// and training (train): a layer over the non-zero entries of each input row,
// the same through a BLAS GEMM for dense rows, and ReLU. Both packages use
// these exact functions, so the training graph's logits equal Forward's bit
// for bit.
package dense

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"mnistc/internal/kernel"
)

// SparseInput is the largest fraction of non-zero inputs for which an
// image's first layer runs over its non-zero pixels only (MNIST digits
// have about 19 %); a denser image goes through the BLAS GEMM.
const SparseInput = 0.5

// MaxSparse returns how many non-zero entries of a k-wide input still take
// the sparse path.
func MaxSparse(k int) int { return int(SparseInput * float64(k)) }

// Relu clears the negative entries of v by their sign bit, without a
// branch per entry (about half are negative, unpredictably).
func Relu(v []float32) {
	for i, x := range v {
		u := math.Float32bits(x)
		v[i] = math.Float32frombits(u &^ uint32(int32(u)>>31))
	}
}

// SparseRows computes rows [a, b) of out = x·w + bias (x is m×k, w is k×n)
// over each row's non-zero inputs, summing the rows of w they select in
// input order (kernel.AccumRows), with idx and vals (k+8 entries) as
// scratch. It appends to denseRows the rows with more than MaxSparse(k)
// non-zero inputs, which it leaves for Rows.
func SparseRows(x []float32, k, a, b int, w, bias []float32, n int, out []float32, idx []int32, vals []float32, denseRows []int) []int {
	limit := MaxSparse(k)
	for r := a; r < b; r++ {
		nz := kernel.NonZero(x[r*k:(r+1)*k], idx, vals)
		if nz > limit {
			denseRows = append(denseRows, r)
			continue
		}
		o := out[r*n : (r+1)*n]
		copy(o, bias)
		kernel.AccumRows(o, w, n, idx[:nz], vals[:nz])
	}
	return denseRows
}

// Rows computes the listed rows of out = x·w + bias (x is m×k) through one
// BLAS GEMM.
func Rows(x []float32, k int, rows []int, w, bias []float32, n int, out []float32) {
	if len(rows) == 0 {
		return
	}
	in := make([]float32, len(rows)*k)
	for j, r := range rows {
		copy(in[j*k:(j+1)*k], x[r*k:(r+1)*k])
	}
	res := make([]float32, len(rows)*n)
	Layer(in, len(rows), k, w, bias, n, res)
	for j, r := range rows {
		copy(out[r*n:(r+1)*n], res[j*n:(j+1)*n])
	}
}

// Layer computes out = in·w + b for m rows (in is m×k, w is k×n) by GEMM.
func Layer(in []float32, m, k int, w, b []float32, n int, out []float32) {
	for r := 0; r < m; r++ {
		copy(out[r*n:(r+1)*n], b)
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas32.General{Rows: m, Cols: k, Stride: k, Data: in},
		blas32.General{Rows: k, Cols: n, Stride: n, Data: w},
		1, blas32.General{Rows: m, Cols: n, Stride: n, Data: out})
}
