package retrain

import (
	"fmt"
	"strconv"

	"mnistc/compress"
	"mnistc/model"
	"mnistc/training"
)

// chain holds several passes through training, applied in order at every
// projection (prune, then quantize the kept weights: Deep Compression in
// the loop). The held entries are those of its pruning passes.
type chain struct {
	cs   []training.Constraint
	held [][]bool
	// heldFrom remembers the slices the union was built from, so Held keeps
	// returning the same slices until a member's masks change.
	heldFrom [][][]bool
}

func (c *chain) Project(shadow, dst *model.Params, step int) {
	c.cs[0].Project(shadow, dst, step)
	for _, x := range c.cs[1:] {
		x.Project(dst, dst, step)
		if s, ok := x.(*share); ok { // shared values live in the shadow too
			s.writeBack(dst, shadow, step)
		}
	}
}

func (c *chain) Held() [][]bool {
	var from [][][]bool
	for _, x := range c.cs {
		if h := x.Held(); h != nil {
			from = append(from, h)
		}
	}
	same := len(from) == len(c.heldFrom)
	for i := 0; same && i < len(from); i++ {
		same = training.SameMasks(from[i], c.heldFrom[i])
	}
	if same {
		return c.held
	}
	c.heldFrom, c.held = from, nil
	if len(from) == 0 {
		return nil
	}
	c.held = make([][]bool, len(from[0])) // one entry per tensor of the network
	for _, h := range from {
		for k, m := range h {
			if m == nil {
				continue
			}
			if c.held[k] == nil {
				c.held[k] = make([]bool, len(m))
			}
			for i, x := range m {
				c.held[k][i] = c.held[k][i] || x
			}
		}
	}
	return c.held
}

// Constraints builds the constraint holding every pass (in order) through
// a run of steps optimizer steps, with a description of each schedule.
func Constraints(passes []string, steps int) (training.Constraint, []map[string]string, error) {
	passes = ChainDefaults(passes)
	var cs []training.Constraint
	var scheds, csSched []map[string]string
	for _, p := range passes {
		spec, err := parseLoop(p)
		if err != nil {
			return nil, nil, err
		}
		if spec.Name == "actquant" { // not a weight constraint: a graph setting (see Run)
			if err := checkActQuant(spec); err != nil {
				return nil, nil, err
			}
			sched := "fake-quantized in the forward pass, STE backward, ranges fixed"
			if spec.Args[learnKey] == learnLSQ {
				sched = "fake-quantized in the forward pass with learned steps (LSQ: STE backward, step gradient scaled by 1/sqrt(features·Qp)), starting from the calibrated ranges; the pixels' range fixed"
			}
			scheds = append(scheds, map[string]string{"pass": spec.String(), "schedule": sched})
			continue
		}
		c, sched, err := constraintFor(spec, steps)
		if err != nil {
			return nil, nil, err
		}
		sched["pass"] = spec.String()
		cs = append(cs, c)
		csSched = append(csSched, sched)
		scheds = append(scheds, sched)
	}
	// weight sharing starts once the pruning ahead of it is complete
	var settled int
	for i, c := range cs {
		switch x := c.(type) {
		case *Prune:
			settled = max(settled, x.FinalStep())
		case *share:
			x.start = settled
			csSched[i]["from_step"] = strconv.Itoa(settled)
		}
	}
	switch len(cs) {
	case 0:
		return nil, scheds, nil
	case 1:
		return cs[0], scheds, nil
	}
	for _, c := range cs {
		if _, ok := c.(training.Learner); ok {
			return &learningChain{chain{cs: cs}}, scheds, nil
		}
	}
	return &chain{cs: cs}, scheds, nil
}

// learningChain is a chain with a member that learns (a quantizer's
// steps): its parameters are its members', and its Learn runs theirs,
// last member first, each on the shadow weights — the input of a learner
// behind a pruning pass, as the trainer keeps held shadow entries at zero
// — then zeroes the gradient the other members saturated.
type learningChain struct{ chain }

func (c *learningChain) Params() [][]float32 {
	var out [][]float32
	for _, x := range c.cs {
		if l, ok := x.(training.Learner); ok {
			out = append(out, l.Params()...)
		}
	}
	return out
}

func (c *learningChain) Learn(shadow *model.Params, grads [][]float32) [][]float32 {
	var out [][][]float32
	for i := len(c.cs) - 1; i >= 0; i-- {
		switch x := c.cs[i].(type) {
		case training.Learner:
			out = append([][][]float32{x.Learn(shadow, grads)}, out...)
		case training.Saturater:
			for k, m := range x.Saturated() {
				if m != nil {
					for j, sat := range m {
						if sat {
							grads[k][j] = 0
						}
					}
				}
			}
		}
	}
	var flat [][]float32
	for _, g := range out {
		flat = append(flat, g...)
	}
	return flat
}

// learned gathers the members' learned parameters.
func (c *learningChain) learned() map[string][]float32 {
	out := map[string][]float32{}
	for _, x := range c.cs {
		if l, ok := x.(interface{ learned() map[string][]float32 }); ok {
			for k, v := range l.learned() {
				out[k] = append(out[k], v...)
			}
		}
	}
	return out
}

// learnedOf returns the parameters a constraint learned (nil: none).
func learnedOf(c training.Constraint) map[string][]float32 {
	if l, ok := c.(interface{ learned() map[string][]float32 }); ok {
		return l.learned()
	}
	return nil
}

// checkActQuant accepts activation quantization in the loop at 2–8 bits
// with a calibrated range (the literal formula has none to train within).
func checkActQuant(s compress.Spec) error {
	if s.Args["calib"] == "literal" {
		return fmt.Errorf("actquant: calib=literal has no range to train within")
	}
	if b, err := strconv.Atoi(s.Args["bits"]); err != nil || b < 2 || b > 8 {
		return fmt.Errorf("actquant: bits=%s: training with activation quantization takes bits 2–8", s.Args["bits"])
	}
	return nil
}

// Saturated is the union of its members' saturated entries (nil when no
// member saturates any).
func (c *chain) Saturated() [][]bool {
	var out [][]bool
	for _, x := range c.cs {
		s, ok := x.(training.Saturater)
		if !ok {
			continue
		}
		for k, m := range s.Saturated() {
			if m == nil {
				continue
			}
			if out == nil {
				out = make([][]bool, len(s.Saturated()))
			}
			if out[k] == nil {
				out[k] = make([]bool, len(m))
			}
			for i, v := range m {
				out[k][i] = out[k][i] || v
			}
		}
	}
	return out
}
