package compress

import (
	"fmt"
	"math"
	"sort"

	"mnistc/model"
)

// actquant sets the inference path's activation quantizer: every layer's
// input — the pixels and each hidden ReLU output — is fake-quantized to b
// bits over its own range calibrated on the calibration split (unsigned:
// all are ≥ 0).
type actquant struct{ spec Spec }

func newActQuant(s Spec) Pass { return actquant{s} }

func (a actquant) Spec() Spec { return a.spec }

func checkActQuant(s Spec, given map[string]string) error {
	if s.Args["calib"] != "percentile" {
		if _, ok := given["percentile"]; ok {
			return fmt.Errorf("percentile applies to calib=percentile only")
		}
		delete(s.Args, "percentile")
	}
	return nil
}

func (a actquant) Apply(in State, env Env) (State, error) {
	out := in.clone()
	b := a.spec.intArg("bits")
	calib := a.spec.Args["calib"]
	aq := &model.ActQuant{Bits: b, Calib: calib, Literal: calib == "literal"}
	if aq.Literal {
		out.ActQuant = aq
		return out, nil
	}
	if env.Calib.Len() == 0 {
		return State{}, fmt.Errorf("actquant: calib=%s needs a calibration split (the validation images); it is empty", calib)
	}
	p, n := out.Params, env.Calib.Len()
	if p.Depth() == 0 {
		return State{}, fmt.Errorf("actquant: the network has no layers")
	}
	if len(env.Calib.X) != n*p.Inputs() {
		return State{}, fmt.Errorf("actquant: w1 takes %d inputs, but the calibration split holds %d values for %d images", p.Inputs(), len(env.Calib.X), n)
	}
	aq.Ranges = make([]model.Range, 0, p.Depth())
	aq.Ranges = append(aq.Ranges, a.calibrate(env.Calib.X, b))
	// Each hidden range is calibrated on activations computed with the
	// earlier quantizers applied, as the quantized network will see them.
	for l := 1; l < p.Depth(); l++ {
		aq.Ranges = append(aq.Ranges, a.calibrate(model.Activations(p, env.Calib.X, n, aq, l), b))
	}
	out.ActQuant = aq
	return out, nil
}

// calibrate returns the range [0, hi] for non-negative activations v.
func (a actquant) calibrate(v []float32, b int) model.Range {
	switch a.spec.Args["calib"] {
	case "percentile":
		return model.Range{Hi: percentile(v, a.spec.floatArg("percentile"))}
	case "mse":
		return model.Range{Hi: mseRange(v, b)}
	default:
		var hi float32
		for _, x := range v {
			hi = max(hi, x)
		}
		return model.Range{Hi: hi}
	}
}

// percentile returns the p-th percentile of v (nearest rank).
func percentile(v []float32, p float64) float32 {
	s := append([]float32(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, k))]
}

// mseRange returns the upper bound hi in (0, max v] whose b-bit unsigned
// quantization of v has the least squared error, over 100 evenly spaced
// fractions of max v, measured on at most 200,000 evenly strided samples.
func mseRange(v []float32, b int) float32 {
	var m float32
	for _, x := range v {
		m = max(m, x)
	}
	if m == 0 {
		return 0
	}
	stride := max(1, len(v)/200000)
	levels := float64(int(1)<<b - 1)
	best, bestErr := m, math.Inf(1)
	for k := 100; k >= 1; k-- {
		hi := float64(m) * float64(k) / 100
		s := hi / levels
		var e float64
		for i := 0; i < len(v); i += stride {
			x := float64(v[i])
			q := math.Min(levels, math.RoundToEven(math.Min(x, hi)/s)) * s
			e += (x - q) * (x - q)
		}
		if e < bestErr {
			best, bestErr = float32(hi), e
		}
	}
	return best
}
