package kernel

import (
	"math"
	"math/rand"
	"testing"
)

// TestAccumRowsVectorMatchesScalar: for widths that exercise the 64-, 32-,
// 8- and 4-column kernels and the scalar tail, the result has the bits of the
// scalar loop, which is the plain sum in the order of the rows.
func TestAccumRowsVectorMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, width := range []int{1, 4, 7, 8, 10, 12, 32, 36, 44, 64, 70, 100, 128, 200, 300} {
		stride := width + rng.Intn(3)
		rows := 50
		w := make([]float32, rows*stride)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		var idx []int32
		var x []float32
		for i := 0; i < rows; i++ {
			if rng.Intn(3) == 0 {
				idx = append(idx, int32(i))
				x = append(x, float32(rng.Float64()))
			}
		}
		got, want := make([]float32, width), make([]float32, width)
		for j := range got {
			got[j] = float32(j) * 0.01
			want[j] = got[j]
		}
		AccumRows(got, w, stride, idx, x)
		for k, i := range idx { // the reference: the sum in order, each product rounded
			for j := range want {
				want[j] += float32(x[k] * w[int(i)*stride+j])
			}
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("width %d: out[%d] = %v, want %v", width, j, got[j], want[j])
			}
		}
	}
}

func TestAccumRowsRefusesOutOfRange(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a row past the matrix was read")
		}
	}()
	AccumRows(make([]float32, 8), make([]float32, 16), 8, []int32{2}, []float32{1})
}

func TestNonZeroMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{0, 3, 8, 17, 128, 784} {
		row := make([]float32, n)
		for i := range row {
			switch rng.Intn(4) {
			case 0:
				row[i] = float32(rng.NormFloat64())
			case 1:
				row[i] = float32(math.Copysign(0, -1))
			}
		}
		idx, vals := make([]int32, n+8), make([]float32, n+8)
		got := NonZero(row, idx, vals)
		k := 0
		for i, v := range row {
			if v != 0 {
				if idx[k] != int32(i) || math.Float32bits(vals[k]) != math.Float32bits(v) {
					t.Fatalf("n=%d: entry %d = (%d, %v), want (%d, %v)", n, k, idx[k], vals[k], i, v)
				}
				k++
			}
		}
		if got != k {
			t.Fatalf("n=%d: %d non-zero, want %d", n, got, k)
		}
	}
}

func TestAccumLevelsMatchScalar(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, width := range []int{5, 64, 70, 128, 130} {
		stride, rows := width+rng.Intn(2), 60
		w := make([]int16, rows*stride)
		for i := range w {
			w[i] = int16(rng.Intn(255) - 127)
		}
		var idx []int32
		var x []float32
		var q []int32
		for i := 0; i < rows; i++ {
			if rng.Intn(3) == 0 {
				idx = append(idx, int32(i))
				x = append(x, float32(rng.Float64()))
				q = append(q, int32(rng.Intn(256)))
			}
		}
		got, want := make([]float32, width), make([]float32, width)
		gi, wi := make([]int32, width), make([]int32, width)
		for j := range got {
			got[j], want[j] = 0.5, 0.5
			gi[j], wi[j] = int32(j), int32(j)
		}
		AccumLevels(got, w, stride, idx, x)
		AccumLevelsInt(gi, w, stride, idx, q)
		for k, i := range idx {
			for j := range want {
				want[j] += float32(x[k] * float32(w[int(i)*stride+j]))
				wi[j] += q[k] * int32(w[int(i)*stride+j])
			}
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) || gi[j] != wi[j] {
				t.Fatalf("width %d col %d: %v / %d, want %v / %d", width, j, got[j], gi[j], want[j], wi[j])
			}
		}
	}
}
