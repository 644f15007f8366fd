package mnc_test

import (
	"testing"

	"mnistc/mnc"
)

// TestStatsAgree: the stream figures the encoder reports are the ones the
// decoder reads back from the bytes.
func TestStatsAgree(t *testing.T) {
	for _, chain := range chains {
		ck := compressed(t, archs[2], chain...)
		b, packed, err := mnc.Pack(ck)
		if err != nil {
			t.Fatal(err)
		}
		enc := &mnc.File{Meta: packed.Meta, Tensors: packed.Tensors}
		if _, err := enc.Encode(); err != nil { // fills Stats as the encoder sees them
			t.Fatal(err)
		}
		dec, _ := mnc.Decode(b)
		for i := range enc.Tensors {
			if enc.Tensors[i].Stats != dec.Tensors[i].Stats {
				t.Fatalf("%s %s: encoder %+v, decoder %+v", chainName(archs[2], chain), enc.Tensors[i].Name, enc.Tensors[i].Stats, dec.Tensors[i].Stats)
			}
		}
	}
}
