package kernel

// AccumLevels adds x[k]·float32(w[idx[k]·stride + j]) into out[j] for every
// j < len(out) and every k, in the order of k: a layer whose weights are
// stored as integer levels (one scale per output applied afterwards), over
// the non-zero inputs of one image. Each product is rounded before it is
// added, in the vector path as in the scalar one.
func AccumLevels(out []float32, w []int16, stride int, idx []int32, x []float32) {
	x = x[:len(idx)]
	if len(idx) == 0 || len(out) == 0 {
		return
	}
	checkRows(len(w), len(out), stride, idx)
	c := levelsVector(out, w, stride, idx, x)
	for k, i := range idx {
		row := w[int(i)*stride+c : int(i)*stride+len(out)]
		xk := x[k]
		o := out[c:]
		for j, wj := range row {
			o[j] += float32(xk * float32(wj))
		}
	}
}

// AccumLevelsInt adds q[k]·w[idx[k]·stride + j] into acc[j] in int32: the
// integer path, activation codes times weight levels. The caller bounds
// Σ|q·w| below 2^31.
func AccumLevelsInt(acc []int32, w []int16, stride int, idx []int32, q []int32) {
	q = q[:len(idx)]
	if len(idx) == 0 || len(acc) == 0 {
		return
	}
	checkRows(len(w), len(acc), stride, idx)
	c := levelsIntVector(acc, w, stride, idx, q)
	for k, i := range idx {
		row := w[int(i)*stride+c : int(i)*stride+len(acc)]
		qk := q[k]
		a := acc[c:]
		for j, wj := range row {
			a[j] += qk * int32(wj)
		}
	}
}

func checkRows(n, width, stride int, idx []int32) {
	for _, i := range idx { // bounds, once: the vector loops read unchecked
		if i < 0 || int(i)*stride+width > n {
			panic("kernel: row out of range")
		}
	}
}
