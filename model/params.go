package model

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
)

// Sizes of the article's network. The input width and the class count of a
// network are read from its tensors (and, when training, from the data);
// these are MNIST's, used as defaults.
const (
	Inputs  = 784
	Classes = 10
	// DefaultHidden is the article's hidden width.
	DefaultHidden = 128
	// MaxWidth bounds any layer's width, and MaxWeights a network's
	// parameter count (16.8 million: a 784-4096-2048-10 net is 11.6
	// million): enough for any MNIST-sized dense net, refused before
	// allocating beyond it, and small enough that every tensor fits a
	// checkpoint member and a .mnc section.
	MaxWidth   = 1 << 16
	MaxWeights = 1 << 24
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

// Dense is one fully connected layer: out = in·W + B, W stored in×out (as
// Keras stores kernels), B of length out.
type Dense struct {
	W, B Tensor
}

// In and Out are the layer's input and output widths.
func (d Dense) In() int  { return d.W.Shape[0] }
func (d Dense) Out() int { return d.W.Shape[1] }

// Params are a network's parameters: dense layers in order, ReLU between
// them, softmax after the last. Layer l (1-based) has tensors wl and bl.
type Params struct {
	Layers []Dense
}

// WeightName and BiasName name layer l's tensors (l from 1).
func WeightName(l int) string { return "w" + strconv.Itoa(l) }
func BiasName(l int) string   { return "b" + strconv.Itoa(l) }

// TensorNames lists the tensor names of a network of depth layers in
// checkpoint order: w1, b1, …, wN, bN.
func TensorNames(depth int) []string {
	names := make([]string, 0, 2*depth)
	for l := 1; l <= depth; l++ {
		names = append(names, WeightName(l), BiasName(l))
	}
	return names
}

// WeightNames lists w1 … wN.
func WeightNames(depth int) []string {
	names := make([]string, depth)
	for l := range names {
		names[l] = WeightName(l + 1)
	}
	return names
}

// Depth returns the number of dense layers.
func (p Params) Depth() int { return len(p.Layers) }

// Sizes returns the widths [in, h1, …, out]: the input, every hidden
// layer, the classes.
func (p Params) Sizes() []int {
	if len(p.Layers) == 0 {
		return nil
	}
	s := []int{p.Layers[0].In()}
	for _, l := range p.Layers {
		s = append(s, l.Out())
	}
	return s
}

// Hidden returns the hidden widths (the sizes between input and output).
func (p Params) Hidden() []int {
	s := p.Sizes()
	if len(s) < 2 {
		return nil
	}
	return s[1 : len(s)-1]
}

// Inputs and Classes are the network's input width and output width.
func (p Params) Inputs() int  { return p.Layers[0].In() }
func (p Params) Classes() int { return p.Layers[len(p.Layers)-1].Out() }

// Arch names the architecture by its sizes, as "784-128-10".
func (p Params) Arch() string { return ArchName(p.Sizes()) }

// ArchName joins sizes with dashes.
func ArchName(sizes []int) string {
	s := ""
	for i, n := range sizes {
		if i > 0 {
			s += "-"
		}
		s += strconv.Itoa(n)
	}
	return s
}

// Tensors returns pointers to every tensor in checkpoint order (w1, b1, …),
// so a caller can read or replace them by name.
func (p *Params) Tensors() []*Tensor {
	ts := make([]*Tensor, 0, 2*len(p.Layers))
	for i := range p.Layers {
		ts = append(ts, &p.Layers[i].W, &p.Layers[i].B)
	}
	return ts
}

// Data returns every tensor's values in checkpoint order.
func (p Params) Data() [][]float32 {
	d := make([][]float32, 0, 2*len(p.Layers))
	for _, l := range p.Layers {
		d = append(d, l.W.Data, l.B.Data)
	}
	return d
}

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
	q := Params{Layers: make([]Dense, len(p.Layers))}
	for i, l := range p.Layers {
		q.Layers[i] = Dense{W: l.W.Clone(), B: l.B.Clone()}
	}
	return q
}

// Count returns the number of scalar parameters.
func (p Params) Count() int {
	n := 0
	for _, l := range p.Layers {
		n += len(l.W.Data) + len(l.B.Data)
	}
	return n
}

// ParamCount returns the parameter count of a network with these sizes.
func ParamCount(sizes []int) int {
	n := 0
	for i := 0; i+1 < len(sizes); i++ {
		n += sizes[i]*sizes[i+1] + sizes[i+1]
	}
	return n
}

// CheckSizes reports whether sizes [in, h1, …, out] make a network this
// package will allocate: at least one layer, every width in 1..MaxWidth,
// at most MaxWeights parameters.
func CheckSizes(sizes []int) error {
	if len(sizes) < 2 {
		return fmt.Errorf("a network needs an input and an output size, got %v", sizes)
	}
	for i, n := range sizes {
		if n < 1 || n > MaxWidth {
			return fmt.Errorf("layer width %d (position %d of %s) out of range: want 1..%d", n, i, ArchName(sizes), MaxWidth)
		}
	}
	if c := ParamCount(sizes); c > MaxWeights {
		return fmt.Errorf("network %s has %d parameters, more than the %d allowed", ArchName(sizes), c, MaxWeights)
	}
	return nil
}

// NewParams returns zeroed parameters for a network with the given sizes
// [in, h1, …, out].
func NewParams(sizes []int) Params {
	p := Params{Layers: make([]Dense, len(sizes)-1)}
	for l := range p.Layers {
		in, out := sizes[l], sizes[l+1]
		p.Layers[l] = Dense{
			W: Tensor{Name: WeightName(l + 1), Shape: []int{in, out}, Data: make([]float32, in*out)},
			B: Tensor{Name: BiasName(l + 1), Shape: []int{out}, Data: make([]float32, out)},
		}
	}
	return p
}

// InitGlorot returns parameters with Glorot-uniform kernels (Keras's default,
// U(−l, l) with l = sqrt(6/(fan_in+fan_out))) and zero biases, drawn from rng
// layer after layer.
func InitGlorot(sizes []int, rng *rand.Rand) Params {
	p := NewParams(sizes)
	for _, l := range p.Layers {
		glorot(l.W.Data, l.In(), l.Out(), rng)
	}
	return p
}

func glorot(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range w {
		w[i] = float32((2*rng.Float64() - 1) * limit)
	}
}

// Validate checks each layer's shapes, that they chain (layer l's output
// width is layer l+1's input width), the names, and that every value is
// finite. Errors name the tensor.
func (p Params) Validate() error {
	if len(p.Layers) == 0 {
		return fmt.Errorf("the network has no layers")
	}
	for i, l := range p.Layers {
		wn, bn := WeightName(i+1), BiasName(i+1)
		if l.W.Name != wn || l.B.Name != bn {
			return fmt.Errorf("layer %d holds tensors %q and %q, want %s and %s", i+1, l.W.Name, l.B.Name, wn, bn)
		}
		if len(l.W.Shape) != 2 || l.W.Shape[0] < 1 || l.W.Shape[1] < 1 {
			return fmt.Errorf("%s has shape %v, want (inputs, outputs) with both ≥ 1", wn, l.W.Shape)
		}
		if !sameShape(l.B.Shape, []int{l.W.Shape[1]}) {
			return fmt.Errorf("%s has shape %v, want (%d,): %s has %d outputs", bn, l.B.Shape, l.W.Shape[1], wn, l.W.Shape[1])
		}
		if i > 0 && l.W.Shape[0] != p.Layers[i-1].W.Shape[1] {
			return fmt.Errorf("%s has shape %v: its %d inputs do not match the %d outputs of %s", wn, l.W.Shape, l.W.Shape[0], p.Layers[i-1].W.Shape[1], WeightName(i))
		}
		for _, t := range []Tensor{l.W, l.B} {
			if len(t.Data) != t.Len() {
				return fmt.Errorf("%s holds %d values for shape %v", t.Name, len(t.Data), t.Shape)
			}
			for j, v := range t.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("%s[%d] is %v: parameters must be finite", t.Name, j, v)
				}
			}
		}
	}
	return nil
}

// CheckData reports whether the network fits data of the given input width
// and class count, naming the tensor that does not.
func (p Params) CheckData(inputs, classes int) error {
	if in := p.Inputs(); in != inputs {
		return fmt.Errorf("w1 takes %d inputs, but the data's images have %d pixels", in, inputs)
	}
	if out := p.Classes(); out != classes {
		return fmt.Errorf("%s has %d outputs, but the data have %d classes", WeightName(p.Depth()), out, classes)
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
