package robust

import (
	"math"
	"runtime"
	"slices"

	"mnistc/internal/dense"
	"mnistc/internal/kernel"
	"mnistc/internal/par"
	"mnistc/model"
)

// grain is the fewest images a core takes: below it, starting goroutines
// costs more than it saves.
const grain = 16

// DefaultChunk is the batch of the Attacker that the package-level
// functions use: large enough for the first layer's GEMM over dense images
// to run near BLAS's peak, small enough to bound memory (about 10 MB of
// buffers for 784-300-100-10).
const DefaultChunk = 1024

// Attacker computes input gradients and adversarial images for one
// network, Batch images at a time, in buffers allocated once by
// NewAttacker: a caller that attacks many small batches (robust
// fine-tuning, 32 images a step) allocates no buffers per call. Longer
// inputs are processed Batch images at a time.
//
// The forward pass is model.Forward's, image by image: the first layer
// over an image's non-zero pixels when at most half are non-zero (clean
// digits; the same kernel calls, so the same logits), through one BLAS GEMM
// for the denser images (adversarial ones); the deeper layers over each
// hidden activation's non-zero entries. The backward pass also runs image
// by image over the non-zero entries of each layer's gradient (ReLU zeroes
// about half), on transposed copies of the weights: an image's gradient
// does not depend on the batch it is in, and no BLAS threads compete with
// the goroutines. Methods use all cores for batches of more than a few
// dozen images; an Attacker is not safe for concurrent use.
type Attacker struct {
	p     model.Params
	aq    *model.ActQuant
	batch int
	sizes []int
	wt    [][]float32 // wt[l]: layer l+1's kernel transposed (out×in)
	xq    []float32   // batch×in: the quantized input (with aq)
	z     [][]float32 // z[l]: batch×sizes[l+1], layer l+1's output before ReLU
	dz    [][]float32 // dz[l]: batch×sizes[l+1], the loss's gradient w.r.t. z[l]
	gx    []float32   // batch×in: the dense images, gathered for the GEMM
	gz    []float32   // batch×sizes[1]: the GEMM's output
	grad  []float32   // batch×in: the input gradient, for FGSM and PGD
	cur   []float32   // batch×in: the PGD iterate (allocated by the first PGD)
	lo    []uint32    // batch×in: the bits of max(0, x−ε), for PGD
	hi    []uint32    // batch×in: the bits of min(1, x+ε), for PGD
	rows  []int       // the images of a batch that take the GEMM
	work  chan *rowWork
	all   []*rowWork
}

// rowWork is one core's scratch for the passes over non-zero entries.
type rowWork struct {
	idx   []int32
	vals  []float32
	act   [2][]float32 // a hidden layer's activation, after ReLU and quantizer
	dense []int
}

// NewAttacker returns an Attacker for the network p (any depth) with the
// activation quantizer aq (nil: float activations), for batches of up to
// batch images. It keeps a transposed copy of each kernel: after changing
// p's weights in place (a training step), call SetModel.
func NewAttacker(p model.Params, aq *model.ActQuant, batch int) *Attacker {
	if batch < 1 {
		panic("robust: NewAttacker batch < 1")
	}
	sizes := p.Sizes()
	in, widest := sizes[0], slices.Max(sizes)
	a := &Attacker{batch: batch, sizes: sizes}
	a.xq = make([]float32, batch*in)
	a.gx = make([]float32, batch*in)
	a.grad = make([]float32, batch*in)
	a.gz = make([]float32, batch*sizes[1])
	for l := range p.Layers {
		a.z = append(a.z, make([]float32, batch*sizes[l+1]))
		a.dz = append(a.dz, make([]float32, batch*sizes[l+1]))
		a.wt = append(a.wt, make([]float32, sizes[l]*sizes[l+1]))
	}
	cores := runtime.GOMAXPROCS(0)
	a.work = make(chan *rowWork, cores)
	for range cores {
		w := &rowWork{idx: make([]int32, widest+8), vals: make([]float32, widest+8)}
		w.act = [2][]float32{make([]float32, widest), make([]float32, widest)}
		a.all = append(a.all, w)
		a.work <- w
	}
	a.SetModel(p, aq)
	return a
}

// SetModel points the Attacker at the parameters p and quantizer aq,
// which must have the sizes it was made for, and re-reads the weights
// (call it after a training step changed them in place).
func (a *Attacker) SetModel(p model.Params, aq *model.ActQuant) {
	if !slices.Equal(p.Sizes(), a.sizes) {
		panic("robust: SetModel with other sizes")
	}
	a.p, a.aq = p, aq
	for l, L := range p.Layers {
		transpose(a.wt[l], L.W.Data, L.In(), L.Out())
	}
}

// transpose writes the rows×cols matrix w into wt as cols×rows, in
// 32×32 blocks that stay in cache (a training step calls it for every
// layer).
func transpose(wt, w []float32, rows, cols int) {
	const b = 32
	for i0 := 0; i0 < rows; i0 += b {
		for j0 := 0; j0 < cols; j0 += b {
			for i := i0; i < min(i0+b, rows); i++ {
				for j := j0; j < min(j0+b, cols); j++ {
					wt[j*rows+i] = w[i*cols+j]
				}
			}
		}
	}
}

// Batch returns the most images the Attacker runs at once.
func (a *Attacker) Batch() int { return a.batch }

// InputGrad writes into grad (n×inputs) the gradient of each image's
// cross-entropy loss −log softmax(logits)[y] with respect to its own input
// pixels, and returns the sum of the n losses. Quantizers pass gradients
// by the straight-through estimator (see the package doc).
func (a *Attacker) InputGrad(grad, x []float32, y []uint8, n int) float64 {
	in := a.sizes[0]
	a.check(x, y, n)
	if len(grad) != n*in {
		panic("robust: InputGrad grad length does not match n×inputs")
	}
	var loss float64
	for lo := 0; lo < n; lo += a.batch {
		m := min(a.batch, n-lo)
		xs := x[lo*in : (lo+m)*in]
		a.forward(xs, m)
		loss += a.backward(grad[lo*in:(lo+m)*in], xs, y[lo:lo+m], m, nil)
	}
	return loss
}

// check panics on inputs whose lengths do not match n or labels outside
// the classes: programmer errors (Evaluate checks the data it is given).
func (a *Attacker) check(x []float32, y []uint8, n int) {
	if n < 0 || len(x) != n*a.sizes[0] || len(y) < n {
		panic("robust: input length does not match n×inputs, or fewer than n labels")
	}
	c := a.p.Classes()
	for _, v := range y[:n] {
		if int(v) >= c {
			panic("robust: label outside the network's classes")
		}
	}
}

// rowsOf runs f on each image of [0, m) with a core's scratch, on all
// cores.
func (a *Attacker) rowsOf(m int, f func(w *rowWork, r int)) {
	par.Rows(m, grain, func(lo, hi int) {
		w := <-a.work
		for r := lo; r < hi; r++ {
			f(w, r)
		}
		a.work <- w
	})
}

// forward runs the m images x through the network, keeping each layer's
// pre-activations z for backward.
func (a *Attacker) forward(x []float32, m int) {
	in := a.sizes[0]
	src := x
	if a.aq != nil {
		src = a.xq[:m*in]
	}
	L := a.p.Layers[0]
	out, z, limit := L.Out(), a.z[0], dense.MaxSparse(in)
	a.rowsOf(m, func(w *rowWork, r int) {
		row := src[r*in : (r+1)*in]
		if a.aq != nil {
			copy(row, x[r*in:(r+1)*in])
			a.aq.QuantizeActivations(row, a.aq.Range(0))
		}
		k := kernel.NonZero(row, w.idx, w.vals)
		if k > limit {
			w.dense = append(w.dense, r)
			return
		}
		o := z[r*out : (r+1)*out]
		copy(o, L.B.Data)
		kernel.AccumRows(o, L.W.Data, out, w.idx[:k], w.vals[:k])
	})
	a.denseFirstLayer(src, m)
	if a.p.Depth() > 1 {
		a.rowsOf(m, a.deeperLayers)
	}
}

// denseFirstLayer computes the first layer of the images forward left to
// the GEMM (more than half of their inputs non-zero).
func (a *Attacker) denseFirstLayer(src []float32, m int) {
	L := a.p.Layers[0]
	in, out, z := L.In(), L.Out(), a.z[0]
	rows := a.rows[:0]
	for _, w := range a.all { // all back in a.work: the passes are done
		rows = append(rows, w.dense...)
		w.dense = w.dense[:0]
	}
	a.rows = rows
	switch {
	case len(rows) == m:
		dense.Layer(src, m, in, L.W.Data, L.B.Data, out, z[:m*out])
	case len(rows) > 0:
		slices.Sort(rows)
		g, gz := a.gx[:len(rows)*in], a.gz[:len(rows)*out]
		for j, r := range rows {
			copy(g[j*in:(j+1)*in], src[r*in:(r+1)*in])
		}
		dense.Layer(g, len(rows), in, L.W.Data, L.B.Data, out, gz)
		for j, r := range rows {
			copy(z[r*out:(r+1)*out], gz[j*out:(j+1)*out])
		}
	}
}

// deeperLayers runs image r from its first layer's output z[0] through
// the other layers, over each activation's non-zero entries.
func (a *Attacker) deeperLayers(w *rowWork, r int) {
	for l := 1; l < a.p.Depth(); l++ {
		L := a.p.Layers[l]
		in, out := L.In(), L.Out()
		act := w.act[l%2][:in]
		copy(act, a.z[l-1][r*in:(r+1)*in])
		dense.Relu(act)
		if a.aq != nil {
			a.aq.QuantizeActivations(act, a.aq.Range(l))
		}
		k := kernel.NonZero(act, w.idx, w.vals)
		o := a.z[l][r*out : (r+1)*out]
		copy(o, L.B.Data)
		kernel.AccumRows(o, L.W.Data, out, w.idx[:k], w.vals[:k])
	}
}

// backward writes into grad the input gradient of each image's loss after
// forward(x, m) and returns the summed loss. each, when non-nil, is called
// with each image's index and gradient as soon as it is done (while it is
// in cache), on the core that computed it.
func (a *Attacker) backward(grad, x []float32, y []uint8, m int, each func(r int, g []float32)) float64 {
	in := a.sizes[0]
	loss := a.softmaxGrad(y, m)
	a.rowsOf(m, func(w *rowWork, r int) {
		g := grad[r*in : (r+1)*in]
		a.backRow(w, r, g, x[r*in:(r+1)*in])
		if each != nil {
			each(r, g)
		}
	})
	return loss
}

// backRow carries image r's gradient from the logits to its pixels g,
// layer by layer: the gradient w.r.t. a layer's input is the sum of the
// transposed kernel's rows selected by the non-zero entries of the
// gradient w.r.t. its output, then ReLU and the quantizers' STE stop it
// where they do.
func (a *Attacker) backRow(w *rowWork, r int, g, x []float32) {
	last := a.p.Depth() - 1
	c := a.sizes[last+1]
	d := a.dz[last][r*c : (r+1)*c]
	for l := last; l >= 0; l-- {
		in := a.sizes[l]
		out := g
		if l > 0 {
			out = a.dz[l-1][r*in : (r+1)*in]
		}
		clear(out)
		k := kernel.NonZero(d, w.idx, w.vals)
		kernel.AccumRows(out, a.wt[l], in, w.idx[:k], w.vals[:k])
		if l > 0 {
			a.hiddenMask(out, a.z[l-1][r*in:(r+1)*in], l)
		} else if a.aq != nil && !a.aq.Literal {
			inputMask(out, x, a.aq.Range(0))
		}
		d = out
	}
}

// softmaxGrad writes softmax(logits) − onehot(y) into dz[depth−1] and
// returns the summed cross-entropy.
func (a *Attacker) softmaxGrad(y []uint8, m int) float64 {
	last := a.p.Depth() - 1
	c := a.sizes[last+1]
	z, dz := a.z[last][:m*c], a.dz[last][:m*c]
	var loss float64
	for r := 0; r < m; r++ {
		row, d := z[r*c:(r+1)*c], dz[r*c:(r+1)*c]
		mx := float64(row[model.Argmax(row)])
		var s float64
		for j, v := range row {
			e := math.Exp(float64(v) - mx)
			d[j] = float32(e)
			s += e
		}
		for j := range d {
			d[j] = float32(float64(d[j]) / s)
		}
		d[y[r]] -= 1
		loss += mx + math.Log(s) - float64(row[y[r]])
	}
	return loss
}

// hiddenMask zeroes the gradient g of hidden layer l's output where ReLU
// or the quantizer's straight-through estimator stops it: where z ≤ 0, or
// (quantized, not literal) where relu(z) lies outside the range.
func (a *Attacker) hiddenMask(g, z []float32, l int) {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if a.aq != nil && !a.aq.Literal {
		r := a.aq.Range(l)
		lo, hi = r.Lo, r.Hi
	}
	for i, v := range z {
		if !(v > 0 && v >= lo && v <= hi) {
			g[i] = 0
		}
	}
}

// inputMask zeroes the input gradient where the pixel lies outside the
// input quantizer's range (the straight-through estimator).
func inputMask(g, x []float32, r model.Range) {
	for i, v := range x {
		if !(v >= r.Lo && v <= r.Hi) {
			g[i] = 0
		}
	}
}
