package mnc_test

import (
	"testing"

	"mnistc/mnc"
)

// TestStatsAgree: the stream figures the encoder reports are the ones the
// decoder reads back from the bytes.
func TestStatsAgree(t *testing.T) {
	for _, chain := range chains {
		ck := compressed(t, 32, chain...)
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
				t.Fatalf("%v %s: encoder %+v, decoder %+v", chain, enc.Tensors[i].Name, enc.Tensors[i].Stats, dec.Tensors[i].Stats)
			}
		}
	}
}
