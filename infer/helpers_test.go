package infer

import (
	"math"
	"sync"
	"testing"

	"mnistc/data"
	"mnistc/internal/handmade"
	"mnistc/mnc"
	"mnistc/model"
)

// The tests compress their networks by hand (package handmade) rather than
// with package compress: what the evaluator sees is the point (grids s·k
// made in float32, codebooks, zeros), and this keeps infer's tests
// independent of the passes' code.

var testSet = sync.OnceValues(func() (data.Set, error) {
	dir, err := data.DefaultDir()
	if err != nil {
		return data.Set{}, err
	}
	_, test, err := data.Load(dir)
	return test, err
})

func mnist(t testing.TB) data.Set {
	s, err := testSet()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// step and the shared steps, under the short names the tables use.
type step = handmade.Step

var (
	prune     = handmade.Prune
	symmetric = handmade.Symmetric
	affine    = handmade.Affine
	codebook  = handmade.Codebook
	binarize  = handmade.Binarize
	chainName = handmade.ChainName
	network   = handmade.Network
)

// thin keeps one entry in n wherever it falls (not the largest, as prune
// does), so the kept values span the whole range.
func thin(n int) step {
	return step{Spec: "prune:method=random", Apply: func(w *model.Tensor) {
		for i := range w.Data {
			if (i*7919)%n != 0 {
				w.Data[i] = 0
			}
		}
	}}
}

// dyadic puts every weight on levels k·2^−8, |k| ≤ 31: with activations
// on power-of-two steps too, every product and sum of the evaluation is
// exact in float32, whatever its order (784 inputs × 511 × 31 < 2^24 for
// activations of up to 9 bits).
func dyadic() step {
	return step{Spec: "quantize:dyadic", Apply: func(w *model.Tensor) {
		handmade.Groups(w, false, func(idx []int) { handmade.OnGrid(w, idx, 1.0/256, 31) })
	}}
}

// minmax calibrates activation quantization to bits on the images x as
// the minmax rule does, layer after layer: the input over [0, 1], each
// hidden layer over [0, its largest ReLU output] with the earlier
// quantizers applied.
func minmax(p model.Params, bits int, x []float32, n int) *model.ActQuant {
	aq := &model.ActQuant{Bits: bits, Calib: "minmax", Ranges: make([]model.Range, p.Depth())}
	aq.Ranges[0] = model.Range{Lo: 0, Hi: 1}
	for l := 1; l < p.Depth(); l++ {
		hi := float32(0)
		for _, v := range model.Activations(p, x, n, aq, l) {
			hi = max(hi, v)
		}
		aq.Ranges[l] = model.Range{Lo: 0, Hi: hi}
	}
	return aq
}

// pack packs the checkpoint and decodes it, as a file would be read.
func pack(t testing.TB, ck model.Checkpoint) *mnc.File {
	t.Helper()
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// packed returns the network of the sizes after the chain, as a checkpoint
// and as the decoded packed file; act > 0 adds activation quantization to
// act bits calibrated on 1,000 test images.
func packed(t testing.TB, sizes []int, act int, chain ...step) (model.Checkpoint, *mnc.File) {
	t.Helper()
	ck := model.Checkpoint{Params: network(sizes, 3, chain...)}
	if act > 0 {
		calib := mnist(t).Slice(0, 1000)
		ck.Meta.ActQuant = minmax(ck.Params, act, calib.X, calib.Len())
	}
	return ck, pack(t, ck)
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}
