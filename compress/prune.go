package compress

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"

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
	_, layersGiven := given["layers"]
	switch {
	case method == "neuron" && !layersGiven && !perTensor:
		s.Args["layers"] = "w1" // the first hidden layer, as before networks had depth
	case method != "neuron" && s.Args["layers"] == EveryHidden:
		return fmt.Errorf("layers=hidden applies to method=neuron only; method=%s selects tensors (weights, all, or names like w1/w3)", method)
	case method == "literal" && !layersGiven:
		s.Args["layers"] = EveryTensor // the printed formula scales every weight and bias
	case s.Args["scope"] == "global" && perTensor:
		return fmt.Errorf("scope=global uses one threshold across tensors: keep must be one number")
	}
	if err := perTensorLayers(s, given, "keep"); err != nil {
		return err
	}
	if method == "neuron" {
		return checkNeuronLayers(s)
	}
	return nil
}

// checkNeuronLayers wants neuron pruning's layers to name hidden layers by
// the weights that output their units (or be the keyword hidden), and a
// per-tensor keep to give rates for such weights only.
func checkNeuronLayers(s Spec) error {
	v := s.Args["layers"]
	if v == EveryHidden {
		return nil
	}
	if v == EveryWeight || v == EveryTensor {
		return fmt.Errorf("method=neuron removes units of hidden layers: name each by the weight that outputs its units (layers=w1/w2) or give layers=hidden, not layers=%s", v)
	}
	names := s.list("layers")
	if strings.Contains(s.Args["keep"], ":") {
		for _, item := range strings.Split(s.Args["keep"], "/") {
			n, _, _ := strings.Cut(item, ":")
			names = append(names, n)
		}
	}
	for _, n := range names {
		if !isWeightName(n) {
			return fmt.Errorf("method=neuron names a hidden layer by the weight that outputs its units (w1 for the first), not %s: removing a unit removes its column of that weight, its bias entry and its row of the next weight", n)
		}
	}
	return nil
}

func isNumber(v string) bool {
	_, err := fmt.Sscan(v, new(float64))
	return err == nil
}

func (p prune) Apply(in State, _ Env) (State, error) {
	out := in.clone()
	switch p.spec.Args["method"] {
	case "neuron":
		return pruneNeurons(out, p.spec)
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
// random and neuron (for each dropped unit of a selected hidden layer l,
// its column of wl, its entry of bl and its row of w(l+1); a tensor two
// pruned layers share holds both). Training-time pruning holds these
// entries at zero; the masked network computes what Apply's smaller one
// does.
func PruneMasks(p *model.Params, s Spec) (map[string][]bool, error) {
	masks := map[string][]bool{}
	switch s.Args["method"] {
	case "neuron":
		kept, err := neuronKept(p, s)
		if err != nil {
			return nil, err
		}
		for l, units := range kept {
			if units == nil {
				continue
			}
			L, next := p.Layers[l], p.Layers[l+1]
			h, o := L.Out(), next.Out()
			w, b, wn := maskOf(masks, L.W), maskOf(masks, L.B), maskOf(masks, next.W)
			for _, j := range dropped(units, h) {
				b[j] = true
				for i := 0; i < L.In(); i++ {
					w[i*h+j] = true
				}
				for k := 0; k < o; k++ {
					wn[j*o+k] = true
				}
			}
		}
		return masks, nil
	case "literal":
		return nil, fmt.Errorf("method=literal scales weights and prunes nothing: it has no mask")
	}
	ts, err := targets(p, s)
	if err != nil {
		return nil, err
	}
	if s.Args["scope"] == "global" {
		total := 0
		for _, t := range ts {
			total += len(t.Data)
		}
		if err := keepsSome(s.floatArg("keep"), total, "the selected tensors"); err != nil {
			return nil, err
		}
		for name, m := range magnitudeGlobalMasks(ts, s.floatArg("keep")) {
			masks[name] = m
		}
		return masks, nil
	}
	rng := rand.New(rand.NewSource(int64(s.intArg("seed"))))
	for _, t := range ts {
		r, _ := s.perTensor("keep", t.Name)
		if err := keepsSome(r, len(t.Data), t.Name); err != nil {
			return nil, err
		}
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

// keepsSome refuses a keep rate that leaves none of n entries: keep=1e-300
// would otherwise prune everything, silently.
func keepsSome(r float64, n int, what string) error {
	if KeepCount(r, n) == 0 {
		return fmt.Errorf("prune: keep=%g keeps none of the %d weights of %s: want keep ≥ %.3g", r, n, what, 0.5/float64(n))
	}
	return nil
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

// units returns 0 … n−1.
func units(n int) []int {
	u := make([]int, n)
	for i := range u {
		u[i] = i
	}
	return u
}

// maskOf returns t's mask in masks, made (all kept) if it has none yet.
func maskOf(masks map[string][]bool, t model.Tensor) []bool {
	m, ok := masks[t.Name]
	if !ok {
		m = make([]bool, len(t.Data))
		masks[t.Name] = m
	}
	return m
}

// dropped returns the units of 0…h−1 that the ascending list kept lacks.
func dropped(kept []int, h int) []int {
	var out []int
	k := 0
	for j := 0; j < h; j++ {
		if k < len(kept) && kept[k] == j {
			k++
			continue
		}
		out = append(out, j)
	}
	return out
}

// neuronKept returns, for each layer (0-based) whose output units the
// neuron spec s prunes, the units kept (ascending); nil for the others.
// Layers are ranked input side first, each on the network with the units
// already dropped before it removed: a unit's incoming weights from a
// dropped unit do not count, as they are zero in the masked network
// training holds (so masks and the smaller network agree).
func neuronKept(p *model.Params, s Spec) ([][]int, error) {
	names, err := s.Layers(p)
	if err != nil {
		return nil, err
	}
	sel := map[int]bool{}
	for _, n := range names {
		_, l, _ := tensorName(n)
		sel[l-1] = true
	}
	kept := make([][]int, p.Depth())
	for l := 0; l+1 < p.Depth(); l++ {
		if !sel[l] {
			continue
		}
		r, _ := s.perTensor("keep", p.Layers[l].W.Name)
		var rows []int // nil: every input of layer l
		if l > 0 {
			rows = kept[l-1]
		}
		kept[l] = keptUnits(p.Layers[l].W, rows, r)
	}
	return kept, nil
}

// keptUnits returns the round(h·r) output units (at least one) of the
// in×h weight w whose incoming weights (a column of w, over the input rows
// rows, or all rows when rows is nil) have the largest L2 norm, ascending.
func keptUnits(w model.Tensor, rows []int, r float64) []int {
	h := w.Shape[1]
	if rows == nil {
		rows = units(w.Shape[0])
	}
	norms := make([]float32, h)
	for j := 0; j < h; j++ {
		var ss float64
		for _, i := range rows {
			x := float64(w.Data[i*h+j])
			ss += x * x
		}
		norms[j] = float32(math.Sqrt(ss))
	}
	kept := byMagnitude(norms)[:max(1, KeepCount(r, h))]
	sort.Ints(kept)
	return kept
}

// pruneNeurons keeps, in each hidden layer s selects, the round(h·r) units
// neuronKept ranks first, in their original order, and returns a
// genuinely smaller network: a dropped unit of layer l loses its column of
// wl, its entry of bl and its row of w(l+1).
func pruneNeurons(st State, s Spec) (State, error) {
	p := st.Params
	kept, err := neuronKept(&p, s)
	if err != nil {
		return State{}, err
	}
	sizes := p.Sizes()
	on := make([][]int, len(sizes)) // kept units of each width: inputs, hidden layers, classes
	for l, n := range sizes {
		if l > 0 && kept[l-1] != nil {
			on[l] = kept[l-1]
		} else {
			on[l] = units(n)
		}
	}
	newSizes := make([]int, len(sizes))
	for l, u := range on {
		newSizes[l] = len(u)
	}
	q := model.NewParams(newSizes)
	for l, L := range p.Layers {
		Q := q.Layers[l]
		rows, cols := on[l], on[l+1]
		h, k := L.Out(), len(cols)
		for ii, i := range rows {
			for jj, j := range cols {
				Q.W.Data[ii*k+jj] = L.W.Data[i*h+j]
			}
		}
		for jj, j := range cols {
			Q.B.Data[jj] = L.B.Data[j]
		}
	}
	st.Params = q
	// A per-channel encoding has one group per output column: a weight that
	// lost columns lost their groups. Kept values are unchanged, so the
	// encodings otherwise still hold.
	for name, e := range st.Enc {
		if t := q.Get(name); e.Groups > 1 && t != nil && len(t.Shape) == 2 {
			e.Groups = t.Shape[1]
			st.Enc[name] = e
		}
	}
	return st, nil
}
