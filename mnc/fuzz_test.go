package mnc_test

import (
	"math"
	"testing"

	"mnistc/mnc"
)

// FuzzDecode: any bytes either decode or give an error — no panic, no hang,
// no allocation beyond what the bytes justify — and whatever decodes is a
// network (Layers) and re-encodes, in the current version, to a file that
// decodes to the same values.
func FuzzDecode(f *testing.F) {
	f.Add(smallFile(f))
	f.Add(deepFile(f))
	f.Add(v1File(f))
	for _, chain := range [][]step{nil, {binarize()}, {codebook(3, true)}} {
		f.Add(packed(f, compressed(f, []int{784, 2, 10}, chain...)))
		f.Add(packed(f, compressed(f, []int{784, 2, 3, 10}, chain...)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := mnc.Decode(b)
		if err != nil {
			return
		}
		again, err := file.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := mnc.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if _, err := file.Layers(); err != nil {
			t.Fatalf("decoded, but not a network: %v", err)
		}
		if len(back.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors, then %d", len(file.Tensors), len(back.Tensors))
		}
		for i := range file.Tensors {
			a, c := file.Tensors[i].Dense(), back.Tensors[i].Dense()
			for j := range a {
				if math.Float32bits(a[j]) != math.Float32bits(c[j]) {
					t.Fatalf("tensor %d entry %d: %v then %v", i, j, a[j], c[j])
				}
			}
		}
	})
}
