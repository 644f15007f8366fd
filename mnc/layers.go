package mnc

import (
	"fmt"
	"math"
	"slices"

	"mnistc/model"
)

// Layer is one dense layer as the file stores it: weight wl (inputs ×
// outputs) and bias bl (outputs), l from 1.
type Layer struct {
	W, B *Tensor
}

// Layers returns the network the file holds, checking that its tensors are
// exactly w1, b1, …, wN, bN in that order (1 ≤ N ≤ model.MaxDepth; N = 2 in
// a version-1 file), each consistent in itself, each weight a matrix and
// each bias a vector of its weight's outputs, the widths chaining from
// layer to layer and within model.CheckSizes. Errors name the tensor.
func (f *File) Layers() ([]Layer, error) {
	if err := checkOrder(f.Tensors); err != nil {
		return nil, err
	}
	depth := len(f.Tensors) / 2
	if depth == 0 {
		return nil, fmt.Errorf("the file holds no tensors: a network needs at least w1 and b1")
	}
	if len(f.Tensors)%2 != 0 {
		return nil, fmt.Errorf("the file has no tensor %s: w%d needs its bias", model.BiasName(depth+1), depth+1)
	}
	if f.Version == 1 && depth != v1Depth {
		return nil, fmt.Errorf("a version-1 file holds %d layers, not %d", v1Depth, depth)
	}
	layers := make([]Layer, depth)
	sizes := make([]int, 0, depth+1)
	for l := range layers {
		w, b := &f.Tensors[2*l], &f.Tensors[2*l+1]
		for _, t := range []*Tensor{w, b} {
			if err := t.check(); err != nil {
				return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
			}
		}
		if len(w.Shape) != 2 {
			return nil, fmt.Errorf("%s has shape %v, want (inputs, outputs)", w.Name, w.Shape)
		}
		if l == 0 {
			sizes = append(sizes, w.Shape[0])
		} else if w.Shape[0] != sizes[l] {
			return nil, fmt.Errorf("%s has shape %v: its %d inputs do not match the %d outputs of %s", w.Name, w.Shape, w.Shape[0], sizes[l], model.WeightName(l))
		}
		if len(b.Shape) != 1 || b.Shape[0] != w.Shape[1] {
			return nil, fmt.Errorf("%s has shape %v, want (%d,): %s has %d outputs", b.Name, b.Shape, w.Shape[1], w.Name, w.Shape[1])
		}
		sizes = append(sizes, w.Shape[1])
		layers[l] = Layer{W: w, B: b}
	}
	if err := model.CheckSizes(sizes); err != nil {
		return nil, err
	}
	return layers, nil
}

// Sizes returns the widths [inputs, hidden…, classes] of the layers.
func Sizes(layers []Layer) []int {
	if len(layers) == 0 {
		return nil
	}
	s := []int{layers[0].W.Shape[0]}
	for _, l := range layers {
		s = append(s, l.W.Shape[1])
	}
	return s
}

// checkOrder checks that tensors are named w1, b1, w2, b2, … in that order
// and that there are no more than model.MaxDepth layers of them.
func checkOrder(ts []Tensor) error {
	if len(ts) > 2*model.MaxDepth {
		return fmt.Errorf("%d tensors: a network holds at most %d layers (%d tensors)", len(ts), model.MaxDepth, 2*model.MaxDepth)
	}
	for i := range ts {
		if want := tensorName(i); ts[i].Name != want {
			return fmt.Errorf("tensor %d is %q where %s belongs: tensors go w1, b1, …, wN, bN", i+1, ts[i].Name, want)
		}
	}
	return nil
}

// tensorName is the name of the i-th tensor (from 0) of a network.
func tensorName(i int) string {
	if i%2 == 0 {
		return model.WeightName(i/2 + 1)
	}
	return model.BiasName(i/2 + 1)
}

// checkMeta checks the metadata against the network it describes, as
// model's checkpoint reader does (so an unpacked file loads): sizes that
// match the tensors, activation quantizers with one range per layer input,
// split sizes that are not negative. train.layers is the recipe's and not
// compared: neuron pruning leaves fewer units than the recipe trained.
func checkMeta(m *model.Meta, sizes []int) error {
	depth := len(sizes) - 1
	if m.Sizes != nil && !slices.Equal(m.Sizes, sizes) {
		return fmt.Errorf("sizes %v do not match the tensors (%s)", m.Sizes, model.ArchName(sizes))
	}
	if m.ActQuant != nil {
		if err := m.ActQuant.Validate(depth); err != nil {
			return err
		}
	}
	if t := m.Train; t != nil {
		if t.TrainImages < 0 || t.ValImages < 0 {
			return fmt.Errorf("train.train_images %d / train.val_images %d: want ≥ 0", t.TrainImages, t.ValImages)
		}
		if t.ActQuant != nil {
			if err := t.ActQuant.Validate(depth); err != nil {
				return fmt.Errorf("train.%v", err)
			}
		}
	}
	return nil
}

// check verifies that t is consistent in itself, as Decode leaves every
// tensor: so a File built by hand is refused by Encode and Layers rather
// than written wrongly or read out of bounds.
func (t *Tensor) check() error {
	if len(t.Shape) < 1 || len(t.Shape) > MaxRank {
		return fmt.Errorf("rank %d outside 1–%d", len(t.Shape), MaxRank)
	}
	n := 1
	for _, d := range t.Shape {
		if d < 1 || d > MaxElements {
			return fmt.Errorf("shape %v has a dimension outside 1–%d", t.Shape, MaxElements)
		}
		if n *= d; n > MaxElements {
			return fmt.Errorf("shape %v has more than %d entries", t.Shape, MaxElements)
		}
	}
	if t.Sparse {
		if t.IndexBits < 1 || t.IndexBits > MaxBits {
			return fmt.Errorf("index width %d outside 1–%d", t.IndexBits, MaxBits)
		}
		for k, p := range t.Pos {
			if p < 0 || int(p) >= n || (k > 0 && p <= t.Pos[k-1]) {
				return fmt.Errorf("position %d (%d) is not increasing within the %d entries", k, p, n)
			}
		}
	}
	kept := t.Kept()
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch t.Map {
	case Float:
		if len(t.Float) != kept {
			return fmt.Errorf("%d float32 values for %d entries", len(t.Float), kept)
		}
		for i, v := range t.Float {
			if !finite(v) {
				return fmt.Errorf("value %d is %v", i, v)
			}
		}
		return nil
	case Grid, Codebook:
	default:
		return fmt.Errorf("unknown encoding %d", t.Map)
	}
	if t.Groups != 1 && t.Groups != t.Shape[len(t.Shape)-1] {
		return fmt.Errorf("%d groups: must be 1 or the last dimension %d", t.Groups, t.Shape[len(t.Shape)-1])
	}
	if t.Bits < 1 || t.Bits > MaxBits {
		return fmt.Errorf("code width %d outside 1–%d", t.Bits, MaxBits)
	}
	if len(t.Codes) != kept {
		return fmt.Errorf("%d codes for %d entries", len(t.Codes), kept)
	}
	if t.Map == Grid {
		if len(t.Scales) != t.Groups || len(t.Offsets) != t.Groups {
			return fmt.Errorf("%d scales and %d offsets for %d groups", len(t.Scales), len(t.Offsets), t.Groups)
		}
		for g, s := range t.Scales {
			if !finite(s) {
				return fmt.Errorf("scale %d is %v", g, s)
			}
			if o := t.Offsets[g]; o < -maxK-1 || o > maxK {
				return fmt.Errorf("offset %d outside ±%d", o, maxK)
			}
		}
	} else {
		if len(t.Book) != t.Groups {
			return fmt.Errorf("%d codebooks for %d groups", len(t.Book), t.Groups)
		}
		for _, b := range t.Book {
			if len(b) > min(1<<t.Bits, MaxBook) {
				return fmt.Errorf("a codebook of %d entries for %d-bit codes (at most %d)", len(b), t.Bits, min(1<<t.Bits, MaxBook))
			}
			for _, v := range b {
				if !finite(v) {
					return fmt.Errorf("codebook entry is %v", v)
				}
			}
		}
	}
	return t.checkCodes(func(string, ...any) {})
}

// checkCodes checks every code against its width and what it maps to: a
// codebook entry that exists, a grid level that is finite. fail also
// receives the message (Decode's reader records it with its context).
func (t *Tensor) checkCodes(fail func(format string, a ...any)) error {
	for i, c := range t.Codes {
		p := i
		if t.Sparse {
			p = int(t.Pos[i])
		}
		g := t.group(p)
		var err error
		switch {
		case int(c) >= 1<<t.Bits:
			err = fmt.Errorf("code %d at entry %d is wider than %d bits", c, i, t.Bits)
		case t.Map == Codebook && int(c) >= len(t.Book[g]):
			err = fmt.Errorf("code %d at entry %d is outside its codebook of %d", c, i, len(t.Book[g]))
		case t.Map == Grid:
			if v := float64(t.Value(g, c)); math.IsInf(v, 0) || math.IsNaN(v) {
				err = fmt.Errorf("code %d at entry %d stands for %v (scale %v × level %d)", c, i, v, t.Scales[g], int32(c)+t.Offsets[g])
			}
		}
		if err != nil {
			fail("%v", err)
			return err
		}
	}
	return nil
}
