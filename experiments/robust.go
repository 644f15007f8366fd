package experiments

import (
	"fmt"
	"slices"

	"mnistc/data"
	"mnistc/model"
	"mnistc/robust"
)

// RobustPlan is an experiment's `robust:` section: every cell (and each
// seed's baseline) is also evaluated under adversarial attack and common
// corruptions (package robust). Unset fields take robust's defaults: ε ∈
// {0.05, 0.1, 0.2, 0.3}; FGSM, the transfer attacks (crafted on the seed's
// float baseline) and every corruption over the whole test set; PGD-40 of
// step 0.01 over the first 1,000 test images; severity 3.
type RobustPlan struct {
	Attacks     []string  `yaml:"attacks" json:"attacks,omitempty"`
	Eps         []float64 `yaml:"eps" json:"eps,omitempty"`
	Images      int       `yaml:"images" json:"images,omitempty"`         // default: the whole test set
	PGDImages   int       `yaml:"pgd_images" json:"pgd_images,omitempty"` // default 1000
	PGDSteps    int       `yaml:"pgd_steps" json:"pgd_steps,omitempty"`   // default 40
	Corruptions []string  `yaml:"corruptions" json:"corruptions,omitempty"`
	Severity    int       `yaml:"severity" json:"severity,omitempty"` // default 3, of 1..5
}

// Options are the robust package's options for one seed.
func (p RobustPlan) Options(seed int64) robust.Options {
	o := robust.Options{Attacks: p.Attacks, Images: p.Images, PGDImages: p.PGDImages, PGDSteps: p.PGDSteps,
		Corruptions: p.Corruptions, Severity: p.Severity, Seed: seed}
	for _, e := range p.Eps {
		o.Eps = append(o.Eps, float32(e))
	}
	return o
}

// check validates the plan: counts given are at least 1 (leave a key out
// for its default), and robust accepts the rest.
func (p RobustPlan) check() error {
	for _, c := range []struct {
		key string
		v   int
	}{{"images", p.Images}, {"pgd_images", p.PGDImages}, {"pgd_steps", p.PGDSteps}, {"severity", p.Severity}} {
		if c.v < 0 {
			return fmt.Errorf("robust.%s: %d out of range: want ≥ 1 (leave it out for the default)", c.key, c.v)
		}
	}
	if err := p.Options(1).Validate(); err != nil {
		return fmt.Errorf("robust: %v", err)
	}
	return nil
}

// robustEval is what a seed's cells are attacked with: the options and
// the images crafted on the seed's baseline for the transfer attacks.
type robustEval struct {
	opt      robust.Options
	transfer *robust.Transfer
}

// newRobustEval crafts the transfer images on a seed's baseline and
// evaluates the baseline itself.
func newRobustEval(p RobustPlan, seed int64, ck *model.Checkpoint, test data.Set) (*robustEval, *robust.Result, error) {
	opt := p.Options(seed)
	base := robust.Model{Params: ck.Params, ActQuant: ck.Meta.ActQuant}
	var tr *robust.Transfer
	if len(opt.Attacks) == 0 || slices.Contains(opt.Attacks, robust.AttackTransfer) {
		var err error
		if tr, err = robust.NewTransfer(base, fmt.Sprintf("seed %d baseline", seed), test, opt); err != nil {
			return nil, nil, fmt.Errorf("seed %d: robust: %w", seed, err)
		}
	}
	re := &robustEval{opt: opt, transfer: tr}
	res, err := re.eval(ck.Params, ck.Meta.ActQuant, test)
	if err != nil {
		return nil, nil, fmt.Errorf("seed %d baseline: robust: %w", seed, err)
	}
	return re, res, nil
}

// eval attacks one model as it is evaluated (nil re: nothing to do).
func (re *robustEval) eval(p model.Params, aq *model.ActQuant, test data.Set) (*robust.Result, error) {
	if re == nil {
		return nil, nil
	}
	r, err := robust.Evaluate(robust.Model{Params: p, ActQuant: aq}, re.transfer, test, re.opt)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
