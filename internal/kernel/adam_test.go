package kernel

import (
	"math"
	"math/rand"
	"testing"
)

// TestVectorMatchesScalar: the AVX2 kernel gives exactly the bits of the
// scalar kernel, for lengths that are and are not multiples of 8.
func TestVectorMatchesScalar(t *testing.T) {
	if !HaveVector {
		t.Skip("no AVX2 on this CPU: only the scalar kernel runs")
	}
	rng := rand.New(rand.NewSource(11))
	k := Consts{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, LR: 3e-4, Eps: 1e-7, Tiny: 1e-30}
	for _, n := range []int{8, 13, 1000, 100352} {
		mk := func(scale float32) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = scale * (rng.Float32() - 0.5)
			}
			return v
		}
		w, g, m, v := mk(1), mk(0.1), mk(0.01), mk(0.001)
		for i := range v {
			v[i] *= v[i]
		}
		for i := 0; i < n; i += 5 { // moments that the step leaves below tiny, of both signs
			m[i], v[i], g[i] = float32(i%3-1)*1e-31, 1e-33, 0
		}
		w2, g2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
		Adam(w, g, m, v, k)
		AdamScalar(w2, g2, m2, v2, k)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) || math.Float32bits(v[i]) != math.Float32bits(v2[i]) || g[i] != g2[i] {
				t.Fatalf("n=%d entry %d: vector w %v m %v v %v, scalar w %v m %v v %v", n, i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
			}
			if i%5 == 0 && (math.Float32bits(m[i]) != 0 || math.Float32bits(v[i]) != 0) {
				t.Fatalf("n=%d entry %d: moments %v, %v below tiny were not flushed to +0", n, i, m[i], v[i])
			}
		}
	}
}

func benchAdam(b *testing.B, f func(w, g, m, v []float32, k Consts)) {
	const n = 101770
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	src := make([]float32, n)
	for i := range src {
		src[i] = rand.Float32() - 0.5
	}
	k := Consts{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, LR: 1e-3, Eps: 1e-7, Tiny: 1e-30}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(g, src)
		f(w, g, m, v, k)
	}
}

// BenchmarkAdam and BenchmarkAdamScalar time one update of the article
// network's 101,770 parameters (vector where available, and scalar).
func BenchmarkAdam(b *testing.B)       { benchAdam(b, Adam) }
func BenchmarkAdamScalar(b *testing.B) { benchAdam(b, AdamScalar) }
