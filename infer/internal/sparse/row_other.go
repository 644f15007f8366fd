//go:build !amd64

package sparse

const haveVector = false

func rowAVX2(out, x *float32, cols *uint8, w *float32, n int) { panic("unreachable") }

func transposeAVX2(dst, src *float32, active *uint32, n int) { panic("unreachable") }
