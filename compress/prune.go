package compress

import (
	"fmt"
	"math"
	"math/rand"
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
	ts, err := targets(&out.Params, p.spec)
	if err != nil {
		return State{}, err
	}
	if p.spec.Args["scope"] == "global" {
		MagnitudeGlobal(ts, p.spec.floatArg("keep"))
		return out, nil
	}
	rng := rand.New(rand.NewSource(int64(p.spec.intArg("seed"))))
	for _, t := range ts {
		r, _ := p.spec.perTensor("keep", t.Name)
		if p.spec.Args["method"] == "random" {
			Random(t.Data, KeepCount(r, len(t.Data)), rng)
		} else {
			Magnitude(t.Data, KeepCount(r, len(t.Data)))
		}
	}
	return out, nil
}

// KeepCount is round(r·n), the number of entries a keep rate r leaves.
func KeepCount(r float64, n int) int { return int(math.Round(r * float64(n))) }

// byMagnitude returns the indices of v ordered by |v| descending, ties by
// index ascending (so which of equal weights survive is deterministic).
func byMagnitude(v []float32) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return math.Abs(float64(v[idx[a]])) > math.Abs(float64(v[idx[b]]))
	})
	return idx
}

// Magnitude keeps the k entries of v with the largest |v| and sets the rest
// to exactly 0.
func Magnitude(v []float32, k int) {
	for _, i := range byMagnitude(v)[k:] {
		v[i] = 0
	}
}

// MagnitudeGlobal keeps the round(r·N) largest |w| across all tensors
// together (one threshold for all), zeroing the rest.
func MagnitudeGlobal(ts []*model.Tensor, r float64) {
	var all []float32
	for _, t := range ts {
		all = append(all, t.Data...)
	}
	order := byMagnitude(all)
	drop := make([]bool, len(all))
	for _, i := range order[KeepCount(r, len(all)):] {
		drop[i] = true
	}
	off := 0
	for _, t := range ts {
		for i := range t.Data {
			if drop[off+i] {
				t.Data[i] = 0
			}
		}
		off += len(t.Data)
	}
}

// Random keeps k entries of v chosen uniformly by rng (PyTorch's
// random_unstructured) and zeroes the rest.
func Random(v []float32, k int, rng *rand.Rand) {
	for _, i := range rng.Perm(len(v))[k:] {
		v[i] = 0
	}
}

// pruneNeurons keeps the round(H·r) hidden units whose incoming weights
// (a column of w1) have the largest L2 norm, in their original order, and
// returns a genuinely smaller network 784-k-10.
func pruneNeurons(s State, r float64) (State, error) {
	p := s.Params
	h := p.Hidden()
	k := max(1, KeepCount(r, h))
	norms := make([]float32, h)
	for j := 0; j < h; j++ {
		var ss float64
		for i := 0; i < model.Inputs; i++ {
			w := float64(p.W1.Data[i*h+j])
			ss += w * w
		}
		norms[j] = float32(math.Sqrt(ss))
	}
	kept := byMagnitude(norms)[:k]
	sort.Ints(kept)
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
