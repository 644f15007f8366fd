package training

import (
	"math"

	"mnistc/internal/kernel"
)

// Adam is the Adam optimizer exactly as Keras applies it: with t the step
// count, lr_t = lr·sqrt(1−β2^t)/(1−β1^t), m ← β1·m + (1−β1)·g,
// v ← β2·v + (1−β2)·g², w ← w − lr_t·m/(sqrt(v) + ε).
//
// It updates the parameter slices in place in one fused loop per tensor
// (kernel.Adam; splitting it across goroutines measured slower: the
// hand-off costs more than it saves). Moments below 1e-30 in magnitude are
// set to zero as they are computed, as TensorFlow's CPU kernels flush
// denormals: the moments of weights whose gradient is always zero (MNIST's
// blank border pixels, dead units) would otherwise decay into subnormal
// floats, which cost this CPU about 100× a normal multiply.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	t                     int
	m, v                  [][]float32
}

// tiny is the flush-to-zero threshold for Adam's moments.
const tiny = 1e-30

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
// the sizes given to NewAdam); grads are only read.
func (a *Adam) Step(params, grads [][]float32) {
	a.t++
	lrT := float32(a.LR * math.Sqrt(1-math.Pow(a.Beta2, float64(a.t))) / (1 - math.Pow(a.Beta1, float64(a.t))))
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	k := kernel.Consts{B1: b1, C1: 1 - b1, B2: b2, C2: 1 - b2, LR: lrT, Eps: float32(a.Eps), Tiny: tiny}
	for i, w := range params {
		kernel.Adam(w, grads[i], a.m[i], a.v[i], k)
	}
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
