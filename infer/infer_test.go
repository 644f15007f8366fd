package infer

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mnistc/internal/handmade"
	"mnistc/internal/kernel"
	"mnistc/mnc"
	"mnistc/model"
)

// archs: the article's network, a three- and a four-layer one.
var archs = [][]int{{784, 128, 10}, {784, 40, 30, 10}, {784, 32, 24, 16, 10}}

// agree checks the packed evaluator's logits against the float evaluation's
// (n×classes each). Without activation quantization they agree to float
// rounding and no prediction differs. With it, a value within rounding of a
// level boundary may land one level apart (the float path sums in float32,
// the integer path exactly), which moves the next layer's outputs by a
// step times a weight, and may move later levels: an image whose logits
// move by more than a few steps of the last layer's input is counted, and
// at most 1 % of them and one prediction in a thousand (at least 2) may.
func agree(t *testing.T, name string, got, want []float32, n int, p model.Params, aq *model.ActQuant) {
	t.Helper()
	classes := p.Classes()
	flip, maxMoved, maxDiffer := 0.0, 0, 0
	if aq != nil {
		last := p.Layers[p.Depth()-1]
		r := aq.Range(p.Depth() - 1)
		flip = 4 * float64(r.Hi-r.Lo) / float64(int(1)<<aq.Bits-1) * maxAbs(last.W.Data)
		maxMoved, maxDiffer = n/100, max(2, n/1000)
	}
	differ, moved, flipped := 0, 0, 0
	for i := 0; i < n; i++ {
		g, w := got[i*classes:(i+1)*classes], want[i*classes:(i+1)*classes]
		if model.Argmax(g) != model.Argmax(w) {
			differ++
		}
		m, f := false, false
		for k := range g {
			d := math.Abs(float64(g[k] - w[k]))
			if d > 1e-4*(1+math.Abs(float64(w[k]))) {
				f = true
			}
			if d > 1e-4*(1+math.Abs(float64(w[k])))+flip || math.IsNaN(d) {
				if aq == nil {
					t.Fatalf("%s: image %d logit %d = %v, float evaluation %v", name, i, k, g[k], w[k])
				}
				m = true
			}
		}
		if m {
			moved++
		}
		if f {
			flipped++
		}
	}
	if moved > maxMoved {
		t.Errorf("%s: the logits of %d of %d images moved by more than level flips explain", name, moved, n)
	}
	if differ > maxDiffer {
		t.Errorf("%s: %d of %d predictions differ", name, differ, n)
	}
	if flipped > 0 {
		t.Logf("%s: %d images' logits moved by level flips (%d beyond %.2g), %d predictions differ", name, flipped, moved, flip, differ)
	}
}

// TestMatchesFloatEvaluation: the packed evaluator predicts what the float
// evaluation of the unpacked checkpoint (model.Forward) predicts, on 2,000
// test images, with logits equal up to float rounding, through every
// kernel, for networks of two, three and four layers.
func TestMatchesFloatEvaluation(t *testing.T) {
	test := mnist(t).Slice(0, 2000)
	cases := []struct {
		act    int
		chain  []step
		kernel string // of w1; alternatives split by |
	}{
		{0, nil, "dense float32"},
		{0, []step{prune(0.1)}, "sparse float32"},
		{0, []step{prune(0.05), symmetric(4, true)}, "sparse float32"},
		{0, []step{symmetric(8, true)}, "integer levels × float input"},
		{0, []step{affine(4, false)}, "integer levels × float input"},
		{0, []step{codebook(3, true)}, "codebook"},
		{0, []step{binarize()}, "codebook"},
		{0, []step{symmetric(16, true)}, "expanded to dense float32"},
		{8, []step{symmetric(8, true)}, "int8 levels × uint8"},
		{4, []step{symmetric(4, true)}, "int8 levels × uint8"},
		{8, []step{prune(0.1), symmetric(8, true)}, "int8 levels × uint8"},
		{8, []step{prune(0.001), symmetric(8, true)}, "sparse int8 levels × uint8"},
		{8, []step{affine(4, false)}, "int8 levels × uint8"},
		{8, []step{affine(8, false)}, "integer levels × activation codes"}, // levels past int8: the int16 kernel
		{8, []step{prune(0.1), codebook(3, false)}, "sparse float32"},
		{8, nil, "dense float32"},
		{8, []step{symmetric(16, true)}, "expanded to dense float32"},
		{8, []step{symmetric(16, false)}, "codebook|expanded"}, // a table of 2^16 levels where smaller than w1
		// activation codes wider than 8 bits: the integer kernels while
		// int32 cannot overflow, the float ones beyond
		{12, []step{symmetric(4, true)}, "integer levels × activation codes"},
		{16, []step{symmetric(4, true)}, "integer levels × activation codes"},
		{12, []step{prune(0.1), symmetric(4, true)}, "sparse integer levels × activation codes"},
		{16, []step{symmetric(8, true)}, "integer levels × float input"},
		{16, []step{prune(0.1), symmetric(8, true)}, "sparse float32"},
	}
	for _, sizes := range archs {
		for _, c := range cases {
			name := chainName(sizes, c.chain) + " act " + itoa(c.act)
			ck, f := packed(t, sizes, c.act, c.chain...)
			net, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			if k := net.Kernels(); len(k) != len(sizes)-1 || !slices.ContainsFunc(strings.Split(c.kernel, "|"), func(w string) bool { return strings.Contains(k[0], w) }) {
				t.Errorf("%s: kernels %q, want w1 %q", name, k, c.kernel)
			}
			got := net.Forward(test.X, test.Len())
			want := model.Forward(ck.Params, test.X, test.Len(), ck.Meta.ActQuant)
			agree(t, name, got, want, test.Len(), ck.Params, ck.Meta.ActQuant)
		}
	}
}

// dyadicBook maps each non-zero weight to the nearest of four levels
// k·2^−8 that no 2-bit grid holds: a codebook with dyadic entries.
func dyadicBook() step {
	book := []float32{-29.0 / 256, -5.0 / 256, 7.0 / 256, 31.0 / 256}
	return step{Spec: "quantize:dyadic-codebook", Apply: func(w *model.Tensor) {
		for i, v := range w.Data {
			if v == 0 {
				continue
			}
			best := 0
			for c := range book {
				if handmade.Abs32(v-book[c]) < handmade.Abs32(v-book[best]) {
					best = c
				}
			}
			w.Data[i] = book[best]
		}
	}}
}

// mixed quantizes each layer its own way: a dense grid, a pruned codebook,
// a pruned grid.
func mixed() step {
	return step{Spec: "mixed", Apply: func(w *model.Tensor) {
		switch w.Name {
		case "w1":
			dyadic().Apply(w)
		case "w2":
			prune(0.3).Apply(w)
			dyadicBook().Apply(w)
		default:
			prune(0.5).Apply(w)
			dyadic().Apply(w)
		}
	}}
}

// TestExactOnDyadicValues: with weights, biases and activation steps that
// are powers of two (and levels small enough: 784 × 511 × 31 < 2^24), every
// sum is exact in float32 whatever its order, so every kernel — the
// integer ones included, the int8 path at 4 and 8 bits, the others at 9 —
// must give model.Forward's logits bit for bit, through every layer.
func TestExactOnDyadicValues(t *testing.T) {
	test := mnist(t).Slice(0, 2000)
	chains := [][]step{
		{dyadic()},
		{prune(0.1), dyadic()},
		{thin(5), dyadic()},
		{thin(1000), dyadic()},
		{prune(0.1), dyadicBook()},
		{dyadicBook()},
		{mixed()},
	}
	ran := map[string]bool{}
	for _, sizes := range archs {
		for _, chain := range chains {
			for _, bits := range []int{4, 8, 9} { // 9: past the int8 path, so the other kernels run
				name := chainName(sizes, chain) + " act " + itoa(bits)
				p := network(sizes, 5, chain...)
				for l, d := range p.Layers {
					for i := range d.B.Data {
						d.B.Data[i] = float32((i+l)%5-1) / 64
					}
				}
				// ranges with power-of-two steps over what minmax finds
				aq := minmax(p, bits, test.X[:1000*784], 1000)
				levels := float64(int(1)<<bits - 1)
				for l := range aq.Ranges {
					step := math.Exp2(math.Ceil(math.Log2(float64(aq.Ranges[l].Hi) / levels)))
					if l == 0 {
						step = math.Exp2(-float64(bits))
					}
					aq.Ranges[l] = model.Range{Lo: 0, Hi: float32(levels * step)}
				}
				ck := model.Checkpoint{Params: p, Meta: model.Meta{ActQuant: aq}}
				net, err := New(pack(t, ck))
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range net.Kernels() {
					ran[k[strings.Index(k, ": ")+2:]] = true
				}
				got := net.Forward(test.X, test.Len())
				want := model.Forward(p, test.X, test.Len(), aq)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s (%s): image %d logit %d = %v, float evaluation %v", name, strings.Join(net.Kernels(), "; "), i/p.Classes(), i%p.Classes(), got[i], want[i])
					}
				}
			}
		}
	}
	for _, k := range []string{kGridInt, kSparseI, kCodebook, kBlock, kSparse, fmt.Sprintf(kInt8, kernel.Int8Impl()), kInt8Sparse} {
		if !ran[k] {
			t.Errorf("no case ran %q; the cases ran %q", k, slices.Sorted(maps.Keys(ran)))
		}
	}
}

// TestVersion1File: the version-1 file of package mnc's testdata (seed-1
// baseline pruned, 4-bit weights, 8-bit activations) evaluates through the
// integer path to the predictions the version-1 evaluator made on
// the first 2,000 test images (testdata/v1-predictions.txt, one digit per
// image, written by commit 47a06ef's infer.Net.Forward) and to
// model.Forward's.
func TestVersion1File(t *testing.T) {
	b, err := os.ReadFile("../mnc/testdata/v1.mnc")
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("testdata/v1-predictions.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	net, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range net.Kernels() {
		if !strings.Contains(k, "int8 levels × uint8 activation codes") {
			t.Errorf("kernel %q, want the integer path (the version-1 evaluator ran the sparse integer kernel)", k)
		}
	}
	ck, err := f.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	test := mnist(t).Slice(0, len(strings.TrimSpace(string(old))))
	got := net.Forward(test.X, test.Len())
	want := model.Forward(ck.Params, test.X, test.Len(), ck.Meta.ActQuant)
	for i := 0; i < test.Len(); i++ {
		g, w := model.Argmax(got[i*10:i*10+10]), model.Argmax(want[i*10:i*10+10])
		if byte('0'+g) != old[i] || g != w {
			t.Fatalf("image %d: predicted %d, model.Forward %d, the version-1 evaluator %c", i, g, w, old[i])
		}
	}
}

// TestBlockIndependence: an image's logits do not depend on which images
// share its block of 16 (rows are summed in a fixed order), at any depth.
func TestBlockIndependence(t *testing.T) {
	test := mnist(t).Slice(0, 64)
	for _, sizes := range append(archs, []int{784, 300, 100, 10}) {
		for _, act := range []int{0, 6} {
			_, f := packed(t, sizes, act, prune(0.1))
			net, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(net.Kernels()[0], kBlock) {
				t.Fatalf("%v: kernels %q", sizes, net.Kernels())
			}
			all := net.Forward(test.X, test.Len())
			for _, i := range []int{0, 17, 40, 63} {
				one := net.Forward(test.Image(i), 1)
				for k := range one {
					if math.Float32bits(one[k]) != math.Float32bits(all[i*10+k]) {
						t.Fatalf("%v act %d: image %d logit %d: %v alone, %v in a batch", sizes, act, i, k, one[k], all[i*10+k])
					}
				}
			}
		}
	}
}

// only applies a step to one weight tensor.
func only(name string, s step) step {
	return step{Spec: name + ":" + s.Spec, Apply: func(w *model.Tensor) {
		if w.Name == name {
			s.Apply(w)
		}
	}}
}

// TestMixedLayers: LeNet-300-100 with layers stored differently — float32
// layers (BLAS GEMM, too large for the block kernel) between sparse,
// integer and codebook ones, on the chunked path; or all pruned, on the
// block kernel with two panels of columns for w1 — matches model.Forward
// with and without activation quantization.
func TestMixedLayers(t *testing.T) {
	test := mnist(t).Slice(0, 2000)
	lenet := []int{784, 300, 100, 10}
	chains := []struct {
		chain   []step
		kernels []string
	}{
		{[]step{only("w1", prune(0.1))}, []string{"sparse", "BLAS GEMM", "BLAS GEMM"}},
		{[]step{only("w2", symmetric(8, true)), only("w3", codebook(2, false))}, []string{"BLAS GEMM", "integer levels", "codebook"}},
		{[]step{only("w1", prune(0.1)), only("w1", symmetric(4, true)), only("w3", prune(0.5))}, []string{"sparse", "BLAS GEMM", "sparse float32"}},
		{[]step{prune(0.1)}, []string{kBlock, kBlock, kBlock}},
	}
	for _, c := range chains {
		for _, act := range []int{0, 8} {
			name := chainName(lenet, c.chain) + " act " + itoa(act)
			ck, f := packed(t, lenet, act, c.chain...)
			net, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			for l, k := range net.Kernels() {
				if !strings.Contains(k, c.kernels[l]) {
					t.Errorf("%s: %s, want %q", name, k, c.kernels[l])
				}
			}
			agree(t, name, net.Forward(test.X, test.Len()), model.Forward(ck.Params, test.X, test.Len(), ck.Meta.ActQuant), test.Len(), ck.Params, ck.Meta.ActQuant)
		}
	}
}

// randomInputs returns n images of width in, about a fifth of each non-zero
// (uniform in [0, 1)), as sparse as MNIST digits.
func randomInputs(n, in int, rng *rand.Rand) []float32 {
	x := make([]float32, n*in)
	for i := range x {
		if rng.Intn(5) == 0 {
			x[i] = rng.Float32()
		}
	}
	return x
}

// TestOddShapes: networks that are not MNIST's — other input widths and
// class counts, layers of one unit, layers wider than the block kernel's
// 256 — evaluate on every path as model.Forward does, on random sparse
// inputs, and CheckData names what does not fit the data.
func TestOddShapes(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	shapes := [][]int{{100, 7, 5, 3}, {20, 1, 1, 2}, {50, 300, 20}, {30, 2, 300, 4, 5}, {64, 12}}
	chains := [][]step{nil, {prune(0.2)}, {symmetric(6, true)}, {prune(0.3), symmetric(4, false)}, {codebook(2, false)}}
	for _, sizes := range shapes {
		x := randomInputs(300, sizes[0], rng)
		for _, chain := range chains {
			for _, act := range []int{0, 5, 14} {
				name := chainName(sizes, chain) + " act " + itoa(act)
				ck := model.Checkpoint{Params: network(sizes, 11, chain...)}
				if act > 0 {
					ck.Meta.ActQuant = minmax(ck.Params, act, x, 300)
				}
				net, err := New(pack(t, ck))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := net.CheckData(sizes[0], sizes[len(sizes)-1]); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := net.CheckData(784, 10); err == nil || !strings.Contains(err.Error(), "w1 takes") {
					t.Fatalf("%s: CheckData(784, 10): %v", name, err)
				}
				got := net.Forward(x, 300)
				agree(t, name, got, model.Forward(ck.Params, x, 300, ck.Meta.ActQuant), 300, ck.Params, ck.Meta.ActQuant)
			}
		}
	}
}

// TestNewRefuses: what New cannot evaluate as model.Forward would is an
// error, never a panic: files built by hand that Decode would refuse, and
// the literal activation rule.
func TestNewRefuses(t *testing.T) {
	_, f := packed(t, []int{784, 6, 5, 10}, 0, symmetric(4, false))
	aq := func(bits int, ranges int) *model.ActQuant {
		a := &model.ActQuant{Bits: bits, Calib: "minmax"}
		for i := 0; i < ranges; i++ {
			a.Ranges = append(a.Ranges, model.Range{Lo: 0, Hi: 1})
		}
		return a
	}
	cases := []struct {
		edit func(f *mnc.File)
		want string
	}{
		{func(f *mnc.File) { f.Meta.ActQuant = aq(8, 2) }, "actquant.ranges holds 2 ranges, want 3"},
		{func(f *mnc.File) { f.Meta.ActQuant = aq(17, 3) }, "actquant.bits 17"},
		{func(f *mnc.File) { f.Meta.ActQuant = &model.ActQuant{Bits: 4, Calib: "literal", Literal: true} }, "literal"},
		{func(f *mnc.File) { f.Tensors[2].Shape = []int{5, 6} }, "w2 has shape [5 6]: its 5 inputs do not match the 6 outputs of w1"},
		{func(f *mnc.File) { f.Tensors = f.Tensors[:5] }, "no tensor b3"},
		{func(f *mnc.File) { f.Tensors = nil }, "no tensors"},
		{func(f *mnc.File) { f.Tensors[0].Codes = f.Tensors[0].Codes[:7] }, "tensor w1: 7 codes"},
	}
	for _, c := range cases {
		g := *f
		g.Tensors = append([]mnc.Tensor(nil), f.Tensors...)
		g.Tensors[2].Shape = append([]int(nil), f.Tensors[2].Shape...)
		c.edit(&g)
		if _, err := New(&g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := New(f); err != nil {
		t.Fatalf("the intact file: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkEvalTestSet evaluates the 10,000 test images: the float path
// (model.Forward, BLAS GEMM) against the packed evaluator at several keep
// rates and bit widths, on Glorot weights pruned or quantized by hand, for
// the article's 784-128-10 and for LeNet-300-100 (784-300-100-10). The
// "random input" case feeds uniform noise instead of MNIST, which has no
// zero pixels to skip, to separate that effect from pruning's.
func BenchmarkEvalTestSet(b *testing.B) {
	test := mnist(b)
	noise := make([]float32, len(test.X))
	rng := rand.New(rand.NewSource(1))
	for i := range noise {
		noise[i] = rng.Float32()
	}
	article, lenet := []int{784, 128, 10}, []int{784, 300, 100, 10}
	float, _ := packed(b, article, 0)
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
		sizes []int
		act   int
		chain []step
		x     []float32
	}{
		{"mnc-keep1.0", article, 0, nil, test.X},
		{"mnc-keep0.1", article, 0, []step{prune(0.1)}, test.X},
		{"mnc-keep0.05", article, 0, []step{prune(0.05)}, test.X},
		{"mnc-keep0.1-random-input", article, 0, []step{prune(0.1)}, noise},
		{"mnc-keep0.05-4bit", article, 0, []step{prune(0.05), symmetric(4, true)}, test.X},
		{"mnc-8bit", article, 0, []step{symmetric(8, true)}, test.X},
		{"mnc-4bit", article, 0, []step{symmetric(4, true)}, test.X},
		{"mnc-8bit-act8-int", article, 8, []step{symmetric(8, true)}, test.X},
		{"mnc-4bit-act4-int", article, 4, []step{symmetric(4, true)}, test.X},
		{"lenet-mnc-keep1.0", lenet, 0, nil, test.X},
		{"lenet-mnc-keep0.1", lenet, 0, []step{prune(0.1)}, test.X},
		{"lenet-mnc-keep0.1-4bit", lenet, 0, []step{prune(0.1), symmetric(4, true)}, test.X},
		{"lenet-mnc-8bit-act8-int", lenet, 8, []step{symmetric(8, true)}, test.X},
	}
	for _, c := range cases {
		_, f := packed(b, c.sizes, c.act, c.chain...)
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
