package training

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"mnistc/model"
)

// fakeQuant quantizes activations in the forward pass with the rule the
// evaluation path uses (model.ActQuant over one range), and its derivative is the
// straight-through estimator: the gradient passes unchanged where the
// input lies inside the range and is zero where it was clamped.
type fakeQuant struct {
	aq *model.ActQuant
	r  model.Range
}

// steGrad is fakeQuant's derivative: grad where lo ≤ a ≤ hi, else 0.
type steGrad struct{ r model.Range }

func (fakeQuant) Arity() int           { return 1 }
func (fakeQuant) Type() hm.Type        { return hm.NewFnType(matType, matType) }
func (fakeQuant) ReturnsPtr() bool     { return false }
func (fakeQuant) CallsExtern() bool    { return false }
func (fakeQuant) OverwritesInput() int { return -1 }
func (f fakeQuant) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "mnistc.fakeQuant(%d,%v,%v)", f.aq.Bits, f.r.Lo, f.r.Hi)
}
func (f fakeQuant) Hashcode() uint32 { return hashOf(f) }
func (f fakeQuant) String() string {
	return fmt.Sprintf("fakeQuant%d[%g,%g]", f.aq.Bits, f.r.Lo, f.r.Hi)
}
func (fakeQuant) DiffWRT(inputs int) []bool { return []bool{true} }
func (fakeQuant) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (f fakeQuant) Do(v ...G.Value) (G.Value, error) {
	in, ok := v[0].Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("fakeQuant takes float32")
	}
	out := tensor.New(tensor.WithShape(v[0].Shape().Clone()...), tensor.Of(tensor.Float32))
	od := out.Data().([]float32)
	copy(od, in)
	f.aq.QuantizeActivations(od, f.r)
	return out, nil
}

// SymDiff is the STE: ∂out/∂in = 1 inside the range, 0 outside.
func (f fakeQuant) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(steGrad{f.r}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func (steGrad) Arity() int              { return 2 }
func (steGrad) Type() hm.Type           { return hm.NewFnType(matType, matType, matType) }
func (steGrad) ReturnsPtr() bool        { return false }
func (steGrad) CallsExtern() bool       { return false }
func (steGrad) OverwritesInput() int    { return -1 }
func (s steGrad) WriteHash(h hash.Hash) { fmt.Fprintf(h, "mnistc.steGrad(%v,%v)", s.r.Lo, s.r.Hi) }
func (s steGrad) Hashcode() uint32      { return hashOf(s) }
func (s steGrad) String() string        { return fmt.Sprintf("ste[%g,%g]", s.r.Lo, s.r.Hi) }
func (steGrad) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[1].(tensor.Shape).Clone(), nil
}

func (s steGrad) Do(v ...G.Value) (G.Value, error) {
	a, ok1 := v[0].Data().([]float32)
	g, ok2 := v[1].Data().([]float32)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("steGrad takes float32")
	}
	out := tensor.New(tensor.WithShape(v[1].Shape().Clone()...), tensor.Of(tensor.Float32))
	od := out.Data().([]float32)
	for i, x := range a {
		if x >= s.r.Lo && x <= s.r.Hi {
			od[i] = g[i]
		}
	}
	return out, nil
}
