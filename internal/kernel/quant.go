package kernel

import "math"

// SymmetricRow rewrites each v[j] with s[j] ≠ 0 as its level on a symmetric
// grid of scale s[j] with codes clamped to ±qmax:
//
//	v[j] ← s[j]·float32(clamp(roundToEven(float64(v[j]) / float64(s[j])), ±qmax))
//
// and leaves v[j] where s[j] = 0. The AVX2 path divides and rounds in
// float64 eight entries at a time and gives the bits of the scalar loop
// for every finite v (qmax < 2^31).
func SymmetricRow(v, s []float32, qmax float64) {
	s = s[:len(v)]
	done := symmetricVector(v, s, qmax)
	SymmetricRowScalar(v[done:], s[done:], qmax)
}

// SymmetricRowScalar is the plain Go loop of SymmetricRow.
func SymmetricRowScalar(v, s []float32, qmax float64) {
	s = s[:len(v)]
	for j, x := range v {
		if sj := s[j]; sj != 0 {
			k := math.RoundToEven(float64(x) / float64(sj))
			if k > qmax {
				k = qmax
			} else if k < -qmax {
				k = -qmax
			}
			v[j] = sj * float32(int(k)) // int: −0 becomes +0
		}
	}
}
