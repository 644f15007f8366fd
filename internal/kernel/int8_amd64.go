package kernel

import "golang.org/x/sys/cpu"

// haveVNNI: AVX-512 with VNNI (VPDPBUSD) and the OS saving its registers
// (package cpu checks XCR0); haveAVX512: the AVX-512 float kernels;
// haveAVX2: the AVX2 ones.
var (
	haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
	haveVNNI   = haveAVX512 && cpu.X86.HasAVX512VNNI
	haveAVX2   = cpu.X86.HasAVX2
)

//go:noescape
func dotVNNI(acc *int32, codes *uint8, groups int, w *int8, stride int, regs int)

//go:noescape
func dotVNNI2(acc0, acc1 *int32, codes0, codes1 *uint8, groups int, w *int8, stride int, regs int)

//go:noescape
func dotAVX2(acc *int32, codes *uint8, groups int, w *int8, stride int, regs int)

//go:noescape
func codesAVX2(dst *uint8, src *float32, blocks int, k *CodeRule)

//go:noescape
func codesAVX512(dst *uint8, src *float32, blocks int, k *CodeRule)

//go:noescape
func requantAVX2(dst *uint8, acc *int32, a, b *float32, blocks int, lo, hi float32)

//go:noescape
func rescaleAVX2(dst *float32, acc *int32, a, b *float32, blocks int)

// codesVector runs the AVX-512 kernel over the largest multiple of 16
// values, then the AVX2 one over a multiple of 8, and returns how many
// they did.
func codesVector(dst []uint8, src []float32, r *CodeRule) int {
	done := 0
	if blocks := len(src) / 16; haveAVX512 && blocks > 0 {
		codesAVX512(&dst[0], &src[0], blocks, r)
		done = 16 * blocks
	}
	if blocks := (len(src) - done) / 8; haveAVX2 && blocks > 0 {
		codesAVX2(&dst[done], &src[done], blocks, r)
		done += 8 * blocks
	}
	return done
}

func requantVector(dst []uint8, acc []int32, a, b []float32, lo, hi float32) int {
	blocks := len(dst) / 8
	if !haveAVX2 || blocks == 0 {
		return 0
	}
	requantAVX2(&dst[0], &acc[0], &a[0], &b[0], blocks, lo, hi)
	return 8 * blocks
}

func rescaleVector(dst []float32, acc []int32, a, b []float32) int {
	blocks := len(dst) / 8
	if !haveAVX2 || blocks == 0 {
		return 0
	}
	rescaleAVX2(&dst[0], &acc[0], &a[0], &b[0], blocks)
	return 8 * blocks
}
