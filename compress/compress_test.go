package compress

import (
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"mnistc/model"
)

// randomParams returns a 784-h-10 network of Glorot-initialised weights
// with small random first-layer biases.
func randomParams(seed int64, h int) model.Params {
	rng := rand.New(rand.NewSource(seed))
	p := model.InitGlorot([]int{model.Inputs, h, model.Classes}, rng)
	for i := range p.Layers[0].B.Data {
		p.Layers[0].B.Data[i] = float32(rng.NormFloat64() * 0.05)
	}
	return p
}

// randomNet returns a network of the given sizes with Glorot-initialised
// weights and small random biases in every layer.
func randomNet(seed int64, sizes ...int) model.Params {
	rng := rand.New(rand.NewSource(seed))
	p := model.InitGlorot(sizes, rng)
	for _, l := range p.Layers {
		for i := range l.B.Data {
			l.B.Data[i] = float32(rng.NormFloat64() * 0.05)
		}
	}
	return p
}

// weightsOf returns the data of every weight matrix of p, w1 first.
func weightsOf(p model.Params) [][]float32 {
	var out [][]float32
	for _, l := range p.Layers {
		out = append(out, l.W.Data)
	}
	return out
}

func apply(t *testing.T, spec string, s State) State {
	t.Helper()
	ps, err := Build([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ps[0].Apply(s, Env{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func state(p model.Params) State { return State{Params: p} }

// levels counts distinct values of each group (column when perChannel).
func groupLevels(tt model.Tensor, perChannel bool) []int {
	groups := 1
	if perChannel {
		groups = tt.Shape[1]
	}
	buf := make([]float32, len(tt.Data)/groups)
	var out []int
	for g := 0; g < groups; g++ {
		gather(buf, tt.Data, g, groups)
		out = append(out, distinct(buf))
	}
	return out
}

func sse(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

// TestQuantizeProperties: at most 2^b−1 levels per group (symmetric), 2^b
// (affine, kmeans); error at most half a step inside the range;
// idempotent; per-channel no worse than per-tensor in squared error; the
// input is never mutated. These weights are uniform random, so every
// column spans nearly the tensor's whole range and per-channel can only tie
// per-tensor up to rounding luck: 1 % slack here, none on trained weights
// (TestOnTrainedModel).
func TestQuantizeProperties(t *testing.T) {
	p := randomParams(1, 64)
	orig := p.Clone()
	for _, b := range []int{2, 3, 4, 6, 8} {
		for _, gran := range []string{"tensor", "channel"} {
			for _, scheme := range []string{"symmetric", "affine", "kmeans"} {
				spec := "quantize:bits=" + itoa(b) + ",granularity=" + gran + ",scheme=" + scheme
				out := apply(t, spec, state(p))
				for _, name := range []string{"w1", "w2"} {
					qt, ot := out.Params.Get(name), orig.Get(name)
					limit := 1 << b
					if scheme == "symmetric" {
						limit--
					}
					for g, n := range groupLevels(*qt, gran == "channel") {
						if n > limit {
							t.Fatalf("%s %s group %d: %d levels, want ≤ %d", spec, name, g, n, limit)
						}
					}
					if scheme == "symmetric" {
						checkHalfStep(t, spec, *ot, *qt, b, gran == "channel")
					}
					again := apply(t, spec, out)
					for i := range qt.Data {
						if d := math.Abs(float64(again.Params.Get(name).Data[i] - qt.Data[i])); d > 1e-6 {
							t.Fatalf("%s %s not idempotent at %d: %v then %v", spec, name, i, qt.Data[i], again.Params.Get(name).Data[i])
						}
					}
				}
			}
			if !reflect.DeepEqual(p, orig) {
				t.Fatal("quantize mutated its input")
			}
		}
		for _, scheme := range []string{"symmetric", "affine", "kmeans"} {
			pt := apply(t, "quantize:bits="+itoa(b)+",scheme="+scheme, state(p))
			pc := apply(t, "quantize:bits="+itoa(b)+",scheme="+scheme+",granularity=channel", state(p))
			for _, name := range []string{"w1", "w2"} {
				et, ec := sse(pt.Params.Get(name).Data, orig.Get(name).Data), sse(pc.Params.Get(name).Data, orig.Get(name).Data)
				if ec > et*1.01 {
					t.Errorf("%s %d bits %s: per-channel SSE %g > per-tensor %g", scheme, b, name, ec, et)
				}
			}
		}
	}
}

// checkHalfStep: |w − q(w)| ≤ step/2 for every weight (minmax range holds
// every weight, so all are inside it).
func checkHalfStep(t *testing.T, spec string, orig, q model.Tensor, b int, perChannel bool) {
	groups := 1
	if perChannel {
		groups = orig.Shape[1]
	}
	buf := make([]float32, len(orig.Data)/groups)
	for g := 0; g < groups; g++ {
		gather(buf, orig.Data, g, groups)
		step := float64(float32(maxAbs(buf) / float64(int(1)<<(b-1)-1))) // the stored float32 scale
		for i := range buf {
			w, qw := float64(buf[i]), float64(q.Data[i*groups+g])
			// plus the float32 rounding of scale·k
			if math.Abs(w-qw) > step/2+math.Abs(qw)*0x1p-23 {
				t.Fatalf("%s: |%v − %v| > half step %v", spec, w, qw, step/2)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestQuantizeHandComputed checks each rule against values worked by hand.
func TestQuantizeHandComputed(t *testing.T) {
	cases := []struct {
		name string
		f    func(v []float32)
		in   []float32
		want []float32
	}{
		// scale 3/3 = 1: 0.5 → 0 (even), 1.5 → 2 (even), −0.6 → −1, 2.7 → 3, 4 and −9 saturate
		{"symmetric 3 bits", func(v []float32) { Symmetric(v, 3, 3) }, []float32{0.5, 1.5, -0.6, 2.7, 4, -9}, []float32{0, 2, -1, 3, 3, -3}},
		// range [−1, 2], 4 levels: s = 1, zp = 1
		{"affine 2 bits", func(v []float32) { Affine(v, 2) }, []float32{-1, 0.4, 1.6, 2}, []float32{-1, 0, 2, 2}},
		// mean |w| of non-zeros = 0.5
		{"binary", Binary, []float32{0.2, -0.8, 0, 0.5}, []float32{0.5, -0.5, 0, 0.5}},
		// Δ = 0.7·0.5 = 0.35; kept |w| 0.8, 0.6 → α = 0.7
		{"ternary", func(v []float32) { Ternary(v, 0.7) }, []float32{0.1, -0.8, 0.6, -0.5 + 0.3}, []float32{0, -0.7, 0.7, 0}},
		// the article's formula with b = 2: step 2
		{"literal 2 bits", func(v []float32) { Literal(v, 2) }, []float32{0.9, 1.1, -3.2, 5}, []float32{0, 2, -4, 4}},
		// two clusters {0.1, 0.2} and {0.9, 1.0}; the zero stays
		{"kmeans k=2", func(v []float32) { KMeans(v, 2) }, []float32{0.1, 0.2, 0, 0.9, 1.0}, []float32{0.15, 0.15, 0, 0.95, 0.95}},
	}
	for _, c := range cases {
		v := append([]float32(nil), c.in...)
		c.f(v)
		for i := range v {
			if math.Abs(float64(v[i]-c.want[i])) > 1e-6 {
				t.Errorf("%s: got %v, want %v", c.name, v, c.want)
				break
			}
		}
	}
}

// TestLiteralQuantizeZeroesTrainedWeights: the printed formula sends every
// weight of magnitude below 2^(b−1)/2 to zero, i.e. all of a trained MNIST
// network's weights at every b.
func TestLiteralQuantizeZeroesTrainedWeights(t *testing.T) {
	p := randomParams(2, 32)
	for _, b := range []int{1, 4, 8, 16} {
		out := apply(t, "quantize:scheme=literal,bits="+itoa(b), state(p))
		for _, w := range weightsOf(out.Params) {
			for _, x := range w {
				if x != 0 {
					t.Fatalf("bits %d: literal left %v", b, x)
				}
			}
		}
	}
}

// TestPruneProperties: exact kept count round(r·n), kept values unchanged and
// the largest, pruned exactly zero; global keeps one threshold.
func TestPruneProperties(t *testing.T) {
	p := randomParams(3, 64)
	for _, r := range []float64{1, 0.9, 0.5, 0.3, 0.1, 0.01} {
		out := apply(t, "prune:keep="+ftoa(r), state(p))
		for _, name := range []string{"w1", "w2"} {
			o, q := p.Get(name).Data, out.Params.Get(name).Data
			kept := 0
			minKept, maxPruned := math.Inf(1), 0.0
			for i := range q {
				if q[i] != 0 {
					kept++
					if q[i] != o[i] {
						t.Fatalf("keep %v %s[%d]: kept value changed %v → %v", r, name, i, o[i], q[i])
					}
					minKept = math.Min(minKept, math.Abs(float64(o[i])))
				} else {
					maxPruned = math.Max(maxPruned, math.Abs(float64(o[i])))
				}
			}
			if want := KeepCount(r, len(o)); kept != want {
				t.Errorf("keep %v %s: kept %d, want %d", r, name, kept, want)
			}
			if kept < len(o) && maxPruned > minKept {
				t.Errorf("keep %v %s: pruned |w| %v larger than kept %v", r, name, maxPruned, minKept)
			}
		}
	}
	out := apply(t, "prune:keep=0.2,scope=global", state(p))
	minKept, maxPruned, kept := math.Inf(1), 0.0, 0
	for _, name := range []string{"w1", "w2"} {
		o, q := p.Get(name).Data, out.Params.Get(name).Data
		for i := range q {
			if q[i] != 0 {
				kept++
				minKept = math.Min(minKept, math.Abs(float64(o[i])))
			} else {
				maxPruned = math.Max(maxPruned, math.Abs(float64(o[i])))
			}
		}
	}
	if n := len(p.Get("w1").Data) + len(p.Get("w2").Data); kept != KeepCount(0.2, n) || maxPruned > minKept {
		t.Errorf("global: kept %d (want %d), max pruned %v, min kept %v: want one threshold", kept, KeepCount(0.2, n), maxPruned, minKept)
	}
	rnd := apply(t, "prune:keep=0.3,method=random,seed=5", state(p))
	if nz := countNonzero(rnd.Params.Get("w1").Data); nz != KeepCount(0.3, len(p.Get("w1").Data)) {
		t.Errorf("random: %d kept, want %d", nz, KeepCount(0.3, len(p.Get("w1").Data)))
	}
	if !reflect.DeepEqual(rnd, apply(t, "prune:keep=0.3,method=random,seed=5", state(p))) {
		t.Error("random pruning with one seed is not deterministic")
	}
	per := apply(t, "prune:keep=w1:0.1/w2:0.5", state(p))
	if countNonzero(per.Params.Get("w1").Data) != KeepCount(0.1, len(p.Get("w1").Data)) || countNonzero(per.Params.Get("w2").Data) != KeepCount(0.5, len(p.Get("w2").Data)) {
		t.Error("per-tensor keep rates not applied")
	}
}

func countNonzero(v []float32) int {
	n := 0
	for _, x := range v {
		if x != 0 {
			n++
		}
	}
	return n
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// TestPruneTiesDeterministic: among equal magnitudes the lower index stays.
func TestPruneTiesDeterministic(t *testing.T) {
	v := []float32{0.5, -0.5, 0.5, 0.1, -0.5}
	Magnitude(v, 2)
	if !reflect.DeepEqual(v, []float32{0.5, -0.5, 0, 0, 0}) {
		t.Errorf("got %v", v)
	}
}

// TestNeuronPruningEqualsMasking: the smaller 784-k-10 network computes the
// same logits as the dense one with the dropped units' weights zeroed, and
// the units kept are those with the largest incoming L2 norm.
func TestNeuronPruningEqualsMasking(t *testing.T) {
	p := randomParams(4, 32)
	out := apply(t, "prune:keep=0.25,method=neuron", state(p))
	q := out.Params
	if !reflect.DeepEqual(q.Sizes(), []int{784, 8, 10}) {
		t.Fatalf("sizes %v, want 784-8-10", q.Sizes())
	}
	w1 := p.Get("w1").Data
	norms := make([]float64, 32)
	for i := 0; i < 784; i++ {
		for j := 0; j < 32; j++ {
			norms[j] += float64(w1[i*32+j]) * float64(w1[i*32+j])
		}
	}
	order := make([]int, 32)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return norms[order[a]] > norms[order[b]] })
	masked := p.Clone()
	mw1, mb1, mw2 := masked.Get("w1").Data, masked.Get("b1").Data, masked.Get("w2").Data
	for _, j := range order[8:] {
		for i := 0; i < 784; i++ {
			mw1[i*32+j] = 0
		}
		mb1[j] = 0
		for k := 0; k < 10; k++ {
			mw2[j*10+k] = 0
		}
	}
	sameLogits(t, q, masked, 50, 1e-5)
}

// sameLogits checks that networks a and b give the same logits, within
// tol, on n random inputs.
func sameLogits(t *testing.T, a, b model.Params, n int, tol float64) {
	t.Helper()
	rng := rand.New(rand.NewSource(9))
	x := make([]float32, n*a.Inputs())
	for i := range x {
		x[i] = rng.Float32()
	}
	la, lb := model.Forward(a, x, n, nil), model.Forward(b, x, n, nil)
	for i := range la {
		if math.Abs(float64(la[i]-lb[i])) > tol {
			t.Fatalf("logit %d: %s net %v, %s net %v", i, a.Arch(), la[i], b.Arch(), lb[i])
		}
	}
}

// masked returns p with the entries masks marks set to zero.
func masked(p model.Params, masks map[string][]bool) model.Params {
	q := p.Clone()
	for name, m := range masks {
		d := q.Get(name).Data
		for i, drop := range m {
			if drop {
				d[i] = 0
			}
		}
	}
	return q
}

// TestNeuronPruningDeep: on a 20-8-6-4 network, pruning the units w2
// outputs shrinks w2's columns, b2 and w3's rows and nothing else; the
// smaller net computes what the network masked by PruneMasks computes (the
// contract training relies on); pruning every hidden layer at once and the
// default (the first hidden layer) behave alike.
func TestNeuronPruningDeep(t *testing.T) {
	p := randomNet(11, 20, 8, 6, 4)
	cases := []struct {
		spec  string
		sizes []int
		masks []string
	}{
		{"prune:method=neuron,keep=0.5,layers=w2", []int{20, 8, 3, 4}, []string{"b2", "w2", "w3"}},
		{"prune:method=neuron,keep=w2:0.34", []int{20, 8, 2, 4}, []string{"b2", "w2", "w3"}},
		{"prune:method=neuron,keep=0.5", []int{20, 4, 6, 4}, []string{"b1", "w1", "w2"}},
		{"prune:method=neuron,keep=w1:0.25/w2:0.5", []int{20, 2, 3, 4}, []string{"b1", "b2", "w1", "w2", "w3"}},
		{"prune:method=neuron,keep=0.5,layers=hidden", []int{20, 4, 3, 4}, []string{"b1", "b2", "w1", "w2", "w3"}},
	}
	for _, c := range cases {
		out := apply(t, c.spec, state(p))
		q := out.Params
		if !reflect.DeepEqual(q.Sizes(), c.sizes) {
			t.Fatalf("%s: sizes %v, want %v", c.spec, q.Sizes(), c.sizes)
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		spec, _ := ParseSpec(c.spec)
		m, err := PruneMasks(&p, spec)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		if !reflect.DeepEqual(names, c.masks) {
			t.Errorf("%s: masks for %v, want %v", c.spec, names, c.masks)
		}
		// Untouched tensors are carried over bit for bit.
		for _, tn := range p.Tensors() {
			if _, ok := m[tn.Name]; !ok && !reflect.DeepEqual(*tn, *q.Get(tn.Name)) {
				t.Errorf("%s: %s changed though no unit of its layer was pruned", c.spec, tn.Name)
			}
		}
		sameLogits(t, q, masked(p, m), 40, 1e-5)
		// The kept units of each pruned layer have the largest incoming
		// norms (over the inputs the earlier pruning left).
		for l := 0; l+1 < p.Depth(); l++ {
			if c.sizes[l+1] == p.Sizes()[l+1] {
				continue
			}
			in, h := p.Layers[l].In(), p.Layers[l].Out()
			before := m[model.BiasName(l)] // the inputs pruning dropped, if any (nil for l = 0)
			minKept, maxDropped := math.Inf(1), -1.0
			for j := 0; j < h; j++ {
				var ss float64
				for i := 0; i < in; i++ {
					if before == nil || !before[i] {
						x := float64(p.Layers[l].W.Data[i*h+j])
						ss += x * x
					}
				}
				if m[model.BiasName(l+1)][j] {
					maxDropped = math.Max(maxDropped, ss)
				} else {
					minKept = math.Min(minKept, ss)
				}
			}
			if maxDropped > minKept {
				t.Errorf("%s: layer %d dropped a unit of norm² %v above a kept one's %v", c.spec, l+1, maxDropped, minKept)
			}
		}
	}
	// Pruning the last layer's outputs (the classes) is refused at Apply.
	ps, err := Build([]string{"prune:method=neuron,layers=w3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps[0].Apply(state(p), Env{}); err == nil || !strings.Contains(err.Error(), "w3 outputs the 4 classes") {
		t.Errorf("neuron pruning of w3: error %v, want one saying w3 outputs the classes", err)
	}
	// A per-channel encoding of a shrunk weight follows its columns.
	in := State{Params: p, Enc: map[string]Encoding{"w2": {Scheme: "symmetric", Bits: 4, Groups: 6, GroupBits: 32}, "w3": {Scheme: "symmetric", Bits: 4, Groups: 4, GroupBits: 32}}}
	out := apply(t, "prune:method=neuron,keep=0.5,layers=w2", in)
	if out.Enc["w2"].Groups != 3 || out.Enc["w3"].Groups != 4 {
		t.Errorf("encodings after neuron pruning: %+v, want w2 in 3 groups and w3 in 4", out.Enc)
	}
}

// TestClip: saturate bounds |w| ≤ T; constant writes t; std scales per tensor.
func TestClip(t *testing.T) {
	p := randomParams(5, 16)
	w1 := p.Get("w1").Data
	out := apply(t, "clip:threshold=0.03", state(p))
	for _, x := range out.Params.Get("w1").Data {
		if math.Abs(float64(x)) > 0.03+1e-9 {
			t.Fatalf("saturate left %v > 0.03", x)
		}
	}
	con := apply(t, "clip:threshold=0.03,mode=constant,value=0.25", state(p))
	for i, x := range w1 {
		want := x
		if math.Abs(float64(x)) > 0.03 {
			want = 0.25
		}
		if got := con.Params.Get("w1").Data[i]; got != want {
			t.Fatalf("constant: w1[%d] %v → %v, want %v", i, x, got, want)
		}
	}
	st := apply(t, "clip:std=1", state(p))
	T := stddev(p.Get("w2").Data)
	for _, x := range st.Params.Get("w2").Data {
		if math.Abs(float64(x)) > T*(1+1e-6) {
			t.Fatalf("std=1: |%v| > %v", x, T)
		}
	}
	if !reflect.DeepEqual(*out.Params.Get("b1"), *p.Get("b1")) {
		t.Error("clip touched b1 without being asked")
	}
}

// TestLiteralPruneScales: Θ̃ = (1 − r)Θ on every weight and bias.
func TestLiteralPruneScales(t *testing.T) {
	p := randomParams(6, 8)
	out := apply(t, "prune:keep=0.3,method=literal", state(p))
	for k, tt := range p.Tensors() {
		for i, x := range tt.Data {
			if got := out.Params.Tensors()[k].Data[i]; got != x*float32(0.7) {
				t.Fatalf("%s[%d]: %v → %v, want %v", tt.Name, i, x, got, x*0.7)
			}
		}
	}
}

func TestSpecErrors(t *testing.T) {
	cases := map[string]string{
		"shrink:bits=4":                             `unknown pass "shrink"`,
		"quantize:bitz=4":                           `unknown key "bitz"`,
		"quantize:bits=17":                          "bits=17 out of range",
		"quantize:bits=0":                           "bits=0 out of range",
		"quantize:bits=4.5":                         "whole number",
		"quantize:bits":                             "malformed",
		"quantize:scheme=fancy":                     "want one of symmetric",
		"prune:keep=0":                              "keep=0 out of range: want (0, 1]",
		"prune:keep=1.5":                            "out of range",
		"prune:keep=x3:0.5":                         "tensor:value pairs",
		"prune:keep=w0:0.5":                         "tensor:value pairs",
		"prune:keep=w01:0.5":                        "tensor:value pairs",
		"prune:keep=0.5,scope=global,method=random": "scope=global applies to method=magnitude only",
		"prune:keep=w1:0.1/w2:0.2,scope=global":     "one threshold",
		"prune:keep=0.5,method=neuron,layers=b1":    "names a hidden layer by the weight",
		"prune:keep=b2:0.5,method=neuron":           "names a hidden layer by the weight",
		"prune:keep=0.5,method=neuron,layers=all":   "not layers=all",
		"prune:keep=0.5,layers=hidden":              "layers=hidden applies to method=neuron only",
		"quantize:layers=hidden":                    "want weights, all or a '/'-separated list",
		"quantize:layers=w1/weights":                "'/'-separated list",
		"prune:keep=w1:0.5/w2:0.5,layers=w1/w3":     "gives no value for w3",
		"clip:mode=saturate":                        "exactly one of threshold",
		"clip:threshold=0.1,std=2":                  "exactly one of threshold",
		"quantize:scheme=ternary,bits=4":            "ternary stores 2-bit codes",
		"quantize:scheme=affine,range=mse":          "range=mse applies to scheme=symmetric",
		"actquant:bits=4,percentile=99":             "percentile applies to calib=percentile",
		"quantize:layers=w1/v9":                     "'/'-separated list",
		"quantize:layers=w1/w1":                     "'/'-separated list",
		"prune:keep=0.5,keep=0.4":                   "given twice",
	}
	for spec, want := range cases {
		if _, err := ParseSpec(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", spec, err, want)
		}
	}
	a, _ := ParseSpec("quantize:granularity=channel,bits=4")
	b, _ := ParseSpec("quantize:bits=4,granularity=channel,scheme=symmetric")
	if a.String() != b.String() {
		t.Errorf("equal specs print differently: %s vs %s", a, b)
	}
}

// TestSizeFormula checks Measure on hand-computable tensors.
func TestSizeFormula(t *testing.T) {
	dense := measureTensor(model.Tensor{Name: "w1", Shape: []int{4, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}}, Encoding{})
	if dense.SizeBytes != 32 || dense.IndexBits != 0 {
		t.Errorf("float dense: %d bytes (index %d), want 32", dense.SizeBytes, dense.IndexBits)
	}
	// 4-bit codes for 8 values + one 32-bit scale = 64 bits = 8 bytes.
	q := measureTensor(model.Tensor{Name: "w1", Shape: []int{4, 2}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}}, Encoding{Scheme: "symmetric", Bits: 4, Groups: 1, GroupBits: 32})
	if q.SizeBytes != 8 {
		t.Errorf("4-bit: %d bytes, want 8", q.SizeBytes)
	}
	// 1000 entries, non-zero at 0 and 999 (gaps 1 and 999): with w index
	// bits the float sparse form costs (1 + ceil(999/2^w))·(w+32) bits,
	// least at w = 10: 2 entries × 42 = 84 bits = 11 bytes.
	v := make([]float32, 1000)
	v[0], v[999] = 1, 2
	sp := measureTensor(model.Tensor{Name: "w1", Shape: []int{1000}, Data: v}, Encoding{})
	if sp.IndexBits != 10 || sp.SizeBytes != 11 {
		t.Errorf("sparse: index %d bits, %d bytes; want 10 bits and 11 bytes", sp.IndexBits, sp.SizeBytes)
	}
}

// TestClipStdIgnoresPrunedZeros: the ×std threshold of a pruned tensor is
// the deviation of its kept weights, as on the dense tensor they came from.
func TestClipStdIgnoresPrunedZeros(t *testing.T) {
	v := []float32{1, -1, 1, -1}
	if got := stddev(v); got != 1 {
		t.Fatalf("dense: %v", got)
	}
	if got := stddev(append(v, make([]float32, 96)...)); got != 1 {
		t.Fatalf("with 96 pruned zeros: %v, want 1", got)
	}
}

// TestRewriteEqualsApply: every pass that rewrites in place (what training
// applies at each step) leaves exactly the values Apply gives.
func TestRewriteEqualsApply(t *testing.T) {
	specs := []string{
		"quantize:bits=4", "quantize:bits=4,granularity=channel", "quantize:bits=8,range=mse",
		"quantize:bits=3,scheme=affine,granularity=channel", "quantize:bits=1", "quantize:bits=2,scheme=ternary",
		"quantize:bits=4,scheme=literal", "quantize:bits=32",
		"clip:threshold=0.05", "clip:std=2", "clip:threshold=0.03,mode=constant,value=0",
	}
	for _, text := range specs {
		ps, err := Build([]string{text})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		rw, ok := ps[0].(Rewriter)
		if !ok {
			t.Fatalf("%s does not rewrite in place", text)
		}
		p := randomParams(3, 32)
		want, err := ps[0].Apply(State{Params: p}, Env{})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Clone()
		if err := rw.Rewrite(&got); err != nil {
			t.Fatal(err)
		}
		for k, tn := range want.Params.Tensors() {
			g := got.Tensors()[k]
			for i := range tn.Data {
				if math.Float32bits(tn.Data[i]) != math.Float32bits(g.Data[i]) {
					t.Fatalf("%s: %s[%d] Apply %v, Rewrite %v", text, tn.Name, i, tn.Data[i], g.Data[i])
				}
			}
		}
	}
}

// TestSymmetricColumnsEqualsColumnByColumn: quantizing a matrix row by row
// with per-column ranges gives the values of quantizing each column alone
// (gathered, by Symmetric with its own max |w|), an all-zero column and a
// column with one huge weight included.
func TestSymmetricColumnsEqualsColumnByColumn(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	const rows, cols = 300, 13
	v := make([]float32, rows*cols)
	for i := range v {
		if i%cols != 4 { // column 4 stays zero
			v[i] = float32(rng.NormFloat64() * 0.05)
		}
	}
	v[7*cols+9] = 40
	for _, b := range []int{2, 3, 4, 8} {
		want := append([]float32(nil), v...)
		col := make([]float32, rows)
		for j := 0; j < cols; j++ {
			gather(col, want, j, cols)
			Symmetric(col, b, maxAbs(col))
			scatter(want, col, j, cols)
		}
		got := append([]float32(nil), v...)
		SymmetricColumns(got, cols, b, columnMaxAbs(got, cols))
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("bits %d, entry %d (column %d): column by column %v, row by row %v", b, i, i%cols, want[i], got[i])
			}
		}
	}
}

// TestBelowIsExact: the bit compare clip uses agrees with |w| ≤ T computed
// in float64, at and around float32 values near T, for thresholds that are
// and are not float32 values, at 0, below 0 and beyond float32's range.
func TestBelowIsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	ws := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, math.SmallestNonzeroFloat32}
	for _, T := range []float64{0, -1, 0.05, 0.1, 1e6, 3.4e38, 1e300, math.Inf(1), float64(float32(0.3)), 0.3} {
		f := float32(T)
		cands := append([]float32(nil), ws...)
		for _, x := range []float32{f, math.Nextafter32(f, 0), math.Nextafter32(f, float32(math.Inf(1)))} {
			cands = append(cands, x, -x)
		}
		for i := 0; i < 200; i++ {
			cands = append(cands, float32(rng.NormFloat64()*T))
		}
		keep := below(T)
		for _, w := range cands {
			if got, want := keep(w), math.Abs(float64(w)) <= T; got != want {
				t.Fatalf("T %v, w %v: bit compare %v, float64 compare %v", T, w, got, want)
			}
		}
	}
}
