//go:build !amd64

package kernel

// HaveVector reports whether a vector kernel runs on this CPU.
var HaveVector = false

func adamVector(w, g, m, v []float32, k Consts) int { return 0 }

func accumVector(out, w []float32, stride int, idx []int32, x []float32) int { return 0 }

func nonZeroVector(row []float32, idx []int32, vals []float32) (int, int) { return 0, 0 }

func levelsVector(out []float32, w []int16, stride int, idx []int32, x []float32) int { return 0 }

func levelsIntVector(acc []int32, w []int16, stride int, idx []int32, q []int32) int { return 0 }

func symmetricVector(v, s []float32, qmax float64) int { return 0 }
