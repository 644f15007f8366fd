package retrain

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"mnistc/compress"
	"mnistc/model"
)

// Prune holds pruning masks through training. Its schedule sets, at each
// step, the fraction f of the final sparsity reached: oneshot f = 1 from
// the start; iterative f = i/rounds in round i (equal stretches of the
// steps, the keep rate going keep^(i/rounds)); gradual (Zhu & Gupta 2017,
// tfmot's PolynomialDecay from 0) f = 1 − (1 − t/T)³ over the first T =
// ramp·steps steps, updated every `every` steps, and f = 1 from T on.
type Prune struct {
	spec     compress.Spec
	steps    int // total optimizer steps of the run
	schedule string
	rounds   int
	every    int
	ramp     float64

	masks  [][]bool // per tensor in checkpoint order
	frac   float64  // fraction of the final sparsity in force
	active bool
}

// NewPrune builds the constraint for a prune spec over a run of steps
// optimizer steps.
func NewPrune(s compress.Spec, steps int) (*Prune, error) {
	if s.Name != "prune" {
		return nil, fmt.Errorf("%s: only prune passes are held during training here", s.Name)
	}
	switch s.Args["method"] {
	case "magnitude", "neuron":
	default:
		return nil, fmt.Errorf("prune: method=%s cannot be held during training (want magnitude or neuron)", s.Args["method"])
	}
	p := &Prune{spec: s, steps: steps, schedule: "oneshot", rounds: 3, every: 100, ramp: 0.7}
	if v := s.Args["schedule"]; v != "" {
		p.schedule = v
	}
	// Whole numbers may come back from a canonical spec as 1e+06: read
	// them as floats, and refuse what is not a positive whole number.
	for _, f := range []struct {
		key string
		dst *int
	}{{"rounds", &p.rounds}, {"every", &p.every}} {
		if v := s.Args[f.key]; v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 1 || x != math.Trunc(x) || x > math.MaxInt32 {
				return nil, fmt.Errorf("prune: %s=%s: want a whole number ≥ 1", f.key, v)
			}
			*f.dst = int(x)
		}
	}
	if v := s.Args["ramp"]; v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x > 0 && x <= 1) {
			return nil, fmt.Errorf("prune: ramp=%s: want 0 < ramp ≤ 1", v)
		}
		p.ramp = x
	}
	if _, err := scaleKeep(s.Args["keep"], 1); err != nil {
		return nil, err
	}
	return p, nil
}

// scaleKeep rewrites a keep value (one rate, or tensor:rate pairs joined
// by /) with every rate at fraction f of its final sparsity.
func scaleKeep(v string, f float64) (string, error) {
	items := strings.Split(v, "/")
	for i, item := range items {
		name, val, per := strings.Cut(item, ":")
		if !per {
			val = name
		}
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return "", fmt.Errorf("prune: keep=%s: %v", v, err)
		}
		items[i] = strconv.FormatFloat(KeepAt(x, f), 'g', -1, 64)
		if per {
			items[i] = name + ":" + items[i]
		}
	}
	return strings.Join(items, "/"), nil
}

// Fraction returns the fraction of the final sparsity the schedule asks
// for after step optimizer steps.
func (p *Prune) Fraction(step int) float64 {
	switch p.schedule {
	case "iterative":
		round := min(p.rounds, 1+step*p.rounds/max(1, p.steps))
		return float64(round) / float64(p.rounds)
	case "gradual":
		T := math.Max(1, p.ramp*float64(p.steps))
		if float64(step) >= T {
			// the final sparsity from the end of the ramp on, even when the
			// run is too short for an update boundary to fall there
			return 1
		}
		t := float64(step - step%p.every) // updated every `every` steps
		return 1 - math.Pow(1-t/T, 3)
	default:
		return 1
	}
}

// FinalStep returns the first step at which the schedule asks for the
// final sparsity (0 for one-shot pruning).
func (p *Prune) FinalStep() int {
	for s := 0; s < p.steps; s++ {
		if p.Fraction(s) == 1 {
			return s
		}
	}
	return p.steps
}

// KeepAt returns a tensor's keep rate in force at a fraction f of the
// final sparsity: sparsity f·(1 − keep).
func KeepAt(keep, f float64) float64 { return 1 - f*(1-keep) }

// Project recomputes the masks from the shadow weights whenever the
// schedule's fraction changes (pruned entries are zero there, so they rank
// last and stay pruned), then copies shadow into dst with the masks applied.
// It relies on the trainer's contract (training.Constraint.Held): between mask
// changes the held shadow entries stay exactly zero.
func (p *Prune) Project(shadow, dst *model.Params, step int) {
	changed := false
	if f := p.Fraction(step); !p.active || f != p.frac {
		p.frac, p.active, changed = f, true, true
		p.masks = p.masksAt(shadow, f)
	}
	for k, t := range shadow.Tensors() {
		d := dst.Tensors()[k]
		copy(d.Data, t.Data)
		// Between mask changes the trainer keeps held shadow entries at
		// exactly zero, so the copy is already masked.
		if m := p.masks[k]; m != nil && changed {
			for i, pruned := range m {
				if pruned {
					d.Data[i] = 0
				}
			}
		}
	}
}

// masksAt computes the masks at fraction f of the final sparsity.
func (p *Prune) masksAt(shadow *model.Params, f float64) [][]bool {
	s := compress.Spec{Name: p.spec.Name, Args: map[string]string{}}
	for k, v := range p.spec.Args {
		s.Args[k] = v
	}
	keep, err := scaleKeep(p.spec.Args["keep"], f)
	if err != nil {
		panic("retrain: " + err.Error()) // checked by NewPrune
	}
	s.Args["keep"] = keep
	m, err := compress.PruneMasks(shadow, s)
	if err != nil {
		panic("retrain: " + err.Error()) // the spec was validated when built
	}
	ts := shadow.Tensors()
	out := make([][]bool, len(ts))
	for k, t := range ts {
		out[k] = m[t.Name]
	}
	return out
}

// Held returns the current masks.
func (p *Prune) Held() [][]bool { return p.masks }

// Schedule describes the schedule for records.
func (p *Prune) Schedule() map[string]string {
	d := map[string]string{"schedule": p.schedule, "steps": strconv.Itoa(p.steps)}
	switch p.schedule {
	case "iterative":
		d["rounds"] = strconv.Itoa(p.rounds)
	case "gradual":
		d["every"], d["ramp"] = strconv.Itoa(p.every), strconv.FormatFloat(p.ramp, 'g', -1, 64)
	}
	return d
}
