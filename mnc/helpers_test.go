package mnc_test

import (
	"math"
	"slices"
	"testing"

	"mnistc/internal/handmade"
	"mnistc/model"
)

// The tests build their compressed networks by hand (package handmade)
// rather than with package compress: the values the file format sees are
// the point (grids s·k made in float32, codebooks, zeros), and this keeps
// mnc's tests independent of the passes' code.

// archs are the networks the tests pack: the article's shape (narrower, to
// stay fast), and a three- and a four-layer one.
var archs = [][]int{{784, 32, 10}, {784, 40, 30, 10}, {784, 32, 24, 16, 10}}

// step and the shared steps, under the short names the tables use.
type step = handmade.Step

var (
	prune     = handmade.Prune
	symmetric = handmade.Symmetric
	affine    = handmade.Affine
	codebook  = handmade.Codebook
	binarize  = handmade.Binarize
	chainName = handmade.ChainName
)

// compressed returns Glorot weights of the sizes after the steps, as a
// checkpoint whose source names them.
func compressed(t testing.TB, sizes []int, steps ...step) model.Checkpoint {
	t.Helper()
	p := handmade.Network(sizes, 7, steps...)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return model.Checkpoint{Params: p, Meta: model.Meta{Source: "test " + chainName(sizes, steps)}}
}

// pruneUnits zeroes whole output columns (every third unit), as pruning
// neurons leaves a weight matrix.
func pruneUnits() step {
	return step{Spec: "prune:method=neuron", Apply: func(w *model.Tensor) {
		out := w.Shape[1]
		for i := range w.Data {
			if (i%out)%3 == 1 {
				w.Data[i] = 0
			}
		}
	}}
}

// ternary: 0 below a threshold, else sign(w)·a.
func ternary() step {
	return step{Spec: "quantize:scheme=ternary", Apply: func(w *model.Tensor) {
		m := 0.0
		for _, v := range w.Data {
			m = math.Max(m, float64(handmade.Abs32(v)))
		}
		a, t := float32(0.6*m), float32(0.3*m)
		for i, v := range w.Data {
			switch {
			case v > t:
				w.Data[i] = a
			case v < -t:
				w.Data[i] = -a
			default:
				w.Data[i] = 0
			}
		}
	}}
}

// clip bounds |w| by th, leaving float32 values.
func clip(th float32) step {
	return step{Spec: "clip", Apply: func(w *model.Tensor) {
		for i, v := range w.Data {
			w.Data[i] = max(-th, min(th, v))
		}
	}}
}

var chains = [][]step{
	nil,
	{symmetric(8, true)},
	{symmetric(8, false)},
	{symmetric(4, true)},
	{affine(8, true)},
	{affine(3, false)},
	{binarize()},
	{ternary()},
	{codebook(3, false)},
	{codebook(2, true)},
	{prune(0.5)},
	{prune(0.05)},
	{prune(0.1), symmetric(4, true)},
	{prune(0.02), codebook(5, false)},
	{pruneUnits()},
	{clip(0.05)},
	{prune(0.1), binarize()},
	{symmetric(16, true)},
	{prune(0.3), affine(12, false)},
}

// sameBits reports the first tensor entry that differs in its bits.
func sameBits(t testing.TB, what string, want, have model.Params) {
	t.Helper()
	if !slices.Equal(want.Sizes(), have.Sizes()) {
		t.Fatalf("%s: sizes %v, want %v", what, have.Sizes(), want.Sizes())
	}
	w, h := want.Tensors(), have.Tensors()
	for i := range w {
		if w[i].Name != h[i].Name || !slices.Equal(w[i].Shape, h[i].Shape) {
			t.Fatalf("%s: tensor %s %v came back as %s %v", what, w[i].Name, w[i].Shape, h[i].Name, h[i].Shape)
		}
		for j := range w[i].Data {
			if math.Float32bits(w[i].Data[j]) != math.Float32bits(h[i].Data[j]) {
				t.Fatalf("%s: %s[%d] = %v after the round trip, was %v", what, w[i].Name, j, h[i].Data[j], w[i].Data[j])
			}
		}
	}
}
