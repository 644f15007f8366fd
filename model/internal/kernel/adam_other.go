//go:build !amd64

package kernel

// HaveVector reports whether a vector kernel runs on this CPU.
var HaveVector = false

func adamVector(w, g, m, v []float32, k Consts) int { return 0 }
