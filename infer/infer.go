// Package infer evaluates a network of any depth straight from its packed
// tensors (package mnc) without expanding them to dense float32.
//
// A network whose weights are all int8 grid levels (8-bit or narrower
// quantization, per tensor or per channel, pruned or not) and whose
// activations are quantized to at most 8 bits runs in integers end to end
// (integer.go): uint8 activation codes × int8 levels summed in int32 by
// AVX-512 VNNI, AVX2 or Go (package kernel), one float rescale per output,
// and requantization to the next layer's codes; it agrees with
// model.Forward's fake quantization except where a value lies within
// float rounding of half-way between two levels (a tested bound), and with
// scripts/numpy_int_eval.py bit for bit.
//
// Otherwise each layer takes its own kernel: pruned tensors a sparse
// kernel over their kept entries (CSR by input row, which also skips the
// input's zero pixels), grid-quantized tensors an integer kernel when the
// layer's input is quantized too (activation codes × integer levels, int32
// accumulation, one float rescale per output), other quantized tensors
// their codes. Only tensors the file stores as float32 use a dense BLAS
// GEMM, as model.Forward does. These paths compute what model.Forward
// computes on the unpacked parameters, to float rounding.
package infer

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"mnistc/infer/internal/sparse"
	"mnistc/internal/kernel"
	"mnistc/internal/par"
	"mnistc/mnc"
	"mnistc/model"
)

// kernel kinds.
const (
	kDense    = "dense float32"
	kExpanded = "grid levels expanded to dense float32 (too wide for int16 levels)"
	kSparse   = "sparse float32 over kept entries (CSR)"
	kGridF    = "integer levels × float input, one rescale per output"
	kGridInt  = "integer levels × activation codes, int32 accumulation, one rescale per output"
	kSparseI  = "sparse integer levels × activation codes (CSR), int32 accumulation"
	kCodebook = "codebook lookup × float input"
	kBlock    = "sparse float32 over kept entries, 16 images at a time (block kernel)"
)

// layer is one dense layer out = in·W + b in whichever form the file gave.
type layer struct {
	name    string
	in, out int
	kind    string
	bias    []float32

	dense []float32 // kDense, kExpanded: in×out

	// CSR over input rows (kSparse, kSparseI)
	rowStart []int32
	cols     []uint16
	wf       []float32 // kSparse: kept values

	// The block kernel's view (package sparse): per panel of 256 output
	// columns, byte columns and float values per input row. Set for kSparse
	// layers and for small layers of any kind (at most 4,096 entries,
	// decoded once).
	block  bool
	panels []panel

	wk []int16 // kGridF, kGridInt (dense in×out); kSparseI (kept)

	colScale []float32 // grid kernels: the scale of each output column
	colK     []int32   // kGridInt, kSparseI: Σ_i k_ij, for a non-zero input offset

	lut   []float32 // kCodebook: group books back to back
	gOff  []int32   // kCodebook: per output column, its book's offset in lut
	codes []uint16  // kCodebook: in×out

	kept int
}

// panel is the kept entries of output columns 256·p … 256·p+255 of a
// layer, by input row: row i's are cols[start[i]:start[i+1]] (relative to
// the panel's first column) with values vals[…].
type panel struct {
	start []int32
	cols  []uint8
	vals  []float32
}

// Net is a network ready to evaluate from packed tensors: any number of
// dense layers, ReLU between them, activation quantization (one range per
// layer input) when the file's metadata records it.
type Net struct {
	layers []layer
	aq     *model.ActQuant
	sizes  []int
	// allDense: every layer is float32, evaluated by model.Forward itself.
	allDense bool
	// blocks: the first layer is sparse and every layer fits the block
	// kernel, so images go through all layers 16 at a time.
	blocks bool
	// ints: every layer runs on the integer path (integer.go), which
	// takes precedence over the other kernels.
	ints *intNet
}

// New builds the evaluator of f. It refuses, with an error, what it cannot
// evaluate as model.Forward would: tensors that do not form a network (see
// mnc.File.Layers), activation quantization that does not fit it (one range
// per layer input) or that follows the article's literal formula.
func New(f *mnc.File) (*Net, error) {
	layers, err := f.Layers()
	if err != nil {
		return nil, err
	}
	var aq *model.ActQuant
	bits := 0
	if f.Meta.ActQuant != nil {
		c := *f.Meta.ActQuant // the evaluator's own, whatever becomes of f
		c.Ranges = slices.Clone(c.Ranges)
		aq = &c
		if aq.Literal {
			return nil, fmt.Errorf("literal activation quantization is not supported from a packed file; unpack and evaluate the .npz")
		}
		if err := aq.Validate(len(layers)); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		bits = aq.Bits
	}
	n := &Net{aq: aq, sizes: mnc.Sizes(layers), allDense: true}
	if n.ints = newIntNet(layers, aq, sparseDensity); n.ints != nil {
		// the integer path runs every layer: the others need only their names
		for _, l := range layers {
			n.layers = append(n.layers, layer{name: l.W.Name, in: l.W.Shape[0], out: l.W.Shape[1], kept: l.W.Kept()})
		}
		n.allDense = false
		return n, nil
	}
	for _, l := range layers {
		n.layers = append(n.layers, build(l.W.Name, l.W, l.B.Dense(), bits))
	}
	n.blocks = n.layers[0].kind == kSparse
	for _, l := range n.layers {
		n.allDense = n.allDense && l.dense != nil
		n.blocks = n.blocks && l.block
	}
	return n, nil
}

// Sizes returns the widths [inputs, hidden…, classes].
func (n *Net) Sizes() []int { return append([]int(nil), n.sizes...) }

// Depth, Inputs and Classes are the number of layers, the input width and
// the output width.
func (n *Net) Depth() int   { return len(n.layers) }
func (n *Net) Inputs() int  { return n.sizes[0] }
func (n *Net) Classes() int { return n.sizes[len(n.sizes)-1] }

// CheckData reports whether the network fits data of the given input width
// and class count, as model.Params.CheckData does, naming the tensor.
func (n *Net) CheckData(inputs, classes int) error {
	if n.Inputs() != inputs {
		return fmt.Errorf("w1 takes %d inputs, but the data's images have %d pixels", n.Inputs(), inputs)
	}
	if n.Classes() != classes {
		return fmt.Errorf("%s has %d outputs, but the data have %d classes", n.layers[len(n.layers)-1].name, n.Classes(), classes)
	}
	return nil
}

// inRange returns the activation range feeding layer l (from 0: the input).
func (n *Net) inRange(l int) model.Range {
	if n.aq == nil {
		return model.Range{}
	}
	return n.aq.Range(l)
}

// Kernels describes the kernel each layer runs, in order.
func (n *Net) Kernels() []string {
	out := make([]string, len(n.layers))
	for i := range n.layers {
		l := &n.layers[i]
		kind := l.kind
		switch {
		case n.ints != nil:
			kind = n.ints.kind(i)
		case n.allDense:
			kind += " (model.Forward: rows of the non-zero inputs; BLAS for dense inputs)"
		case n.blocks:
			kind = kBlock
		case l.dense != nil:
			kind += " (BLAS GEMM)"
		}
		out[i] = fmt.Sprintf("%s (%d×%d, %d stored): %s", l.name, l.in, l.out, l.kept, kind)
	}
	return out
}

// build prepares one layer. actBits is the width of the activation codes
// feeding it (0: float input).
func build(name string, t *mnc.Tensor, bias []float32, actBits int) layer {
	in, out := t.Shape[0], t.Shape[1]
	l := layer{name: name, in: in, out: out, bias: bias, kept: t.Kept()}
	col := func(p int) int { return p % out }
	switch {
	case t.Map == mnc.Float && !t.Sparse:
		l.kind, l.dense = kDense, t.Float
	case t.Sparse:
		l.rowStart = make([]int32, in+1)
		for _, p := range t.Pos {
			l.rowStart[int(p)/out+1]++
		}
		for i := 0; i < in; i++ {
			l.rowStart[i+1] += l.rowStart[i]
		}
		l.cols = make([]uint16, len(t.Pos)) // out ≤ model.MaxWidth = 2^16
		for k, p := range t.Pos {
			l.cols[k] = uint16(col(int(p)))
		}
		if t.Map == mnc.Float {
			l.kind, l.wf = kSparse, t.Float
		} else if t.Map == mnc.Grid && intSafe(t, in, actBits) {
			l.kind = kSparseI
			l.wk = make([]int16, len(t.Pos))
			l.colScale = make([]float32, out)
			l.colK = make([]int32, out)
			for j := range l.colScale {
				l.colScale[j] = t.Scales[t.Groups/out*j]
			}
			for k, p := range t.Pos {
				g := groupOf(t, int(p))
				l.wk[k] = int16(int32(t.Codes[k]) + t.Offsets[g])
				l.colK[col(int(p))] += int32(l.wk[k])
			}
		} else {
			l.kind = kSparse
			l.wf = make([]float32, len(t.Pos))
			for k, p := range t.Pos {
				l.wf[k] = t.Value(groupOf(t, int(p)), t.Codes[k])
			}
		}
	case t.Map == mnc.Grid && intFits(t):
		l.wk = make([]int16, len(t.Codes))
		l.colScale = make([]float32, out)
		for j := range l.colScale {
			l.colScale[j] = t.Scales[t.Groups/out*j]
		}
		for i, c := range t.Codes {
			l.wk[i] = int16(int32(c) + t.Offsets[groupOf(t, i)])
		}
		l.kind = kGridF
		if intSafe(t, in, actBits) {
			l.kind = kGridInt
			l.colK = make([]int32, out)
			for i, k := range l.wk {
				l.colK[col(i)] += int32(k)
			}
		}
	case t.Map == mnc.Grid && t.Groups<<t.Bits > t.Len():
		// levels too wide for int16 whose lookup table would outgrow the
		// tensor (16-bit codes per column): the values themselves
		l.kind, l.dense = kExpanded, t.Dense()
	default: // codebooks, and other grids too wide for int16 levels
		l.kind = kCodebook
		l.codes = t.Codes
		l.gOff = make([]int32, out)
		if t.Map == mnc.Codebook {
			for g, b := range t.Book {
				if t.Groups > 1 {
					l.gOff[g] = int32(len(l.lut))
				}
				l.lut = append(l.lut, b...)
			}
		} else {
			for g := 0; g < t.Groups; g++ {
				if t.Groups > 1 {
					l.gOff[g] = int32(len(l.lut))
				}
				for c := 0; c < 1<<t.Bits; c++ {
					l.lut = append(l.lut, t.Value(g, uint16(c)))
				}
			}
		}
	}
	if l.kind == kSparse || in*out <= 4096 {
		l.block = true
		v := t.Dense()
		l.panels = make([]panel, (out+panelWidth-1)/panelWidth)
		for p := range l.panels {
			pn := &l.panels[p]
			pn.start = make([]int32, in+1)
			lo, hi := p*panelWidth, min(out, (p+1)*panelWidth)
			for i := 0; i < in; i++ {
				for j := lo; j < hi; j++ {
					if x := v[i*out+j]; x != 0 {
						pn.cols = append(pn.cols, uint8(j-lo))
						pn.vals = append(pn.vals, x)
					}
				}
				pn.start[i+1] = int32(len(pn.vals))
			}
		}
	}
	return l
}

// panelWidth is how many output columns one call of the block kernel
// covers (its column indices are bytes).
const panelWidth = 256

func groupOf(t *mnc.Tensor, p int) int {
	if t.Groups <= 1 {
		return 0
	}
	return p % t.Groups
}

// intFits: every level k fits int16.
func intFits(t *mnc.Tensor) bool {
	for _, o := range t.Offsets {
		if o < math.MinInt16 || int(o)+(1<<t.Bits)-1 > math.MaxInt16 {
			return false
		}
	}
	return true
}

// intSafe: the layer's input is quantized (actBits > 0) and int32
// accumulation of in products of an actBits-bit activation code and a level
// cannot overflow. Wider codes (up to model.MaxActBits) take the integer
// path when this holds, the float path otherwise.
func intSafe(t *mnc.Tensor, in, actBits int) bool {
	if actBits < 1 || !intFits(t) {
		return false
	}
	maxK := 0
	for _, o := range t.Offsets {
		maxK = max(maxK, abs(int(o)), abs(int(o)+(1<<t.Bits)-1))
	}
	return int64(in)*int64(1<<actBits-1)*int64(maxK) < math.MaxInt32
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// chunk is how many images one pass of all layers takes.
const chunk = 2048

// Forward returns the logits (count×classes) of count images x
// (count×inputs, row-major). The caller checks the data's width first
// (CheckData); a length that does not match is a bug and panics, as in
// model.Forward.
func (n *Net) Forward(x []float32, count int) []float32 {
	in, classes := n.Inputs(), n.Classes()
	if len(x) != count*in {
		panic("infer: input length does not match count×inputs")
	}
	if n.allDense {
		// float32 weights: model's own evaluation (over each image's non-zero
		// inputs, BLAS for dense inputs)
		return model.Forward(n.params(), x, count, n.aq)
	}
	logits := make([]float32, count*classes)
	if n.ints != nil {
		n.ints.forward(x, count, logits)
		return logits
	}
	if n.blocks {
		n.forwardBlocks(x, count, logits)
		return logits
	}
	last := len(n.layers) - 1
	hid := make([][]float32, last) // each hidden layer's output for one chunk
	for l := range hid {
		hid[l] = make([]float32, min(chunk, count)*n.layers[l].out)
	}
	var xin []float32
	if n.aq != nil {
		xin = make([]float32, min(chunk, count)*in)
	}
	for lo := 0; lo < count; lo += chunk {
		m := min(chunk, count-lo)
		cur := x[lo*in : (lo+m)*in]
		if n.aq != nil {
			// Layer inputs become their level indices 0…2^b−1 (as float32,
			// exact); each kernel folds the range back in.
			cur = codesOf(xin[:len(cur)], cur, n.aq.Bits, n.aq.Range(0))
		}
		for l := range n.layers {
			L := &n.layers[l]
			if l == last {
				L.forward(cur, m, logits[lo*classes:(lo+m)*classes], n.inRange(l), n.aq)
				break
			}
			o := hid[l][:m*L.out]
			L.forward(cur, m, o, n.inRange(l), n.aq)
			relu(o)
			if n.aq != nil {
				codesOf(o, o, n.aq.Bits, n.aq.Range(l+1))
			}
			cur = o
		}
	}
	return logits
}

// params returns the layers of an all-float32 network as model parameters.
func (n *Net) params() model.Params {
	p := model.Params{Layers: make([]model.Dense, len(n.layers))}
	for i, l := range n.layers {
		p.Layers[i] = model.Dense{
			W: model.Tensor{Name: model.WeightName(i + 1), Shape: []int{l.in, l.out}, Data: l.dense},
			B: model.Tensor{Name: model.BiasName(i + 1), Shape: []int{l.out}, Data: l.bias},
		}
	}
	return p
}

// codesOf writes to dst the level index of each src value over range r,
// by the same rule as model.ActQuant.
func codesOf(dst, src []float32, bits int, r model.Range) []float32 {
	levels := float32(int(1)<<bits - 1)
	scale := (r.Hi - r.Lo) / levels
	for i, x := range src {
		if scale <= 0 || x <= r.Lo { // at or below the range: level 0 (most pixels, half the hidden units)
			dst[i] = 0
			continue
		}
		if x > r.Hi {
			x = r.Hi
		}
		dst[i] = float32(math.RoundToEven(float64((x - r.Lo) / scale)))
	}
	return dst
}

// forward computes m rows of out = dequant(in)·W + b. With aq set, in holds
// level indices q and the layer's real input is r.Lo + q·scale.
func (l *layer) forward(in []float32, m int, out []float32, r model.Range, aq *model.ActQuant) {
	var lo, step float32
	quant := aq != nil
	if quant {
		lo = r.Lo
		step = (r.Hi - r.Lo) / float32(int(1)<<aq.Bits-1)
	}
	if l.dense != nil {
		x := in
		if quant {
			x = make([]float32, len(in))
			for i, q := range in {
				x[i] = lo + q*step
			}
		}
		for i := 0; i < m; i++ {
			copy(out[i*l.out:(i+1)*l.out], l.bias)
		}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: m, Cols: l.in, Stride: l.in, Data: x},
			blas32.General{Rows: l.in, Cols: l.out, Stride: l.out, Data: l.dense},
			1, blas32.General{Rows: m, Cols: l.out, Stride: l.out, Data: out})
		return
	}
	par.Rows(m, 1, func(a, b int) {
		acc := make([]float32, l.out)
		iacc := make([]int32, l.out)
		xrow := make([]float32, l.in)
		idx, vals := make([]int32, l.in+8), make([]float32, l.in+8)
		qs := make([]int32, l.in)
		for i := a; i < b; i++ {
			src := in[i*l.in : (i+1)*l.in]
			dst := out[i*l.out : (i+1)*l.out]
			switch l.kind {
			case kGridInt:
				// the non-zero activation codes times the integer levels
				k := kernel.NonZero(src, idx, vals)
				for t, v := range vals[:k] {
					qs[t] = int32(v)
				}
				clear(iacc)
				kernel.AccumLevelsInt(iacc, l.wk, l.out, idx[:k], qs[:k])
				l.rescale(dst, iacc, lo, step)
				continue
			case kSparseI:
				l.rowInt(src, iacc)
				l.rescale(dst, iacc, lo, step)
				continue
			}
			x := src
			if quant {
				for k, q := range src {
					xrow[k] = lo + q*step
				}
				x = xrow
			}
			switch l.kind {
			case kSparse:
				copy(dst, l.bias)
				l.rowSparse(x, dst)
			case kGridF:
				k := kernel.NonZero(x, idx, vals)
				clear(acc)
				kernel.AccumLevels(acc, l.wk, l.out, idx[:k], vals[:k])
				for j := range dst {
					dst[j] = l.colScale[j]*acc[j] + l.bias[j]
				}
			case kCodebook:
				copy(dst, l.bias)
				l.rowBook(x, dst)
			}
		}
	})
}

// rescale turns integer sums into outputs: with inputs x = lo + step·q,
// Σ x·k = lo·Σk + step·Σ q·k, then one scale per output and the bias.
func (l *layer) rescale(dst []float32, iacc []int32, lo, step float32) {
	for j := range dst {
		dst[j] = l.colScale[j]*(lo*float32(l.colK[j])+step*float32(iacc[j])) + l.bias[j]
	}
}

// forwardBlocks runs every layer on blocks of 16 images held transposed:
// each kept weight of a row updates 16 outputs at once (package sparse, on
// panels of 256 output columns), and an input row that is zero in all 16
// images is skipped. Rows are taken in increasing order, so an image's
// result does not depend on the other images of its block.
func (n *Net) forwardBlocks(x []float32, count int, logits []float32) {
	const B = sparse.Block
	in, classes := n.Inputs(), n.Classes()
	widest := 0
	for _, l := range n.layers {
		widest = max(widest, len(l.panels)*panelWidth)
	}
	blocks := (count + B - 1) / B
	par.Rows(blocks, 1, func(a, b int) {
		xt := make([][B]float32, in)
		active := make([]uint32, in) // non-zero when some image of the block uses the row
		bufs := [2][]float32{make([]float32, widest*B), make([]float32, widest*B)}
		scratch := make([]float32, B*in)
		for blk := a; blk < b; blk++ {
			r0 := blk * B
			nr := min(B, count-r0)
			src := x[r0*in : (r0+nr)*in]
			if n.aq != nil || nr < B {
				clear(scratch[len(src):])
				copy(scratch, src)
				src = scratch
				if n.aq != nil {
					n.aq.QuantizeActivations(src[:nr*in], n.aq.Range(0))
				}
			}
			sparse.Transpose(xt, src, active)
			l0 := &n.layers[0]
			cur := bufs[0]
			fill(cur, l0.bias)
			for i := range active {
				if active[i] != 0 {
					l0.row(cur, i, &xt[i])
				}
			}
			for l := 1; l < len(n.layers); l++ {
				L := &n.layers[l]
				hv := cur[:L.in*B]
				relu(hv)
				if n.aq != nil {
					n.aq.QuantizeActivations(hv, n.aq.Range(l))
				}
				o := bufs[l%2]
				fill(o, L.bias)
				for c := 0; c < L.in; c++ {
					hc := (*[B]float32)(cur[c*B : c*B+B])
					if *hc != ([B]float32{}) {
						L.row(o, c, hc)
					}
				}
				cur = o
			}
			for r := 0; r < nr; r++ {
				dst := logits[(r0+r)*classes : (r0+r+1)*classes]
				for k := range dst {
					dst[k] = cur[k*B+r]
				}
			}
		}
	})
}

// row adds input row i of the layer, x (one input of 16 images), times its
// kept weights into out (column c's 16 outputs at c·16), panel by panel.
func (l *layer) row(out []float32, i int, x *[sparse.Block]float32) {
	const span = panelWidth * sparse.Block
	for p := range l.panels {
		pn := &l.panels[p]
		s, e := pn.start[i], pn.start[i+1]
		if s < e {
			sparse.Row((*[span]float32)(out[p*span:(p+1)*span]), x, pn.cols[s:e], pn.vals[s:e])
		}
	}
}

// relu clears the negatives of v by their sign bit, without a branch (the
// signs of hidden units are a coin toss a branch predictor loses on).
func relu(v []float32) {
	for k, x := range v {
		u := math.Float32bits(x)
		v[k] = math.Float32frombits(u &^ uint32(int32(u)>>31))
	}
}

// fill sets out[c·16 … +16] to bias[c] for every c of bias.
func fill(out []float32, bias []float32) {
	for c, bc := range bias {
		o := (*[sparse.Block]float32)(out[c*sparse.Block : c*sparse.Block+sparse.Block])
		for r := range o {
			o[r] = bc
		}
	}
}

// rowSparse: out[c] += x_i · w for every kept (i, c, w), skipping x_i = 0.
func (l *layer) rowSparse(x, out []float32) {
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		s, e := l.rowStart[i], l.rowStart[i+1]
		cols, w := l.cols[s:e], l.wf[s:e]
		for k, c := range cols {
			out[c] += xi * w[k]
		}
	}
}

// rowInt: acc[j] = Σ_i q_i · k_ij in int32 (q_i = 0 contributes nothing).
func (l *layer) rowInt(q []float32, acc []int32) {
	clear(acc)
	for i, qf := range q {
		if qf == 0 {
			continue
		}
		qi := int32(qf)
		s, e := l.rowStart[i], l.rowStart[i+1]
		cols, w := l.cols[s:e], l.wk[s:e]
		for k, c := range cols {
			acc[c] += qi * int32(w[k])
		}
	}
}

// rowBook: out[j] += x_i · book_j[code_ij].
func (l *layer) rowBook(x, out []float32) {
	n := l.out
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		row := l.codes[i*n : (i+1)*n]
		for j, c := range row {
			out[j] += xi * l.lut[l.gOff[j]+int32(c)]
		}
	}
}
