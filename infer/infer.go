// Package infer evaluates a network straight from its packed tensors
// (package mnc) without expanding them to dense float32: pruned tensors run
// through a sparse kernel over their kept entries (CSR by input row, which
// also skips the input's zero pixels), grid-quantized tensors through an
// integer kernel when the layer's input is quantized too (uint8 codes ×
// integer levels, int32 accumulation, one float rescale per output), and
// other quantized tensors over their codes. Only tensors the file stores as
// float32 use a dense BLAS GEMM, as model.Forward does.
package infer

import (
	"fmt"
	"math"

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
	kDense    = "dense float32 (model.Forward: rows of the non-zero pixels; BLAS for dense inputs)"
	kSparse   = "sparse float32 over kept entries (CSR)"
	kGridF    = "integer levels × float input, one rescale per output"
	kGridInt  = "integer levels × uint8 input codes, int32 accumulation, one rescale per output"
	kSparseI  = "sparse integer levels × uint8 input codes (CSR), int32 accumulation"
	kCodebook = "codebook lookup × float input"
)

// layer is one dense layer out = in·W + b in whichever form the file gave.
type layer struct {
	name    string
	in, out int
	kind    string
	bias    []float32

	dense []float32 // kDense: in×out

	// CSR over input rows (kSparse, kSparseI)
	rowStart []int32
	cols     []uint16
	wf       []float32 // kSparse: kept values

	// The block kernel's view (package sparse): byte columns and float
	// values per input row. Set for kSparse layers with out ≤ 256 and for
	// small layers of any kind (w2: at most 4,096 entries, decoded once).
	block  bool
	bStart []int32
	bCols  []uint8
	bVals  []float32
	wk     []int16 // kGridF, kGridInt (dense in×out); kSparseI (kept)

	colScale []float32 // grid kernels: the scale of each output column
	colK     []int32   // kGridInt, kSparseI: Σ_i k_ij, for a non-zero input offset

	lut   []float32 // kCodebook: group books back to back
	gOff  []int32   // kCodebook: per output column, its book's offset in lut
	codes []uint16  // kCodebook: in×out

	kept int
}

// Net is a network ready to evaluate from packed tensors.
type Net struct {
	l1, l2 layer
	aq     *model.ActQuant
	hidden int
}

// New builds the evaluator of f.
func New(f *mnc.File) (*Net, error) {
	get := func(name string) (*mnc.Tensor, error) {
		t := f.Tensor(name)
		if t == nil {
			return nil, fmt.Errorf("the file has no tensor %s", name)
		}
		return t, nil
	}
	w1, err := get("w1")
	if err != nil {
		return nil, err
	}
	b1, err := get("b1")
	if err != nil {
		return nil, err
	}
	w2, err := get("w2")
	if err != nil {
		return nil, err
	}
	b2, err := get("b2")
	if err != nil {
		return nil, err
	}
	h := b1.Len()
	if len(w1.Shape) != 2 || w1.Shape[0] != model.Inputs || w1.Shape[1] != h ||
		len(w2.Shape) != 2 || w2.Shape[0] != h || w2.Shape[1] != model.Classes || b2.Len() != model.Classes {
		return nil, fmt.Errorf("shapes w1 %v b1 %v w2 %v b2 %v do not form a 784-H-10 network", w1.Shape, b1.Shape, w2.Shape, b2.Shape)
	}
	n := &Net{aq: f.Meta.ActQuant, hidden: h}
	if n.aq != nil && n.aq.Literal {
		return nil, fmt.Errorf("literal activation quantization is not supported from a packed file; unpack and evaluate the .npz")
	}
	n.l1 = build("w1", w1, b1.Dense(), n.aq != nil)
	n.l2 = build("w2", w2, b2.Dense(), n.aq != nil)
	return n, nil
}

// inRange returns the activation range feeding layer 1 (input) or 2 (hidden).
func (n *Net) inRange(input bool) model.Range {
	if n.aq == nil {
		return model.Range{}
	}
	if input {
		return n.aq.Input
	}
	return n.aq.Hidden
}

// Kernels describes the kernel each layer runs.
func (n *Net) Kernels() []string {
	return []string{n.l1.describe(), n.l2.describe()}
}

func (l *layer) describe() string {
	return fmt.Sprintf("%s (%d×%d, %d stored): %s", l.name, l.in, l.out, l.kept, l.kind)
}

func build(name string, t *mnc.Tensor, bias []float32, quantIn bool) layer {
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
		l.cols = make([]uint16, len(t.Pos))
		for k, p := range t.Pos {
			l.cols[k] = uint16(col(int(p)))
		}
		if t.Map == mnc.Float {
			l.kind, l.wf = kSparse, t.Float
		} else if t.Map == mnc.Grid && quantIn && intSafe(t, in) {
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
		if quantIn && intSafe(t, in) {
			l.kind = kGridInt
			l.colK = make([]int32, out)
			for i, k := range l.wk {
				l.colK[col(i)] += int32(k)
			}
		}
	default: // codebooks, and grids too wide for int16 levels
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
	if out <= 256 && (l.kind == kSparse || in*out <= 4096) {
		l.block = true
		l.bStart = make([]int32, in+1)
		v := t.Dense()
		for i := 0; i < in; i++ {
			for j := 0; j < out; j++ {
				if x := v[i*out+j]; x != 0 {
					l.bCols = append(l.bCols, uint8(j))
					l.bVals = append(l.bVals, x)
				}
			}
			l.bStart[i+1] = int32(len(l.bVals))
		}
	}
	return l
}

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

// intSafe: int32 accumulation of in products of an 8-bit input code and a
// level cannot overflow.
func intSafe(t *mnc.Tensor, in int) bool {
	if !intFits(t) {
		return false
	}
	maxK := 0
	for _, o := range t.Offsets {
		maxK = max(maxK, abs(int(o)), abs(int(o)+(1<<t.Bits)-1))
	}
	return int64(in)*255*int64(maxK) < math.MaxInt32
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// chunk is how many images one pass of both layers takes.
const chunk = 2048

// Forward returns the logits (count×10) of count images x (count×784).
func (n *Net) Forward(x []float32, count int) []float32 {
	if len(x) != count*model.Inputs {
		panic("infer: input length does not match count×784")
	}
	if n.aq != nil && n.aq.Bits > 8 {
		panic("infer: activation codes wider than 8 bits")
	}
	if n.l1.kind == kDense && n.l2.kind == kDense {
		// float32 weights: model's own evaluation (over each image's non-zero
		// pixels, BLAS for dense inputs)
		p := model.Params{
			W1: model.Tensor{Name: "w1", Shape: []int{n.l1.in, n.l1.out}, Data: n.l1.dense}, B1: model.Tensor{Name: "b1", Shape: []int{n.l1.out}, Data: n.l1.bias},
			W2: model.Tensor{Name: "w2", Shape: []int{n.l2.in, n.l2.out}, Data: n.l2.dense}, B2: model.Tensor{Name: "b2", Shape: []int{n.l2.out}, Data: n.l2.bias}}
		return model.Forward(p, x, count, n.aq)
	}
	logits := make([]float32, count*model.Classes)
	if n.l1.kind == kSparse && n.l1.block && n.l2.block {
		n.forwardBlocks(x, count, logits)
		return logits
	}
	hid := make([]float32, chunk*n.hidden)
	var xin []float32
	if n.aq != nil {
		xin = make([]float32, chunk*model.Inputs)
	}
	for lo := 0; lo < count; lo += chunk {
		m := min(chunk, count-lo)
		xc := x[lo*model.Inputs : (lo+m)*model.Inputs]
		if n.aq != nil {
			// Layer inputs become their level indices 0…2^b−1 (as float32,
			// exact); each kernel folds the range back in.
			xc = codesOf(xin[:len(xc)], xc, n.aq.Bits, n.aq.Input)
		}
		hc := hid[:m*n.hidden]
		n.l1.forward(xc, m, hc, n.inRange(true), n.aq)
		for i, v := range hc {
			if v < 0 {
				hc[i] = 0
			}
		}
		if n.aq != nil {
			hc = codesOf(hc, hc, n.aq.Bits, n.aq.Hidden)
		}
		n.l2.forward(hc, m, logits[lo*model.Classes:(lo+m)*model.Classes], n.inRange(false), n.aq)
	}
	return logits
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
	if l.kind == kDense {
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

// forwardBlocks runs both layers on blocks of 16 images held transposed:
// each kept weight of a row updates 16 outputs at once (package sparse),
// and an input row that is zero in all 16 images is skipped. Rows are taken
// in increasing order, so an image's result does not depend on the other
// images of its block.
func (n *Net) forwardBlocks(x []float32, count int, logits []float32) {
	const B = sparse.Block
	const in = model.Inputs
	h := n.hidden
	blocks := (count + B - 1) / B
	par.Rows(blocks, 1, func(a, b int) {
		xt := new([in][B]float32)
		var active [in]uint32 // non-zero when some image of the block uses the row
		hid, out := new([256 * B]float32), new([256 * B]float32)
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
					n.aq.QuantizeActivations(src[:nr*in], n.aq.Input)
				}
			}
			sparse.Transpose(xt[:], src, active[:])
			fill(hid, n.l1.bias)
			for i := range active {
				if active[i] != 0 {
					s, e := n.l1.bStart[i], n.l1.bStart[i+1]
					sparse.Row(hid, &xt[i], n.l1.bCols[s:e], n.l1.bVals[s:e])
				}
			}
			hv := hid[:h*B]
			for k, v := range hv { // ReLU without a branch: clear negatives by their sign bit
				u := math.Float32bits(v)
				hv[k] = math.Float32frombits(u &^ uint32(int32(u)>>31))
			}
			if n.aq != nil {
				n.aq.QuantizeActivations(hv, n.aq.Hidden)
			}
			fill(out, n.l2.bias)
			for c := 0; c < h; c++ {
				hc := (*[B]float32)(hid[c*B : c*B+B])
				if *hc == ([B]float32{}) {
					continue
				}
				s, e := n.l2.bStart[c], n.l2.bStart[c+1]
				sparse.Row(out, hc, n.l2.bCols[s:e], n.l2.bVals[s:e])
			}
			for r := 0; r < nr; r++ {
				dst := logits[(r0+r)*model.Classes : (r0+r+1)*model.Classes]
				for k := range dst {
					dst[k] = out[k*B+r]
				}
			}
		}
	})
}

// fill sets out[c·16 … +16] to bias[c] for every c of bias.
func fill(out *[256 * sparse.Block]float32, bias []float32) {
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
