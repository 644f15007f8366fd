package compress

import (
	"fmt"
	"math"
	"strings"

	"mnistc/model"
)

// clip replaces every weight with |w| > T: by sign(w)·T (saturate, the
// usual reading) or by a constant t (the article's literal rule).
type clip struct{ spec Spec }

func newClip(s Spec) Pass { return clip{s} }

func (c clip) Spec() Spec { return c.spec }

// checkClip wants exactly one of threshold and std, and a per-tensor std
// list names the tensors when layers is not given.
func checkClip(s Spec, given map[string]string) error {
	if s.has("threshold") == s.has("std") {
		return fmt.Errorf("give exactly one of threshold= (absolute T) or std= (T relative to each tensor's standard deviation)")
	}
	if s.Args["mode"] != "constant" {
		delete(s.Args, "value")
	}
	return perTensorLayers(s, given, "std")
}

// perTensorLayers makes a per-tensor list (key=w1:x/w2:y) choose the
// tensors when layers was not given, and checks it covers them when it was.
func perTensorLayers(s Spec, given map[string]string, key string) error {
	v := s.Args[key]
	if !strings.Contains(v, ":") {
		return nil
	}
	var names []string
	for _, item := range strings.Split(v, "/") {
		n, _, _ := strings.Cut(item, ":")
		names = append(names, n)
	}
	if _, ok := given["layers"]; !ok {
		sortTensorNames(names)
		s.Args["layers"] = strings.Join(names, "/")
		return nil
	}
	switch s.Args["layers"] {
	case EveryWeight, EveryTensor, EveryHidden:
		return nil // the network's tensors are known at Apply, which checks them (Spec.Layers)
	}
	for _, l := range s.list("layers") {
		if _, ok := s.perTensor(key, l); !ok {
			return fmt.Errorf("%s=%s gives no value for %s, which layers= names", key, v, l)
		}
	}
	return nil
}

func (c clip) Apply(in State, _ Env) (State, error) {
	out := in.clone()
	names, err := c.rewrite(&out.Params)
	if err != nil {
		return State{}, err
	}
	for _, name := range names {
		// Clipping keeps values float; a quantized tensor stays on its grid
		// only if T is a level, so its encoding no longer holds.
		delete(out.Enc, name)
	}
	return out, nil
}

// Rewrite clips p's target tensors in place.
func (c clip) Rewrite(p *model.Params) error {
	_, err := c.rewrite(p)
	return err
}

// rewrite clips p's target tensors in place and returns their names.
func (c clip) rewrite(p *model.Params) ([]string, error) {
	ts, err := targets(p, c.spec)
	if err != nil {
		return nil, err
	}
	constant := c.spec.Args["mode"] == "constant"
	value := float32(c.spec.floatArg("value"))
	var names []string
	for _, t := range ts {
		T := c.spec.floatArg("threshold")
		if c.spec.has("std") {
			k, _ := c.spec.perTensor("std", t.Name)
			T = k * stddev(t.Data)
		}
		keep := below(T)
		for i, w := range t.Data {
			if keep(w) {
				continue
			}
			switch {
			case constant:
				t.Data[i] = value
			case w > 0:
				t.Data[i] = float32(T)
			default:
				t.Data[i] = -float32(T)
			}
		}
		names = append(names, t.Name)
	}
	return names, nil
}

// below returns a test for |w| ≤ T, exact for every float32 w. For T ≥ 0
// it compares the bits of |w| with those of the largest float32 not above
// T (non-negative floats order as their bits do; a NaN's bits exceed every
// bound, as |NaN| ≤ T is false): an integer compare instead of a
// conversion to float64 per weight, in a loop that runs over every weight
// at every training step when the clip is held in the loop.
func below(T float64) func(float32) bool {
	if !(T >= 0) {
		return func(w float32) bool { return math.Abs(float64(w)) <= T }
	}
	f := float32(T)
	if float64(f) > T {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	lim := math.Float32bits(f)
	return func(w float32) bool { return math.Float32bits(w)&0x7fffffff <= lim }
}

// stddev returns the population standard deviation of the non-zero
// entries of v: a pruned weight is not a weight, and counting its zero
// would shrink the threshold with every weight pruned (held in the
// training loop beside pruning, clip std=3 crushed the kept weights of a
// net pruned to 10 %). On a dense tensor it is the plain deviation.
func stddev(v []float32) float64 {
	var s, ss float64
	n := 0
	for _, x := range v {
		if x != 0 {
			s += float64(x)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	mean := s / float64(n)
	for _, x := range v {
		if x != 0 {
			d := float64(x) - mean
			ss += d * d
		}
	}
	return math.Sqrt(ss / float64(n))
}
