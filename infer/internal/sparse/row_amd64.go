package sparse

import "golang.org/x/sys/cpu"

var haveVector = cpu.X86.HasAVX2

//go:noescape
func rowAVX2(out, x *float32, cols *uint8, w *float32, n int)

//go:noescape
func transposeAVX2(dst, src *float32, active *uint32, n int)
