package compress

import (
	"fmt"
	"strings"

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

// targets returns the tensors a weight pass touches: those its layers
// argument selects in p.
func targets(p *model.Params, s Spec) ([]*model.Tensor, error) {
	names, err := s.Layers(p)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Tensor, len(names))
	for i, name := range names {
		out[i] = p.Get(name)
	}
	return out, nil
}

// Layers returns the names of the tensors the weight pass s touches in p,
// in the order the pass visits them: its layers argument resolved against
// p's depth N — weights: w1 … wN; all: w1, b1, …, wN, bN; hidden: w1 …
// w(N−1); a list: its names, in canonical order. For prune method=neuron
// they are the weights whose output units it removes. A name p lacks, a
// neuron layer that outputs the classes, and a per-tensor value list that
// gives no value for a selected tensor are errors naming the tensor. A
// pass without layers (actquant) touches no tensor.
func (s Spec) Layers(p *model.Params) ([]string, error) {
	v, ok := s.Args["layers"]
	if !ok {
		return nil, nil
	}
	if p.Depth() == 0 {
		return nil, fmt.Errorf("%s: the network has no layers", s.Name)
	}
	depth := p.Depth()
	var names []string
	switch v {
	case EveryWeight:
		names = model.WeightNames(depth)
	case EveryTensor:
		names = model.TensorNames(depth)
	case EveryHidden:
		if depth < 2 {
			return nil, fmt.Errorf("%s: layers=hidden: the %d-layer network %s has no hidden layer", s.Name, depth, p.Arch())
		}
		names = model.WeightNames(depth - 1)
	default:
		names = strings.Split(v, "/")
		for _, n := range names {
			if p.Get(n) == nil {
				return nil, fmt.Errorf("%s: layers names %s, but the network %s has %s", s.Name, n, p.Arch(), strings.Join(model.TensorNames(depth), ", "))
			}
		}
	}
	if s.Name == "prune" && s.Args["method"] == "neuron" {
		last := model.WeightName(depth)
		for _, n := range names {
			if !isWeightName(n) {
				return nil, fmt.Errorf("prune: method=neuron names a hidden layer by the weight that outputs its units, not %s", n)
			}
			if n == last {
				return nil, fmt.Errorf("prune: method=neuron removes hidden units, but %s outputs the %d classes of %s (hidden layers: %s)", n, p.Classes(), p.Arch(), hiddenText(depth))
			}
		}
	}
	def, _ := lookup(s.Name)
	for _, pd := range def.Params {
		if !pd.PerTensor || !strings.Contains(s.Args[pd.Key], ":") {
			continue
		}
		for _, n := range names {
			if _, ok := s.perTensor(pd.Key, n); !ok {
				return nil, fmt.Errorf("%s: %s=%s gives no value for %s, which layers=%s selects in %s", s.Name, pd.Key, s.Args[pd.Key], n, v, p.Arch())
			}
		}
	}
	return names, nil
}

// hiddenText lists the weights whose outputs are hidden units, for errors.
func hiddenText(depth int) string {
	if depth < 2 {
		return "none"
	}
	return strings.Join(model.WeightNames(depth-1), ", ")
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
