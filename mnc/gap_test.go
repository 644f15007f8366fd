package mnc

import (
	"math/rand"
	"reflect"
	"testing"
)

// TestGapSymbolsHandComputed: positions 0, 5, 40 of 50 at width 3 (span 7):
// gaps 1, 5, 35 → 0, 4, then four fillers and 6; the trailing run of 9
// takes one more filler.
func TestGapSymbolsHandComputed(t *testing.T) {
	got := gapSymbols([]int32{0, 5, 40}, 50, 3)
	want := []uint16{0, 4, 7, 7, 7, 7, 6, 7}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestGridScaleFindsStoredScale: levels s·k made in float32 are recognised
// with the same s, and values off any grid are not.
func TestGridScaleFindsStoredScale(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		s := float32(rng.Float64() * 0.1)
		qmax := 1<<(1+rng.Intn(8)) - 1
		seen := map[float32]bool{}
		var vals []float32
		for i := 0; i < 50; i++ {
			k := rng.Intn(2*qmax+1) - qmax
			if v := s * float32(k); k != 0 && !seen[v] {
				seen[v] = true
				vals = append(vals, v)
			}
		}
		got, ok := gridScale(vals)
		if !ok {
			t.Fatalf("trial %d: no grid for scale %v, qmax %d", trial, s, qmax)
		}
		for _, v := range vals {
			if _, ok := gridLevel(v, got); !ok {
				t.Fatalf("trial %d: %v not on the found grid %v", trial, v, got)
			}
		}
	}
	if _, ok := gridScale([]float32{0.1, 0.31415927, 0.2718281}); ok {
		t.Fatal("irrational-looking values put on a grid")
	}
}
