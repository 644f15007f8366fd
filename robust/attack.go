package robust

import (
	"math"
	"math/rand"

	"mnistc/internal/par"
	"mnistc/model"
)

// The attack settings of the issue, after Madry et al. (2018) on MNIST.
const (
	DefaultPGDSteps  = 40   // PGD iterations
	DefaultPGDStep   = 0.01 // PGD step size (L∞, pixel units)
	DefaultPGDImages = 1000 // test images PGD attacks (the first ones)
)

// DefaultEps lists the L∞ radii attacked by default (pixel units, pixels
// in [0, 1]). Each call gets a new slice.
func DefaultEps() []float32 { return []float32{0.05, 0.1, 0.2, 0.3} }

// InputGrad returns the gradient of each image's cross-entropy loss with
// respect to its pixels (n×inputs); see Attacker.InputGrad.
func InputGrad(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int) []float32 {
	grad := make([]float32, len(x))
	newAttacker(p, aq, n).InputGrad(grad, x, y, n)
	return grad
}

// FGSM returns the fast-gradient-sign adversarial images of the n images x
// with labels y against the network (p, aq); see Attacker.FGSM.
func FGSM(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int, eps float32) []float32 {
	dst := make([]float32, len(x))
	newAttacker(p, aq, n).FGSM(dst, x, y, n, eps)
	return dst
}

// PGD returns the projected-gradient-descent adversarial images of the n
// images x with labels y against (p, aq), steps steps of size step within
// the L∞ ball of radius eps, from a random start drawn from rng; see
// Attacker.PGD.
func PGD(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int, eps, step float32, steps int, rng *rand.Rand) []float32 {
	dst := make([]float32, len(x))
	newAttacker(p, aq, n).PGD(dst, x, y, n, eps, step, steps, rng)
	return dst
}

// newAttacker returns an Attacker sized for n images, at most DefaultChunk
// at a time.
func newAttacker(p model.Params, aq *model.ActQuant, n int) *Attacker {
	return NewAttacker(p, aq, min(max(n, 1), DefaultChunk))
}

// FGSM writes into dst the fast-gradient-sign images (Goodfellow et al.
// 2015) of the n images x with labels y: each pixel moved by eps in the
// direction of the sign of its loss gradient, then clipped to [0, 1]. A
// pixel whose gradient is 0 (or is stopped by a quantizer's
// straight-through estimator) stays. dst may be x itself.
func (a *Attacker) FGSM(dst, x []float32, y []uint8, n int, eps float32) {
	in := a.sizes[0]
	a.check(x, y, n)
	if len(dst) != len(x) {
		panic("robust: FGSM dst length does not match x")
	}
	for lo := 0; lo < n; lo += a.batch {
		m := min(a.batch, n-lo)
		xs, ds := x[lo*in:(lo+m)*in], dst[lo*in:(lo+m)*in]
		a.forward(xs, m)
		a.backward(a.grad[:m*in], xs, y[lo:lo+m], m, func(r int, g []float32) {
			d, x := ds[r*in:(r+1)*in], xs[r*in:(r+1)*in]
			for i, v := range g {
				d[i] = clip01(x[i] + signStep(v, eps))
			}
		})
	}
}

// signs writes into s the sign of each pixel's loss gradient (−1, 0, +1):
// FGSM's direction, which does not depend on ε, kept to rebuild the
// images at every ε (withSigns) without running the network again.
func (a *Attacker) signs(s []int8, x []float32, y []uint8, n int) {
	in := a.sizes[0]
	a.check(x, y, n)
	for lo := 0; lo < n; lo += a.batch {
		m := min(a.batch, n-lo)
		xs, ss := x[lo*in:(lo+m)*in], s[lo*in:(lo+m)*in]
		a.forward(xs, m)
		a.backward(a.grad[:m*in], xs, y[lo:lo+m], m, func(r int, g []float32) {
			for i, v := range g {
				ss[r*in+i] = sign(v)
			}
		})
	}
}

// withSigns writes the FGSM images clip(x + eps·s, 0, 1) into dst: the
// same values Attacker.FGSM gives for the gradient signs s.
func withSigns(dst, x []float32, s []int8, eps float32) {
	par.Rows(len(x), pixelGrain, func(b, e int) {
		for i := b; i < e; i++ {
			dst[i] = clip01(x[i] + eps*float32(s[i]))
		}
	})
}

// PGD writes into dst the projected-gradient-descent images (Madry et al.
// 2018, L∞) of the n images x with labels y: from a uniform random start
// in the ε-ball, steps times a step of size step along the sign of the
// loss gradient, each followed by the projection back onto the ε-ball
// around x intersected with [0, 1]. The images returned are the last
// iterates. rng draws the start, n×inputs uniform numbers in image order,
// so the result does not depend on the Attacker's batch. dst may be x
// itself, but must not otherwise overlap it.
func (a *Attacker) PGD(dst, x []float32, y []uint8, n int, eps, step float32, steps int, rng *rand.Rand) {
	in := a.sizes[0]
	a.check(x, y, n)
	if len(dst) != len(x) {
		panic("robust: PGD dst length does not match x")
	}
	if a.cur == nil {
		a.cur = make([]float32, a.batch*in)
		a.lo, a.hi = make([]uint32, a.batch*in), make([]uint32, a.batch*in)
	}
	for lo := 0; lo < n; lo += a.batch {
		m := min(a.batch, n-lo)
		x0, cur := x[lo*in:(lo+m)*in], a.cur[:m*in]
		bl, bh := a.lo[:m*in], a.hi[:m*in] // the bits of the box [x−ε, x+ε] ∩ [0, 1]
		for i, v := range x0 {
			bl[i], bh[i] = bits01(v-eps), bits01(v+eps)
			cur[i] = into(v+eps*(2*rng.Float32()-1), bl[i], bh[i])
		}
		for range steps {
			a.forward(cur, m)
			a.backward(a.grad[:m*in], cur, y[lo:lo+m], m, func(r int, g []float32) {
				c, l, h := cur[r*in:(r+1)*in], bl[r*in:(r+1)*in], bh[r*in:(r+1)*in]
				for i, v := range g {
					c[i] = into(c[i]+signStep(v, step), l[i], h[i])
				}
			})
		}
		copy(dst[lo*in:(lo+m)*in], cur)
	}
}

// pixelGrain is the fewest pixels a core takes in an element-wise loop.
const pixelGrain = 1 << 14

// one is the bits of float32 1: non-negative floats order as their bits,
// so the clamps below are integer min and max, without branches (the
// gradient signs are random: a branch per pixel would mispredict half the
// time; measured, the bit version is 1.6× faster than float min and max
// and 3.5× faster than ifs).
const one = 0x3f800000

// signStep returns eps with the sign of g, or 0 where g is ±0.
func signStep(g, eps float32) float32 {
	u := math.Float32bits(g)
	nonzero := (u<<1 | -(u << 1)) >> 31 // 1 unless g is ±0
	return math.Float32frombits((math.Float32bits(eps) | u&(1<<31)) & -nonzero)
}

// bits01 returns the bits of v clamped into [0, 1] (−0 becomes +0).
func bits01(v float32) uint32 {
	u := math.Float32bits(v)
	u &^= uint32(int32(u) >> 31)
	return min(u, one)
}

// clip01 clamps v into [0, 1].
func clip01(v float32) float32 { return math.Float32frombits(bits01(v)) }

// into clamps v into the box [lo, hi] ⊆ [0, 1] given by its bits.
func into(v float32, lo, hi uint32) float32 {
	u := math.Float32bits(v)
	u &^= uint32(int32(u) >> 31) // negative → +0
	return math.Float32frombits(min(max(u, lo), hi))
}

// sign returns −1, 0 or +1 as g is negative, ±0 or positive.
func sign(g float32) int8 {
	u := math.Float32bits(g)
	nonzero := int8((u<<1 | -(u << 1)) >> 31)
	return nonzero - int8(u>>31)*2*nonzero
}
