package compress

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"mnistc/data"
	"mnistc/model"
)

// deepNet is the three-layer network most tests here run on: wide enough
// for per-channel groups and k-means to matter, small enough to be quick.
func deepNet(seed int64) model.Params { return randomNet(seed, 60, 24, 12, 5) }

// applyErr applies spec to s and returns the error (nil when it applies).
func applyErr(t *testing.T, spec string, s State) error {
	t.Helper()
	ps, err := Build([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ps[0].Apply(s, Env{})
	return err
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestGlobalPruneThreeLayers: scope=global keeps exactly round(r·n) weights
// over all the selected tensors together, with one threshold, and leaves
// the others alone, by default (every weight) and over a selection.
func TestGlobalPruneThreeLayers(t *testing.T) {
	p := deepNet(21)
	for _, c := range []struct {
		spec string
		sel  []string
	}{
		{"prune:scope=global,keep=0.17", []string{"w1", "w2", "w3"}},
		{"prune:scope=global,keep=0.3,layers=w2/w3", []string{"w2", "w3"}},
		{"prune:scope=global,keep=0.05,layers=all", []string{"w1", "b1", "w2", "b2", "w3", "b3"}},
	} {
		out := apply(t, c.spec, state(p))
		s, _ := ParseSpec(c.spec)
		r, _ := s.Float("keep")
		n, kept := 0, 0
		minKept, maxPruned := math.Inf(1), 0.0
		for _, tn := range p.Tensors() {
			q := out.Params.Get(tn.Name).Data
			selected := false
			for _, x := range c.sel {
				selected = selected || x == tn.Name
			}
			if !selected {
				if !sameBits(q, tn.Data) {
					t.Errorf("%s: %s changed though not selected", c.spec, tn.Name)
				}
				continue
			}
			n += len(q)
			for i, x := range q {
				a := math.Abs(float64(tn.Data[i]))
				if x != 0 {
					kept++
					minKept = math.Min(minKept, a)
					if x != tn.Data[i] {
						t.Fatalf("%s: kept %s[%d] changed %v → %v", c.spec, tn.Name, i, tn.Data[i], x)
					}
				} else {
					maxPruned = math.Max(maxPruned, a)
				}
			}
		}
		if want := KeepCount(r, n); kept != want {
			t.Errorf("%s: kept %d of %d, want exactly %d", c.spec, kept, n, want)
		}
		if maxPruned > minKept {
			t.Errorf("%s: pruned |w| %v above kept %v: want one threshold", c.spec, maxPruned, minKept)
		}
	}
}

// quantizerSpecs lists one spec per weight-quantization rule and
// granularity, and clipping: every rewrite of weights a pass can make.
var quantizerSpecs = []string{
	"quantize:bits=4", "quantize:bits=4,granularity=channel", "quantize:bits=5,range=mse",
	"quantize:bits=3,range=mse,granularity=channel", "quantize:bits=3,scheme=affine",
	"quantize:bits=3,scheme=affine,granularity=channel", "quantize:bits=1", "quantize:bits=1,granularity=channel",
	"quantize:scheme=ternary", "quantize:scheme=ternary,granularity=channel", "quantize:bits=3,scheme=kmeans",
	"quantize:bits=2,scheme=kmeans,granularity=channel", "quantize:bits=2,scheme=literal",
	"clip:threshold=0.1", "clip:std=1.5", "clip:threshold=0.05,mode=constant,value=0.01",
}

// TestQuantizersEveryLayer: on a three-layer net each quantizer rewrites
// every selected tensor — by default every weight, biases left bit for bit
// — and a tensor comes out the same whether it is quantized alone or with
// the others (each layer by the same rule); unselected tensors stay
// bit-identical; the encoding records each quantized tensor with one group
// per output column for per-channel.
func TestQuantizersEveryLayer(t *testing.T) {
	p := deepNet(22)
	for _, spec := range quantizerSpecs {
		all := apply(t, spec, state(p))
		for _, tn := range p.Tensors() {
			q := all.Params.Get(tn.Name).Data
			switch {
			case strings.HasPrefix(tn.Name, "b"):
				if !sameBits(q, tn.Data) {
					t.Errorf("%s: bias %s changed without being selected", spec, tn.Name)
				}
			case sameBits(q, tn.Data):
				t.Errorf("%s: %s left unchanged: every weight is selected by default", spec, tn.Name)
			}
		}
		for _, name := range []string{"w1", "w2", "w3"} {
			one := apply(t, spec+",layers="+name, state(p))
			for _, tn := range p.Tensors() {
				want := tn.Data
				if tn.Name == name {
					want = all.Params.Get(name).Data
				}
				if !sameBits(one.Params.Get(tn.Name).Data, want) {
					t.Errorf("%s,layers=%s: %s differs from %s", spec, name, tn.Name, map[bool]string{true: "quantizing every weight", false: "the input"}[tn.Name == name])
				}
			}
			if strings.HasPrefix(spec, "quantize") {
				e, ok := one.Enc[name]
				cols := p.Get(name).Shape[1]
				switch {
				case !ok || len(one.Enc) != 1:
					t.Errorf("%s,layers=%s: encodings %v, want one for %s", spec, name, one.Enc, name)
				case strings.Contains(spec, "channel") && e.Groups != cols:
					t.Errorf("%s,layers=%s: %d groups, want %d (one per output column)", spec, name, e.Groups, cols)
				}
			}
		}
		// A selection names any layers, biases included.
		sel := apply(t, spec+",layers=b2/w3", state(p))
		for _, tn := range p.Tensors() {
			touched := tn.Name == "b2" || tn.Name == "w3"
			if !touched && !sameBits(sel.Params.Get(tn.Name).Data, tn.Data) {
				t.Errorf("%s,layers=b2/w3: %s changed", spec, tn.Name)
			}
		}
		if !sameBits(sel.Params.Get("w3").Data, all.Params.Get("w3").Data) {
			t.Errorf("%s,layers=b2/w3: w3 differs from quantizing every weight", spec)
		}
	}
}

// TestPerTensorDeep: per-tensor values may name any layer (w3 included),
// choose the layers when layers= is not given, print in layer order (w2
// before w10), and must cover every tensor a keyword selects — which only
// the network can tell, at Apply.
func TestPerTensorDeep(t *testing.T) {
	p := deepNet(23)
	out := apply(t, "prune:keep=w1:0.08/w2:0.09/w3:0.26", state(p))
	for _, c := range []struct {
		name string
		r    float64
	}{{"w1", 0.08}, {"w2", 0.09}, {"w3", 0.26}} {
		if got, want := countNonzero(out.Params.Get(c.name).Data), KeepCount(c.r, len(p.Get(c.name).Data)); got != want {
			t.Errorf("%s: kept %d, want %d", c.name, got, want)
		}
	}
	clip := apply(t, "clip:std=w3:1", state(p))
	T := stddev(p.Get("w3").Data)
	for _, tn := range p.Tensors() {
		q := clip.Params.Get(tn.Name).Data
		if tn.Name != "w3" {
			if !sameBits(q, tn.Data) {
				t.Errorf("clip:std=w3:1 changed %s", tn.Name)
			}
			continue
		}
		for _, x := range q {
			if math.Abs(float64(x)) > T*(1+1e-6) {
				t.Fatalf("clip:std=w3:1 left |%v| > %v in w3", x, T)
			}
		}
	}
	for text, want := range map[string]string{
		"prune:keep=w10:0.5/w2:0.1/b3:0.2": "prune:keep=b3:0.2/w2:0.1/w10:0.5,layers=b3/w2/w10,method=magnitude,scope=layer",
		"quantize:layers=w10/w2/w1":        "quantize:bits=8,granularity=tensor,layers=w1/w2/w10,range=minmax,scheme=symmetric",
	} {
		s, err := ParseSpec(text)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != want {
			t.Errorf("%s prints %s, want %s", text, s, want)
		}
	}
	for spec, want := range map[string]string{
		"prune:keep=w1:0.5/w2:0.5,layers=weights": "gives no value for w3",
		"quantize:layers=w1/w4":                   "layers names w4, but the network 60-24-12-5 has w1, b1, w2, b2, w3, b3",
		"clip:std=w5:2":                           "layers names w5",
		"prune:method=neuron,layers=w3":           "w3 outputs the 5 classes",
	} {
		if err := applyErr(t, spec, state(p)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", spec, err, want)
		}
	}
}

// TestSpecRoundTrip: every canonical spec parses back to itself; defaults
// print as keywords (every weight, every tensor for the literal formula,
// the first hidden layer for neuron pruning), never as a fixed list.
func TestSpecRoundTrip(t *testing.T) {
	texts := []string{
		"quantize:bits=8", "quantize:bits=32,layers=w3", "quantize:scheme=ternary,layers=all", "clip:std=w3:2/b1:1",
		"prune:keep=0.3", "prune:keep=0.3,method=literal", "prune:keep=0.3,method=neuron", "prune:method=neuron,layers=hidden",
		"prune:method=neuron,keep=w2:0.5/w1:0.25", "prune:keep=0.2,scope=global,layers=w1/w3", "prune:method=random,seed=4,layers=w2",
		"prune:keep=0.5,schedule=gradual,every=10", "actquant:bits=4,calib=percentile", "clip:threshold=0.1,layers=weights",
	}
	for _, text := range texts {
		s, err := ParseSpec(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		back, err := ParseSpec(s.String())
		if err != nil {
			t.Fatalf("%s → %s: %v", text, s, err)
		}
		if !reflect.DeepEqual(back, s) || back.String() != s.String() {
			t.Errorf("%s: %s parses back as %s", text, s, back)
		}
	}
	for text, layers := range map[string]string{
		"quantize:bits=4": "weights", "clip:threshold=1": "weights", "prune:keep=0.5": "weights",
		"prune:method=literal": "all", "prune:method=neuron": "w1", "prune:method=neuron,keep=w2:0.5": "w2",
		"actquant:bits=8": "",
	} {
		s, _ := ParseSpec(text)
		if s.Args["layers"] != layers {
			t.Errorf("%s: layers=%q, want %q", text, s.Args["layers"], layers)
		}
	}
}

// TestDefaultsFollowDepth: one spec, applied to a two- and a three-layer
// network, touches every weight of each.
func TestDefaultsFollowDepth(t *testing.T) {
	for _, p := range []model.Params{randomNet(24, 30, 10, 4), deepNet(24), randomNet(24, 30, 9, 8, 7, 4)} {
		s, _ := ParseSpec("quantize:bits=2")
		names, err := s.Layers(&p)
		if err != nil || !reflect.DeepEqual(names, model.WeightNames(p.Depth())) {
			t.Errorf("%s: default layers %v (%v), want %v", p.Arch(), names, err, model.WeightNames(p.Depth()))
		}
		lit, _ := ParseSpec("prune:method=literal")
		if names, _ := lit.Layers(&p); !reflect.DeepEqual(names, model.TensorNames(p.Depth())) {
			t.Errorf("%s: literal pruning layers %v, want every tensor", p.Arch(), names)
		}
		hid, _ := ParseSpec("prune:method=neuron,layers=hidden")
		if names, _ := hid.Layers(&p); !reflect.DeepEqual(names, model.WeightNames(p.Depth()-1)) {
			t.Errorf("%s: layers=hidden %v, want %v", p.Arch(), names, model.WeightNames(p.Depth()-1))
		}
	}
}

// TestActQuantDeep: a three-layer net gets three ranges; the first two are
// those of the two-layer net sharing its first layer (they see nothing
// after it), and the last is calibrated on the second hidden layer's
// activations with the first two quantizers applied. Quantized activations
// take at most 2^b values in every layer.
func TestActQuantDeep(t *testing.T) {
	p3 := deepNet(25)
	p2 := randomNet(26, 60, 24, 5)
	copy(p2.Layers[0].W.Data, p3.Layers[0].W.Data)
	copy(p2.Layers[0].B.Data, p3.Layers[0].B.Data)
	rng := rand.New(rand.NewSource(27))
	const n = 300
	calib := data.Set{X: make([]float32, n*60), Y: make([]uint8, n)}
	for i := range calib.X {
		if rng.Intn(3) > 0 { // MNIST-like: many exact zeros
			calib.X[i] = rng.Float32()
		}
	}
	for _, spec := range []string{"actquant:bits=4", "actquant:bits=3,calib=percentile,percentile=99", "actquant:bits=5,calib=mse"} {
		ps, err := Build([]string{spec})
		if err != nil {
			t.Fatal(err)
		}
		s3, err := ps[0].Apply(state(p3), Env{Calib: calib})
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ps[0].Apply(state(p2), Env{Calib: calib})
		if err != nil {
			t.Fatal(err)
		}
		aq3, aq2 := s3.ActQuant, s2.ActQuant
		if len(aq3.Ranges) != 3 || len(aq2.Ranges) != 2 {
			t.Fatalf("%s: %d and %d ranges, want 3 and 2", spec, len(aq3.Ranges), len(aq2.Ranges))
		}
		if err := aq3.Validate(3); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if !reflect.DeepEqual(aq3.Ranges[:2], aq2.Ranges) {
			t.Errorf("%s: first ranges %v, two-layer net's %v", spec, aq3.Ranges[:2], aq2.Ranges)
		}
		// The last range, recomputed: minmax is the activations' maximum.
		act := model.Activations(p3, calib.X, n, &model.ActQuant{Bits: aq3.Bits, Calib: aq3.Calib, Ranges: aq3.Ranges[:2]}, 2)
		if spec == "actquant:bits=4" {
			var hi float32
			for _, x := range act {
				hi = max(hi, x)
			}
			if aq3.Ranges[2] != (model.Range{Hi: hi}) || !(hi > 0) {
				t.Errorf("%s: third range %v, want [0, %v]", spec, aq3.Ranges[2], hi)
			}
		}
		for l := 1; l < 3; l++ {
			a := model.Activations(p3, calib.X, n, aq3, l)
			aq3.QuantizeActivations(a, aq3.Ranges[l])
			if d := distinct(a); d > 1<<aq3.Bits {
				t.Errorf("%s: hidden layer %d's quantized activations take %d values, want ≤ %d", spec, l, d, 1<<aq3.Bits)
			}
		}
	}
	// Images of the wrong width are an error, not a panic.
	ps, _ := Build([]string{"actquant:bits=8"})
	if _, err := ps[0].Apply(state(p3), Env{Calib: data.Set{X: make([]float32, 10*784), Y: make([]uint8, 10)}}); err == nil || !strings.Contains(err.Error(), "w1 takes 60 inputs") {
		t.Errorf("calibration images of the wrong width: error %v", err)
	}
}

// TestTotalsEveryWeight: bits per weight averages over every weight matrix
// (w3 included, biases not).
func TestTotalsEveryWeight(t *testing.T) {
	p := deepNet(28)
	out := apply(t, "quantize:bits=4,layers=w3", state(p))
	ts := Measure(out)
	_, _, bpw := Totals(ts)
	var bits float64
	var n int
	for _, st := range ts {
		if strings.HasPrefix(st.Name, "w") {
			bits += st.BitsPerWeight * float64(st.Count)
			n += st.Count
		}
	}
	if math.Abs(bpw-bits/float64(n)) > 1e-12 || !(bpw < 32) {
		t.Errorf("bits per weight %v, want %v (below 32: w3 is quantized)", bpw, bits/float64(n))
	}
}

// TestRecordSizes: a record carries the network's sizes, and one written
// before networks had depth ("hidden": H) reads with the sizes its tensor
// shapes give.
func TestRecordSizes(t *testing.T) {
	st := apply(t, "prune:method=neuron,keep=0.5,layers=w2", state(deepNet(29)))
	r := record(1, Spec{Name: "prune", Args: map[string]string{}}, model.Result{}, model.Result{}, st, 1, 0)
	if !reflect.DeepEqual(r.Sizes, []int{60, 24, 6, 5}) || r.Arch() != "60-24-6-5" {
		t.Fatalf("record sizes %v (%s), want 60-24-6-5", r.Sizes, r.Arch())
	}
	b, _ := json.Marshal(r)
	var back Record
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Sizes, r.Sizes) {
		t.Errorf("sizes after a JSON round trip: %v (%v)", back.Sizes, err)
	}
	old := `{"step":1,"pass":"quantize","hidden":64,"tensors":[{"name":"w1","shape":[784,64]},{"name":"b1","shape":[64]},{"name":"w2","shape":[64,10]},{"name":"b2","shape":[10]}]}`
	if err := json.Unmarshal([]byte(old), &back); err != nil || !reflect.DeepEqual(back.Sizes, []int{784, 64, 10}) {
		t.Errorf("legacy record: sizes %v (%v), want 784-64-10", back.Sizes, err)
	}
	if err := json.Unmarshal([]byte(`{"hidden":32}`), &back); err != nil || !reflect.DeepEqual(back.Sizes, []int{784, 32, 10}) {
		t.Errorf("legacy record without tensors: sizes %v (%v), want 784-32-10", back.Sizes, err)
	}
}

// TestKeepThatKeepsNothingRefused: a keep rate that rounds to no weight at
// all is an error naming the tensor, per tensor and globally (issue 14:
// prune:keep=1e-300 pruned everything with exit 0).
func TestKeepThatKeepsNothingRefused(t *testing.T) {
	p := model.InitGlorot([]int{20, 8, 4}, rand.New(rand.NewSource(1)))
	for _, spec := range []string{"prune:keep=1e-300", "prune:keep=1e-300,scope=global", "prune:keep=w1:0.5/w2:0.01"} {
		ps, err := Build([]string{spec})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps[0].Apply(State{Params: p}, Env{}); err == nil || !strings.Contains(err.Error(), "keeps none") {
			t.Errorf("%s: %v, want a refusal", spec, err)
		}
	}
}

// TestSpecErrorKind: a bad spec is an ErrSpec.
func TestSpecErrorKind(t *testing.T) {
	for _, s := range []string{"bogus:a=1", "quantize:bits=99", "prune:keep=2"} {
		if _, err := ParseSpec(s); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v is not an ErrSpec", s, err)
		}
	}
}
