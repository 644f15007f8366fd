package compress

import (
	"math"
	"math/rand"

	"mnistc/internal/kernel"
	"mnistc/internal/par"
)

// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for
// Post-Training Quantization"): instead of rounding each weight to its
// nearest level, learn for each whether it goes to the level below (floor
// of w/s) or above (ceil), so that the layer's output on the calibration
// images changes least. The choice is relaxed to h(V) = clip(σ(V)(ζ−γ)+γ,
// 0, 1) ∈ [0, 1], the soft weight is s·(floor + h(V)), and Adam minimises
// over V, on minibatches of calibration images,
//
//	E‖f(x·W + b) − f(x̃·W̃ + b)‖² / e₀ + λ/m Σ 1 − |2h−1|^β
//
// where x are the layer's inputs in the float network and x̃ those the
// already-quantized earlier layers give (the paper's asymmetric
// reconstruction), f the layer's ReLU for hidden layers and the identity
// for the logits, e₀ the same error with every weight rounded to nearest
// and m the number of weights with a choice. The two normalisations are
// ours: the paper's λ must follow the scale of each layer's outputs and
// its count of weights (here the logits' errors are ~100× the first
// layer's per weight), so one λ would leave a layer undecided when h is
// thresholded; scaled, λ = 100 decides them all on 784-128-10 and LeNet.
// The regularizer is off for the first 20 % of the steps, then β is
// annealed from 20 to 2, which drives every h to 0 or 1; at the end each
// weight takes floor or ceil by h ≥ ½.
//
// The defaults (λ, step size, 1000 steps of 128 images) were chosen on the
// validation split of three trained 784-128-10 networks at 2 and 3 bits.
const (
	adaZeta, adaGamma = 1.1, -0.1
	adaBatch          = 128  // calibration images per Adam step
	adaLR             = 0.1  // Adam's step size on V
	adaWarm           = 0.2  // fraction of the steps without the regularizer
	adaBetaStart      = 20.0 // β at the end of the warm-up
	adaBetaEnd        = 2.0  // β at the last step
	powTable          = 1024 // intervals of the |2h−1|^(β−1) table
	// adaVClip is ln 11, where σ(V) = 11/12 and h(V) reaches 1 (at −ln 11,
	// 0): beyond it h is clipped and needs no exp.
	adaVClip = 2.3978952727983707
	adaGrain = 2048 // entries per parallel part of the elementwise steps
	// Adam's moment decays and ε, as in Kingma & Ba.
	adaBeta1, adaBeta2, adaAdamEps = 0.9, 0.999, 1e-8
)

// adaConfig holds AdaRound's settings for one layer.
type adaConfig struct {
	iters  int
	lambda float64
	seed   int64
}

// forLayer gives layer l its own minibatch stream, derived from the seed.
func (c adaConfig) forLayer(l int) adaConfig {
	c.seed = c.seed*1_000_003 + int64(l)
	return c
}

// adaResult is AdaRound's outcome for one layer: the rounded weights, and
// the reconstruction error (summed over the calibration images and the
// layer's outputs) of round-to-nearest and of the result.
type adaResult struct {
	W               []float32
	NearestErr, Err float64
}

// adaRound rounds w (in×out, the float layer, bias b) onto grids gs (one
// per column, or one for all) by AdaRound, given the layer's n inputs in
// the float network xf and in the quantized one xq (n×in each); relu says
// the layer is hidden. Weights with one candidate (zeros, levels already on
// the grid, saturated ones) keep it. The loss decomposes over output
// columns, so each column finally keeps whichever of AdaRound and
// round-to-nearest reconstructs it better on all n images: the result is
// never worse than round-to-nearest on the objective.
func adaRound(w, b []float32, in, out int, gs []grid, xf, xq []float32, n int, relu bool, cfg adaConfig) adaResult {
	gridOf := func(j int) grid {
		if len(gs) == 1 {
			return gs[0]
		}
		return gs[j]
	}
	// base: every weight at its floor (or its only candidate); free lists
	// the weights with two candidates, floor and floor+1.
	base := make([]float32, len(w))
	nearest := make([]float32, len(w))
	var free []int32
	var lo, scale, v []float32
	for i, x := range w {
		g := gridOf(i % out)
		nearest[i] = g.nearest(x)
		if g.s == 0 {
			base[i] = x
			continue
		}
		t := float64(x) / float64(g.s)
		f, c := g.code(math.Floor(t)), g.code(math.Ceil(t))
		base[i] = g.value(f)
		if f == c {
			continue
		}
		free = append(free, int32(i))
		lo = append(lo, float32(f))
		scale = append(scale, g.s)
		// h(V) = t − floor(t): the soft weight starts at w itself.
		sig := (t - f - adaGamma) / (adaZeta - adaGamma)
		v = append(v, float32(math.Log(sig/(1-sig))))
	}
	// Targets: the float layer's pre-activations on its float inputs.
	target := make([]float32, n*out)
	for r := 0; r < n; r++ {
		copy(target[r*out:(r+1)*out], b)
	}
	gemm(false, n, out, in, xf, w, 1, target)

	var res adaResult
	errN := columnErrors(nearest, b, in, out, xq, target, n, relu)
	for _, e := range errN {
		res.NearestErr += e
	}
	if len(free) > 0 && cfg.iters > 0 && res.NearestErr > 0 {
		optimize(v, free, scale, base, b, in, out, xq, target, n, relu, res.NearestErr/float64(n), cfg)
	}
	hard := append([]float32(nil), base...)
	for k, i := range free {
		if v[k] >= 0 { // h(V) ≥ ½
			hard[i] = scale[k] * float32(int(lo[k]+1))
		}
	}
	// Per column, keep the better of AdaRound and round-to-nearest.
	errA := columnErrors(hard, b, in, out, xq, target, n, relu)
	for j := 0; j < out; j++ {
		if errN[j] < errA[j] {
			for i := j; i < len(hard); i += out {
				hard[i] = nearest[i]
			}
			res.Err += errN[j]
		} else {
			res.Err += errA[j]
		}
	}
	res.W = hard
	return res
}

// columnErrors returns, per output column, Σ over the n images of
// (f(target) − f(xq·wq + b))².
func columnErrors(wq, b []float32, in, out int, xq, target []float32, n int, relu bool) []float64 {
	pred := make([]float32, n*out)
	for r := 0; r < n; r++ {
		copy(pred[r*out:(r+1)*out], b)
	}
	gemm(false, n, out, in, xq, wq, 1, pred)
	e := make([]float64, out)
	for i, p := range pred {
		t := target[i]
		if relu {
			p, t = max(p, 0), max(t, 0)
		}
		d := float64(p) - float64(t)
		e[i%out] += d * d
	}
	return e
}

// optimize runs AdaRound's Adam steps on v, the V of the free weights.
// The objective is scaled so that one λ suits every layer: the
// reconstruction error is measured relative to round-to-nearest's (e0, per
// image) and the regularizer is averaged over the free weights, so λ = 1
// weighs a fully undecided layer like a layer as bad as rounding to nearest.
func optimize(v []float32, free []int32, scale, base, b []float32, in, out int, xq, target []float32, n int, relu bool, e0 float64, cfg adaConfig) {
	rng := rand.New(rand.NewSource(cfg.seed))
	bs := min(adaBatch, n)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rows := newSparseRows(xq, n, in)
	batch := &sparseBatch{in: in}
	pred := make([]float32, bs*out)
	soft := append([]float32(nil), base...)
	grad := make([]float32, in*out)
	h := make([]float32, len(v))
	dh := make([]float32, len(v))
	m1 := make([]float32, len(v))
	m2 := make([]float32, len(v))
	table := make([]float32, powTable+1)
	warm := int(adaWarm * float64(cfg.iters))
	recon := float32(2 / (float64(bs) * math.Max(e0, 1e-30))) // d/dpred of Σ (pred − target)² / (batch · e0)
	// soften sets h(V), its slope and the soft weight of free weight k.
	soften := func(k int) {
		switch x := v[k]; {
		case x >= adaVClip: // σ(V)(ζ−γ)+γ ≥ 1: clipped, no exp needed
			h[k], dh[k] = 1, 0
		case x <= -adaVClip:
			h[k], dh[k] = 0, 0
		default:
			sig := 1 / (1 + math.Exp(-float64(x)))
			raw := sig*(adaZeta-adaGamma) + adaGamma
			h[k], dh[k] = float32(min(1, max(0, raw))), float32((adaZeta-adaGamma)*sig*(1-sig))
		}
		soft[free[k]] = base[free[k]] + scale[k]*h[k]
	}
	for k := range v {
		soften(k)
	}
	for it := 0; it < cfg.iters; it++ {
		// A minibatch of calibration images (a partial Fisher–Yates draw),
		// through the soft layer.
		for r := 0; r < bs; r++ {
			j := r + rng.Intn(n-r)
			perm[r], perm[j] = perm[j], perm[r]
		}
		batch.set(rows, perm[:bs])
		batch.forward(soft, b, out, pred)
		// d loss / d pred = 2 (f(pred) − f(target)) f'(pred) / (batch · e0).
		for r := 0; r < bs; r++ {
			pr, tr := pred[r*out:(r+1)*out], target[perm[r]*out:(perm[r]+1)*out]
			for j, p := range pr {
				t := tr[j]
				if relu {
					if p <= 0 {
						pr[j] = 0
						continue
					}
					t = max(t, 0)
				}
				pr[j] = recon * (p - t)
			}
		}
		batch.backward(pred, out, grad)
		// The regularizer's pull, after the warm-up: d/dh (1 − |2h−1|^β) =
		// −2β |2h−1|^(β−1) sign(2h−1), |2h−1|^(β−1) from a table.
		lambda := float32(0)
		if it >= warm {
			rel := float64(it-warm) / float64(max(1, cfg.iters-1-warm))
			beta := adaBetaEnd + (adaBetaStart-adaBetaEnd)*(1-rel)
			lambda = float32(cfg.lambda * 2 * beta / float64(len(v)))
			for i := range table {
				table[i] = float32(math.Pow(float64(i)/powTable, beta-1))
			}
		}
		step := it + 1
		c1 := float32(1 - math.Pow(adaBeta1, float64(step)))
		c2 := float32(1 - math.Pow(adaBeta2, float64(step)))
		par.Rows(len(v), adaGrain, func(a, z int) {
			for k := a; k < z; k++ {
				g := grad[free[k]] * scale[k]
				if lambda != 0 && dh[k] != 0 {
					u := 2*h[k] - 1
					a := u
					if a < 0 {
						a = -a
					}
					pos := a * powTable
					i := int(pos)
					if i >= powTable {
						i = powTable - 1
					}
					p := table[i] + (pos-float32(i))*(table[i+1]-table[i])
					if u < 0 {
						p = -p
					}
					g -= lambda * p
				}
				g *= dh[k] // 0 where h is clipped: Adam's momentum alone moves V there
				m1[k] = adaBeta1*m1[k] + (1-adaBeta1)*g
				m2[k] = adaBeta2*m2[k] + (1-adaBeta2)*g*g
				v[k] -= adaLR * (m1[k] / c1) / (float32(math.Sqrt(float64(m2[k]/c2))) + adaAdamEps)
				soften(k) // for the next step
			}
		})
	}
}

// sparseRows holds the non-zero entries of each row of an n×cols matrix
// (the layer inputs: MNIST pixels are about 19 % non-zero, ReLU outputs
// about half), so minibatch products skip the zeros.
type sparseRows struct {
	start []int // row r's entries are idx/val[start[r]:start[r+1]]
	idx   []int32
	val   []float32
}

func newSparseRows(x []float32, n, cols int) *sparseRows {
	s := &sparseRows{start: make([]int, n+1)}
	for r := 0; r < n; r++ {
		for i, v := range x[r*cols : (r+1)*cols] {
			if v != 0 {
				s.idx = append(s.idx, int32(i))
				s.val = append(s.val, v)
			}
		}
		s.start[r+1] = len(s.idx)
	}
	return s
}

// sparseBatch is a minibatch of sparse rows, by row (for x·W) and by
// column (for xᵀ·G).
type sparseBatch struct {
	in      int
	rows    *sparseRows
	picked  []int
	colPtr  []int   // column i's entries are colRow/colVal[colPtr[i]:colPtr[i+1]]
	colRow  []int32 // batch row of each entry
	colVal  []float32
	colNext []int
}

// set selects rows picked of s and builds the column view.
func (b *sparseBatch) set(s *sparseRows, picked []int) {
	b.rows, b.picked = s, picked
	if b.colPtr == nil {
		b.colPtr, b.colNext = make([]int, b.in+1), make([]int, b.in)
	}
	clear(b.colPtr)
	nnz := 0
	for _, r := range picked {
		for _, i := range s.idx[s.start[r]:s.start[r+1]] {
			b.colPtr[i+1]++
		}
		nnz += s.start[r+1] - s.start[r]
	}
	for i := 0; i < b.in; i++ {
		b.colPtr[i+1] += b.colPtr[i]
	}
	copy(b.colNext, b.colPtr[:b.in])
	b.colRow, b.colVal = grow(b.colRow, nnz), grow(b.colVal, nnz)
	for k, r := range picked { // rows in batch order: each column's rows ascend
		lo, hi := s.start[r], s.start[r+1]
		for e, i := range s.idx[lo:hi] {
			p := b.colNext[i]
			b.colRow[p], b.colVal[p] = int32(k), s.val[lo+e]
			b.colNext[i]++
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// forward sets pred (batch×out) to x·w + bias.
func (b *sparseBatch) forward(w, bias []float32, out int, pred []float32) {
	s := b.rows
	par.Rows(len(b.picked), 8, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			r := b.picked[k]
			o := pred[k*out : (k+1)*out]
			copy(o, bias)
			kernel.AccumRows(o, w, out, s.idx[s.start[r]:s.start[r+1]], s.val[s.start[r]:s.start[r+1]])
		}
	})
}

// backward sets grad (in×out) to xᵀ·g for g (batch×out).
func (b *sparseBatch) backward(g []float32, out int, grad []float32) {
	par.Rows(b.in, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := grad[i*out : (i+1)*out]
			clear(o)
			kernel.AccumRows(o, g, out, b.colRow[b.colPtr[i]:b.colPtr[i+1]], b.colVal[b.colPtr[i]:b.colPtr[i+1]])
		}
	})
}
