// Package sparse is the inner loop of sparse evaluation: for one input row
// i of a pruned weight matrix, out[c][0:16] += x_i[0:16] · w for each kept
// (c, w) of the row, over a block of 16 images held transposed. AVX2 on
// amd64 (multiply and add kept separate, never fused, so the result is
// bit-identical to the Go loop), the Go loop elsewhere.
package sparse

import "math"

// Block is how many images one call updates.
const Block = 16

// Row adds x (16 values: one input of 16 images) times each kept weight w[k]
// into out[cols[k]·16 : cols[k]·16+16]. out holds 256·16 values.
func Row(out *[256 * Block]float32, x *[Block]float32, cols []uint8, w []float32) {
	w = w[:len(cols)]
	if len(cols) == 0 {
		return
	}
	if haveVector {
		rowAVX2(&out[0], &x[0], &cols[0], &w[0], len(cols))
		return
	}
	rowGo(out, x, cols, w)
}

func rowGo(out *[256 * Block]float32, x *[Block]float32, cols []uint8, w []float32) {
	w = w[:len(cols)]
	for k, c := range cols {
		o := (*[Block]float32)(out[int(c)*Block : int(c)*Block+Block])
		wk := w[k]
		for b := range o {
			o[b] += float32(x[b] * wk) // never fused, as the vector loop
		}
	}
}

// Transpose writes 16 rows of n values (src, row after row) as n rows of 16
// (dst[i][r] = src[r·n+i]) and sets active[i] to the OR of the bit patterns
// of column i, non-zero exactly when some row has a non-zero value there.
func Transpose(dst [][Block]float32, src []float32, active []uint32) {
	n := len(dst)
	src, active = src[:Block*n], active[:n]
	if haveVector && n%8 == 0 && n > 0 {
		transposeAVX2(&dst[0][0], &src[0], &active[0], n)
		return
	}
	transposeGo(dst, src, active)
}

func transposeGo(dst [][Block]float32, src []float32, active []uint32) {
	n := len(dst)
	for i := range dst {
		var acc uint32
		for r := 0; r < Block; r++ {
			v := src[r*n+i]
			dst[i][r] = v
			acc |= math.Float32bits(v)
		}
		active[i] = acc
	}
}
