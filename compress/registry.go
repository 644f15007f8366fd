package compress

import (
	"fmt"
	"strings"
)

// PassDef describes a pass family: its parameters and how to build it.
type PassDef struct {
	Name    string
	Section string // where the article describes it
	Doc     string
	Params  []ParamDef
	// Check validates combinations of arguments; it may fill arguments
	// that depend on others. given holds what the user wrote.
	Check func(s Spec, given map[string]string) error
	Build func(s Spec) Pass
}

// layersParam is the tensor selection of a weight pass. Its default is a
// keyword, not a list: which weights a network has is known only when the
// pass is applied to it.
func layersParam() ParamDef {
	return ParamDef{Key: "layers", Kind: Tensors, Default: EveryWeight, Choices: []string{EveryWeight, EveryTensor},
		Doc: "tensors the pass touches: weights (w1 … wN of the network it is applied to), all (weights and biases), or names like w1/w3/b2; biases stay float unless named"}
}

// Registry lists every pass in the order `mnistc passes` prints them.
func Registry() []PassDef {
	return []PassDef{
		{
			Name: "clip", Section: "§2.1.1, §3.1", Build: newClip, Check: checkClip,
			Doc: "weight clipping: w̃ = t if |w| > T else w",
			Params: []ParamDef{
				{Key: "threshold", Kind: Float, Min: 0, Max: 1e6, MinOpen: true, Doc: "absolute threshold T (give this or std)"},
				{Key: "std", Kind: Float, Min: 0, Max: 1e3, MinOpen: true, PerTensor: true, Doc: "T = std × the standard deviation of each tensor's non-zero weights (Han et al.)"},
				{Key: "mode", Kind: Enum, Default: "saturate", Choices: []string{"saturate", "constant"}, Doc: "saturate: t = sign(w)·T; constant: t = value (the article's literal rule)"},
				{Key: "value", Kind: Float, Default: "0", Min: -1e6, Max: 1e6, Doc: "t for mode=constant"},
				layersParam(),
			},
		},
		{
			Name: "quantize", Section: "§2.1.2, §3.2", Build: newQuantize, Check: checkQuantize,
			Doc: "weight quantization to b bits (fake-quantized float32 values; codes for the size)",
			Params: []ParamDef{
				{Key: "bits", Kind: Int, Default: "8", Min: 1, Max: 32, Doc: "bits per weight, 1–16; 32 leaves weights unchanged"},
				{Key: "scheme", Kind: Enum, Default: "symmetric", Choices: []string{"symmetric", "affine", "ternary", "kmeans", "literal"},
					Doc: "symmetric (zero-point 0, narrow range) | affine (min/max, zero-point) | ternary {−α,0,α} | kmeans (weight sharing) | literal round(w/2^(b−1))·2^(b−1)"},
				{Key: "range", Kind: Enum, Default: "minmax", Choices: []string{"minmax", "mse"}, Doc: "symmetric scale from max|w| or from the clipping range with least squared error"},
				{Key: "granularity", Kind: Enum, Default: "tensor", Choices: []string{"tensor", "channel"}, Doc: "one scale per tensor or per output unit (column); 1-D tensors are per tensor"},
				{Key: "delta", Kind: Float, Default: "0.7", Min: 0, Max: 10, Doc: "ternary threshold Δ = delta × mean|w| (TWN)"},
				{Key: "correct", Kind: Enum, Default: "none", Choices: []string{"none", "bias"},
					Doc: "bias: empirical bias correction (Nagel et al. 2019): layer by layer, each bias absorbs the shift of its layer's mean output on the calibration images (no labels) through the already-quantized layers; any scheme"},
				{Key: "rounding", Kind: Enum, Default: "nearest", Choices: []string{"nearest", "adaround"},
					Doc: "nearest | adaround: AdaRound (Nagel et al. 2020) learns floor or ceil of each w/s on the same grid to reconstruct each layer's output on the calibration images, layer by layer; scheme=symmetric or affine, bits ≥ 2"},
				{Key: "iters", Kind: Int, Default: "1000", Min: 1, Max: 1e6, Doc: "rounding=adaround: Adam steps per layer, 128 calibration images each"},
				{Key: "lambda", Kind: Float, Default: "100", Min: 0, Max: 1e6, Doc: "rounding=adaround: weight λ of the regularizer, the mean of 1−|2h−1|^β, that drives each weight to floor or ceil (β 20→2 after a 20 % warm-up), against the reconstruction error relative to rounding to nearest's"},
				{Key: "seed", Kind: Int, Default: "1", Min: 0, Max: 1 << 53, Doc: "rounding=adaround: seed of the minibatch draws"},
				{Key: "learn", Kind: Enum, Choices: []string{"lsq", "ttq", "none"}, Training: true,
					Doc: "in training: lsq learns the step sizes (LSQ, Esser et al. 2020; the default for scheme=symmetric at bits ≤ 4 unless range=mse or a prune pass comes first), ttq learns ternary scales (TTQ, scheme=ternary), none applies the post-training rule after each step"},
				layersParam(),
			},
		},
		{
			Name: "prune", Section: "§2.1.3, §3.3", Build: newPrune, Check: checkPrune,
			Doc: "pruning by keep rate r",
			Params: []ParamDef{
				{Key: "keep", Kind: Float, Default: "0.5", Min: 0, Max: 1, MinOpen: true, PerTensor: true, Doc: "fraction of weights (or, method=neuron, of a hidden layer's units: keep=w2:0.5 for the units w2 outputs) kept"},
				{Key: "method", Kind: Enum, Default: "magnitude", Choices: []string{"magnitude", "random", "neuron", "literal"},
					Doc: "magnitude (largest |w|) | random (seeded baseline) | neuron (whole hidden units by L2 norm: a smaller net) | literal Θ̃ = (1−r)Θ"},
				{Key: "scope", Kind: Enum, Default: "layer", Choices: []string{"layer", "global"}, Doc: "magnitude: exact count per tensor, or exactly round(r·n) kept over all selected tensors together (one threshold)"},
				{Key: "seed", Kind: Int, Default: "1", Min: 0, Max: 1 << 53, Doc: "seed for method=random"},
				{Key: "layers", Kind: Tensors, Default: EveryWeight, Choices: []string{EveryWeight, EveryTensor, EveryHidden},
					Doc: "tensors pruned: weights (w1 … wN), all (weights and biases; the default of method=literal), or names like w1/w3. " +
						"method=neuron: the hidden layers whose units go, named by the weight that outputs them (w2: the units between w2 and w3, " +
						"removing w2's column, b2's entry and w3's row of each), or hidden (every hidden layer); default w1, the first hidden layer"},
				{Key: "schedule", Kind: Enum, Choices: []string{"oneshot", "iterative", "gradual"}, Training: true,
					Doc: "in training: oneshot (prune, then fine-tune), iterative (Han et al.: prune in rounds), gradual (Zhu & Gupta: cubic sparsity ramp)"},
				{Key: "rounds", Kind: Int, Min: 1, Max: 100, Training: true, Doc: "schedule=iterative: pruning rounds, keep^(i/rounds) after round i (default 3)"},
				{Key: "every", Kind: Int, Min: 1, Max: 1 << 30, Training: true, Doc: "schedule=gradual: steps between mask updates (default 100)"},
				{Key: "ramp", Kind: Float, Min: 0, Max: 1, MinOpen: true, Training: true, Doc: "schedule=gradual: fraction of the steps over which sparsity ramps up (default 0.7)"},
			},
		},
		{
			Name: "actquant", Section: "§2.2.2, §3.4", Build: newActQuant, Check: checkActQuant,
			Doc: "activation quantization of every layer's input (the pixels and each hidden ReLU output), one range per layer calibrated on the validation split",
			Params: []ParamDef{
				{Key: "bits", Kind: Int, Default: "8", Min: 1, Max: 16, Doc: "bits per activation"},
				{Key: "calib", Kind: Enum, Default: "minmax", Choices: []string{"minmax", "percentile", "mse", "literal"},
					Doc: "range from min/max, a percentile, least squared error, or the article's literal round(a/2^(b−1))·2^(b−1)"},
				{Key: "percentile", Kind: Float, Default: "99.99", Min: 50, Max: 100, Doc: "upper percentile for calib=percentile"},
				{Key: "learn", Kind: Enum, Choices: []string{"lsq", "none"}, Training: true,
					Doc: "in training: lsq learns each layer input's step size (LSQ; the default at bits ≤ 4), none keeps the calibrated ranges"},
			},
		},
	}
}

func lookup(name string) (PassDef, bool) {
	for _, d := range Registry() {
		if d.Name == name {
			return d, true
		}
	}
	return PassDef{}, false
}

func passNames() []string {
	var out []string
	for _, d := range Registry() {
		out = append(out, d.Name)
	}
	return out
}

func (d PassDef) param(k string) (ParamDef, bool) {
	for _, p := range d.Params {
		if p.Key == k {
			return p, true
		}
	}
	return ParamDef{}, false
}

func (d PassDef) keys() []string {
	var out []string
	for _, p := range d.Params {
		out = append(out, p.Key)
	}
	return out
}

// Describe renders the registry as text for `mnistc passes`.
func Describe() string {
	var b strings.Builder
	for _, d := range Registry() {
		fmt.Fprintf(&b, "%s (article %s): %s\n", d.Name, d.Section, d.Doc)
		for _, p := range d.Params {
			def := p.Default
			if def == "" {
				def = "(none)"
			}
			per := ""
			if p.PerTensor {
				per = ", per tensor allowed"
			}
			if p.Training {
				per += ", training only"
			}
			fmt.Fprintf(&b, "  %-12s default %-9s range %s%s\n  %-12s %s\n", p.Key, def, p.rangeText(), per, "", p.Doc)
		}
		b.WriteString("\n")
	}
	return b.String()
}
