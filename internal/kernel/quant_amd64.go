package kernel

//go:noescape
func symmetricAVX2(v, s *float32, blocks int, qmax float64)

// symmetricVector runs the AVX2 kernel over the largest multiple of 8
// entries and returns how many it did.
func symmetricVector(v, s []float32, qmax float64) int {
	blocks := len(v) / 8
	if !HaveVector || blocks == 0 {
		return 0
	}
	symmetricAVX2(&v[0], &s[0], blocks, qmax)
	return 8 * blocks
}
