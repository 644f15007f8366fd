package kernel

import "golang.org/x/sys/cpu"

//go:noescape
func adamAVX2(wp, gp, mp, vp *float32, blocks int, k *Consts)

// HaveVector reports whether the AVX2 kernel runs on this CPU.
var HaveVector = cpu.X86.HasAVX2

// adamVector runs the AVX2 kernel over the largest multiple of 8 entries
// and returns how many it did.
func adamVector(w, g, m, v []float32, k Consts) int {
	blocks := len(w) / 8
	if !HaveVector || blocks == 0 {
		return 0
	}
	g, m, v = g[:8*blocks], m[:8*blocks], v[:8*blocks]
	adamAVX2(&w[0], &g[0], &m[0], &v[0], blocks, &k)
	return 8 * blocks
}

//go:noescape
func accum64AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)

//go:noescape
func accum8AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)

//go:noescape
func accum32AVX2(out, w *float32, strideBytes int, idx *int32, x *float32, n int)

//go:noescape
func accum4AVX(out, w *float32, strideBytes int, idx *int32, x *float32, n int)

// accumVector runs the AVX2 kernels over the leading columns in chunks of
// 64, then one of 32, then 8, then one of 4, and returns how many columns
// it did: each chunk is one pass over the rows, so a width of 300 takes 7
// passes rather than 10. Every column's arithmetic is the same in each.
func accumVector(out, w []float32, stride int, idx []int32, x []float32) int {
	if !HaveVector {
		return 0
	}
	c := 0
	for ; c+64 <= len(out); c += 64 {
		accum64AVX2(&out[c], &w[c], 4*stride, &idx[0], &x[0], len(idx))
	}
	if c+32 <= len(out) {
		accum32AVX2(&out[c], &w[c], 4*stride, &idx[0], &x[0], len(idx))
		c += 32
	}
	for ; c+8 <= len(out); c += 8 {
		accum8AVX2(&out[c], &w[c], 4*stride, &idx[0], &x[0], len(idx))
	}
	if c+4 <= len(out) {
		accum4AVX(&out[c], &w[c], 4*stride, &idx[0], &x[0], len(idx))
		c += 4
	}
	return c
}

//go:noescape
func nonZeroAVX2(row *float32, blocks int, idx *int32, vals *float32, lut *[256][8]int32) int

func nonZeroVector(row []float32, idx []int32, vals []float32) (int, int) {
	blocks := len(row) / 8
	if !HaveVector || blocks == 0 {
		return 0, 0
	}
	return nonZeroAVX2(&row[0], blocks, &idx[0], &vals[0], &packLUT), 8 * blocks
}

//go:noescape
func levels64AVX2(out *float32, w *int16, strideBytes int, idx *int32, x *float32, n int)

//go:noescape
func levelsInt64AVX2(acc *int32, w *int16, strideBytes int, idx *int32, q *int32, n int)

func levelsVector(out []float32, w []int16, stride int, idx []int32, x []float32) int {
	if !HaveVector {
		return 0
	}
	c := 0
	for ; c+64 <= len(out); c += 64 {
		levels64AVX2(&out[c], &w[c], 2*stride, &idx[0], &x[0], len(idx))
	}
	return c
}

func levelsIntVector(acc []int32, w []int16, stride int, idx []int32, q []int32) int {
	if !HaveVector {
		return 0
	}
	c := 0
	for ; c+64 <= len(acc); c += 64 {
		levelsInt64AVX2(&acc[c], &w[c], 2*stride, &idx[0], &q[0], len(idx))
	}
	return c
}
