package infer

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"mnistc/internal/kernel"
	"mnistc/mnc"
	"mnistc/model"
)

// The integer path: a network whose every weight tensor is a grid s_j·k_ij
// with levels k in int8 (dense or pruned; per-tensor or per-channel
// scales) and whose activations are quantized to at most 8 bits runs in
// integers end to end. Each layer's input is its codes q_i ∈ [0, 2^b−1]
// (the real input is lo + step·q_i; 8-bit pixels over [0, 1] are their
// bytes), the layer sums acc_j = Σ_i q_i·k_ij in int32 (VNNI, AVX2 or Go:
// kernel.DotCodes), and one float rescale per output gives
//
//	hidden: z_j = float32(acc_j)·A_j + B_j, code_j = roundEven(min(max(z_j, zlo), 2^b−1))
//	last:   logit_j = float32(acc_j)·A_j + B_j
//
// in float32 (multiply, then add: never fused), with the constants made
// once in float64 from the file's numbers and rounded to float32:
//
//	A_j = s_j·step / step'             B_j = (s_j·lo·K_j + b_j − lo') / step'
//	A_j = s_j·step (last layer)        B_j = s_j·lo·K_j + b_j (last layer)
//	zlo = max(0, −lo'/step')           K_j = Σ_i k_ij
//
// where [lo, hi] and step are the range and step of the layer's input and
// [lo', hi'], step' those of the next layer's (step = (hi − lo)/(2^b − 1)
// in float32, as model.ActQuant computes it). zlo is the ReLU and the
// bottom of the next range at once. The rounding of the float32 constants
// and of z is the only difference from model.Forward's fake quantization,
// which sums float32 products in order: the two agree on every code except
// those within float rounding of half-way between two levels (see
// TestIntegerMatchesFloat for the measured bound), and
// scripts/numpy_int_eval.py reproduces the integer path bit for bit.

// kInt8 and kInt8Sparse name the integer path's layers: dense int8
// levels (pruned entries as zeros) through kernel.DotCodes, or the kept
// levels of a very sparse layer by input row (CSR), skipping rows whose
// code is zero.
const (
	kInt8       = "int8 levels × uint8 activation codes (%s), int32 accumulation, requantized between layers"
	kInt8Sparse = "sparse int8 levels × uint8 activation codes (CSR), int32 accumulation, requantized between layers"
)

// sparseDensity is the density (kept / entries) below which a pruned layer
// runs on the CSR kernel rather than on the dense one: the dense kernel
// pays for every column of each non-blank group of four inputs, but 64
// products per instruction; the CSR one for each kept entry of each
// non-zero input, one at a time. Measured on trained MNIST networks
// (BenchmarkSparseCrossover), the dense kernel is faster down to keep
// 0.002 (2–3 times at keep 0.01, 5–8 at 0.05), the two are even at 0.002
// and CSR is faster at 0.001. A pruned layer whose dense int8 layout would
// exceed maxDenseBytes takes the CSR kernel whatever its density.
const (
	sparseDensity = 0.002
	maxDenseBytes = 1 << 26
)

// pairWidth is the width above which a layer takes two images per pass
// over its weights (kernel.DotCodes2): each zmm of weights loaded once for
// both halves the traffic from L2, which wide layers wait on, but the pair
// runs over the union of the two images' non-blank groups (1.37 times
// one image's on MNIST), which costs more than it saves on narrow layers.
// Measured on the MNIST test images' codes (BenchmarkDotPairs, thread CPU
// time per image on a quiet core): pairs are 25 % slower at 128 columns,
// even at 192, 6 % faster at 256 and 16 % at 304.
const pairWidth = 192

// intNet is a network on the integer path.
type intNet struct {
	layers []intLayer
	pixels kernel.CodeRule // the input's quantizer
	in     int
	pool   sync.Pool // of *scratch: a single image per call allocates none
}

// intLayer is one layer of it.
type intLayer struct {
	in, out int
	width   int    // out padded to kernel.Int8Cols
	w       []int8 // kernel.LayoutInt8 of the levels (dense kernel)
	// the CSR kernel (w == nil): row i's kept levels are k[start[i]:start[i+1]]
	// in columns cols[…]
	start  []int32
	cols   []uint16
	k      []int8
	rows   []int32   // the rows that keep any
	a, b   []float32 // the rescale, width entries (0 in the padding)
	lo, hi float32   // hidden layers: the clamp of the next layer's codes
}

// newIntNet builds the integer path for the layers, or returns nil when
// it does not apply: activations not quantized to 1–8 bits, a weight that
// is not a grid of int8 levels, or sums that could overflow int32. Pruned
// layers kept at a density below sparseBelow take the CSR kernel.
func newIntNet(layers []mnc.Layer, aq *model.ActQuant, sparseBelow float64) *intNet {
	if aq == nil || aq.Literal || aq.Bits < 1 || aq.Bits > 8 {
		return nil
	}
	top := int(1)<<aq.Bits - 1
	n := &intNet{in: layers[0].W.Shape[0], pixels: codeRule(aq.Range(0), top)}
	n.pool.New = n.newScratch
	for l, ml := range layers {
		k, scales, ok := int8Levels(ml.W)
		if !ok {
			return nil
		}
		in, out := ml.W.Shape[0], ml.W.Shape[1]
		maxK := 0
		colK := make([]int64, out)
		for i, v := range k {
			maxK = max(maxK, abs(int(v)))
			colK[i%out] += int64(v)
		}
		if int64(kernel.CodeBytes(in))*int64(top)*int64(maxK) >= math.MaxInt32 {
			return nil
		}
		L := intLayer{in: in, out: out, width: kernel.Int8Width(out)}
		if ml.W.Sparse && (float64(ml.W.Kept()) < sparseBelow*float64(in*out) || in*L.width > maxDenseBytes) {
			L.csr(k)
		} else {
			L.w = kernel.LayoutInt8(k, in, out)
		}
		L.a, L.b = make([]float32, L.width), make([]float32, L.width)
		r := aq.Range(l)
		step := float64(codeRule(r, top).Step)
		lo := float64(r.Lo)
		bias := ml.B.Dense()
		last := l == len(layers)-1
		var loN, stepN float64 // the next layer's input range
		if !last {
			c := codeRule(aq.Range(l+1), top)
			loN, stepN = float64(c.Lo), float64(c.Step)
			if stepN > 0 {
				L.lo, L.hi = float32(min(max(0, -loN/stepN), float64(top))), float32(top)
			}
		}
		for j := 0; j < out; j++ {
			s := float64(scales[j])
			// explicit conversions: never fused (GOAMD64=v3 would allow
			// it), so NumPy's float64 arithmetic gives the same bits
			A, B := s*step, float64(s*lo*float64(colK[j]))+float64(bias[j])
			switch {
			case last:
			case stepN > 0:
				A, B = A/stepN, float64(B-loN)/stepN
			default: // a collapsed next range: every code is 0
				A, B = 0, 0
			}
			L.a[j], L.b[j] = float32(A), float32(B)
		}
		n.layers = append(n.layers, L)
	}
	return n
}

// codeRule is model.ActQuant's quantizer over r onto top+1 levels.
func codeRule(r model.Range, top int) kernel.CodeRule {
	return kernel.CodeRule{Lo: r.Lo, Hi: r.Hi, Step: (r.Hi - r.Lo) / float32(top), Top: float32(top)}
}

// int8Levels returns the integer levels k (in×out, zeros where pruned)
// and the scale of each output column of a weight tensor whose values are
// s_j·float32(k) with k in int8: a grid whose used levels fit, or float32
// values or a codebook that lie on such a grid column by column (the file
// stores a small or very sparse quantized tensor so when that is smaller).
// ok is false otherwise.
func int8Levels(t *mnc.Tensor) (k []int8, scales []float32, ok bool) {
	in, out := t.Shape[0], t.Shape[1]
	k = make([]int8, in*out)
	scales = make([]float32, out)
	switch t.Map {
	case mnc.Grid:
		for j := range scales {
			scales[j] = t.Scales[t.Groups/out*j]
		}
		set := func(p int, c uint16) bool {
			v := int32(c) + t.Offsets[groupOf(t, p)]
			k[p] = int8(v)
			return v >= math.MinInt8 && v <= math.MaxInt8
		}
		if t.Sparse {
			for e, p := range t.Pos {
				if !set(int(p), t.Codes[e]) {
					return nil, nil, false
				}
			}
			return k, scales, true
		}
		for i, c := range t.Codes {
			if !set(i, c) {
				return nil, nil, false
			}
		}
		return k, scales, true
	default: // float32 values, or a codebook, on a grid or not
		v := t.Dense()
		col := make([]float32, 0, in)
		for j := range scales {
			col = col[:0]
			for i := 0; i < in; i++ {
				col = append(col, v[i*out+j])
			}
			if scales[j], ok = columnGrid(col); !ok {
				return nil, nil, false
			}
			for i, x := range col {
				if x != 0 {
					k[i*out+j] = int8(math.Round(float64(x) / float64(scales[j])))
				}
			}
		}
		return k, scales, true
	}
}

// columnGrid finds a scale s > 0 with every value of col equal to
// s·float32(k), bit for bit, for an integer |k| ≤ 127: s = max|x|/m for
// m = 127 … 1, and a few ulps around each.
func columnGrid(col []float32) (float32, bool) {
	m := float32(0)
	for _, x := range col {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return 0, false
		}
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		return 1, true
	}
	for levels := 127; levels >= 1; levels-- {
		s0 := float32(float64(m) / float64(levels))
		for _, u := range []int32{0, -1, 1, -2, 2} {
			s := math.Float32frombits(uint32(int32(math.Float32bits(s0)) + u))
			if s > 0 && onGrid(col, s) {
				return s, true
			}
		}
	}
	return 0, false
}

// onGrid: every x of col is s·float32(k) for an integer |k| ≤ 127.
func onGrid(col []float32, s float32) bool {
	for _, x := range col {
		k := math.Round(float64(x) / float64(s))
		if math.Abs(k) > 127 || math.Float32bits(s*float32(k)) != math.Float32bits(x) {
			return false
		}
	}
	return true
}

// csr stores the non-zero levels of k (in×out) by input row.
func (L *intLayer) csr(k []int8) {
	L.start = make([]int32, L.in+1)
	for i := 0; i < L.in; i++ {
		for j, v := range k[i*L.out : (i+1)*L.out] {
			if v != 0 {
				L.cols = append(L.cols, uint16(j)) // out ≤ model.MaxWidth = 2^16
				L.k = append(L.k, v)
			}
		}
		L.start[i+1] = int32(len(L.k))
		if L.start[i+1] > L.start[i] {
			L.rows = append(L.rows, int32(i))
		}
	}
}

// kind names the kernel of layer l.
func (q *intNet) kind(l int) string {
	if q.layers[l].w == nil {
		return kInt8Sparse
	}
	return fmt.Sprintf(kInt8, kernel.Int8Impl())
}

// sparseDot sets acc[j] = Σ_i codes[i]·k_ij over the kept levels, row by
// row of the rows that keep any, skipping those whose code is zero.
func (L *intLayer) sparseDot(acc []int32, codes []uint8) {
	clear(acc)
	start, cols, k := L.start, L.cols, L.k
	for _, i := range L.rows {
		q := int32(codes[i])
		if q == 0 {
			continue
		}
		s, e := start[i], start[i+1]
		for t, c := range cols[s:e] {
			acc[c] += q * int32(k[s+int32(t)])
		}
	}
}

// forward writes the logits of count images x (count×in) to logits, two
// images at a time; an image's logits do not depend on its partner. The
// workers (one per core) take chunks of images from a shared counter
// rather than a fixed share each: a worker the OS sets aside for a time
// slice (a few ms, as long as the whole batch) then delays nothing.
func (q *intNet) forward(x []float32, count int, logits []float32) {
	classes := q.layers[len(q.layers)-1].out
	const chunk = 64
	var next atomic.Int64
	work := func() {
		s := q.pool.Get().(*scratch)
		defer q.pool.Put(s)
		for {
			b := int(next.Add(chunk))
			a := b - chunk
			if a >= count {
				return
			}
			b = min(b, count)
			r := a
			for ; r+1 < b; r += 2 {
				q.two(x[r*q.in:(r+2)*q.in], logits[r*classes:(r+2)*classes], s)
			}
			if r < b {
				q.one(x[r*q.in:(r+1)*q.in], logits[r*classes:(r+1)*classes], s)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (count+chunk-1)/chunk)
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// scratch is one worker's buffers for two images: the codes of each
// layer's input (zero past the layer's inputs: the kernels read whole
// blocks) and the sums.
type scratch struct {
	codes [2][][]uint8
	acc   [2][]int32
}

func (q *intNet) newScratch() any {
	s := &scratch{}
	widest := 0
	for m := range s.codes {
		s.codes[m] = make([][]uint8, len(q.layers))
		for l, L := range q.layers {
			n := L.in // CodeBytes covers the last group of four
			if l > 0 {
				n = q.layers[l-1].width // the codes Requantize writes
			}
			s.codes[m][l] = make([]uint8, kernel.CodeBytes(n))
			widest = max(widest, L.width)
		}
	}
	s.acc = [2][]int32{make([]int32, widest), make([]int32, widest)}
	return s
}

// one runs one image through every layer.
func (q *intNet) one(x []float32, logits []float32, s *scratch) {
	codes, acc := s.codes[0], s.acc[0]
	kernel.Codes(codes[0][:q.in], x, q.pixels)
	for l := range q.layers {
		L := &q.layers[l]
		if L.w != nil {
			kernel.DotCodes(acc, codes[l], L.w, L.width)
		} else {
			L.sparseDot(acc[:L.width], codes[l])
		}
		L.finish(codes, acc, l, logits)
	}
}

// two runs two images (x: 2×in) through every layer together.
func (q *intNet) two(x []float32, logits []float32, s *scratch) {
	for m := range 2 {
		kernel.Codes(s.codes[m][0][:q.in], x[m*q.in:(m+1)*q.in], q.pixels)
	}
	out := q.layers[len(q.layers)-1].out
	for l := range q.layers {
		L := &q.layers[l]
		switch {
		case L.w != nil && L.width > pairWidth:
			kernel.DotCodes2(s.acc[0], s.acc[1], s.codes[0][l], s.codes[1][l], L.w, L.width)
		case L.w != nil:
			kernel.DotCodes(s.acc[0], s.codes[0][l], L.w, L.width)
			kernel.DotCodes(s.acc[1], s.codes[1][l], L.w, L.width)
		default:
			L.sparseDot(s.acc[0][:L.width], s.codes[0][l])
			L.sparseDot(s.acc[1][:L.width], s.codes[1][l])
		}
		for m := range 2 {
			L.finish(s.codes[m], s.acc[m], l, logits[m*out:(m+1)*out])
		}
	}
}

// finish turns layer l's sums into the next layer's codes, or into the
// logits after the last layer.
func (L *intLayer) finish(codes [][]uint8, acc []int32, l int, logits []float32) {
	if l == len(codes)-1 {
		kernel.Rescale(logits, acc[:L.out], L.a[:L.out], L.b[:L.out])
		return
	}
	kernel.Requantize(codes[l+1][:L.width], acc[:L.width], L.a, L.b, L.lo, L.hi)
}
