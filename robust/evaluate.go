package robust

import (
	"fmt"
	"math/rand"
	"strconv"

	"mnistc/data"
	"mnistc/model"
)

// Model is a network as it is evaluated: its parameters (pruned and
// quantized weights as stored) and its activation quantizer (nil: float
// activations).
type Model struct {
	Params   model.Params
	ActQuant *model.ActQuant
}

// check reports, as an error, a model that is not a valid network, does
// not fit the data, or whose quantizer does not fit it.
func (m Model) check(s data.Set) error {
	if err := m.Params.Validate(); err != nil {
		return err
	}
	if err := m.Params.CheckData(s.Inputs(), s.Classes()); err != nil {
		return err
	}
	for i, y := range s.Y {
		if int(y) >= m.Params.Classes() {
			return fmt.Errorf("test label %d of image %d is outside the network's %d classes", y, i, m.Params.Classes())
		}
	}
	if m.ActQuant != nil {
		return m.ActQuant.Validate(m.Params.Depth())
	}
	return nil
}

// Result holds a model's accuracies (fractions in [0, 1]) under each
// attack, keyed by ε (EpsKey), and under each corruption, with the
// settings that produced them. Its JSON is the "robust" object of records:
//
//	{"clean":0.9788,"clean_pgd":0.982,
//	 "fgsm":{"0.05":0.71,…},"pgd":{…},"transfer_fgsm":{…},"transfer_pgd":{…},
//	 "corrupt":{"gaussian_noise":0.95,…},"corrupt_mean":0.83,
//	 "images":{"clean":10000,"fgsm":10000,"pgd":1000,…},
//	 "eps":[0.05,0.1,0.2,0.3],"ste":false,"pgd_steps":40,"pgd_step":0.01,
//	 "severity":3,"corrupt_params":{"gaussian_noise":0.3,…},"seed":1}
type Result struct {
	// Clean is the accuracy on the Images images the FGSM and corruption
	// figures use; CleanPGD on the PGDImages images PGD uses.
	Clean    float64 `json:"clean"`
	CleanPGD float64 `json:"clean_pgd"`
	// FGSM, PGD: white-box accuracy at each ε.
	FGSM map[string]float64 `json:"fgsm,omitempty"`
	PGD  map[string]float64 `json:"pgd,omitempty"`
	// TransferFGSM, TransferPGD: accuracy on the adversarial images of
	// the Transfer's source model (TransferFrom names it).
	TransferFGSM map[string]float64 `json:"transfer_fgsm,omitempty"`
	TransferPGD  map[string]float64 `json:"transfer_pgd,omitempty"`
	TransferFrom string             `json:"transfer_from,omitempty"`
	// Corrupt: accuracy under each corruption at Severity; CorruptMean
	// their mean (as MNIST-C reports).
	Corrupt     map[string]float64 `json:"corrupt,omitempty"`
	CorruptMean *float64           `json:"corrupt_mean,omitempty"`
	// Images: how many test images (the first ones) each figure used.
	Images map[string]int `json:"images"`
	Eps    []float32      `json:"eps"`
	// STE: the white-box gradients went through activation quantizers by
	// the straight-through estimator (identity inside the calibrated
	// range, zero outside), so the white-box figures may be masked.
	STE           bool               `json:"ste"`
	PGDSteps      int                `json:"pgd_steps"`
	PGDStep       float32            `json:"pgd_step"`
	Severity      int                `json:"severity"`
	CorruptParams map[string]float64 `json:"corrupt_params,omitempty"`
	Seed          int64              `json:"seed"`
}

// EpsKey is the key of radius eps in Result's maps and column names:
// the shortest decimal that reads back as the float32 ("0.05").
func EpsKey(eps float32) string { return strconv.FormatFloat(float64(eps), 'g', -1, 32) }

// Evaluate measures the target's accuracy on the first images of test
// under the attacks and corruptions opt selects. transfer, when non-nil,
// holds the images of another model's attacks (NewTransfer, with the same
// options and test set) for the transfer figures.
//
// White-box FGSM crafts each image once (its gradient sign does not depend
// on ε) and rebuilds it at each ε; PGD runs per ε from a random start
// seeded by opt.Seed and ε. Every adversarial or corrupted image is scored
// by model.Forward, the evaluation path, so at ε = 0 every attack gives
// exactly the clean accuracy. Evaluate calls may run concurrently (sweep
// workers), sharing one Transfer.
func Evaluate(target Model, transfer *Transfer, test data.Set, opt Options) (Result, error) {
	o, err := opt.resolve(test.Len())
	if err != nil {
		return Result{}, err
	}
	if err := target.check(test); err != nil {
		return Result{}, err
	}
	if len(opt.Attacks) == 0 && transfer == nil {
		o.Attacks = []string{AttackFGSM, AttackPGD, AttackCorrupt}
	}
	if o.runs(AttackTransfer) {
		if transfer == nil {
			return Result{}, fmt.Errorf("the transfer attack needs the images of a source model (a Transfer)")
		}
		if err := transfer.fits(o, test); err != nil {
			return Result{}, err
		}
	}
	in, nA, nP := test.Inputs(), o.Images, o.PGDImages
	r := Result{
		Images: map[string]int{"clean": nA, "clean_pgd": nP}, Eps: o.Eps, STE: target.ActQuant != nil,
		PGDSteps: o.PGDSteps, PGDStep: o.PGDStep, Severity: o.Severity, Seed: o.Seed,
	}
	r.Clean = accuracy(target, test.X[:nA*in], test.Y[:nA])
	r.CleanPGD = accuracy(target, test.X[:nP*in], test.Y[:nP])
	buf := make([]float32, max(nA, nP)*in)
	if o.runs(AttackFGSM) {
		signs := make([]int8, nA*in)
		newAttacker(target.Params, target.ActQuant, nA).signs(signs, test.X[:nA*in], test.Y[:nA], nA)
		r.FGSM = byEps(o.Eps, func(eps float32) float64 {
			withSigns(buf[:nA*in], test.X[:nA*in], signs, eps)
			return accuracy(target, buf[:nA*in], test.Y[:nA])
		})
		r.Images[AttackFGSM] = nA
	}
	if o.runs(AttackPGD) {
		a := newAttacker(target.Params, target.ActQuant, nP)
		r.PGD = byEps(o.Eps, func(eps float32) float64 {
			rng := rand.New(rand.NewSource(pgdSeed(o.Seed, eps)))
			a.PGD(buf[:nP*in], test.X[:nP*in], test.Y[:nP], nP, eps, o.PGDStep, o.PGDSteps, rng)
			return accuracy(target, buf[:nP*in], test.Y[:nP])
		})
		r.Images[AttackPGD] = nP
	}
	if o.runs(AttackTransfer) {
		transfer.score(&r, target, test, buf)
	}
	if o.runs(AttackCorrupt) {
		if err := corruptions(&r, target, test, o, buf); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}

// corruptions fills in the corruption figures, corrupting the images
// into buf.
func corruptions(r *Result, target Model, test data.Set, o Options, buf []float32) error {
	n, in := o.Images, test.Inputs()
	r.Corrupt, r.CorruptParams = map[string]float64{}, map[string]float64{}
	var sum float64
	for _, name := range o.Corruptions {
		c, _ := CorruptionByName(name) // resolve checked the names
		x := buf[:n*in]
		if err := c.applyInto(x, test.X[:n*in], n, o.Severity, o.Seed); err != nil {
			return err
		}
		acc := accuracy(target, x, test.Y[:n])
		r.Corrupt[name], r.CorruptParams[name] = acc, c.Level(o.Severity)
		sum += acc
	}
	mean := sum / float64(len(o.Corruptions))
	r.CorruptMean = &mean
	r.Images[AttackCorrupt] = n
	return nil
}

// byEps returns f at each ε, keyed by EpsKey.
func byEps(eps []float32, f func(float32) float64) map[string]float64 {
	m := map[string]float64{}
	for _, e := range eps {
		m[EpsKey(e)] = f(e)
	}
	return m
}

// accuracy is the fraction of the images x (labels y) that m classifies
// correctly through model.Forward.
func accuracy(m Model, x []float32, y []uint8) float64 {
	n := len(y)
	if n == 0 {
		return 0
	}
	logits := model.Forward(m.Params, x, n, m.ActQuant)
	c := m.Params.Classes()
	correct := 0
	for i, want := range y {
		if model.Argmax(logits[i*c:(i+1)*c]) == int(want) {
			correct++
		}
	}
	return float64(correct) / float64(n)
}
