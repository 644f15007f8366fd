package compress

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"mnistc/model"
)

// calibrated is the quantize pass with an option that reads the
// calibration images (no labels): empirical bias correction (correct=bias,
// Nagel et al. 2019) and adaptive rounding (rounding=adaround, Nagel et al.
// 2020). Both work layer by layer, first to last, each layer seeing the
// inputs the already-quantized layers before it give, so a layer also
// absorbs what the earlier ones got wrong.
//
// The values stay those of the same quantizer — AdaRound picks floor or
// ceil on the grid round-to-nearest uses, bias correction changes float32
// biases — so the encodings, sizes and packed format are the quantizer's.
// It is not a Rewriter: training with a pass in the loop has no
// calibration images to give it.
type calibrated struct{ q quantize }

func (c calibrated) Spec() Spec { return c.q.spec }

// options names what the pass calibrates, for errors.
func (c calibrated) options() string {
	var s string
	if c.q.spec.has("correct") {
		s = "correct=" + c.q.spec.Args["correct"]
	}
	if c.q.spec.has("rounding") {
		if s != "" {
			s += ","
		}
		s += "rounding=" + c.q.spec.Args["rounding"]
	}
	return s
}

func (c calibrated) Apply(in State, env Env) (State, error) {
	out := in.clone()
	p := &out.Params
	names, err := c.q.spec.Layers(p)
	if err != nil {
		return State{}, err
	}
	n := env.Calib.Len()
	if n == 0 {
		return State{}, fmt.Errorf("quantize: %s calibrates on the validation images, but the calibration split is empty", c.options())
	}
	if len(env.Calib.X) != n*p.Inputs() {
		return State{}, fmt.Errorf("quantize: w1 takes %d inputs, but the calibration split holds %d values for %d images", p.Inputs(), len(env.Calib.X), n)
	}
	selected := map[string]bool{}
	for _, name := range names {
		selected[name] = true
	}
	correct := c.q.spec.Args["correct"] == "bias"
	ada := c.q.spec.Args["rounding"] == "adaround"
	cfg := adaConfig{iters: c.q.spec.intArg("iters"), lambda: c.q.spec.floatArg("lambda"), seed: int64(c.q.spec.intArg("seed"))}
	x, aq := env.Calib.X, out.ActQuant
	changed := false // has a layer at or before this one been quantized
	for l := 1; l <= p.Depth(); l++ {
		w, b := p.Get(model.WeightName(l)), p.Get(model.BiasName(l))
		quantW, quantB := selected[w.Name], selected[b.Name]
		changed = changed || quantW
		var xf, xq []float32 // the layer's inputs in the float and the quantized network
		if (quantW && ada) || (correct && changed) {
			xf, xq = layerInput(in.Params, x, n, aq, l), layerInput(*p, x, n, aq, l)
		}
		if quantW {
			if ada {
				gs := c.q.grids(w)
				ref := in.Params.Layers[l-1]
				res := adaRound(ref.W.Data, ref.B.Data, w.Shape[0], w.Shape[1], gs, xf, xq, n, l < p.Depth(), cfg.forLayer(l))
				copy(w.Data, res.W)
				out.Enc[w.Name] = c.q.encoding(w, len(gs), c.q.gridBits())
			} else {
				out.Enc[w.Name] = c.q.quantizeTensor(w)
			}
		}
		if correct && changed {
			ref := in.Params.Layers[l-1]
			correctBias(b.Data, w.Data, ref.W.Data, xf, xq, n, w.Shape[0], w.Shape[1])
		}
		if quantB {
			out.Enc[b.Name] = c.q.quantizeTensor(b)
		}
	}
	return out, nil
}

// gridBits is what one group of a grid scheme stores besides its codes:
// a scale, and for affine a zero-point.
func (q quantize) gridBits() int {
	if q.scheme() == "affine" {
		return 64
	}
	return 32
}

// layerInput returns the input of layer l (1-based) of p for the n images x
// (n × width), as the layer sees it: the pixels or the ReLU output of layer
// l−1, fake-quantized when aq is set.
func layerInput(p model.Params, x []float32, n int, aq *model.ActQuant, l int) []float32 {
	var v []float32
	if l == 1 {
		v = append([]float32(nil), x[:n*p.Inputs()]...)
	} else {
		v = model.Activations(p, x, n, aq, l-1)
	}
	if aq != nil {
		aq.QuantizeActivations(v, aq.Range(l-1))
	}
	return v
}

// columnMeans returns the mean of each column of the n×cols matrix x, in
// float64.
func columnMeans(x []float32, n, cols int) []float64 {
	m := make([]float64, cols)
	for r := 0; r < n; r++ {
		for j, v := range x[r*cols : (r+1)*cols] {
			m[j] += float64(v)
		}
	}
	for j := range m {
		m[j] /= float64(n)
	}
	return m
}

// correctBias is empirical bias correction: it shifts bias b (of the
// quantized layer with weights wq, in×out) by the difference between the
// mean pre-activation of the float layer (weights wf) on its float inputs
// xf and that of the quantized layer on its inputs xq, so that the two
// means agree on the calibration images. The mean is linear, so
// E[x·W] = E[x]·W and the means of the inputs suffice.
func correctBias(b, wq, wf, xf, xq []float32, n, in, out int) {
	mf, mq := columnMeans(xf, n, in), columnMeans(xq, n, in)
	shift := make([]float64, out)
	for i := 0; i < in; i++ {
		rq, rf := wq[i*out:(i+1)*out], wf[i*out:(i+1)*out]
		for j := range shift {
			shift[j] += mq[i]*float64(rq[j]) - mf[i]*float64(rf[j])
		}
	}
	for j, d := range shift {
		b[j] = float32(float64(b[j]) - d)
	}
}

// grid is the level set one group of weights is rounded onto: s·k for the
// whole numbers k in [kmin, kmax]. s = 0 leaves the group as it is (all
// zeros, or a range too small for a float32 scale), as the quantizers do.
type grid struct {
	s          float32
	kmin, kmax float64
}

// grids returns the grid of each group of t (one, or one per column) that
// the pass's symmetric or affine quantizer rounds to.
func (q quantize) grids(t *model.Tensor) []grid {
	groups := q.groups(t)
	b := q.spec.intArg("bits")
	out := make([]grid, groups)
	buf := t.Data
	if groups > 1 {
		buf = make([]float32, len(t.Data)/groups)
	}
	for g := range out {
		if groups > 1 {
			gather(buf, t.Data, g, groups)
		}
		if q.scheme() == "affine" {
			s, zp, levels := affineGrid(buf, b)
			out[g] = grid{s, -zp, levels - zp}
			continue
		}
		c := maxAbs(buf)
		if q.spec.Args["range"] == "mse" {
			c = mseClip(buf, b)
		}
		s, qmax := symmetricScale(b, c)
		out[g] = grid{s, -qmax, qmax}
	}
	return out
}

// code clamps k to the grid.
func (g grid) code(k float64) float64 { return math.Max(g.kmin, math.Min(g.kmax, k)) }

// value is level k's float32 value, computed as the quantizers do.
func (g grid) value(k float64) float32 { return g.s * float32(int(k)) } // int: −0 becomes +0

// nearest is round-to-nearest onto g: the value the quantizers give.
func (g grid) nearest(x float32) float32 {
	if g.s == 0 {
		return x
	}
	return g.value(g.code(math.RoundToEven(float64(x) / float64(g.s))))
}

// gemm sets c (m×n) to a·b (a m×k; ta: a is given transposed, k×m) plus
// beta times c.
func gemm(ta bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	t, lda := blas.NoTrans, k
	if ta {
		t, lda = blas.Trans, m
	}
	rows := m
	if ta {
		rows = k
	}
	blas32.Gemm(t, blas.NoTrans, 1,
		blas32.General{Rows: rows, Cols: lda, Stride: lda, Data: a},
		blas32.General{Rows: k, Cols: n, Stride: n, Data: b},
		beta, blas32.General{Rows: m, Cols: n, Stride: n, Data: c})
}
