package training

import (
	"fmt"
	"math/rand"

	"mnistc/data"
	"mnistc/model"
)

// Constraint keeps training inside a compressed form, such as pruning
// masks: the optimizer updates shadow weights, and the graph sees the
// weights Project derives from them.
type Constraint interface {
	// Project writes into p the weights the forward pass uses, derived from
	// shadow. step counts the optimizer steps taken so far (0 before the
	// first), so a schedule can change the constraint as training goes on.
	Project(shadow, p *model.Params, step int)
	// Held reports, per tensor in checkpoint order (a nil entry: none), the
	// entries held at zero: after every step their gradient, Adam moments
	// and shadow value are zero, so a pruned weight stays pruned and the
	// optimizer's history cannot revive it. Held returns the same slices
	// until the masks change, and new slices when they do: the trainer
	// clears moments and shadow values only then (with a zero gradient,
	// Adam keeps zeros at zero).
	Held() [][]bool
}

// Saturater is a Constraint whose projection saturates some entries — a
// quantizer's clipping range. For the straight-through estimator their
// gradient is zero; inside the range it passes unchanged. Saturated
// reports, per tensor in checkpoint order (nil: none), the entries the
// last Project saturated.
type Saturater interface {
	Saturated() [][]bool
}

// Learner is a Constraint with parameters of its own — a quantizer's
// learned step sizes or scales — that the optimizer trains with the
// weights, at the same learning rate and schedule.
type Learner interface {
	Constraint
	// Params returns its parameters, the same slices at every call from
	// the first Project on (which may create them from the weights); the
	// optimizer updates them in place after each step and the next
	// Project reads them.
	Params() [][]float32
	// Learn is called after each backward pass, before the optimizer
	// step, with the shadow weights the last Project read. grads holds the
	// gradient with respect to the projected weights, per tensor in
	// checkpoint order; Learn turns it in place into the gradient for the
	// shadow weights (its straight-through estimator: a Learner's
	// Saturated, if any, is not applied again) and returns the gradient of
	// its Params, in their order and sizes.
	Learn(shadow *model.Params, grads [][]float32) [][]float32
}

// TrainConstrained trains a fresh network like Train, with the constraint
// c held from the first step (the article's §4 flow: the compression
// "layers" are in the model while it trains).
func TrainConstrained(cfg model.TrainConfig, c Constraint, train, val data.Set, hooks Hooks) (TrainResult, error) {
	if cfg.Distill != nil {
		return TrainResult{}, fmt.Errorf("distillation settings without a teacher: a network trained from scratch has none to distil from")
	}
	cfg, err := begin(cfg, train, val)
	if err != nil {
		return TrainResult{}, err
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	p := model.InitGlorot(sizes(cfg, train), rng)
	shadow := constrainStart(&p, c)
	res, err := fitWith(&p, fitOpts{shadow: shadow, c: c}, cfg, train, val, rng, hooks)
	res.Params = p
	return res, err
}

// constrainStart makes the shadow copy and the first projection.
func constrainStart(p *model.Params, c Constraint) *model.Params {
	if c == nil {
		return nil
	}
	s := p.Clone()
	c.Project(&s, p, 0)
	holdShadow(&s, c.Held())
	return &s
}

// FineTune continues training start with the recipe cfg (the hidden width
// comes from start) under the constraint c (nil: plain fine-tuning) and
// returns the projected weights: what the constraint allows.
func FineTune(start model.Params, cfg model.TrainConfig, c Constraint, train, val data.Set, hooks Hooks) (TrainResult, error) {
	if cfg.Distill != nil {
		return TrainResult{}, fmt.Errorf("distillation settings without a teacher: see FineTuneDistilled")
	}
	return fineTune(start, cfg, c, train, val, hooks, nil)
}

// FineTuneDistilled is FineTune with the loss of cfg.Distill: soft targets
// from start itself as given, the uncompressed network, evaluated with its
// activation quantizer startAQ (nil: none), so the compressed network
// learns to answer as the network it came from (self-distillation in the
// loop, as Polino et al. 2018 and Mishra & Marr's Apprentice do for
// quantization). cfg.Jitter and cfg.Distill.Shifted act as in
// TrainDistilled. start is not written: training moves a copy.
func FineTuneDistilled(start model.Params, startAQ *model.ActQuant, cfg model.TrainConfig, c Constraint, train, val data.Set, hooks Hooks) (TrainResult, error) {
	if cfg.Distill == nil {
		return TrainResult{}, fmt.Errorf("no distillation settings")
	}
	if err := cfg.Distill.Validate(); err != nil {
		return TrainResult{}, err
	}
	return fineTune(start, cfg, c, train, val, hooks, func() fitOpts { return distillOpts(cfg, start, startAQ, train) })
}

// fineTune trains a copy of start under c, the hidden widths start's, with
// the fit options soft makes once the data are checked (nil: none).
func fineTune(start model.Params, cfg model.TrainConfig, c Constraint, train, val data.Set, hooks Hooks, soft func() fitOpts) (TrainResult, error) {
	if err := start.CheckData(train.Inputs(), train.Classes()); err != nil {
		return TrainResult{}, err
	}
	cfg.Layers = start.Hidden()
	cfg, err := begin(cfg, train, val)
	if err != nil {
		return TrainResult{}, err
	}
	var o fitOpts
	if soft != nil {
		o = soft()
	}
	p := start.Clone()
	o.shadow, o.c = constrainStart(&p, c), c
	rng := rand.New(rand.NewSource(cfg.Seed))
	res, err := fitWith(&p, o, cfg, train, val, rng, hooks)
	res.Params = p
	return res, err
}

// holdShadow zeroes the held entries of the shadow weights.
func holdShadow(shadow *model.Params, held [][]bool) {
	for k, t := range shadow.Tensors() {
		if k < len(held) {
			zeroWhere(t.Data, held[k])
		}
	}
}

func zeroWhere(v []float32, mask []bool) {
	for i, h := range mask {
		if h {
			v[i] = 0
		}
	}
}

// SameMasks reports whether a and b are the same mask slices (identity,
// not contents: see Constraint.Held).
func SameMasks(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if len(a[k]) != len(b[k]) || (len(a[k]) > 0 && &a[k][0] != &b[k][0]) {
			return false
		}
	}
	return true
}
