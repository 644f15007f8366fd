package model

import (
	"math"

	"mnistc/internal/kernel"
)

// Adam is the Adam optimizer exactly as Keras applies it: with t the step
// count, lr_t = lr·sqrt(1−β2^t)/(1−β1^t), m ← β1·m + (1−β1)·g,
// v ← β2·v + (1−β2)·g², w ← w − lr_t·m/(sqrt(v) + ε).
//
// It updates the parameter slices in place in one fused loop per tensor
// (splitting it across goroutines measured slower: the hand-off costs more
// than the 0.1 ms it would save). Every flushEvery steps, moments below 1e-30
// are set to zero, as TensorFlow's CPU kernels flush denormals: the moments
// of weights whose gradient is always zero (MNIST's blank border pixels,
// dead units) would otherwise decay into subnormal floats, which cost this
// CPU about 100× a normal multiply. From 1e-30, m (β1 = 0.9) needs over 70
// steps to reach the subnormal range (< 1.2e-38), so none ever does. The
// flush is a separate pass because a compare in the fused loop triples its
// cost.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	t                     int
	m, v                  [][]float32
}

// tiny is the flush-to-zero threshold for Adam's moments, applied every
// flushEvery steps.
const (
	tiny       = 1e-30
	flushEvery = 32
)

// NewAdam returns an optimizer for tensors of the given sizes.
func NewAdam(lr, beta1, beta2, eps float64, sizes []int) *Adam {
	a := &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps}
	for _, n := range sizes {
		a.m = append(a.m, make([]float32, n))
		a.v = append(a.v, make([]float32, n))
	}
	return a
}

// Step applies one update of params from grads (same order and sizes as
// the sizes given to NewAdam) and zeroes grads: gorgonia's tape machine
// accumulates into its gradient buffers, and its own solvers clear them the
// same way after each step.
func (a *Adam) Step(params, grads [][]float32) {
	a.t++
	lrT := float32(a.LR * math.Sqrt(1-math.Pow(a.Beta2, float64(a.t))) / (1 - math.Pow(a.Beta1, float64(a.t))))
	for k, w := range params {
		a.update(w, grads[k], a.m[k], a.v[k], lrT)
	}
	if a.t%flushEvery == 0 {
		for k := range a.m {
			flushTiny(a.m[k])
			flushTiny(a.v[k])
		}
	}
}

// flushTiny sets every entry of v smaller in magnitude than tiny to zero.
func flushTiny(v []float32) {
	for i, x := range v {
		if x < tiny && x > -tiny {
			v[i] = 0
		}
	}
}

// update runs the fused kernel over one tensor (AVX2 where the CPU has
// it; the scalar Go loop gives the same bits elsewhere).
func (a *Adam) update(w, g, m, v []float32, lrT float32) {
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	kernel.Adam(w, g, m, v, kernel.Consts{B1: b1, C1: 1 - b1, B2: b2, C2: 1 - b2, LR: lrT, Eps: float32(a.Eps)})
}

// hold zeroes the moments of the held entries (per tensor, nil: none).
func (a *Adam) hold(held [][]bool) {
	for k, h := range held {
		if h != nil {
			zeroWhere(a.m[k], h)
			zeroWhere(a.v[k], h)
		}
	}
}
