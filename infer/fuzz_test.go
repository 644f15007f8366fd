package infer

import (
	"math"
	"math/rand"
	"os"
	"testing"

	"mnistc/mnc"
	"mnistc/model"
)

// FuzzNew: whatever decodes either builds an evaluator or gives an error —
// never a panic — and the evaluator's logits on random inputs are finite
// where model.Forward's are, and agree with them in their predictions.
func FuzzNew(f *testing.F) {
	if b, err := os.ReadFile("../mnc/testdata/v1.mnc"); err == nil {
		f.Add(b)
	}
	rng := rand.New(rand.NewSource(2))
	for _, sizes := range [][]int{{20, 3, 2}, {12, 4, 3, 5}, {9, 2, 2, 2, 3}} {
		for _, chain := range [][]step{nil, {prune(0.3)}, {symmetric(4, true)}, {codebook(2, false)}, {prune(0.5), symmetric(16, true)}} {
			for _, act := range []int{0, 6, 16} {
				ck := model.Checkpoint{Params: network(sizes, 1, chain...)}
				if act > 0 {
					ck.Meta.ActQuant = minmax(ck.Params, act, randomInputs(50, sizes[0], rng), 50)
				}
				b, _, err := mnc.Pack(ck)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := mnc.Decode(b)
		if err != nil {
			return
		}
		net, err := New(file)
		if err != nil {
			return
		}
		ck, err := file.Checkpoint()
		if err != nil {
			t.Fatalf("New accepted a file that does not unpack: %v", err)
		}
		const n = 20
		x := randomInputs(n, net.Inputs(), rand.New(rand.NewSource(3)))
		got := net.Forward(x, n)
		want := model.Forward(ck.Params, x, n, ck.Meta.ActQuant)
		c := net.Classes()
		for i := 0; i < n; i++ {
			for k := 0; k < c; k++ {
				g, w := float64(got[i*c+k]), float64(want[i*c+k])
				if math.IsInf(w, 0) || math.IsNaN(w) {
					continue
				}
				if math.IsNaN(g) || (ck.Meta.ActQuant == nil && math.Abs(g-w) > 1e-3*(1+math.Abs(w))) {
					t.Fatalf("image %d logit %d: %v, model.Forward %v", i, k, g, w)
				}
			}
		}
	})
}
