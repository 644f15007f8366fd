package retrain

import (
	"fmt"
	"math"

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
	pass    rewriter
	inPlace bool // clip: the shadow itself is clipped
}

// newPassConstraint accepts the passes that are cheap enough to apply at
// every step and whose projection is well defined in the loop.
func newPassConstraint(s compress.Spec) (*passConstraint, error) {
	switch s.Name {
	case "quantize":
		if b, ok := s.Int("bits"); ok && (b < 1 || b > 8) {
			return nil, fmt.Errorf("quantize: bits=%s: quantization-aware training takes bits 1–8", s.Args["bits"])
		}
	case "clip":
	default:
		return nil, fmt.Errorf("pass %s: training with it in the loop is not built yet (prune, quantize and clip are)", s.Name)
	}
	ps, err := compress.Build([]string{postText(s)})
	if err != nil {
		return nil, err
	}
	rw, ok := ps[0].(rewriter)
	if !ok {
		return nil, fmt.Errorf("pass %s cannot rewrite weights in place", s.Name)
	}
	return &passConstraint{pass: rw, inPlace: s.Name == "clip"}, nil
}

// rewriter is a pass that can also rewrite weights in place.
type rewriter interface {
	compress.Pass
	compress.Rewriter
}

// mseEvery is how often (in optimizer steps) quantization-aware training
// with range=mse searches the clipping ranges again; in between it
// quantizes with the ranges of the last search.
const mseEvery = 100

// mseQuant holds b-bit symmetric quantization with MSE-chosen clipping
// ranges (per tensor or per channel) through training. The 200-point
// search runs every mseEvery steps and at the last step; weights beyond a
// range saturate in the forward pass and, by the straight-through
// estimator, get no gradient (training.Saturater); inside it the gradient
// passes unchanged.
type mseQuant struct {
	spec   compress.Spec
	bits   int
	steps  int
	clips  map[string][]float64 // per tensor, per group
	frozen int                  // step of the last search
	sat    [][]bool             // per tensor (checkpoint order): |w| beyond its range at the last projection
}

func newMSEQuant(s compress.Spec, steps int) (*mseQuant, error) {
	if _, err := newPassConstraint(s); err != nil { // same checks as the other quantizers
		return nil, err
	}
	var b int
	fmt.Sscan(s.Args["bits"], &b)
	if b < 2 {
		return nil, fmt.Errorf("quantize: range=mse needs at least 2 bits")
	}
	return &mseQuant{spec: s, bits: b, steps: steps, frozen: -1}, nil
}

// Project quantizes the target tensors of shadow into dst.
func (q *mseQuant) Project(shadow, dst *model.Params, step int) {
	search := q.clips == nil || step-q.frozen >= mseEvery || step >= q.steps-1
	if search {
		q.clips, q.frozen = map[string][]float64{}, step
	}
	for k, t := range shadow.Tensors() {
		copy(dst.Tensors()[k].Data, t.Data)
	}
	if q.sat == nil {
		q.sat = make([][]bool, len(shadow.Tensors()))
	}
	names, err := q.spec.Layers(shadow)
	if err != nil {
		panic("retrain: " + err.Error()) // checked against the network before training
	}
	for _, name := range names {
		t, d := shadow.Get(name), dst.Get(name)
		ti := indexOf(shadow, name)
		if q.sat[ti] == nil {
			q.sat[ti] = make([]bool, len(t.Data))
		}
		groups := 1
		if q.spec.Args["granularity"] == "channel" && len(t.Shape) == 2 {
			groups = t.Shape[1]
		}
		if search { // the 200-point search, one column at a time
			buf := make([]float32, len(t.Data)/groups)
			for g := 0; g < groups; g++ {
				for i := range buf {
					buf[i] = t.Data[i*groups+g]
				}
				q.clips[name] = append(q.clips[name], compress.MSEClip(buf, q.bits))
			}
		}
		// Row by row: which weights saturate, then the levels (dst holds a
		// copy of shadow).
		c, sat := q.clips[name], q.sat[ti]
		for r := 0; r < len(t.Data); r += groups {
			for j, x := range t.Data[r : r+groups] {
				sat[r+j] = math.Abs(float64(x)) > c[j]
			}
		}
		compress.SymmetricColumns(d.Data, groups, q.bits, c)
	}
}

// Held is nil: quantization holds no entry at zero.
func (q *mseQuant) Held() [][]bool { return nil }

// Saturated reports the weights beyond their range at the last projection.
func (q *mseQuant) Saturated() [][]bool { return q.sat }

// indexOf returns the position of tensor name in p's checkpoint order.
func indexOf(p *model.Params, name string) int {
	for i, t := range p.Tensors() {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// Project applies the pass to the shadow weights and writes the result
// into dst (and, for clipping, back into shadow): dst gets a copy of the
// shadow, which the pass rewrites in place.
func (c *passConstraint) Project(shadow, dst *model.Params, _ int) {
	for k, t := range shadow.Tensors() {
		copy(dst.Tensors()[k].Data, t.Data)
	}
	if err := c.pass.Rewrite(dst); err != nil {
		panic("retrain: " + err.Error()) // validated when built; weight passes need no data
	}
	if c.inPlace {
		for k, t := range dst.Tensors() {
			copy(shadow.Tensors()[k].Data, t.Data)
		}
	}
}

// Held is nil: quantization and clipping hold no entry at zero.
func (c *passConstraint) Held() [][]bool { return nil }
