package model

import (
	"encoding/json"
	"fmt"
	"math"
)

// Range is a calibrated activation range [Lo, Hi].
type Range struct {
	Lo float32 `json:"lo"`
	Hi float32 `json:"hi"`
}

// MaxActBits is the widest activation quantizer.
const MaxActBits = 16

// ActQuant fake-quantizes the inference path's activations: the input
// pixels and each hidden layer's ReLU output. Logits and softmax stay float.
//
// The default rule is uniform affine quantization onto 2^Bits levels over
// the calibrated range (values outside it are clamped). Literal applies the
// article's printed formula round(a/2^(b−1))·2^(b−1) instead and ignores
// the ranges.
type ActQuant struct {
	Bits    int    `json:"bits"`
	Calib   string `json:"calib"`
	Literal bool   `json:"literal,omitempty"`
	// Ranges holds one range per quantized activation: the input of layer
	// l+1 at index l (index 0: the input pixels; index l ≥ 1: the ReLU
	// output of hidden layer l). A network of N layers has N ranges.
	Ranges []Range `json:"ranges"`
}

// UnmarshalJSON reads ranges, taking the "input" and "hidden" ranges of
// checkpoints written before networks had depth as ranges [input, hidden].
func (a *ActQuant) UnmarshalJSON(b []byte) error {
	type plain ActQuant
	var v struct {
		plain
		Input  *Range `json:"input"`
		Hidden *Range `json:"hidden"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = ActQuant(v.plain)
	if a.Ranges == nil && v.Input != nil && v.Hidden != nil {
		a.Ranges = []Range{*v.Input, *v.Hidden}
	}
	return nil
}

// Calibrations lists the calib names an ActQuant may record.
var Calibrations = []string{"minmax", "percentile", "mse", "literal"}

// Validate checks the quantizer against a network of depth layers: bits in
// 1..MaxActBits, a known calibration, and (unless literal) one finite range
// lo ≤ hi per layer input. Errors name the field.
func (a *ActQuant) Validate(depth int) error {
	if a.Bits < 1 || a.Bits > MaxActBits {
		return fmt.Errorf("actquant.bits %d out of range: want 1..%d", a.Bits, MaxActBits)
	}
	known := false
	for _, c := range Calibrations {
		known = known || a.Calib == c
	}
	if !known {
		return fmt.Errorf("actquant.calib %q unknown: want one of %v", a.Calib, Calibrations)
	}
	if a.Literal != (a.Calib == "literal") {
		return fmt.Errorf("actquant.literal %v does not match calib %q", a.Literal, a.Calib)
	}
	if a.Literal {
		return nil
	}
	if len(a.Ranges) != depth {
		return fmt.Errorf("actquant.ranges holds %d ranges, want %d (the input and each hidden layer of a %d-layer network)", len(a.Ranges), depth, depth)
	}
	for i, r := range a.Ranges {
		if math.IsNaN(float64(r.Lo)) || math.IsInf(float64(r.Lo), 0) || math.IsNaN(float64(r.Hi)) || math.IsInf(float64(r.Hi), 0) || r.Lo > r.Hi {
			return fmt.Errorf("actquant.ranges[%d] is [%v, %v]: want finite lo ≤ hi", i, r.Lo, r.Hi)
		}
	}
	return nil
}

// Range returns the range of layer l's input (0: the pixels).
func (a *ActQuant) Range(l int) Range {
	if l < len(a.Ranges) {
		return a.Ranges[l]
	}
	return Range{}
}

// QuantizeActivations applies the rule over range r to v in place: the
// function the forward pass uses, exported for calibration and training.
func (a *ActQuant) QuantizeActivations(v []float32, r Range) {
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
