package model

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// inputMatMul is the first layer's product x·W where x is data: a gorgonia
// op differentiable with respect to W only. Gorgonia's own matrix product
// differentiates both operands, and its compiler runs every node it builds,
// so each step would compute the gradient of the input images (a batch×784
// GEMM, a third of all GEMM work) only to free it. This op's derivative
// builds xᵀ·g and nothing else.
type inputMatMul struct{}

// inputGrad is xᵀ·g, the gradient of inputMatMul with respect to W.
type inputGrad struct{}

var matType = G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}

func (inputMatMul) Arity() int                { return 2 }
func (inputMatMul) Type() hm.Type             { return hm.NewFnType(matType, matType, matType) }
func (inputMatMul) ReturnsPtr() bool          { return true }
func (inputMatMul) CallsExtern() bool         { return false }
func (inputMatMul) OverwritesInput() int      { return -1 }
func (inputMatMul) WriteHash(h hash.Hash)     { fmt.Fprint(h, "mnistc.inputMatMul") }
func (op inputMatMul) Hashcode() uint32       { return hashOf(op) }
func (inputMatMul) String() string            { return "x×W (no ∂x)" }
func (inputMatMul) DiffWRT(inputs int) []bool { return []bool{false, true} }
func (inputGrad) Arity() int                  { return 2 }
func (inputGrad) Type() hm.Type               { return hm.NewFnType(matType, matType, matType) }
func (inputGrad) ReturnsPtr() bool            { return true }
func (inputGrad) CallsExtern() bool           { return false }
func (inputGrad) OverwritesInput() int        { return -1 }
func (inputGrad) WriteHash(h hash.Hash)       { fmt.Fprint(h, "mnistc.inputGrad") }
func (op inputGrad) Hashcode() uint32         { return hashOf(op) }
func (inputGrad) String() string              { return "xᵀ×g" }
func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// InferShape: (B×K)·(K×N) → B×N.
func (inputMatMul) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, b := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(a) != 2 || len(b) != 2 || a[1] != b[0] {
		return nil, fmt.Errorf("x×W: shapes %v and %v do not multiply", a, b)
	}
	return tensor.Shape{a[0], b[1]}, nil
}

// InferShape: (B×K)ᵀ·(B×N) → K×N.
func (inputGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, b := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if len(a) != 2 || len(b) != 2 || a[0] != b[0] {
		return nil, fmt.Errorf("xᵀ×g: shapes %v and %v do not multiply", a, b)
	}
	return tensor.Shape{a[1], b[1]}, nil
}

func (op inputMatMul) Do(v ...G.Value) (G.Value, error) {
	s, err := op.InferShape(v[0].Shape(), v[1].Shape())
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32)), v...)
}

func (op inputGrad) Do(v ...G.Value) (G.Value, error) {
	s, err := op.InferShape(v[0].Shape(), v[1].Shape())
	if err != nil {
		return nil, err
	}
	return op.UsePreallocDo(tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32)), v...)
}

func (inputMatMul) UsePreallocDo(out G.Value, v ...G.Value) (G.Value, error) {
	return gemm(blas.NoTrans, v[0], v[1], out)
}

func (inputGrad) UsePreallocDo(out G.Value, v ...G.Value) (G.Value, error) {
	return gemm(blas.Trans, v[0], v[1], out)
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

// SymDiff returns no gradient for x and xᵀ·grad for W.
func (inputMatMul) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dW, err := G.ApplyOp(inputGrad{}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, dW}, nil
}
