package mnc_test

import (
	"math"
	"testing"

	"mnistc/mnc"
)

// FuzzDecode: any bytes either decode or give an error — no panic, no hang,
// no allocation beyond what the bytes justify — and whatever decodes
// re-encodes to a file that decodes to the same values.
func FuzzDecode(f *testing.F) {
	f.Add(smallFile(f))
	for _, chain := range [][]string{nil, {"quantize:bits=1"}, {"quantize:bits=3,scheme=kmeans,granularity=channel"}} {
		b, _, err := mnc.Pack(compressed(f, 2, chain...))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
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
