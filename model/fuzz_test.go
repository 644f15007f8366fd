package model

import (
	"math/rand"
	"testing"
)

// FuzzDecodeCheckpoint: any bytes either decode to a valid network or give
// an error; no panic, and member sizes are bounded before reading.
func FuzzDecodeCheckpoint(f *testing.F) {
	good, err := Checkpoint{Params: InitGlorot([]int{784, 2, 10}, rand.New(rand.NewSource(1))), Meta: Meta{Source: "seed"}}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	deep, err := Checkpoint{Params: InitGlorot([]int{784, 3, 2, 10}, rand.New(rand.NewSource(1))), Meta: Meta{Source: "seed",
		ActQuant: &ActQuant{Bits: 4, Calib: "minmax", Ranges: []Range{{0, 1}, {0, 2}, {0, 3}}}}}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(deep)
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		if err := c.Params.Validate(); err != nil {
			t.Fatalf("decoded an invalid network: %v", err)
		}
		// whatever decodes must evaluate without a panic
		x := make([]float32, 2*c.Params.Inputs())
		for i := range x {
			x[i] = float32(i%3) / 2
		}
		Forward(c.Params, x, 2, c.Meta.ActQuant)
	})
}
