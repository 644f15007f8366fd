package training

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"mnistc/internal/dense"
	"mnistc/internal/kernel"
)

// The training graph is built from three fused gorgonia ops — the hidden
// layer (x·W1 + b1, then ReLU), the output layer (a·W2 + b2) and the mean
// cross-entropy of the softmax — whose derivatives are gorgonia ops too, so
// gorgonia's symbolic differentiation (G.Grad) builds the backward pass;
// stepMachine runs it (exec.go; gorgonia's tape machine gives the same bits,
// tested). Fusing them took the program from about fifty instructions per
// step to about fifteen, and each op runs a kernel made for this network
// rather than general tensor code:
//
//   - both layers and their weight gradients work over the non-zero entries
//     of their inputs (MNIST digits are about 19 % ink; ReLU zeroes about half
//     of the hidden units), summing rows of a matrix in registers with
//     kernel.AccumRows — the same kernels and order as evaluation (model.Forward);
//   - every op writes into a buffer it owns, allocated once: gorgonia's tape
//     machine drops its registers at each Reset, so gorgonia's own ops
//     allocate (and clear) every output again at every step;
//   - gradients are read from the gradient nodes directly rather than added
//     into dual values (a second pass over every gradient).
//
// On MNIST no BLAS call is left in a training step, so training gives the
// same bits with OpenBLAS, with gonum's pure-Go BLAS and with any thread
// count. Inputs denser than dense.SparseInput (random benchmark data) take the
// BLAS GEMMs for the first layer and its gradient.

//
// A training step runs on one goroutine. Splitting its layers over the two
// cores measured slower here: starting a goroutine and waking the waiter
// each cost a futex wake-up of an idle virtual CPU (about 40 µs of CPU in
// the profile, four per step), about what the split saves even at batch
// 128 (the first layer's forward and gradient are 140 and 200 µs there).
// Sweeps run cells in parallel instead.

// owned is an op's output buffer, allocated at the first step and
// overwritten at every later one.
type owned struct {
	t *tensor.Dense
	d []float32
}

func (o *owned) get(shape ...int) (*tensor.Dense, []float32) {
	if o.t == nil || !o.t.Shape().Eq(tensor.Shape(shape)) {
		o.d = make([]float32, tensor.Shape(shape).TotalSize())
		o.t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(o.d))
	}
	return o.t, o.d
}

// args remembers the float32 data of an op's last inputs. A step passes
// the same tensors every time (bound inputs, or outputs the ops own), and
// tensor.Dense.Data allocates a slice header through reflection at each
// call, so asking once per tensor keeps a step free of garbage.
type args struct {
	v []G.Value
	d [][]float32
}

// f32s returns the float32 data of the values, or an error naming op.
func (a *args) f32s(op string, v ...G.Value) ([][]float32, error) {
	if len(a.v) < len(v) {
		a.v = append(a.v, make([]G.Value, len(v)-len(a.v))...)
		a.d = append(a.d, make([][]float32, len(v)-len(a.d))...)
	}
	for i, x := range v {
		if x == a.v[i] && a.d[i] != nil {
			continue
		}
		d, ok := x.Data().([]float32)
		if !ok {
			return a.d, fmt.Errorf("%s takes float32 tensors, got %T", op, x.Data())
		}
		a.v[i], a.d[i] = x, d
	}
	return a.d, nil
}

// fusedOp holds what every op here shares: a name (its hash and String)
// and the methods gorgonia asks of an op that reads and never overwrites
// its inputs.
type fusedOp struct {
	name string
	in   *args
}

func (f fusedOp) ReturnsPtr() bool      { return false }
func (f fusedOp) CallsExtern() bool     { return false }
func (f fusedOp) OverwritesInput() int  { return -1 }
func (f fusedOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "mnistc."+f.name) }
func (f fusedOp) Hashcode() uint32      { return hashOf(f) }
func (f fusedOp) String() string        { return f.name }

func (f *fusedOp) f32s(op string, v ...G.Value) ([][]float32, error) {
	if f.in == nil {
		f.in = new(args)
	}
	return f.in.f32s(op, v...)
}

// fnType is the type of an op from in matrices to a matrix, or to a
// scalar when scalar is set.
func fnType(in int, scalar bool) hm.Type {
	t := make([]hm.Type, in+1)
	for i := range t {
		t[i] = matType
	}
	if scalar {
		t[in] = hm.TypeVariable('a')
	}
	return hm.NewFnType(t...)
}

var matType = G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// gemm writes op(a)·b into out (overwriting it) with the BLAS blas32 uses.
func gemm(ta blas.Transpose, a, b, out G.Value) (G.Value, error) {
	ad, ok1 := a.Data().([]float32)
	bd, ok2 := b.Data().([]float32)
	od, ok3 := out.Data().([]float32)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("mnistc matmul ops take float32 tensors")
	}
	as, bs := a.Shape(), b.Shape()
	blas32.Gemm(ta, blas.NoTrans, 1,
		blas32.General{Rows: as[0], Cols: as[1], Stride: as[1], Data: ad},
		blas32.General{Rows: bs[0], Cols: bs[1], Stride: bs[1], Data: bd},
		0, blas32.General{Rows: out.Shape()[0], Cols: out.Shape()[1], Stride: out.Shape()[1], Data: od})
	return out, nil
}

// ---- hidden layer: a = relu(x·W1 + b1) ----

type hiddenLayer struct {
	fusedOp
	out       owned
	idx       []int32 // firstLayerRows' scratch
	vals      []float32
	denseRows []int
}

func newHiddenLayer() *hiddenLayer { return &hiddenLayer{fusedOp: fusedOp{name: "relu(x×W1+b1)"}} }

func (*hiddenLayer) Arity() int                { return 3 }
func (*hiddenLayer) Type() hm.Type             { return fnType(3, false) }
func (*hiddenLayer) DiffWRT(inputs int) []bool { return []bool{false, true, true} }
func (*hiddenLayer) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, w := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(x) != 2 || len(w) != 2 || x[1] != w[0] {
		return nil, fmt.Errorf("x×W1: shapes %v and %v do not multiply", x, w)
	}
	return tensor.Shape{x[0], w[1]}, nil
}

func (op *hiddenLayer) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("hidden layer", v...)
	if err != nil {
		return nil, err
	}
	m, k, h := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[1]
	t, out := op.out.get(m, h)
	if len(op.idx) < k+8 {
		op.idx, op.vals = make([]int32, k+8), make([]float32, k+8)
	}
	op.denseRows = dense.SparseRows(d[0], k, 0, m, d[1], d[2], h, out, op.idx, op.vals, op.denseRows[:0])
	dense.Rows(d[0], k, op.denseRows, d[1], d[2], h, out)
	dense.Relu(out)
	return t, nil
}

// SymDiff: δ = g ⊙ [a > 0]; ∂W1 = xᵀ·δ; ∂b1 = Σ_rows δ; no ∂x.
func (op *hiddenLayer) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	delta, err := G.ApplyOp(&reluGrad{fusedOp: fusedOp{name: "g⊙[a>0]"}}, output, grad)
	if err != nil {
		return nil, err
	}
	dW, err := G.ApplyOp(&inputGrad{fusedOp: fusedOp{name: "xᵀ×δ"}}, inputs[0], delta)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&colSum{fusedOp: fusedOp{name: "Σrows δ"}}, delta)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, dW, db}, nil
}

// reluGrad is g where a > 0, else 0.
type reluGrad struct {
	fusedOp
	out owned
}

func (*reluGrad) Arity() int    { return 2 }
func (*reluGrad) Type() hm.Type { return fnType(2, false) }
func (*reluGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[1].(tensor.Shape).Clone(), nil
}

func (op *reluGrad) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("relu gradient", v...)
	if err != nil {
		return nil, err
	}
	t, out := op.out.get(v[1].Shape()...)
	a, g := d[0], d[1][:len(d[0])]
	for i, x := range a {
		out[i] = 0
		if x > 0 {
			out[i] = g[i]
		}
	}
	return t, nil
}

// inputGrad is xᵀ·δ (K×N) for x (B×K) and δ (B×N): a layer's weight
// gradient. Row p is the sum, over the images whose input p is not zero
// and in batch order, of x[b,p]·δ[b,:] (kernel.AccumRows): the non-zero
// entries are sorted by input first (a counting sort). For the first layer
// a batch with more than dense.SparseInput of its entries non-zero takes
// the BLAS GEMM (dense benchmark data); a middle layer's input is a ReLU
// output, about half zeros, and always takes the sparse sums (sparse), so
// its bits do not depend on the BLAS.
type inputGrad struct {
	fusedOp
	sparse     bool
	out        owned
	nzIdx      []int32   // each image's non-zero pixels, one image after another
	nzVal      []float32 // and their values
	first      []int     // per pixel, where its entries start in rows/coef (K+1)
	ends       []int     // per image, where its entries end in nzIdx
	rows, next []int32
	coef       []float32
}

func (*inputGrad) Arity() int    { return 2 }
func (*inputGrad) Type() hm.Type { return fnType(2, false) }
func (*inputGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, b := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(a) != 2 || len(b) != 2 || a[0] != b[0] {
		return nil, fmt.Errorf("xᵀ×δ: shapes %v and %v do not multiply", a, b)
	}
	return tensor.Shape{a[1], b[1]}, nil
}

func (op *inputGrad) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("first-layer gradient", v...)
	if err != nil {
		return nil, err
	}
	B, K, N := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[1]
	t, out := op.out.get(K, N)
	if len(op.nzIdx) < B*K+8 {
		op.nzIdx, op.nzVal = make([]int32, B*K+8), make([]float32, B*K+8)
		op.rows, op.coef = make([]int32, B*K), make([]float32, B*K)
		op.first, op.next = make([]int, K+1), make([]int32, K)
	}
	if len(op.ends) < B {
		op.ends = make([]int, B)
	}
	x, delta, ends := d[0], d[1], op.ends
	total := 0
	for b := 0; b < B; b++ {
		total += kernel.NonZero(x[b*K:(b+1)*K], op.nzIdx[total:total+K+8], op.nzVal[total:total+K+8])
		ends[b] = total
	}
	if !op.sparse && total > int(dense.SparseInput*float64(B*K)) {
		return gemm(blas.Trans, v[0], v[1], t)
	}
	// Counting sort of the entries by pixel; within a pixel, images stay in
	// batch order.
	first := op.first[:K+1]
	clear(first)
	for _, p := range op.nzIdx[:total] {
		first[p+1]++
	}
	for p := 0; p < K; p++ {
		first[p+1] += first[p]
		op.next[p] = int32(first[p])
	}
	s := 0
	for b := 0; b < B; b++ {
		for e := s; e < ends[b]; e++ {
			p := op.nzIdx[e]
			at := op.next[p]
			op.rows[at], op.coef[at] = int32(b), op.nzVal[e]
			op.next[p]++
		}
		s = ends[b]
	}
	for p := 0; p < K; p++ {
		o := out[p*N : (p+1)*N]
		clear(o)
		if a, e := first[p], first[p+1]; a < e {
			kernel.AccumRows(o, delta, N, op.rows[a:e], op.coef[a:e])
		}
	}
	return t, nil
}

// colSum is the 1×N sum of the rows of a B×N matrix, in row order.
type colSum struct {
	fusedOp
	out owned
	all []int32
	one []float32
}

func (*colSum) Arity() int    { return 1 }
func (*colSum) Type() hm.Type { return fnType(1, false) }
func (*colSum) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{1, in[0].(tensor.Shape)[1]}, nil
}

func (op *colSum) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("row sum", v...)
	if err != nil {
		return nil, err
	}
	B, N := v[0].Shape()[0], v[0].Shape()[1]
	t, out := op.out.get(1, N)
	op.all, op.one = iota32(op.all, B), ones(op.one, B)
	clear(out)
	kernel.AccumRows(out, d[0], N, op.all, op.one)
	return t, nil
}

// iota32 returns 0, 1, …, n−1, reusing idx when it has that length.
func iota32(idx []int32, n int) []int32 {
	if len(idx) != n {
		idx = make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
	}
	return idx
}

// ones returns n ones, reusing v when it has that length.
func ones(v []float32, n int) []float32 {
	if len(v) != n {
		v = make([]float32, n)
		for i := range v {
			v[i] = 1
		}
	}
	return v
}

// ---- linear layers after the first: z = a·W + b, then ReLU for a middle layer ----

// linearLayer is a·W + b over each image's non-zero inputs, as Forward
// computes it, with ReLU after it for a middle layer (relu set). Its
// derivative includes the input gradient, which the layer below needs.
type linearLayer struct {
	fusedOp
	relu bool
	out  owned
	idx  []int32
	vals []float32
}

// newLinearLayer returns layer l's op (1-based, for its name).
func newLinearLayer(l int, relu bool) *linearLayer {
	name := fmt.Sprintf("a×W%d+b%d", l, l)
	if relu {
		name = "relu(" + name + ")"
	}
	return &linearLayer{fusedOp: fusedOp{name: name}, relu: relu}
}

func (*linearLayer) Arity() int                { return 3 }
func (*linearLayer) Type() hm.Type             { return fnType(3, false) }
func (*linearLayer) DiffWRT(inputs int) []bool { return []bool{true, true, true} }
func (*linearLayer) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, w := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(a) != 2 || len(w) != 2 || a[1] != w[0] {
		return nil, fmt.Errorf("a×W: shapes %v and %v do not multiply", a, w)
	}
	return tensor.Shape{a[0], w[1]}, nil
}

// Do sums, per image, the rows of W of its non-zero inputs, as Forward
// does.
func (op *linearLayer) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s(op.name, v...)
	if err != nil {
		return nil, err
	}
	B, H, C := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[1]
	t, out := op.out.get(B, C)
	if len(op.idx) < H+8 {
		op.idx, op.vals = make([]int32, H+8), make([]float32, H+8)
	}
	a, w, bias := d[0], d[1], d[2]
	for b := 0; b < B; b++ {
		o := out[b*C : (b+1)*C]
		copy(o, bias)
		k := kernel.NonZero(a[b*H:(b+1)*H], op.idx, op.vals)
		kernel.AccumRows(o, w, C, op.idx[:k], op.vals[:k])
	}
	if op.relu {
		dense.Relu(out)
	}
	return t, nil
}

// SymDiff: with ReLU, δ = g ⊙ [z > 0] first; then ∂a = δ·Wᵀ, ∂W = aᵀ·δ,
// ∂b = Σ_rows δ.
func (op *linearLayer) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	delta := grad
	if op.relu {
		var err error
		if delta, err = G.ApplyOp(&reluGrad{fusedOp: fusedOp{name: "g⊙[a>0] " + op.name}}, output, grad); err != nil {
			return nil, err
		}
	}
	da, err := G.ApplyOp(&outGradIn{fusedOp: fusedOp{name: "δ×Wᵀ " + op.name}}, delta, inputs[1])
	if err != nil {
		return nil, err
	}
	// ∂W = aᵀ·δ: below a ReLU (a middle layer) by sums over a's non-zero
	// entries, as the first layer's; the last layer keeps outGradW, whose
	// summation order the article's network's weights were trained with
	var wop G.Op = &outGradW{fusedOp: fusedOp{name: "aᵀ×δ " + op.name}}
	if op.relu {
		wop = &inputGrad{fusedOp: fusedOp{name: "aᵀ×δ " + op.name}, sparse: true}
	}
	dW, err := G.ApplyOp(wop, inputs[0], delta)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&colSum{fusedOp: fusedOp{name: "Σrows δ " + op.name}}, delta)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, dW, db}, nil
}

// outGradIn is g·W2ᵀ (B×H) for g (B×C) and W2 (H×C): each row is the sum
// of the C rows of W2ᵀ weighted by that row of g.
type outGradIn struct {
	fusedOp
	out  owned
	wT   []float32
	idx  []int32
	vals []float32
}

func (*outGradIn) Arity() int    { return 2 }
func (*outGradIn) Type() hm.Type { return fnType(2, false) }
func (*outGradIn) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[0], in[1].(tensor.Shape)[0]}, nil
}

func (op *outGradIn) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("output-layer input gradient", v...)
	if err != nil {
		return nil, err
	}
	B, C, H := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[0]
	t, out := op.out.get(B, H)
	op.wT = transpose(op.wT, d[1], H, C)
	if len(op.idx) < C+8 {
		op.idx, op.vals = make([]int32, C+8), make([]float32, C+8)
	}
	g := d[0]
	for b := 0; b < B; b++ {
		o := out[b*H : (b+1)*H]
		clear(o)
		// the rows of Wᵀ weighted by g's non-zero entries (below a ReLU
		// half of them are zero; skipping an exact zero changes no bit)
		k := kernel.NonZero(g[b*C:(b+1)*C], op.idx, op.vals)
		kernel.AccumRows(o, op.wT, H, op.idx[:k], op.vals[:k])
	}
	return t, nil
}

// outGradW is aᵀ·g (H×C) for a (B×H) and g (B×C), computed as its
// transpose gᵀ·a: C rows, each the sum of the B rows of a weighted by a
// column of g.
type outGradW struct {
	fusedOp
	out  owned
	tmp  []float32
	col  []float32
	idx  []int32
	vals []float32
}

func (*outGradW) Arity() int    { return 2 }
func (*outGradW) Type() hm.Type { return fnType(2, false) }
func (*outGradW) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[1], in[1].(tensor.Shape)[1]}, nil
}

func (op *outGradW) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("output-layer weight gradient", v...)
	if err != nil {
		return nil, err
	}
	B, H, C := v[0].Shape()[0], v[0].Shape()[1], v[1].Shape()[1]
	t, out := op.out.get(H, C)
	if len(op.tmp) != C*H {
		op.tmp = make([]float32, C*H)
	}
	if len(op.col) != B {
		op.col = make([]float32, B)
		op.idx, op.vals = make([]int32, B+8), make([]float32, B+8)
	}
	a, g := d[0], d[1]
	clear(op.tmp)
	for k := 0; k < C; k++ {
		for b := range op.col {
			op.col[b] = g[b*C+k]
		}
		// the rows of a of the images whose g[b,k] is not zero
		n := kernel.NonZero(op.col, op.idx, op.vals)
		kernel.AccumRows(op.tmp[k*H:(k+1)*H], a, H, op.idx[:n], op.vals[:n])
	}
	transposeInto(out, op.tmp, C, H)
	return t, nil
}

// transpose returns the c×r transpose of the r×c matrix m, in dst when it
// has room.
func transpose(dst, m []float32, r, c int) []float32 {
	if len(dst) != r*c {
		dst = make([]float32, r*c)
	}
	transposeInto(dst, m, r, c)
	return dst
}

func transposeInto(dst, m []float32, r, c int) {
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			dst[j*r+i] = m[i*c+j]
		}
	}
}

// ---- loss: mean cross-entropy of softmax(z/T) against targets ----

// softmaxCE is −(1/B)·Σ_b Σ_k t[b,k]·log softmax(z[b]/T)_k, a scalar, for
// logits z and target distributions t (one-hot labels, or a teacher's soft
// targets), in float64 from float32 inputs. It keeps softmax(z/T) and each
// row's target mass for its derivative, which runs after it in every step.
type softmaxCE struct {
	fusedOp
	T    float64
	prob []float64 // softmax(z/T), B×C, from the last Do
	mass []float64 // Σ_k t[b,k]
	cost G.F32
}

func newSoftmaxCE(T float64) *softmaxCE {
	return &softmaxCE{fusedOp: fusedOp{name: fmt.Sprintf("CE(t, softmax(z/%g))", T)}, T: T}
}

func (*softmaxCE) Arity() int                { return 2 }
func (*softmaxCE) Type() hm.Type             { return fnType(2, true) }
func (*softmaxCE) DiffWRT(inputs int) []bool { return []bool{true, false} }
func (*softmaxCE) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *softmaxCE) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("cross-entropy", v...)
	if err != nil {
		return nil, err
	}
	B, C := v[0].Shape()[0], v[0].Shape()[1]
	if len(op.prob) != B*C {
		op.prob, op.mass = make([]float64, B*C), make([]float64, B)
	}
	var sum float64
	for b := 0; b < B; b++ {
		z, t, e := d[0][b*C:(b+1)*C], d[1][b*C:(b+1)*C], op.prob[b*C:(b+1)*C]
		mx := math.Inf(-1)
		for _, x := range z {
			mx = math.Max(mx, float64(x)/op.T)
		}
		var se float64
		for k, x := range z {
			e[k] = math.Exp(float64(x)/op.T - mx)
			se += e[k]
		}
		lse := mx + math.Log(se)
		var mass float64
		for k, tk := range t {
			e[k] /= se
			if tk != 0 {
				mass += float64(tk)
				sum -= float64(tk) * (float64(z[k])/op.T - lse)
			}
		}
		op.mass[b] = mass
	}
	op.cost = G.F32(sum / float64(B))
	return &op.cost, nil
}

func (op *softmaxCE) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g := &softmaxCEGrad{fusedOp: fusedOp{name: fmt.Sprintf("∂CE/∂z T=%g", op.T)}, of: op}
	dz, err := G.ApplyOp(g, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// softmaxCEGrad is g·(softmax(z/T)·Σ_k t_k − t)/(T·B), the derivative of
// softmaxCE with respect to z scaled by the incoming scalar gradient g. It
// reads the probabilities its forward op computed for this z in the same
// step (z is an input so the graph orders the two).
type softmaxCEGrad struct {
	fusedOp
	of  *softmaxCE
	out owned
}

func (*softmaxCEGrad) Arity() int { return 3 }
func (*softmaxCEGrad) Type() hm.Type {
	return hm.NewFnType(matType, matType, hm.TypeVariable('a'), matType)
}
func (*softmaxCEGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *softmaxCEGrad) Do(v ...G.Value) (G.Value, error) {
	d, err := op.f32s("cross-entropy gradient", v[0], v[1])
	if err != nil {
		return nil, err
	}
	var g float64
	switch s := v[2].(type) {
	case *G.F32: // a scalar's Data() would box it: one allocation per step
		g = float64(*s)
	default:
		switch d := s.Data().(type) {
		case float32:
			g = float64(d)
		case []float32:
			g = float64(d[0])
		default:
			return nil, fmt.Errorf("cross-entropy gradient: scalar gradient of type %T", d)
		}
	}
	B, C := v[0].Shape()[0], v[0].Shape()[1]
	if len(op.of.prob) != B*C {
		return nil, fmt.Errorf("cross-entropy gradient ran before its forward op")
	}
	t, out := op.out.get(B, C)
	scale := g / (op.of.T * float64(B))
	for b := 0; b < B; b++ {
		p, tg, m := op.of.prob[b*C:(b+1)*C], d[1][b*C:(b+1)*C], op.of.mass[b]
		for k := range p {
			out[b*C+k] = float32(scale * (p[k]*m - float64(tg[k])))
		}
	}
	return t, nil
}
