package infer

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/internal/kernel"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/training"
)

// The integer path's tests run on trained networks compressed by the real
// passes (package compress), as a user's files are: agreement with the
// float evaluation is a statement about trained weights and calibrated
// ranges, not about random ones.

var trainSet = sync.OnceValues(func() (data.Set, error) {
	dir, err := data.DefaultDir()
	if err != nil {
		return data.Set{}, err
	}
	train, _, err := data.Load(dir)
	return train, err
})

var (
	trainedMu   sync.Mutex
	trainedNets = map[string]model.Params{}
)

// trained returns a network of the hidden widths trained for one epoch on
// the first 10,000 training images (seed 1, the default recipe otherwise):
// about 94 % (784-128-10) and 95 % (LeNet-300-100) on the test set.
func trained(t testing.TB, hidden ...int) model.Params {
	t.Helper()
	trainedMu.Lock()
	defer trainedMu.Unlock()
	key := fmt.Sprint(hidden)
	if p, ok := trainedNets[key]; ok {
		return p
	}
	train, err := trainSet()
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Layers = 1, hidden
	res, err := training.Train(cfg, train.Slice(0, 10000), data.Set{}, training.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	trainedNets[key] = res.Params
	return res.Params
}

// compressed applies the passes of specs to p in order, calibrating on
// training images 50,000–54,999 (never the test set), and returns the
// checkpoint and its packed file as a reader decodes it.
func compressed(t testing.TB, p model.Params, specs ...string) (model.Checkpoint, *mnc.File) {
	t.Helper()
	train, err := trainSet()
	if err != nil {
		t.Fatal(err)
	}
	passes, err := compress.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	st := compress.NewState(model.Checkpoint{Params: p.Clone()})
	for _, ps := range passes {
		if st, err = ps.Apply(st, compress.Env{Calib: train.Slice(50000, 55000)}); err != nil {
			t.Fatal(err)
		}
	}
	ck := model.Checkpoint{Params: st.Params, Meta: model.Meta{ActQuant: st.ActQuant}}
	return ck, pack(t, ck)
}

// The chains of the integer path's tests and benchmarks.
var (
	int8Chain   = []string{"quantize:bits=8,granularity=channel", "actquant:bits=8"}
	int8Tensor  = []string{"quantize:bits=8", "actquant:bits=8"}
	int4Chain   = []string{"quantize:bits=4,granularity=channel", "actquant:bits=8"}
	deepChain   = []string{"prune:keep=0.05", "quantize:bits=4,granularity=channel", "actquant:bits=8"}
	int4Act4    = []string{"quantize:bits=4,granularity=channel", "actquant:bits=4"}
	lenetHidden = []int{300, 100}
)

// intMismatchBound is how many of the 10,000 test images may be predicted
// differently by the integer path and by model.Forward's fake quantization
// of the same file. The two compute the same codes except where a hidden
// unit's value lies within float32 rounding (about 1e−6 of the value) of
// half-way between two levels: model.Forward's sum of float32 products in
// order and the integer path's exact sum rescaled once round apart there,
// and the unit's code moves by one level. That moves the logits by a step
// times a weight, which changes the prediction only when the image's two
// top logits are about as close; measured: 0–1 image in 10,000 on the
// chains of TestIntegerMatchesFloat.
const intMismatchBound = 3

// TestIntegerMatchesFloat: on trained networks (784-128-10 and
// LeNet-300-100) compressed by the passes — 8-bit weights per channel and
// per tensor, 4-bit weights, Deep Compression's keep 0.05 + 4 bits, 8-bit
// and 4-bit activations — every layer runs on the integer path, and its
// predictions on the 10,000 test images are model.Forward's (fake
// quantization of the unpacked file) except for at most intMismatchBound
// images, with accuracies within as many images.
func TestIntegerMatchesFloat(t *testing.T) {
	test := mnist(t)
	for _, hidden := range [][]int{{128}, lenetHidden} {
		p := trained(t, hidden...)
		for _, chain := range [][]string{int8Chain, int8Tensor, int4Chain, deepChain, int4Act4} {
			name := fmt.Sprintf("%s %s", model.ArchName(p.Sizes()), strings.Join(chain, " → "))
			ck, f := compressed(t, p, chain...)
			net, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range net.Kernels() {
				if !strings.Contains(k, "int8 levels × uint8 activation codes") {
					t.Errorf("%s: kernel %q, want the integer path", name, k)
				}
			}
			got := net.Forward(test.X, test.Len())
			want := model.Forward(ck.Params, test.X, test.Len(), ck.Meta.ActQuant)
			differ, correctInt, correctFloat := 0, 0, 0
			for i := 0; i < test.Len(); i++ {
				g, w := model.Argmax(got[i*10:i*10+10]), model.Argmax(want[i*10:i*10+10])
				if g != w {
					differ++
				}
				if g == int(test.Y[i]) {
					correctInt++
				}
				if w == int(test.Y[i]) {
					correctFloat++
				}
			}
			t.Logf("%s: %d/10000 correct (float %d), %d predictions differ", name, correctInt, correctFloat, differ)
			if differ > intMismatchBound || abs(correctInt-correctFloat) > intMismatchBound {
				t.Errorf("%s: %d predictions differ from model.Forward's (bound %d); %d correct against %d", name, differ, intMismatchBound, correctInt, correctFloat)
			}
		}
	}
}

// TestIntegerImplementations: the VNNI, AVX2 and Go kernels (those this
// CPU runs) give the integer path the same logits bit for bit, and an
// image alone gives the bits it gets in a batch.
func TestIntegerImplementations(t *testing.T) {
	test := mnist(t).Slice(0, 501) // odd: the last image of the last chunk runs alone
	for _, hidden := range [][]int{{128}, lenetHidden, {40, 30, 20}} {
		_, f := compressed(t, trained(t, hidden...), int8Chain...)
		net, err := New(f)
		if err != nil {
			t.Fatal(err)
		}
		var ref []float32
		for _, impl := range kernel.Int8Impls() {
			restore := kernel.ForceInt8(impl)
			got := net.Forward(test.X, test.Len())
			restore()
			if ref == nil {
				ref = got
				continue
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v %s: logit %d = %v, %s gave %v", hidden, impl, i, got[i], kernel.Int8Impls()[0], ref[i])
				}
			}
		}
		for _, i := range []int{0, 7, 500} {
			one := net.Forward(test.Image(i), 1)
			for k := range one {
				if math.Float32bits(one[k]) != math.Float32bits(ref[i*10+k]) {
					t.Fatalf("%v: image %d logit %d: %v alone, %v in a batch", hidden, i, k, one[k], ref[i*10+k])
				}
			}
		}
	}
}

// TestIntegerSparseKernel: a very sparse layer runs on the CSR kernel, and
// it gives the dense kernel's logits bit for bit (the same integer sums),
// at every depth; a layer at keep 0.05 runs on the dense one.
func TestIntegerSparseKernel(t *testing.T) {
	test := mnist(t).Slice(0, 1000)
	for _, hidden := range [][]int{{128}, lenetHidden} {
		p := trained(t, hidden...)
		for _, keep := range []string{"0.001", "0.05"} {
			_, f := compressed(t, p, "prune:keep="+keep, "quantize:bits=8,granularity=channel", "actquant:bits=8")
			layers, err := f.Layers()
			if err != nil {
				t.Fatal(err)
			}
			net, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"0.001": kInt8Sparse, "0.05": "int8 levels × uint8"}[keep]; !strings.Contains(net.Kernels()[0], want) {
				t.Errorf("%v keep %s: w1 %q, want %q", hidden, keep, net.Kernels()[0], want)
			}
			dense, csr := newIntNet(layers, f.Meta.ActQuant, 0), newIntNet(layers, f.Meta.ActQuant, 1)
			a, b := make([]float32, test.Len()*10), make([]float32, test.Len()*10)
			dense.forward(test.X, test.Len(), a)
			csr.forward(test.X, test.Len(), b)
			for l := range csr.layers {
				if csr.layers[l].w != nil || dense.layers[l].w == nil {
					t.Fatalf("layer %d: not on the kernels asked for", l+1)
				}
			}
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("%v keep %s: logit %d: dense kernel %v, CSR %v", hidden, keep, i, a[i], b[i])
				}
			}
		}
	}
}
