package model

import (
	"fmt"
	"math"
	"math/rand"
)

// Network dimensions fixed by the data: 28×28 inputs, 10 classes.
const (
	Inputs  = 784
	Classes = 10
	// DefaultHidden is the article's hidden width.
	DefaultHidden = 128
)

// Tensor is a named float32 array with a shape, stored row-major.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Len returns the number of elements the shape describes.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Clone returns a deep copy of t.
func (t Tensor) Clone() Tensor {
	return Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Params are the network's parameters: W1 (784×H), B1 (H), W2 (H×10), B2 (10).
type Params struct {
	W1, B1, W2, B2 Tensor
}

// TensorNames lists the parameter names in checkpoint order.
var TensorNames = []string{"w1", "b1", "w2", "b2"}

// Hidden returns the hidden width H.
func (p Params) Hidden() int { return len(p.B1.Data) }

// Tensors returns pointers to the four tensors in checkpoint order, so a
// caller can read or replace them by name.
func (p *Params) Tensors() []*Tensor { return []*Tensor{&p.W1, &p.B1, &p.W2, &p.B2} }

// Get returns the tensor with the given name, or nil.
func (p *Params) Get(name string) *Tensor {
	for _, t := range p.Tensors() {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Clone returns a deep copy of p.
func (p Params) Clone() Params {
	return Params{W1: p.W1.Clone(), B1: p.B1.Clone(), W2: p.W2.Clone(), B2: p.B2.Clone()}
}

// Count returns the number of scalar parameters.
func (p Params) Count() int {
	return len(p.W1.Data) + len(p.B1.Data) + len(p.W2.Data) + len(p.B2.Data)
}

// NewParams returns zeroed parameters for a network with hidden width h.
func NewParams(h int) Params {
	return Params{
		W1: Tensor{Name: "w1", Shape: []int{Inputs, h}, Data: make([]float32, Inputs*h)},
		B1: Tensor{Name: "b1", Shape: []int{h}, Data: make([]float32, h)},
		W2: Tensor{Name: "w2", Shape: []int{h, Classes}, Data: make([]float32, h*Classes)},
		B2: Tensor{Name: "b2", Shape: []int{Classes}, Data: make([]float32, Classes)},
	}
}

// InitGlorot returns parameters with Glorot-uniform kernels (Keras's default,
// U(−l, l) with l = sqrt(6/(fan_in+fan_out))) and zero biases, drawn from rng.
func InitGlorot(h int, rng *rand.Rand) Params {
	p := NewParams(h)
	glorot(p.W1.Data, Inputs, h, rng)
	glorot(p.W2.Data, h, Classes, rng)
	return p
}

func glorot(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range w {
		w[i] = float32((2*rng.Float64() - 1) * limit)
	}
}

// Validate checks shapes agree with one another and every value is finite.
func (p Params) Validate() error {
	h := p.Hidden()
	want := map[string][]int{"w1": {Inputs, h}, "b1": {h}, "w2": {h, Classes}, "b2": {Classes}}
	if h < 1 {
		return fmt.Errorf("b1 is empty: the hidden width must be at least 1")
	}
	for _, t := range p.Tensors() {
		ws := want[t.Name]
		if !sameShape(t.Shape, ws) {
			return fmt.Errorf("%s has shape %v, want %v", t.Name, t.Shape, ws)
		}
		if len(t.Data) != t.Len() {
			return fmt.Errorf("%s holds %d values for shape %v", t.Name, len(t.Data), t.Shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s[%d] is %v: parameters must be finite", t.Name, i, v)
			}
		}
	}
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
