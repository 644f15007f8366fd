package infer

import (
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
)

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

// packed returns Glorot weights after the passes, as a checkpoint and as the
// decoded packed file; act > 0 adds activation quantization to act bits,
// with ranges from 1,000 calibration images.
func packed(t testing.TB, act int, specs ...string) (model.Checkpoint, *mnc.File) {
	t.Helper()
	p := model.InitGlorot(model.DefaultHidden, rand.New(rand.NewSource(3)))
	for i := range p.B1.Data {
		p.B1.Data[i] = 0.02 * float32(i%5)
	}
	st := compress.State{Params: p, Enc: map[string]compress.Encoding{}}
	passes, err := compress.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range passes {
		if st, err = ps.Apply(st, compress.Env{}); err != nil {
			t.Fatal(err)
		}
	}
	ck := model.Checkpoint{Params: st.Params}
	if act > 0 {
		calib := mnist(t).Slice(0, 1000)
		h := model.HiddenActivations(ck.Params, calib.X, calib.Len(), nil)
		hi := float32(0)
		for _, v := range h {
			hi = max(hi, v)
		}
		ck.Meta.ActQuant = &model.ActQuant{Bits: act, Calib: "minmax", Input: model.Range{Lo: 0, Hi: 1}, Hidden: model.Range{Lo: 0, Hi: hi}}
	}
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return ck, f
}

// TestMatchesFloatEvaluation: the packed evaluator predicts what the float
// evaluation of the unpacked checkpoint predicts, on 2,000 test images, with
// logits equal up to float rounding (the sums run in another order, and
// the integer path rounds once at the end).
func TestMatchesFloatEvaluation(t *testing.T) {
	test := mnist(t).Slice(0, 2000)
	cases := []struct {
		act    int
		chain  []string
		kernel string // of w1
	}{
		{0, nil, "dense float32"},
		{0, []string{"prune:keep=0.1"}, "sparse float32"},
		{0, []string{"prune:keep=0.05,scope=global", "quantize:bits=4,granularity=channel"}, "sparse float32"},
		{0, []string{"quantize:bits=8,granularity=channel"}, "integer levels × float input"},
		{0, []string{"quantize:bits=4,scheme=affine"}, "integer levels × float input"},
		{0, []string{"quantize:bits=3,scheme=kmeans,granularity=channel"}, "codebook"},
		{0, []string{"quantize:bits=1"}, "codebook"},
		{8, []string{"quantize:bits=8,granularity=channel"}, "int32 accumulation"},
		{4, []string{"quantize:bits=4,granularity=channel"}, "int32 accumulation"},
		{8, []string{"prune:keep=0.1", "quantize:bits=8,granularity=channel"}, "sparse integer"},
		{8, []string{"prune:keep=0.1", "quantize:bits=3,scheme=kmeans"}, "sparse float32"},
		{8, nil, "dense float32"},
	}
	for _, c := range cases {
		ck, f := packed(t, c.act, c.chain...)
		net, err := New(f)
		if err != nil {
			t.Fatal(err)
		}
		if k := net.Kernels()[0]; !strings.Contains(k, c.kernel) {
			t.Errorf("%v act %d: w1 runs %q, want %q", c.chain, c.act, k, c.kernel)
		}
		got := net.Forward(test.X, test.Len())
		want := model.Forward(ck.Params, test.X, test.Len(), ck.Meta.ActQuant)
		// Without activation quantization the logits agree to float
		// rounding. With it, a hidden value within rounding of a level
		// boundary may land one level apart (the float path sums in
		// float32, the integer path exactly): that moves a logit by about
		// one hidden step times a weight, so the bound is that, and one
		// prediction in a thousand may change.
		tol, maxDiffer := 1e-4, 0
		if ck.Meta.ActQuant != nil {
			aq := ck.Meta.ActQuant
			tol, maxDiffer = 4*float64(aq.Hidden.Hi)/float64(int(1)<<aq.Bits-1)*maxAbs(ck.Params.W2.Data), test.Len()/1000
		}
		differ, moved := 0, 0
		for i := 0; i < test.Len(); i++ {
			g, w := got[i*10:i*10+10], want[i*10:i*10+10]
			if model.Argmax(g) != model.Argmax(w) {
				differ++
			}
			for k := range g {
				d := math.Abs(float64(g[k] - w[k]))
				if d > tol*(1+math.Abs(float64(w[k]))) {
					t.Fatalf("%v act %d: image %d logit %d = %v, float evaluation %v", c.chain, c.act, i, k, g[k], w[k])
				}
				if d > 1e-4*(1+math.Abs(float64(w[k]))) {
					moved++
				}
			}
		}
		if differ > maxDiffer {
			t.Errorf("%v act %d: %d of %d predictions differ", c.chain, c.act, differ, test.Len())
		}
		if moved > 0 {
			t.Logf("%v act %d: %d logits moved by a hidden level flip, %d predictions differ", c.chain, c.act, moved, differ)
		}
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// TestBlockIndependence: an image's logits do not depend on which images
// share its block of 16 (rows are summed in a fixed order).
func TestBlockIndependence(t *testing.T) {
	_, f := packed(t, 0, "prune:keep=0.1")
	net, _ := New(f)
	test := mnist(t).Slice(0, 64)
	all := net.Forward(test.X, test.Len())
	for _, i := range []int{0, 17, 40, 63} {
		one := net.Forward(test.Image(i), 1)
		for k := range one {
			if math.Float32bits(one[k]) != math.Float32bits(all[i*10+k]) {
				t.Fatalf("image %d logit %d: %v alone, %v in a batch", i, k, one[k], all[i*10+k])
			}
		}
	}
}

// BenchmarkEvalTestSet evaluates the 10,000 test images: the float path
// (model.Forward, BLAS GEMM) against the packed evaluator at several keep
// rates and bit widths, on Glorot weights pruned or quantized by the passes.
// The "random input" case feeds uniform noise instead of MNIST, which has no
// zero pixels to skip, to separate that effect from pruning's.
func BenchmarkEvalTestSet(b *testing.B) {
	test := mnist(b)
	noise := make([]float32, len(test.X))
	rng := rand.New(rand.NewSource(1))
	for i := range noise {
		noise[i] = rng.Float32()
	}
	float, _ := packed(b, 0)
	b.Run("float-dense-blas", func(b *testing.B) { // the GEMM path, as before issue 5's kernel
		for i := 0; i < b.N; i++ {
			model.ForwardBLAS(float.Params, test.X, test.Len(), nil)
		}
	})
	b.Run("float-dense", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.Forward(float.Params, test.X, test.Len(), nil)
		}
	})
	b.Run("float-dense-random-input", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.Forward(float.Params, noise, test.Len(), nil)
		}
	})
	cases := []struct {
		name  string
		act   int
		chain []string
		x     []float32
	}{
		{"mnc-keep1.0", 0, nil, test.X},
		{"mnc-keep0.1", 0, []string{"prune:keep=0.1"}, test.X},
		{"mnc-keep0.05", 0, []string{"prune:keep=0.05"}, test.X},
		{"mnc-keep0.1-random-input", 0, []string{"prune:keep=0.1"}, noise},
		{"mnc-keep0.05-4bit", 0, []string{"prune:keep=0.05", "quantize:bits=4,granularity=channel"}, test.X},
		{"mnc-8bit", 0, []string{"quantize:bits=8,granularity=channel"}, test.X},
		{"mnc-4bit", 0, []string{"quantize:bits=4,granularity=channel"}, test.X},
		{"mnc-8bit-act8-int", 8, []string{"quantize:bits=8,granularity=channel"}, test.X},
		{"mnc-4bit-act4-int", 4, []string{"quantize:bits=4,granularity=channel"}, test.X},
	}
	for _, c := range cases {
		_, f := packed(b, c.act, c.chain...)
		net, err := New(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				net.Forward(c.x, test.Len())
			}
		})
	}
}
