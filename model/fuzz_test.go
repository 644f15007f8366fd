package model

import (
	"math/rand"
	"testing"
)

// FuzzDecodeCheckpoint: any bytes either decode to a valid network or give
// an error; no panic, and member sizes are bounded before reading.
func FuzzDecodeCheckpoint(f *testing.F) {
	good, err := Checkpoint{Params: InitGlorot(2, rand.New(rand.NewSource(1))), Meta: Meta{Source: "seed"}}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		if err := c.Params.Validate(); err != nil {
			t.Fatalf("decoded an invalid network: %v", err)
		}
	})
}
