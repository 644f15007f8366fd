package retrain

import (
	"math"

	"mnistc/compress"
	"mnistc/model"
)

// ttqQuant holds trained ternary quantization (TTQ, Zhu et al. 2017)
// through training: each selected tensor (or each output column,
// granularity=channel) has a positive scale Wp and a negative scale Wn
// that the optimizer trains with the weights, and a threshold Δ = t·max|w|
// (t = 0.05) taken from the shadow weights at every projection. The
// forward pass sees ŵ = Wp where w > Δ, −Wn where w < −Δ, 0 in between;
// the scales get ∂L/∂Wp = Σ_{w>Δ} g and ∂L/∂Wn = −Σ_{w<−Δ} g, and the
// shadow weights the paper's scaled gradients: Wp·g above Δ, g in
// between, Wn·g below −Δ. At most three values per tensor (per column)
// remain, a 2-bit codebook for mnc.
//
// The scales start from the trained weights as TWN's α does: the mean of
// the weights above Δ, and of the magnitudes below −Δ.
type ttqQuant struct {
	t      float64
	spec   compress.Spec
	names  []string
	idx    []int
	groups []int
	scales [][]float32 // per target: Wp per group, then Wn per group
	delta  [][]float32 // per target, per group: Δ of the last projection
	dsc    [][]float32 // Learn's output, reused
	sum    [][]float64 // Learn's sums, reused
	ready  bool
}

// ttqT is Zhu et al.'s threshold factor.
const ttqT = 0.05

func newTTQ(s compress.Spec) (*ttqQuant, error) {
	return &ttqQuant{t: ttqT, spec: s}, nil
}

func (c *ttqQuant) start(shadow *model.Params) {
	names, err := c.spec.Layers(shadow)
	if err != nil {
		panic("retrain: " + err.Error()) // checked against the network before training
	}
	c.names = names
	for _, name := range names {
		t := shadow.Get(name)
		groups := 1
		if c.spec.Args["granularity"] == "channel" && len(t.Shape) == 2 {
			groups = t.Shape[1]
		}
		c.idx = append(c.idx, indexOf(shadow, name))
		c.groups = append(c.groups, groups)
		c.delta = append(c.delta, make([]float32, groups))
		c.thresholds(len(c.idx)-1, t.Data)
		sc := make([]float32, 2*groups)
		pos, neg := make([]float64, groups), make([]float64, groups)
		np, nn := make([]int, groups), make([]int, groups)
		d := c.delta[len(c.delta)-1]
		for r := 0; r < len(t.Data); r += groups {
			for j, x := range t.Data[r : r+groups] {
				switch {
				case x > d[j]:
					pos[j] += float64(x)
					np[j]++
				case x < -d[j]:
					neg[j] -= float64(x)
					nn[j]++
				}
			}
		}
		for j := 0; j < groups; j++ {
			sc[j] = float32(pos[j] / float64(max(1, np[j])))
			sc[groups+j] = float32(neg[j] / float64(max(1, nn[j])))
		}
		c.scales = append(c.scales, sc)
		c.dsc = append(c.dsc, make([]float32, 2*groups))
		c.sum = append(c.sum, make([]float64, 2*groups))
	}
	c.ready = true
}

// thresholds sets target i's Δ per group from the weights w.
func (c *ttqQuant) thresholds(i int, w []float32) {
	groups, d := c.groups[i], c.delta[i]
	clear(d)
	j := 0
	for _, x := range w {
		d[j] = max(d[j], float32(math.Abs(float64(x))))
		if j++; j == groups {
			j = 0
		}
	}
	for j := range d {
		d[j] = float32(c.t * float64(d[j]))
	}
}

// Project writes shadow into dst with each target ternarized.
func (c *ttqQuant) Project(shadow, dst *model.Params, _ int) {
	if !c.ready {
		c.start(shadow)
	}
	src, out := shadow.Tensors(), dst.Tensors()
	for k, t := range src {
		copy(out[k].Data, t.Data)
	}
	for i, k := range c.idx {
		w, o, groups := src[k].Data, out[k].Data, c.groups[i]
		c.thresholds(i, w)
		d, wp, wn := c.delta[i], c.scales[i][:groups], c.scales[i][groups:]
		for j := range wp { // scales stay non-negative
			wp[j], wn[j] = float32(math.Max(0, float64(wp[j]))), float32(math.Max(0, float64(wn[j])))
		}
		j := 0
		for e, x := range w {
			// 0/1 flags the compiler selects without a branch: the signs
			// are random, and a branch would be mispredicted half the time
			var pos, neg int32
			if x > d[j] {
				pos = 1
			}
			if x < -d[j] {
				neg = 1
			}
			o[e] = wp[j]*float32(pos) - wn[j]*float32(neg)
			if j++; j == groups {
				j = 0
			}
		}
	}
}

// Held is nil: no entry is held at zero (a weight inside ±Δ may leave it).
func (c *ttqQuant) Held() [][]bool { return nil }

// Params are the scales, per target: Wp per group, then Wn per group.
func (c *ttqQuant) Params() [][]float32 { return c.scales }

// Learn computes the scales' gradients and scales the shadow gradient.
func (c *ttqQuant) Learn(shadow *model.Params, grads [][]float32) [][]float32 {
	src := shadow.Tensors()
	for i, k := range c.idx {
		w, g, groups := src[k].Data, grads[k], c.groups[i]
		d, wp, wn := c.delta[i], c.scales[i][:groups], c.scales[i][groups:]
		ds := c.sum[i]
		clear(ds)
		j := 0
		for e, x := range w {
			var pos, neg int32
			if x > d[j] {
				pos = 1
			}
			if x < -d[j] {
				neg = 1
			}
			gi, fp, fn := g[e], float32(pos), float32(neg)
			ds[j] += float64(gi * fp)
			ds[groups+j] -= float64(gi * fn)
			g[e] = gi * (1 + fp*(wp[j]-1) + fn*(wn[j]-1))
			if j++; j == groups {
				j = 0
			}
		}
		for j := range ds {
			c.dsc[i][j] = float32(ds[j])
		}
	}
	return c.dsc
}

// learned returns the scales per tensor name: Wp per group, then Wn.
func (c *ttqQuant) learned() map[string][]float32 {
	out := map[string][]float32{}
	for i, n := range c.names {
		out[n] = append([]float32(nil), c.scales[i]...)
	}
	return out
}
