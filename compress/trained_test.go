package compress

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"mnistc/data"
	"mnistc/model"
	"mnistc/training"
)

var (
	trainedOnce             sync.Once
	trainedCk               model.Checkpoint
	trainedVal, trainedTest data.Set
	trainedErr              error
)

// trained trains one epoch on 6,000 real training images (seed 1) once per
// test binary; the next 1,000 images are its calibration split.
func trained(t *testing.T) (model.Checkpoint, data.Set, data.Set) {
	t.Helper()
	trainedOnce.Do(func() {
		dir, err := data.DefaultDir()
		if err != nil {
			trainedErr = err
			return
		}
		train, test, err := data.Load(dir)
		if err != nil {
			trainedErr = err
			return
		}
		cfg := model.DefaultTrainConfig()
		cfg.Epochs = 1
		tr, va := train.Slice(0, 6000), train.Slice(6000, 7000)
		res, err := training.Train(cfg, tr, va, training.Hooks{})
		trainedCk, trainedVal, trainedTest, trainedErr = model.Checkpoint{Params: res.Params}, va, test, err
	})
	if trainedErr != nil {
		t.Fatal(trainedErr)
	}
	return trainedCk, trainedVal, trainedTest
}

func runChain(t *testing.T, specs ...string) Result {
	t.Helper()
	ck, val, test := trained(t)
	ps, err := Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ck, ps, Env{Calib: val}, test)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestOnTrainedModel: the accuracy bounds on a model trained here,
// and per-channel strictly better than per-tensor in squared error.
func TestOnTrainedModel(t *testing.T) {
	cases := []struct {
		spec  string
		maxPP float64
	}{
		{"quantize:bits=8,granularity=channel", 0.1},
		{"prune:keep=0.5,scope=global", 1},
		{"actquant:bits=8", 0.2},
	}
	for _, c := range cases {
		r := runChain(t, c.spec).Records[0]
		if -r.DeltaPP > c.maxPP {
			t.Errorf("%s: %.2f pp (%.4f → %.4f), want a loss ≤ %.1f pp", c.spec, r.DeltaPP, r.AccBefore, r.AccAfter, c.maxPP)
		}
		t.Logf("%s: %.4f → %.4f", c.spec, r.AccBefore, r.AccAfter)
	}
	ck, _, _ := trained(t)
	for _, b := range []string{"2", "4", "8"} {
		pt := runChain(t, "quantize:bits="+b).State.Params
		pc := runChain(t, "quantize:granularity=channel,bits="+b).State.Params
		for _, name := range model.WeightNames(ck.Params.Depth()) {
			et, ec := sse(pt.Get(name).Data, ck.Params.Get(name).Data), sse(pc.Get(name).Data, ck.Params.Get(name).Data)
			if ec >= et {
				t.Errorf("%s bits %s: per-channel SSE %g ≥ per-tensor %g on trained weights", name, b, ec, et)
			}
		}
	}
}

// TestChainRecords: a chain records one row per step against the step
// before and a total against the original; size falls as passes stack.
func TestChainRecords(t *testing.T) {
	res := runChain(t, "prune:keep=0.3,scope=global", "quantize:bits=4,granularity=channel")
	if len(res.Records) != 3 || res.Records[2].Pass != "total" {
		t.Fatalf("%d records, last %q; want 2 steps and a total", len(res.Records), res.Records[len(res.Records)-1].Pass)
	}
	p, q, tot := res.Records[0], res.Records[1], res.Records[2]
	if q.AccBefore != p.AccAfter || tot.AccBefore != p.AccBefore || tot.AccAfter != q.AccAfter {
		t.Errorf("records do not chain: %+v", res.Records)
	}
	if !(q.SizeBytes < p.SizeBytes && p.SizeBytes < p.DenseBytes) || tot.SizeBytes != q.SizeBytes {
		t.Errorf("sizes %d → %d (dense %d), total %d", p.SizeBytes, q.SizeBytes, p.DenseBytes, tot.SizeBytes)
	}
	if !strings.Contains(tot.Spec, "prune:") || !strings.Contains(tot.Spec, "quantize:") {
		t.Errorf("total spec %q should name the chain", tot.Spec)
	}
	// Quantizing a pruned tensor keeps it pruned (symmetric maps 0 to 0).
	for i := range q.Tensors {
		if q.Tensors[i].Nonzero > p.Tensors[i].Nonzero {
			t.Errorf("%s: quantization revived pruned weights (%d → %d non-zeros)", q.Tensors[i].Name, p.Tensors[i].Nonzero, q.Tensors[i].Nonzero)
		}
	}
}

// TestActQuantCalibration: ranges come from the calibration split and the
// literal rule ignores them; quantized hidden activations have ≤ 2^b levels.
func TestActQuantCalibration(t *testing.T) {
	res := runChain(t, "actquant:bits=4")
	aq := res.State.ActQuant
	if aq == nil || len(aq.Ranges) != 2 || aq.Ranges[0].Hi != 1 || aq.Ranges[0].Lo != 0 || !(aq.Ranges[1].Hi > 0) {
		t.Fatalf("minmax ranges %+v: want input [0,1] and a positive hidden range", aq)
	}
	pc := runChain(t, "actquant:bits=4,calib=percentile,percentile=99").State.ActQuant
	if !(pc.Ranges[1].Hi < aq.Ranges[1].Hi) {
		t.Errorf("99th percentile %v not below max %v", pc.Ranges[1].Hi, aq.Ranges[1].Hi)
	}
	_, val, _ := trained(t)
	hid := model.Activations(res.State.Params, val.X[:100*784], 100, aq, 1)
	aq.QuantizeActivations(hid, aq.Ranges[1])
	if n := distinct(hid); n > 16 {
		t.Errorf("4-bit hidden activations take %d values, want ≤ 16", n)
	}
}

// TestPassesNeverMutateInput runs one spec of every pass family and variant
// on the trained model and checks the input state is untouched.
func TestPassesNeverMutateInput(t *testing.T) {
	ck, val, _ := trained(t)
	specs := []string{"clip:std=2", "clip:threshold=0.05,mode=constant,value=0.01", "quantize:bits=4,scheme=kmeans,granularity=channel",
		"quantize:bits=1", "quantize:scheme=ternary", "quantize:bits=3,scheme=affine", "quantize:bits=5,range=mse", "quantize:scheme=literal",
		"prune:keep=0.2,method=random", "prune:keep=0.5,method=neuron", "prune:keep=0.5,method=literal", "prune:keep=0.1,scope=global",
		"actquant:bits=4,calib=mse"}
	ps, err := Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	in := State{Params: ck.Params, Enc: map[string]Encoding{"w2": {Scheme: "symmetric", Bits: 8, Groups: 1, GroupBits: 32}}}
	want := in.clone()
	for _, p := range ps {
		if _, err := p.Apply(in, Env{Calib: val}); err != nil {
			t.Fatalf("%s: %v", p.Spec(), err)
		}
		if !reflect.DeepEqual(in, want) {
			t.Fatalf("%s mutated its input", p.Spec())
		}
	}
}
