package robust

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"mnistc/model"
)

// calibrated returns an 8-bit activation quantizer with min-max ranges of
// p's activations on x (n images): a quantized model as compress builds.
func calibrated(p model.Params, x []float32, n int) *model.ActQuant {
	aq := &model.ActQuant{Bits: 8, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}}}
	for l := 1; l < p.Depth(); l++ {
		a := model.Activations(p, x, n, aq, l)
		aq.Ranges = append(aq.Ranges, model.Range{Lo: 0, Hi: slices.Max(a)})
	}
	return aq
}

// At ε = 0 every attack, white-box and transfer, gives exactly the clean
// accuracy, which is model.Evaluate's, for a float and a quantized model.
func TestZeroEpsGivesCleanAccuracy(t *testing.T) {
	p := trainedNet(t)
	_, test := realMNIST(t)
	aq := calibrated(p, test.X[:500*784], 500)
	src := Model{Params: randomNet([]int{784, 32, 10}, 9)}
	opt := Options{Eps: []float32{0, 0.1}, Images: 2000, PGDImages: 200, PGDSteps: 5,
		Attacks: []string{AttackFGSM, AttackPGD, AttackTransfer}, Seed: 3}
	tr, err := NewTransfer(src, "random", test, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Model{{Params: p}, {Params: p, ActQuant: aq}} {
		r, err := Evaluate(m, tr, test, opt)
		if err != nil {
			t.Fatal(err)
		}
		clean := model.Evaluate(m.Params, test.Slice(0, 2000), m.ActQuant).Accuracy
		cleanPGD := model.Evaluate(m.Params, test.Slice(0, 200), m.ActQuant).Accuracy
		if r.Clean != clean || r.CleanPGD != cleanPGD {
			t.Errorf("STE %v: clean %v / %v, model.Evaluate gives %v / %v", r.STE, r.Clean, r.CleanPGD, clean, cleanPGD)
		}
		for what, got := range map[string]float64{"fgsm": r.FGSM["0"], "transfer_fgsm": r.TransferFGSM["0"]} {
			if got != clean {
				t.Errorf("STE %v: %s at ε = 0 is %v, clean %v", r.STE, what, got, clean)
			}
		}
		for what, got := range map[string]float64{"pgd": r.PGD["0"], "transfer_pgd": r.TransferPGD["0"]} {
			if got != cleanPGD {
				t.Errorf("STE %v: %s at ε = 0 is %v, clean %v", r.STE, what, got, cleanPGD)
			}
		}
		if r.FGSM["0.1"] >= clean || r.PGD["0.1"] >= cleanPGD {
			t.Errorf("STE %v: ε = 0.1 left accuracy at FGSM %v, PGD %v", r.STE, r.FGSM["0.1"], r.PGD["0.1"])
		}
		if r.STE != (m.ActQuant != nil) {
			t.Errorf("STE recorded %v for a model with quantizer %v", r.STE, m.ActQuant != nil)
		}
	}
}

// A transfer attack crafted on the target itself gives exactly the
// white-box figures.
func TestTransferFromSelfIsWhiteBox(t *testing.T) {
	p := randomNet(archs[1], 4)
	_, test := realMNIST(t)
	m := Model{Params: p}
	opt := Options{Images: 300, PGDImages: 300, PGDSteps: 5, Attacks: []string{AttackFGSM, AttackPGD, AttackTransfer}, Seed: 2}
	tr, err := NewTransfer(m, "self", test, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(m, tr, test, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range DefaultEps() {
		k := EpsKey(e)
		if r.TransferFGSM[k] != r.FGSM[k] || r.TransferPGD[k] != r.PGD[k] {
			t.Errorf("ε=%s: transfer %v/%v, white-box %v/%v", k, r.TransferFGSM[k], r.TransferPGD[k], r.FGSM[k], r.PGD[k])
		}
	}
	if r.TransferFrom != "self" || r.Images["transfer_fgsm"] != 300 || r.Images["transfer_pgd"] != 300 {
		t.Errorf("transfer_from %q, images %v", r.TransferFrom, r.Images)
	}
}

// Evaluate refuses, with an error naming what differs, a Transfer crafted
// with other options or on other images, a transfer attack without one,
// and a model that does not fit the data.
func TestEvaluateErrors(t *testing.T) {
	_, test := realMNIST(t)
	m := Model{Params: randomNet(archs[0], 1)}
	base := Options{Images: 100, PGDImages: 50, PGDSteps: 1, Attacks: []string{AttackTransfer}}
	tr, err := NewTransfer(m, "m", test, base)
	if err != nil {
		t.Fatal(err)
	}
	other := test.Slice(100, 300)
	for _, c := range []struct {
		name string
		tr   *Transfer
		opt  Options
		set  bool
		want string
	}{
		{"other eps", tr, Options{Images: 100, PGDImages: 50, PGDSteps: 1, Eps: []float32{0.1}, Attacks: []string{AttackTransfer}}, false, "eps"},
		{"other images", tr, Options{Images: 90, PGDImages: 50, PGDSteps: 1, Attacks: []string{AttackTransfer}}, false, "test images"},
		{"other steps", tr, Options{Images: 100, PGDImages: 50, PGDSteps: 2, Attacks: []string{AttackTransfer}}, false, "steps"},
		{"other set", tr, base, true, "another test set"},
		{"no transfer", nil, base, false, "Transfer"},
	} {
		s := test
		if c.set {
			s = other
		}
		if _, err := Evaluate(m, c.tr, s, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
	bad := Model{Params: randomNet([]int{100, 8, 10}, 1)}
	if _, err := Evaluate(bad, nil, test, base); err == nil || !strings.Contains(err.Error(), "w1") {
		t.Errorf("a 100-input model on MNIST: error %v", err)
	}
}

// Options out of range are refused with an error naming the field.
func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{Eps: []float32{-0.1}}, "eps"},
		{Options{Eps: []float32{1.5}}, "eps"},
		{Options{Eps: []float32{float32(math.NaN())}}, "eps"},
		{Options{Eps: []float32{0.1, 0.1}}, "twice"},
		{Options{Images: -1}, "images"},
		{Options{PGDImages: -1}, "pgd images"},
		{Options{PGDSteps: -1}, "pgd steps"},
		{Options{PGDStep: 2}, "pgd step"},
		{Options{Severity: 6}, "severity"},
		{Options{Attacks: []string{"cw"}}, "attack"},
		{Options{Corruptions: []string{"snow"}}, "corruption"},
	} {
		if _, err := c.opt.resolve(100); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %q", c.opt, err, c.want)
		}
	}
	o, err := Options{Images: 1e6, PGDImages: 1e6}.resolve(100)
	if err != nil || o.Images != 100 || o.PGDImages != 100 || o.PGDSteps != 40 || o.PGDStep != 0.01 || o.Severity != 3 || len(o.Eps) != 4 {
		t.Errorf("defaults and caps: %+v, %v", o, err)
	}
}

// The JSON has the shape records carry (accuracies keyed by attack and ε,
// corruptions by name, counts, settings), and Columns lists the figures in
// their stable order.
func TestResultShape(t *testing.T) {
	_, test := realMNIST(t)
	m := Model{Params: randomNet(archs[0], 2)}
	opt := Options{Images: 200, PGDImages: 20, PGDSteps: 2, Seed: 5, Eps: []float32{0.05, 0.3}, Corruptions: []string{"fog", "shift"}}
	r, err := Evaluate(m, nil, test, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"clean", "clean_pgd", "fgsm", "pgd", "corrupt", "corrupt_mean", "images", "eps", "ste", "pgd_steps", "pgd_step", "severity", "corrupt_params", "seed"} {
		if _, ok := v[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := v["transfer_fgsm"]; ok {
		t.Errorf("JSON holds transfer figures without a transfer: %s", b)
	}
	if s := string(b); !strings.Contains(s, `"fgsm":{"0.05":`) || !strings.Contains(s, `"eps":[0.05,0.3]`) || !strings.Contains(s, `"pgd_step":0.01`) {
		t.Errorf("JSON shape: %s", s)
	}
	want := []string{"clean", "clean_pgd", "fgsm_0.05", "fgsm_0.3", "pgd_0.05", "pgd_0.3", "corrupt_shift", "corrupt_fog", "corrupt_mean"}
	var names []string
	for _, c := range r.Columns() {
		names = append(names, c.Name)
		if !(c.Accuracy >= 0 && c.Accuracy <= 1) {
			t.Errorf("column %s = %v outside [0, 1]", c.Name, c.Accuracy)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
	if r.Images["fgsm"] != 200 || r.Images["pgd"] != 20 || r.Images["corrupt"] != 200 {
		t.Errorf("images %v", r.Images)
	}
	if mean := (r.Corrupt["fog"] + r.Corrupt["shift"]) / 2; *r.CorruptMean != mean {
		t.Errorf("corrupt_mean %v, want %v", *r.CorruptMean, mean)
	}
	r2, _ := Evaluate(m, nil, test, opt)
	if b2, _ := json.Marshal(r2); string(b2) != string(b) {
		t.Errorf("two evaluations with seed 5 differ:\n%s\n%s", b, b2)
	}
}

// Concurrent evaluations sharing a Transfer give the figures of a lone
// one (the sweep's workers do this).
func TestConcurrentEvaluate(t *testing.T) {
	_, test := realMNIST(t)
	opt := Options{Images: 200, PGDImages: 30, PGDSteps: 3, Corruptions: []string{"rotate", "fog"}, Seed: 4}
	tr, err := NewTransfer(Model{Params: randomNet(archs[0], 1)}, "src", test, opt)
	if err != nil {
		t.Fatal(err)
	}
	models := []Model{{Params: randomNet(archs[1], 2)}, {Params: randomNet(archs[2], 3)}}
	want := make([][]Column, len(models))
	for i, m := range models {
		r, err := Evaluate(m, tr, test, opt)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r.Columns()
	}
	got := make([][]Column, len(models))
	done := make(chan int)
	for i, m := range models {
		go func() {
			r, _ := Evaluate(m, tr, test, opt)
			got[i] = r.Columns()
			done <- i
		}()
	}
	for range models {
		<-done
	}
	for i := range models {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("model %d: concurrent %v, alone %v", i, got[i], want[i])
		}
	}
}
