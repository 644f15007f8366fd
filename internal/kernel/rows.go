package kernel

// AccumRows adds x[k]·w[idx[k]·stride + j] into out[j] for every j < len(out)
// and every k, in the order of k: out = out + Σ_k x[k]·W[idx[k], :], the first
// layer of the network over the non-zero pixels of one image. Each product
// is rounded before it is added, in the vector path (64 and 8 columns at a
// time) as in the scalar one, so both give the same bits.
func AccumRows(out, w []float32, stride int, idx []int32, x []float32) {
	x = x[:len(idx)]
	if len(idx) == 0 || len(out) == 0 {
		return
	}
	for _, i := range idx { // bounds, once: the vector loop reads w unchecked
		if i < 0 || int(i)*stride+len(out) > len(w) {
			panic("kernel: AccumRows row out of range")
		}
	}
	c := accumVector(out, w, stride, idx, x)
	if c < len(out) {
		accumScalar(out[c:], w[c:], stride, idx, x)
	}
}

// accumScalar is AccumRows one column at a time: each column's sum stays
// in a register through all the rows (the same additions, in the same k
// order, as row by row), which matters for the few columns past the last
// full vector of a width such as 300 or 100.
func accumScalar(out, w []float32, stride int, idx []int32, x []float32) {
	for j := range out {
		acc := out[j]
		for k, i := range idx {
			acc += float32(x[k] * w[int(i)*stride+j])
		}
		out[j] = acc
	}
}
