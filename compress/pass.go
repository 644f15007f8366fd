package compress

import (
	"fmt"

	"mnistc/data"
	"mnistc/model"
)

// Pass is one compression transform, built from a Spec.
type Pass interface {
	// Spec returns the validated spec the pass was built from.
	Spec() Spec
	// Apply returns the transformed state; in is never modified.
	Apply(in State, env Env) (State, error)
}

// Rewriter is a weight pass that can also rewrite parameters in place,
// without the copy of the whole state Apply makes: training with the pass
// held in the loop applies it at every step. Rewrite(p) leaves p's values
// exactly as Apply would leave its output's.
type Rewriter interface {
	Rewrite(p *model.Params) error
}

// State is what passes transform: the parameters, the activation quantizer
// of the inference path, and how each quantized tensor's values are coded
// (missing: plain float32).
type State struct {
	Params   model.Params
	ActQuant *model.ActQuant
	Enc      map[string]Encoding
}

// Encoding says how a quantized tensor's values would be stored: Bits per
// code, in Groups groups (1 per tensor, or one per output channel) that
// each carry GroupBits bits of scale, zero-point or codebook.
type Encoding struct {
	Scheme    string `json:"scheme"`
	Bits      int    `json:"bits"`
	Groups    int    `json:"groups"`
	GroupBits int    `json:"group_bits"`
}

// Env is what passes may read besides the state: the calibration split
// (the validation images, never the test set).
type Env struct {
	Calib data.Set
	// Before, if set, is the evaluation of the unmodified checkpoint on the
	// test set, so a caller evaluating many chains from one checkpoint
	// computes it once.
	Before *model.Result
}

// NewState wraps a checkpoint's parameters and activation quantizer.
func NewState(c model.Checkpoint) State {
	return State{Params: c.Params, ActQuant: c.Meta.ActQuant}
}

// clone returns a deep copy of s.
func (s State) clone() State {
	out := State{Params: s.Params.Clone(), Enc: map[string]Encoding{}}
	if s.ActQuant != nil {
		aq := *s.ActQuant
		out.ActQuant = &aq
	}
	for k, v := range s.Enc {
		out.Enc[k] = v
	}
	return out
}

// targets returns the tensors a weight pass touches: those named by its
// layers argument.
func targets(p *model.Params, s Spec) ([]*model.Tensor, error) {
	var out []*model.Tensor
	for _, name := range s.list("layers") {
		t := p.Get(name)
		if t == nil {
			return nil, fmt.Errorf("%s: no tensor %s", s.Name, name)
		}
		out = append(out, t)
	}
	return out, nil
}

// Build parses and validates every spec text for post-training use, so a
// bad one is reported before any work. Keys that only training reads
// (schedules) are refused here.
func Build(texts []string) ([]Pass, error) {
	var out []Pass
	for _, t := range texts {
		s, err := ParseSpec(t)
		if err != nil {
			return nil, err
		}
		def, _ := lookup(s.Name)
		for _, p := range def.Params {
			if _, ok := s.Args[p.Key]; ok && p.Training {
				return nil, fmt.Errorf("pass %s: %s applies when training with the pass in the loop (mnistc finetune, mnistc train --pass), not to a trained checkpoint", s.Name, p.Key)
			}
		}
		out = append(out, def.Build(s))
	}
	return out, nil
}
