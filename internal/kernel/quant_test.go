package kernel

import (
	"math"
	"math/rand"
	"testing"
)

// TestSymmetricVectorMatchesScalar: the AVX2 kernel gives exactly the bits
// of the scalar loop — values at half-way points between levels (rounding
// to even), beyond the range (clamped), −0, zero scales (left alone) — for
// lengths that are and are not multiples of 8.
func TestSymmetricVectorMatchesScalar(t *testing.T) {
	if !HaveVector {
		t.Skip("no AVX2 on this CPU: only the scalar loop runs")
	}
	rng := rand.New(rand.NewSource(29))
	for _, b := range []int{2, 3, 4, 8} {
		qmax := float64(int(1)<<(b-1) - 1)
		for _, n := range []int{8, 13, 128, 1000} {
			v, s := make([]float32, n), make([]float32, n)
			for j := range v {
				s[j] = float32(0.01 + 0.2*rng.Float64()/qmax)
				switch j % 7 {
				case 0:
					s[j] = 0
					v[j] = float32(rng.NormFloat64())
				case 1:
					v[j] = s[j] * (float32(rng.Intn(2*int(qmax)+1)-int(qmax)) + 0.5) // half-way
				case 2:
					v[j] = float32(math.Copysign(0, -1))
				case 3:
					v[j] = float32(rng.NormFloat64()) * 1e3 // clamped
				default:
					v[j] = float32(rng.NormFloat64()) * s[j] * float32(qmax)
				}
			}
			want := append([]float32(nil), v...)
			SymmetricRowScalar(want, s, qmax)
			got := append([]float32(nil), v...)
			SymmetricRow(got, s, qmax)
			for j := range want {
				if math.Float32bits(want[j]) != math.Float32bits(got[j]) {
					t.Fatalf("bits %d n %d entry %d (x %v, s %v): scalar %v, vector %v", b, n, j, v[j], s[j], want[j], got[j])
				}
			}
		}
	}
}

// BenchmarkSymmetricRow times quantizing 100,352 weights (w1) per channel.
func BenchmarkSymmetricRow(b *testing.B) {
	const rows, cols = 784, 128
	v, s := make([]float32, rows*cols), make([]float32, cols)
	for j := range s {
		s[j] = 0.01
	}
	src := make([]float32, len(v))
	for i := range src {
		src[i] = float32(rand.NormFloat64()) * 0.05
	}
	for _, f := range []struct {
		name string
		fn   func(v, s []float32, qmax float64)
	}{{"vector", SymmetricRow}, {"scalar", SymmetricRowScalar}} {
		b.Run(f.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				copy(v, src)
				for r := 0; r < rows; r++ {
					f.fn(v[r*cols:(r+1)*cols], s, 7)
				}
			}
		})
	}
}
