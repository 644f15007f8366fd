package compress

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"

	"mnistc/model"
)

// prune removes weights (or whole hidden units) by a keep rate r.
type prune struct{ spec Spec }

func newPrune(s Spec) Pass { return prune{s} }

func (p prune) Spec() Spec { return p.spec }

func checkPrune(s Spec, given map[string]string) error {
	method := s.Args["method"]
	if method != "random" {
		delete(s.Args, "seed")
	}
	if method != "magnitude" {
		if _, ok := given["scope"]; ok && s.Args["scope"] != "layer" {
			return fmt.Errorf("scope=%s applies to method=magnitude only", s.Args["scope"])
		}
		delete(s.Args, "scope")
	}
	sched := s.Args["schedule"]
	if _, ok := given["rounds"]; ok && sched != "iterative" {
		return fmt.Errorf("rounds applies to schedule=iterative only")
	}
	for _, k := range []string{"every", "ramp"} {
		if _, ok := given[k]; ok && sched != "gradual" {
			return fmt.Errorf("%s applies to schedule=gradual only", k)
		}
	}
	if sched != "" && (method == "literal" || method == "random") {
		return fmt.Errorf("schedule applies to method=magnitude or neuron")
	}
	perTensor := s.Args["keep"] != "" && !isNumber(s.Args["keep"])
	switch {
	case method == "neuron" && (perTensor || given["layers"] != ""):
		return fmt.Errorf("method=neuron removes whole hidden units (columns of w1, entries of b1, rows of w2): keep is one number and layers does not apply")
	case method == "neuron":
		delete(s.Args, "layers")
	case method == "literal" && given["layers"] == "":
		s.Args["layers"] = "b1/b2/w1/w2" // the printed formula scales every weight and bias
	case s.Args["scope"] == "global" && perTensor:
		return fmt.Errorf("scope=global uses one threshold across tensors: keep must be one number")
	}
	return perTensorLayers(s, given, "keep")
}

func isNumber(v string) bool {
	_, err := fmt.Sscan(v, new(float64))
	return err == nil
}

func (p prune) Apply(in State, _ Env) (State, error) {
	out := in.clone()
	switch p.spec.Args["method"] {
	case "neuron":
		return pruneNeurons(out, p.spec.floatArg("keep"))
	case "literal":
		ts, err := targets(&out.Params, p.spec)
		if err != nil {
			return State{}, err
		}
		for _, t := range ts {
			r, _ := p.spec.perTensor("keep", t.Name)
			for i := range t.Data {
				t.Data[i] *= float32(1 - r)
			}
			delete(out.Enc, t.Name) // scaled values leave the quantization grid
		}
		return out, nil
	}
	masks, err := PruneMasks(&out.Params, p.spec)
	if err != nil {
		return State{}, err
	}
	for name, m := range masks {
		t := out.Params.Get(name)
		for i, pruned := range m {
			if pruned {
				t.Data[i] = 0
			}
		}
	}
	return out, nil
}

// PruneMasks returns, by tensor name, the entries the prune spec s removes
// from p (true: pruned), for methods magnitude (layer or global scope),
// random and neuron (a hidden unit's column of w1, entry of b1 and row of
// w2). Training-time pruning holds these entries at zero.
func PruneMasks(p *model.Params, s Spec) (map[string][]bool, error) {
	masks := map[string][]bool{}
	switch s.Args["method"] {
	case "neuron":
		kept := keptUnits(*p, s.floatArg("keep"))
		h := p.Hidden()
		on := make([]bool, h)
		for _, j := range kept {
			on[j] = true
		}
		w1, b1, w2 := make([]bool, len(p.W1.Data)), make([]bool, h), make([]bool, len(p.W2.Data))
		for j := 0; j < h; j++ {
			if on[j] {
				continue
			}
			b1[j] = true
			for i := 0; i < model.Inputs; i++ {
				w1[i*h+j] = true
			}
			for k := 0; k < model.Classes; k++ {
				w2[j*model.Classes+k] = true
			}
		}
		masks["w1"], masks["b1"], masks["w2"] = w1, b1, w2
		return masks, nil
	case "literal":
		return nil, fmt.Errorf("method=literal scales weights and prunes nothing: it has no mask")
	}
	ts, err := targets(p, s)
	if err != nil {
		return nil, err
	}
	if s.Args["scope"] == "global" {
		for name, m := range magnitudeGlobalMasks(ts, s.floatArg("keep")) {
			masks[name] = m
		}
		return masks, nil
	}
	rng := rand.New(rand.NewSource(int64(s.intArg("seed"))))
	for _, t := range ts {
		r, _ := s.perTensor("keep", t.Name)
		drop := make([]bool, len(t.Data))
		var order []int
		if s.Args["method"] == "random" {
			order = rng.Perm(len(t.Data))
		} else {
			order = byMagnitude(t.Data)
		}
		for _, i := range order[KeepCount(r, len(t.Data)):] {
			drop[i] = true
		}
		masks[t.Name] = drop
	}
	return masks, nil
}

// KeepCount is round(r·n), the number of entries a keep rate r leaves.
func KeepCount(r float64, n int) int { return int(math.Round(r * float64(n))) }

// byMagnitude returns the indices of v ordered by |v| descending, ties by
// index ascending (so which of equal weights survive is deterministic). It
// sorts (|v|, index) keys with pdqsort: a total order, so no stable sort is
// needed, and several times faster than sorting indices through a closure
// (training-time pruning re-ranks every mask update).
func byMagnitude(v []float32) []int {
	type key struct {
		abs float32
		i   int32
	}
	keys := make([]key, len(v))
	for i, x := range v {
		keys[i] = key{float32(math.Abs(float64(x))), int32(i)}
	}
	slices.SortFunc(keys, func(p, q key) int {
		switch {
		case p.abs > q.abs:
			return -1
		case p.abs < q.abs:
			return 1
		}
		return int(p.i - q.i)
	})
	idx := make([]int, len(v))
	for j, k := range keys {
		idx[j] = int(k.i)
	}
	return idx
}

// Magnitude keeps the k entries of v with the largest |v| and sets the rest
// to exactly 0.
func Magnitude(v []float32, k int) {
	for _, i := range byMagnitude(v)[k:] {
		v[i] = 0
	}
}

// magnitudeGlobalMasks marks all but the round(r·N) largest |w| across all
// tensors together (one threshold for all).
func magnitudeGlobalMasks(ts []*model.Tensor, r float64) map[string][]bool {
	var all []float32
	for _, t := range ts {
		all = append(all, t.Data...)
	}
	drop := make([]bool, len(all))
	for _, i := range byMagnitude(all)[KeepCount(r, len(all)):] {
		drop[i] = true
	}
	out := map[string][]bool{}
	off := 0
	for _, t := range ts {
		out[t.Name] = drop[off : off+len(t.Data)]
		off += len(t.Data)
	}
	return out
}

// keptUnits returns the round(H·r) hidden units (at least one) whose
// incoming weights (a column of w1) have the largest L2 norm, ascending.
func keptUnits(p model.Params, r float64) []int {
	h := p.Hidden()
	norms := make([]float32, h)
	for j := 0; j < h; j++ {
		var ss float64
		for i := 0; i < model.Inputs; i++ {
			w := float64(p.W1.Data[i*h+j])
			ss += w * w
		}
		norms[j] = float32(math.Sqrt(ss))
	}
	kept := byMagnitude(norms)[:max(1, KeepCount(r, h))]
	sort.Ints(kept)
	return kept
}

// pruneNeurons keeps the round(H·r) hidden units whose incoming weights
// (a column of w1) have the largest L2 norm, in their original order, and
// returns a genuinely smaller network 784-k-10.
func pruneNeurons(s State, r float64) (State, error) {
	p := s.Params
	h := p.Hidden()
	kept := keptUnits(p, r)
	k := len(kept)
	q := model.NewParams(k)
	for jj, j := range kept {
		for i := 0; i < model.Inputs; i++ {
			q.W1.Data[i*k+jj] = p.W1.Data[i*h+j]
		}
		q.B1.Data[jj] = p.B1.Data[j]
		copy(q.W2.Data[jj*model.Classes:(jj+1)*model.Classes], p.W2.Data[j*model.Classes:(j+1)*model.Classes])
	}
	copy(q.B2.Data, p.B2.Data)
	s.Params = q
	// Per-channel encodings of w1 would lose their dropped groups' meaning;
	// kept values are unchanged, so per-tensor encodings still hold.
	for name, e := range s.Enc {
		if e.Groups > 1 && name == "w1" {
			e.Groups = k
			s.Enc[name] = e
		}
	}
	return s, nil
}
