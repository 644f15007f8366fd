package sparse

import (
	"math"
	"math/rand"
	"testing"
)

// TestVectorMatchesGo: the AVX2 loop and the Go loop give the same bits.
func TestVectorMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 50; trial++ {
		n := rng.Intn(300)
		cols := make([]uint8, n)
		w := make([]float32, n)
		for k := range cols {
			cols[k] = uint8(rng.Intn(256))
			w[k] = float32(rng.NormFloat64())
		}
		var x [Block]float32
		for b := range x {
			x[b] = float32(rng.Float64())
		}
		var a, b [256 * Block]float32
		for i := range a {
			a[i] = float32(rng.NormFloat64())
			b[i] = a[i]
		}
		Row(&a, &x, cols, w)
		rowGo(&b, &x, cols, w)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("trial %d: out[%d] = %v, Go loop %v", trial, i, a[i], b[i])
			}
		}
	}
}

func TestHandComputed(t *testing.T) {
	var out [256 * Block]float32
	var x [Block]float32
	for b := range x {
		x[b] = float32(b)
	}
	Row(&out, &x, []uint8{3, 255, 3}, []float32{2, -1, 0.5})
	for b := 0; b < Block; b++ {
		if got, want := out[3*Block+b], 2.5*float32(b); got != want {
			t.Fatalf("out[3][%d] = %v, want %v", b, got, want)
		}
		if got, want := out[255*Block+b], -float32(b); got != want {
			t.Fatalf("out[255][%d] = %v, want %v", b, got, want)
		}
		if out[0*Block+b] != 0 {
			t.Fatal("an untouched column changed")
		}
	}
}

func TestTransposeMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, n := range []int{8, 16, 784, 128, 13} {
		src := make([]float32, Block*n)
		for i := range src {
			if rng.Intn(3) > 0 {
				src[i] = float32(rng.NormFloat64())
			}
		}
		for i := 0; i < n; i += 5 { // whole columns of zeros
			for r := 0; r < Block; r++ {
				src[r*n+i] = 0
			}
		}
		dst, want := make([][Block]float32, n), make([][Block]float32, n)
		act, wantAct := make([]uint32, n), make([]uint32, n)
		Transpose(dst, src, act)
		transposeGo(want, src, wantAct)
		for i := 0; i < n; i++ {
			for r := 0; r < Block; r++ {
				if dst[i][r] != src[r*n+i] || want[i][r] != src[r*n+i] {
					t.Fatalf("n=%d: dst[%d][%d] = %v (Go %v), src %v", n, i, r, dst[i][r], want[i][r], src[r*n+i])
				}
			}
			if (act[i] != 0) != (wantAct[i] != 0) || (act[i] == 0) != (i%5 == 0) {
				t.Fatalf("n=%d: active[%d] = %x, Go %x", n, i, act[i], wantAct[i])
			}
		}
	}
}
