package model

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/data"
)

func TestCheckpointRoundTrip(t *testing.T) {
	for _, sizes := range [][]int{{784, 32, 10}, {784, 30, 20, 10}, {784, 16, 12, 8, 10}} {
		checkpointRoundTrip(t, sizes)
	}
}

func checkpointRoundTrip(t *testing.T, sizes []int) {
	p := InitGlorot(sizes, rand.New(rand.NewSource(5)))
	p.Layers[len(p.Layers)-1].B.Data[3] = -0.25
	ranges := make([]Range, len(p.Layers))
	for i := range ranges {
		ranges[i] = Range{0, float32(i + 1)}
	}
	ck := Checkpoint{Params: p, Meta: Meta{Source: "test", ActQuant: &ActQuant{Bits: 8, Calib: "minmax", Ranges: ranges}}}
	path := t.TempDir() + "/m.npz"
	if err := ck.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(got.Params.Sizes(), sizes) || !sameShape(got.Meta.Sizes, sizes) {
		t.Fatalf("sizes %v (meta %v), want %v (read from the file)", got.Params.Sizes(), got.Meta.Sizes, sizes)
	}
	for k, tt := range p.Tensors() {
		g := got.Params.Tensors()[k]
		if !sameShape(g.Shape, tt.Shape) {
			t.Fatalf("%s shape %v, want %v", tt.Name, g.Shape, tt.Shape)
		}
		for i := range tt.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(tt.Data[i]) {
				t.Fatalf("%s[%d] = %v, want %v", tt.Name, i, g.Data[i], tt.Data[i])
			}
		}
	}
	if got.Meta.Source != "test" || got.Meta.ActQuant == nil || got.Meta.ActQuant.Bits != 8 || len(got.Meta.ActQuant.Ranges) != len(sizes)-1 {
		t.Errorf("metadata not kept: %+v", got.Meta)
	}
}

// npzOf builds a .npz from p's tensors without validating them, then lets
// edit rewrite any member's bytes.
func npzOf(t *testing.T, p Params, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, tt := range p.Tensors() {
		var m bytes.Buffer
		if err := encodeNPY(&m, *tt); err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(tt.Name + ".npy")
		w.Write(edit(tt.Name, m.Bytes()))
	}
	zw.Close()
	return buf.Bytes()
}

// TestBadCheckpoints: each fault gets an error that names it.
func TestBadCheckpoints(t *testing.T) {
	good := InitGlorot([]int{784, 8, 10}, rand.New(rand.NewSource(1)))
	same := func(_ string, b []byte) []byte { return b }
	mut := func(f func(p *Params)) []byte {
		p := good.Clone()
		f(&p)
		return npzOf(t, p, same)
	}
	edit := func(member, old, new string) []byte {
		return npzOf(t, good, func(name string, b []byte) []byte {
			if name == member {
				return bytes.Replace(b, []byte(old), []byte(new), 1)
			}
			return b
		})
	}
	goodBytes := npzOf(t, good, same)
	if _, err := Decode(goodBytes); err != nil {
		t.Fatalf("valid checkpoint refused: %v", err)
	}
	cases := []struct {
		name, want string
		b          []byte
	}{
		{"corrupt zip", "not a valid .npz", []byte("PK\x03\x04 this is not a zip")},
		{"truncated zip", "not a valid .npz", goodBytes[:len(goodBytes)/2]},
		{"missing array", "missing array b2", mut(func(p *Params) { p.Layers[1].B.Name = "bias2" })},
		{"missing w1", "missing array w1", mut(func(p *Params) { p.Layers[0].W.Name = "weights1" })},
		{"bias shape", "b2 has shape [9], want (10,)", mut(func(p *Params) { p.Layers[1].B.Shape = []int{9}; p.Layers[1].B.Data = p.Layers[1].B.Data[:9] })},
		{"chain", "w2 has shape [9 10]: its 9 inputs do not match the 8 outputs of w1", mut(func(p *Params) { p.Layers[1].W.Shape = []int{9, 10}; p.Layers[1].W.Data = make([]float32, 90) })},
		{"gap", "missing array w2: the checkpoint holds w4 but its layers stop at 1", mut(func(p *Params) { p.Layers[1].W.Name = "w4" })},
		{"stray bias", "unexpected array b2: a 1-layer checkpoint holds w1, b1", mut(func(p *Params) { p.Layers[1].W.Name = "weights" })},
		{"nan", "w1[5] is NaN", mut(func(p *Params) { p.Layers[0].W.Data[5] = float32(math.NaN()) })},
		{"inf", "b1[0] is +Inf", mut(func(p *Params) { p.Layers[0].B.Data[0] = float32(math.Inf(1)) })},
		{"dtype", "dtype <f8", edit("w1", "'<f4'", "'<f8'")},
		{"data size", "needs 25120 bytes of data", edit("w1", "(784, 8)", "(785, 8)")},
		{"not npy", "bad magic", edit("b1", "\x93NUMPY", "XXXXXX")},
	}
	for _, c := range cases {
		_, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestForwardPathsAgree: the per-image path over non-zero pixels and the
// BLAS GEMM path give the same predictions on the test set and logits equal
// to float rounding; an image's logits are the same alone or in a batch.
func TestForwardPathsAgree(t *testing.T) {
	test := realTest(t)
	p := InitGlorot([]int{Inputs, DefaultHidden, Classes}, rand.New(rand.NewSource(9)))
	n := 3000
	x := test.X[:n*Inputs]
	a, b := Forward(p, x, n, nil), ForwardBLAS(p, x, n, nil)
	for i := 0; i < n; i++ {
		if Argmax(a[i*Classes:(i+1)*Classes]) != Argmax(b[i*Classes:(i+1)*Classes]) {
			t.Fatalf("image %d: predictions differ", i)
		}
	}
	for k := range a {
		if d := math.Abs(float64(a[k] - b[k])); d > 1e-5*(1+math.Abs(float64(b[k]))) {
			t.Fatalf("logit %d: %v and %v", k, a[k], b[k])
		}
	}
	for _, i := range []int{0, 1234, 2999} {
		one := Forward(p, x[i*Inputs:(i+1)*Inputs], 1, nil)
		for k := range one {
			if math.Float32bits(one[k]) != math.Float32bits(a[i*Classes+k]) {
				t.Fatalf("image %d: logit %d is %v alone, %v in the batch", i, k, one[k], a[i*Classes+k])
			}
		}
	}
	// a dense image takes the GEMM path and gets its result
	noise := make([]float32, Inputs)
	for i := range noise {
		noise[i] = 0.5 + float32(i%7)/10
	}
	g, w := Forward(p, noise, 1, nil), ForwardBLAS(p, noise, 1, nil)
	for k := range g {
		if g[k] != w[k] {
			t.Fatalf("dense image: logit %d %v, GEMM %v", k, g[k], w[k])
		}
	}
}

// realTest loads MNIST's test set from the GoMNIST module.
func realTest(t *testing.T) data.Set {
	t.Helper()
	dir, err := data.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := data.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return test
}

// TestDeepForwardPathsAgree: on 3- and 4-layer networks the per-image path
// and the GEMM path agree (predictions; logits to rounding), and
// Activations(l) is what the next layer consumes: feeding it through the
// remaining layers gives Forward's logits.
func TestDeepForwardPathsAgree(t *testing.T) {
	test := realTest(t)
	n := 500
	x := test.X[:n*Inputs]
	for _, sizes := range [][]int{{784, 40, 30, 10}, {784, 32, 24, 16, 10}} {
		p := InitGlorot(sizes, rand.New(rand.NewSource(3)))
		for _, l := range p.Layers { // non-zero biases exercise their path
			for i := range l.B.Data {
				l.B.Data[i] = float32(i%5) * 0.01
			}
		}
		a, b := Forward(p, x, n, nil), ForwardBLAS(p, x, n, nil)
		for k := range a {
			if d := math.Abs(float64(a[k] - b[k])); d > 1e-4*(1+math.Abs(float64(b[k]))) {
				t.Fatalf("%v logit %d: %v and %v", sizes, k, a[k], b[k])
			}
		}
		// the tail of the network applied to Activations(depth-1)
		l := p.Depth() - 1
		act := Activations(p, x, n, nil, l)
		tail := Params{Layers: p.Layers[l:]}
		got := Forward(tail, act, n, nil)
		// (the tail's first layer may take the GEMM path for these dense
		// activations, which sums in another order: equal to rounding)
		for k := range got {
			if d := math.Abs(float64(got[k] - a[k])); d > 1e-5*(1+math.Abs(float64(a[k]))) {
				t.Fatalf("%v: logits from Activations(%d) differ at %d: %v vs %v", sizes, l, k, got[k], a[k])
			}
		}
	}
}

// TestOldCheckpointsRead: format 1 metadata ("hidden": H, actquant input and
// hidden ranges) reads as layers [H] and ranges [input, hidden].
func TestOldCheckpointsRead(t *testing.T) {
	p := InitGlorot([]int{784, 8, 10}, rand.New(rand.NewSource(1)))
	meta := `{"format": "mnistc-checkpoint/1", "train": {"epochs": 1, "batch": 32, "lr": 0.001, "hidden": 8, "train_images": 10, "val_images": 5},
	"actquant": {"bits": 8, "calib": "minmax", "input": {"lo": 0, "hi": 1}, "hidden": {"lo": 0, "hi": 3.5}}}`
	b := npzWithMeta(t, p, meta)
	c, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(c.Meta.Train.Layers, []int{8}) {
		t.Errorf("layers %v, want [8]", c.Meta.Train.Layers)
	}
	if r := c.Meta.ActQuant.Ranges; len(r) != 2 || r[0].Hi != 1 || r[1].Hi != 3.5 {
		t.Errorf("ranges %v, want [0,1] and [0,3.5]", r)
	}
}

// TestBadMetadata: every faulty metadata field is refused with its name.
func TestBadMetadata(t *testing.T) {
	p := InitGlorot([]int{784, 8, 10}, rand.New(rand.NewSource(1)))
	aq := func(s string) string { return `{"format": "mnistc-checkpoint/2", "actquant": ` + s + `}` }
	cases := []struct{ meta, want string }{
		{`{"format": "garbage"}`, `format "garbage" unknown`},
		{`{"format": 99}`, "meta.json: format: want text, not a number"},
		{`{"train": {"epochs": "ten"}}`, "meta.json: train.epochs: want a whole number, not a string"},
		{aq(`{"bits": -3, "calib": "minmax", "ranges": [{"lo":0,"hi":1},{"lo":0,"hi":1}]}`), "actquant.bits -3 out of range"},
		{aq(`{"bits": 0, "calib": "minmax", "ranges": [{"lo":0,"hi":1},{"lo":0,"hi":1}]}`), "actquant.bits 0 out of range"},
		{aq(`{"bits": 1000000, "calib": "minmax", "ranges": [{"lo":0,"hi":1},{"lo":0,"hi":1}]}`), "actquant.bits 1000000"},
		{aq(`{"bits": 8, "calib": "bogus", "ranges": [{"lo":0,"hi":1},{"lo":0,"hi":1}]}`), `actquant.calib "bogus" unknown`},
		{aq(`{"bits": 8, "calib": "minmax", "ranges": [{"lo":2,"hi":1},{"lo":0,"hi":1}]}`), "actquant.ranges[0] is [2, 1]"},
		{aq(`{"bits": 8, "calib": "minmax", "ranges": [{"lo":0,"hi":1}]}`), "actquant.ranges holds 1 ranges, want 2"},
		{aq(`{"bits": 8, "calib": "minmax"}`), "actquant.ranges holds 0 ranges"},
		{`{"train": {"train_images": -1}}`, "train.train_images -1"},
		{`{"sizes": [784, 9, 10]}`, "sizes [784 9 10] do not match"},
	}
	for _, c := range cases {
		_, err := Decode(npzWithMeta(t, p, c.meta))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("meta %s: error %v, want one containing %q", c.meta, err, c.want)
		}
	}
}

// npzWithMeta is p's arrays with meta as meta.json.
func npzWithMeta(t *testing.T, p Params, meta string) []byte {
	t.Helper()
	if !json.Valid([]byte(meta)) {
		t.Fatalf("test metadata is not JSON: %s", meta)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, tt := range p.Tensors() {
		w, _ := zw.Create(tt.Name + ".npy")
		if err := encodeNPY(w, *tt); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create(metaMember)
	w.Write([]byte(meta))
	zw.Close()
	return buf.Bytes()
}

// TestErrorKinds: every decoding fault is an ErrCheckpoint a caller can
// test for; a missing file is not (it is the file system's).
func TestErrorKinds(t *testing.T) {
	if _, err := Decode([]byte("not a zip")); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("garbage: %v is not an ErrCheckpoint", err)
	}
	p := InitGlorot([]int{784, 8, 10}, rand.New(rand.NewSource(1)))
	if _, err := Decode(npzWithMeta(t, p, `{"format": "garbage"}`)); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("bad metadata: %v is not an ErrCheckpoint", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.npz")); errors.Is(err, ErrCheckpoint) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
