package onnx

import (
	"fmt"
	"math"
	"strings"

	"mnistc/mnc"
	"mnistc/model"
)

// Opsets this package writes: Base for every network whose integers fit
// 8 bits (per-axis DequantizeLinear is opset 13), Wide when a tensor or an
// activation needs 4-bit or 16-bit integers (opset 21 added them).
const (
	Base = 13
	Wide = 21
)

// irVersion is the ONNX IR version that goes with each opset (ONNX's
// helper.VERSION_TABLE: opset 13 shipped with IR 7, opset 21 with IR 10).
var irVersion = map[int64]int64{Base: 7, Wide: 10}

// Input and Output name the graph's input (float32 [N, inputs], N
// dynamic) and output (float32 [N, classes], the logits before softmax).
const (
	Input  = "input"
	Output = "logits"
)

// Options change what Export writes.
type Options struct {
	// Int4 writes grids whose levels fit 4 bits as int4 initializers
	// (two to a byte: half the file) instead of int8. It needs opset 21,
	// and ONNX Runtime 1.30 runs such a layer slower (it dequantizes the
	// weights at every call instead of an integer kernel), so it is off by
	// default. The values are the same.
	Int4 bool
}

// Report says what Export wrote: one Item per tensor and activation
// quantizer, and notes on how runtimes treat the graph.
type Report struct {
	Items []Item   `json:"items"`
	Notes []string `json:"notes,omitempty"`
}

// WeightBiasNote is the note Export adds when a float32 weight matrix
// (float32, sparse or codebook in the file) takes a quantized activation:
// ONNX Runtime (1.30, at its default optimization level and any level from
// "basic") then quantizes that weight to int8 per tensor and its bias to
// int32 itself (its WeightBiasQuantization transformer), so it does not
// compute the graph as written.
const WeightBiasNote = "float32 weights after a quantized activation (%s): ONNX Runtime's graph optimizations (level basic and up) re-quantize them to int8 per tensor and the bias to int32, which changes the results; to run the graph as written, set its session option optimization.disable_specified_optimizers=WeightBiasQuantization"

// Item says what one tensor or activation quantizer of the network became.
type Item struct {
	Name  string `json:"name"`  // w1, b1, …, or "input of layer l"
	From  string `json:"from"`  // as the .mnc file stores it ("grid 8b ×128", "float32 sparse w5")
	As    string `json:"as"`    // in the ONNX graph
	Bytes int    `json:"bytes"` // initializer bytes in the graph (raw data)
}

// Export translates the network f holds into an ONNX model: each layer a
// MatMul, an Add of its bias and (between layers) a Relu. How a weight is
// stored follows its .mnc encoding:
//
//   - grid (s_g·k, per tensor or per output column): integer initializer of
//     the levels k (int8, or int4/int16 when they fit only those) with its
//     scales and zero points through DequantizeLinear (axis 1 per column),
//     which computes (x−zp)·s = s·k exactly as the file defines the values;
//   - codebook: an index initializer (uint8/uint16) and the books, through
//     Cast and Gather, which copy the values exactly;
//   - float32 and sparse tensors: dense float32 (pruned entries as zeros);
//   - biases: float32, expanded from whatever the file stores.
//
// Activation quantization (f.Meta.ActQuant) becomes, at each layer input, a
// QuantizeLinear/DequantizeLinear pair (uint8 up to 8 bits, uint16 above)
// with scale (hi−lo)/(2^b−1) and zero point 0 — preceded by a Clip to the
// range when b is not 8 or 16 (the integer type saturates at 2^b−1 only
// then) and, when lo ≠ 0, by a Sub of lo with an Add after, so the levels
// are lo + k·scale exactly as model.ActQuant computes them. The article's
// literal rule round(a/2^(b−1))·2^(b−1) becomes Div, Round, Mul. Both
// QuantizeLinear and Round round halves to even, as model.ActQuant does.
//
// Every value the graph computes before a MatMul is therefore bit for bit
// what mnistc computes; what a runtime does with the QDQ pairs (integer
// kernels) changes only the float rounding of the sums.
func Export(f *mnc.File, opt Options) (*Model, Report, error) {
	layers, err := f.Layers()
	if err != nil {
		return nil, Report{}, err
	}
	aq := f.Meta.ActQuant
	if aq != nil {
		if err := aq.Validate(len(layers)); err != nil {
			return nil, Report{}, fmt.Errorf("metadata: %w", err)
		}
	}
	sizes := mnc.Sizes(layers)
	b := &builder{opset: Base, int4: opt.Int4}
	cur := Input
	var floatAfterQDQ []string
	for l, L := range layers {
		qdq := false
		if aq != nil {
			cur, qdq = b.activation(cur, l, aq)
		}
		w, dq := b.weight(L.W)
		if qdq && !dq {
			floatAfterQDQ = append(floatAfterQDQ, L.W.Name)
		}
		bias := b.floatInit(L.B.Name, []int64{int64(L.B.Shape[0])}, L.B.Dense())
		b.items = append(b.items, Item{Name: L.B.Name, From: L.B.Describe(), As: "float32", Bytes: 4 * L.B.Shape[0]})
		n := l + 1
		mm := b.node("MatMul", fmt.Sprintf("layer%d_matmul", n), []string{cur, w})
		out := fmt.Sprintf("layer%d_out", n)
		if l == len(layers)-1 {
			out = Output
		}
		b.g.Nodes = append(b.g.Nodes, Node{Op: "Add", Name: fmt.Sprintf("layer%d_add", n), In: []string{mm, bias}, Out: []string{out}})
		cur = out
		if l < len(layers)-1 {
			cur = b.node("Relu", fmt.Sprintf("layer%d_relu", n), []string{cur})
		}
	}
	b.g.Name = "mnistc_" + model.ArchName(sizes)
	b.g.Inputs = []ValueInfo{{Name: Input, Type: Float, Dims: []Dim{{Param: "N"}, {Value: int64(sizes[0])}}}}
	b.g.Outputs = []ValueInfo{{Name: Output, Type: Float, Dims: []Dim{{Param: "N"}, {Value: int64(sizes[len(sizes)-1])}}}}
	m := &Model{
		IRVersion:    irVersion[b.opset],
		Opset:        b.opset,
		ProducerName: "mnistc",
		DocString:    "dense network " + model.ArchName(sizes) + " exported by mnistc: input float32 [N, inputs], output the logits (softmax not applied)",
		Graph:        b.g,
		Props:        [][2]string{{"mnistc.arch", model.ArchName(sizes)}},
	}
	if f.Meta.Source != "" {
		m.Props = append(m.Props, [2]string{"mnistc.source", f.Meta.Source})
	}
	r := Report{Items: b.items}
	if len(floatAfterQDQ) > 0 {
		note := fmt.Sprintf(WeightBiasNote, strings.Join(floatAfterQDQ, ", "))
		r.Notes = append(r.Notes, note)
		m.Props = append(m.Props, [2]string{"mnistc.note", note})
	}
	return m, r, nil
}

// FromCheckpoint exports a float32 checkpoint: it is packed first
// (mnc.Pack, with the metadata a deployed model needs), so weights that lie
// on a grid or a codebook — what the quantize passes leave — are exported
// as a .mnc file of them would be.
func FromCheckpoint(c model.Checkpoint, opt Options) (*Model, Report, error) {
	c.Meta = mnc.Lean(c.Meta)
	_, f, err := mnc.Pack(c)
	if err != nil {
		return nil, Report{}, err
	}
	return Export(f, opt)
}

// builder accumulates the graph.
type builder struct {
	g     Graph
	items []Item
	opset int64
	int4  bool
}

// node appends a one-output node and returns its output's name (the
// node's name).
func (b *builder) node(op, name string, in []string, attrs ...Attr) string {
	b.g.Nodes = append(b.g.Nodes, Node{Op: op, Name: name, In: in, Out: []string{name}, Attrs: attrs})
	return name
}

func (b *builder) floatInit(name string, dims []int64, v []float32) string {
	b.g.Inits = append(b.g.Inits, FloatTensor(name, dims, v))
	return name
}

func (b *builder) scalar(name string, v float32) string { return b.floatInit(name, nil, []float32{v}) }

// needs raises the opset to at least v.
func (b *builder) needs(v int64) { b.opset = max(b.opset, v) }

// intType describes an integer initializer type: its range and opset.
type intType struct {
	t      DataType
	lo, hi int64
	opset  int64
}

var (
	tInt4   = intType{Int4, -8, 7, Wide}
	tInt8   = intType{Int8, -128, 127, Base}
	tInt16  = intType{Int16, -32768, 32767, Wide}
	tUint8  = intType{Uint8, 0, 255, Base}
	tUint16 = intType{Uint16, 0, 65535, Wide}
)

// weight adds the initializers and nodes that produce the float32 weight
// matrix of t and returns its name; dq reports whether it is the output of
// a DequantizeLinear.
func (b *builder) weight(t *mnc.Tensor) (name string, dq bool) {
	dims := []int64{int64(t.Shape[0]), int64(t.Shape[1])}
	switch t.Map {
	case mnc.Grid:
		if name, ok := b.grid(t, dims); ok {
			return name, true
		}
	case mnc.Codebook:
		return b.codebook(t, dims), false
	}
	v := t.Dense()
	as := "float32"
	switch {
	case t.Map == mnc.Grid:
		as = "float32 (dequantized: levels wider than int16)"
	case t.Sparse:
		as = "float32, dense (pruned entries as zeros)"
	}
	b.items = append(b.items, Item{Name: t.Name, From: t.Describe(), As: as, Bytes: 4 * len(v)})
	return b.floatInit(t.Name, dims, v), false
}

// grid writes a grid tensor as integer levels through DequantizeLinear.
// ok is false when its levels need more than 16 bits.
func (b *builder) grid(t *mnc.Tensor, dims []int64) (string, bool) {
	G := max(t.Groups, 1)
	kmin, kmax := make([]int64, G), make([]int64, G)
	for g := range kmin {
		kmin[g], kmax[g] = math.MaxInt64, math.MinInt64
		if t.Sparse { // the entries not stored are +0: level 0
			kmin[g], kmax[g] = 0, 0
		}
	}
	level := func(i, g int) int64 { return int64(t.Codes[i]) + int64(t.Offsets[g]) }
	for i := range t.Codes {
		p := i
		if t.Sparse {
			p = int(t.Pos[i])
		}
		g := p % G
		k := level(i, g)
		kmin[g], kmax[g] = min(kmin[g], k), max(kmax[g], k)
	}
	var width int64
	for g := range kmin {
		width = max(width, kmax[g]-kmin[g]+1)
	}
	var it intType
	switch {
	case width <= 16 && b.int4:
		it = tInt4
	case width <= 256:
		it = tInt8
	case width <= 65536:
		it = tInt16
	default:
		return "", false
	}
	b.needs(it.opset)
	zp := make([]int32, G)
	for g := range zp {
		// x = k + zp within the type's range, zp as near 0 as that allows
		lo, hi := it.lo-kmin[g], it.hi-kmax[g]
		zp[g] = int32(min(max(0, lo), hi))
	}
	q := make([]int32, t.Len())
	for g := range G { // pruned entries: level 0
		for p := g; p < len(q); p += G {
			q[p] = zp[g]
		}
	}
	for i := range t.Codes {
		p := i
		if t.Sparse {
			p = int(t.Pos[i])
		}
		g := p % G
		q[p] = int32(level(i, g)) + zp[g]
	}
	name := t.Name
	var gdims []int64
	if G > 1 {
		gdims = []int64{int64(G)}
	}
	qt := IntTensor(name+"_quantized", it.t, dims, q)
	st := FloatTensor(name+"_scale", gdims, t.Scales[:G])
	zt := IntTensor(name+"_zero_point", it.t, gdims, zp)
	b.g.Inits = append(b.g.Inits, qt, st, zt)
	var attrs []Attr
	as := fmt.Sprintf("%s, one scale per tensor, DequantizeLinear", it.t)
	if G > 1 {
		attrs = []Attr{{Name: "axis", Int: 1}}
		as = fmt.Sprintf("%s, one scale per output column, DequantizeLinear axis=1", it.t)
	}
	if t.Sparse {
		as += " (pruned entries as level 0)"
	}
	b.items = append(b.items, Item{Name: name, From: t.Describe(), As: as, Bytes: len(qt.Raw) + len(st.Raw) + len(zt.Raw)})
	b.g.Nodes = append(b.g.Nodes, Node{Op: "DequantizeLinear", Name: name + "_dequantize",
		In: []string{qt.Name, st.Name, zt.Name}, Out: []string{name}, Attrs: attrs})
	return name, true
}

// codebook writes a codebook tensor as indices into the books laid end to
// end (plus a +0 entry for a sparse tensor's pruned entries), through
// Cast (Gather takes int32 or int64 indices) and Gather.
func (b *builder) codebook(t *mnc.Tensor, dims []int64) string {
	G := max(t.Groups, 1)
	var flat []float32
	off := make([]int32, G)
	for g, book := range t.Book[:G] {
		off[g] = int32(len(flat))
		flat = append(flat, book...)
	}
	zero := int32(len(flat))
	if t.Sparse {
		flat = append(flat, 0)
	}
	idx := make([]int32, t.Len())
	for p := range idx {
		idx[p] = zero
	}
	for i, c := range t.Codes {
		p := i
		if t.Sparse {
			p = int(t.Pos[i])
		}
		idx[p] = off[p%G] + int32(c)
	}
	it := Uint8
	switch {
	case len(flat) > 65536:
		it = Int32
	case len(flat) > 256:
		it = Uint16
	}
	name := t.Name
	xt := IntTensor(name+"_index", it, dims, idx)
	bt := FloatTensor(name+"_codebook", []int64{int64(len(flat))}, flat)
	b.g.Inits = append(b.g.Inits, xt, bt)
	ix := xt.Name
	if it != Int32 {
		ix = b.node("Cast", name+"_index_int32", []string{xt.Name}, Attr{Name: "to", Int: int64(Int32)})
	}
	b.g.Nodes = append(b.g.Nodes, Node{Op: "Gather", Name: name + "_gather", In: []string{bt.Name, ix}, Out: []string{name}})
	as := fmt.Sprintf("%s indices into a %d-entry float32 codebook, Cast + Gather", it, len(flat))
	b.items = append(b.items, Item{Name: name, From: t.Describe(), As: as, Bytes: len(xt.Raw) + len(bt.Raw)})
	return name
}

// activation adds the quantizer of layer l's input (l from 0) and returns
// the name of its output; qdq reports whether that is a DequantizeLinear's
// (which runtimes fuse with the MatMul after it).
func (b *builder) activation(cur string, l int, aq *model.ActQuant) (out string, qdq bool) {
	p := fmt.Sprintf("act%d_", l)
	what := fmt.Sprintf("input of layer %d", l+1)
	from := fmt.Sprintf("actquant %d bits, calib %s", aq.Bits, aq.Calib)
	if aq.Literal {
		step := float32(math.Ldexp(1, aq.Bits-1))
		s := b.scalar(p+"step", step)
		cur = b.node("Div", p+"div", []string{cur, s})
		cur = b.node("Round", p+"round", []string{cur})
		cur = b.node("Mul", p+"mul", []string{cur, s})
		b.items = append(b.items, Item{Name: what, From: from, As: fmt.Sprintf("literal round(a/%g)·%g: Div, Round, Mul", step, step), Bytes: 4})
		return cur, false
	}
	r := aq.Range(l)
	levels := float32(int(1)<<aq.Bits - 1)
	scale := (r.Hi - r.Lo) / levels // as model.ActQuant computes it
	if scale <= 0 {
		// a range of one point: every value becomes lo
		z := b.scalar(p+"zero", 0)
		lo := b.scalar(p+"lo", r.Lo)
		cur = b.node("Mul", p+"times_zero", []string{cur, z})
		cur = b.node("Add", p+"constant", []string{cur, lo})
		b.items = append(b.items, Item{Name: what, From: from, As: fmt.Sprintf("constant %g (the range is one point)", r.Lo), Bytes: 8})
		return cur, false
	}
	it := tUint8
	if aq.Bits > 8 {
		it = tUint16
	}
	b.needs(it.opset)
	bytes := 4 + 1
	if aq.Bits != 8 && aq.Bits != 16 {
		lo, hi := b.scalar(p+"clip_lo", r.Lo), b.scalar(p+"clip_hi", r.Hi)
		cur = b.node("Clip", p+"clip", []string{cur, lo, hi})
		bytes += 8
	}
	var lo string
	if r.Lo != 0 {
		lo = b.scalar(p+"lo", r.Lo)
		cur = b.node("Sub", p+"minus_lo", []string{cur, lo})
		bytes += 4
	}
	st := FloatTensor(p+"scale", nil, []float32{scale})
	zt := IntTensor(p+"zero_point", it.t, nil, []int32{0})
	b.g.Inits = append(b.g.Inits, st, zt)
	cur = b.node("QuantizeLinear", p+"quantize", []string{cur, st.Name, zt.Name})
	cur = b.node("DequantizeLinear", p+"dequantize", []string{cur, st.Name, zt.Name})
	as := fmt.Sprintf("%s QuantizeLinear/DequantizeLinear, scale %g, zero point 0", it.t, scale)
	if aq.Bits != 8 && aq.Bits != 16 {
		as = fmt.Sprintf("Clip [%g, %g], ", r.Lo, r.Hi) + as
	}
	if lo != "" {
		cur = b.node("Add", p+"plus_lo", []string{cur, lo})
		as += fmt.Sprintf(", between Sub and Add of lo %g", r.Lo)
	}
	b.items = append(b.items, Item{Name: what, From: from, As: as, Bytes: bytes})
	return cur, lo == ""
}
