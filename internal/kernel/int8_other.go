//go:build !amd64

package kernel

const (
	haveVNNI = false
	haveAVX2 = false
)

func dotVNNI(acc *int32, codes *uint8, groups int, w *int8, stride int, regs int) {
	panic("kernel: no VNNI kernel on this architecture")
}

func dotVNNI2(acc0, acc1 *int32, codes0, codes1 *uint8, groups int, w *int8, stride int, regs int) {
	panic("kernel: no VNNI kernel on this architecture")
}

func dotAVX2(acc *int32, codes *uint8, groups int, w *int8, stride int, regs int) {
	panic("kernel: no AVX2 kernel on this architecture")
}

func codesVector(dst []uint8, src []float32, r *CodeRule) int { return 0 }

func requantVector(dst []uint8, acc []int32, a, b []float32, lo, hi float32) int { return 0 }

func rescaleVector(dst []float32, acc []int32, a, b []float32) int { return 0 }
