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
