package model

import "math"

// Range is a calibrated activation range [Lo, Hi].
type Range struct {
	Lo float32 `json:"lo"`
	Hi float32 `json:"hi"`
}

// ActQuant fake-quantizes the inference path's activations: the input pixels
// and the hidden ReLU output. Logits and softmax stay float.
//
// The default rule is uniform affine quantization onto 2^Bits levels over
// the calibrated range (values outside it are clamped). Literal applies the
// article's printed formula round(a/2^(b−1))·2^(b−1) instead and ignores
// the ranges.
type ActQuant struct {
	Bits    int    `json:"bits"`
	Calib   string `json:"calib"`
	Literal bool   `json:"literal,omitempty"`
	Input   Range  `json:"input"`
	Hidden  Range  `json:"hidden"`
}

// quantizeInPlace applies the rule to v over range r.
func (a *ActQuant) quantizeInPlace(v []float32, r Range) {
	if a.Literal {
		step := float32(math.Ldexp(1, a.Bits-1))
		for i, x := range v {
			v[i] = float32(math.RoundToEven(float64(x/step))) * step
		}
		return
	}
	levels := float32(int(1)<<a.Bits - 1)
	scale := (r.Hi - r.Lo) / levels
	if scale <= 0 {
		for i := range v {
			v[i] = r.Lo
		}
		return
	}
	for i, x := range v {
		if x < r.Lo {
			x = r.Lo
		} else if x > r.Hi {
			x = r.Hi
		}
		v[i] = r.Lo + float32(math.RoundToEven(float64((x-r.Lo)/scale)))*scale
	}
}
