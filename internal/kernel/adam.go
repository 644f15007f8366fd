package kernel

import "math"

// Consts are one Adam step's constants: β1, 1−β1, β2, 1−β2, the
// bias-corrected learning rate, ε, and the magnitude below which a moment
// is flushed to zero (0: never).
type Consts struct{ B1, C1, B2, C2, LR, Eps, Tiny float32 }

// Adam applies one Keras Adam update to w from g with moments m and v, all
// of the same length (g is only read):
//
//	m ← β1·m + (1−β1)·g;  v ← β2·v + ((1−β2)·g)·g
//	m ← 0 where |m| < tiny;  v ← 0 where v < tiny
//	w ← w − (lr·m)/(sqrt(v) + ε)
func Adam(w, g, m, v []float32, k Consts) {
	done := adamVector(w, g, m, v, k)
	AdamScalar(w[done:], g[done:], m[done:], v[done:], k)
}

// AdamScalar is the plain Go kernel. The explicit float32 conversions stop
// the compiler from fusing a multiply and an add (GOAMD64=v3 would allow
// it), so it rounds exactly as the vector kernel does.
func AdamScalar(w, g, m, v []float32, k Consts) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		gi := g[i]
		mi := float32(k.B1*m[i]) + float32(k.C1*gi)
		vi := float32(k.B2*v[i]) + float32(float32(k.C2*gi)*gi)
		if mi < k.Tiny && mi > -k.Tiny {
			mi = 0
		}
		if vi < k.Tiny {
			vi = 0
		}
		m[i], v[i] = mi, vi
		den := float32(math.Sqrt(float64(vi))) + k.Eps
		w[i] -= float32(k.LR*mi) / den
	}
}
