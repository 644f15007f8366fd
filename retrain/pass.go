package retrain

import (
	"fmt"

	"mnistc/compress"
	"mnistc/model"
)

// passConstraint holds a weight pass through training by projection:
// quantization-aware training runs the forward pass on Q(shadow) and hands
// the gradient straight through to the float shadow weights (the STE;
// with max-|w| scales nothing lies outside the quantizer's range, so the
// gradient passes everywhere), and the checkpoint keeps Q(shadow).
// Clipping is applied to the shadow weights themselves after every step,
// as the article's threshold would be.
type passConstraint struct {
	pass    compress.Pass
	inPlace bool // clip: the shadow itself is clipped
}

// newPassConstraint accepts the passes that are cheap enough to apply at
// every step and whose projection is well defined in the loop.
func newPassConstraint(s compress.Spec) (*passConstraint, error) {
	switch s.Name {
	case "quantize":
		switch {
		case s.Args["bits"] == "9":
			return nil, fmt.Errorf("quantize: bits=9: quantization-aware training takes bits 1–8")
		case s.Args["scheme"] == "kmeans":
			return nil, fmt.Errorf("quantize: scheme=kmeans in the loop (re-clustering every step) is not built yet")
		case s.Args["range"] == "mse":
			return nil, fmt.Errorf("quantize: range=mse in the loop (a 200-point search every step) is not built yet")
		case s.Args["bits"] != "" && len(s.Args["bits"]) > 1:
			return nil, fmt.Errorf("quantize: bits=%s: quantization-aware training takes bits 1–8", s.Args["bits"])
		}
	case "clip":
	default:
		return nil, fmt.Errorf("pass %s: training with it in the loop is not built yet (prune, quantize and clip are)", s.Name)
	}
	ps, err := compress.Build([]string{s.String()})
	if err != nil {
		return nil, err
	}
	return &passConstraint{pass: ps[0], inPlace: s.Name == "clip"}, nil
}

// Project applies the pass to the shadow weights and writes the result
// into dst (and, for clipping, back into shadow).
func (c *passConstraint) Project(shadow, dst *model.Params, _ int) {
	st, err := c.pass.Apply(compress.State{Params: *shadow}, compress.Env{})
	if err != nil {
		panic("retrain: " + err.Error()) // validated when built; weight passes need no data
	}
	for k, t := range st.Params.Tensors() {
		copy(dst.Tensors()[k].Data, t.Data)
		if c.inPlace {
			copy(shadow.Tensors()[k].Data, t.Data)
		}
	}
}

// Held is nil: quantization and clipping hold no entry at zero.
func (c *passConstraint) Held() [][]bool { return nil }
