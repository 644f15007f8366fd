package huffman

import (
	"math/rand"
	"testing"
)

func roundTrip(t *testing.T, syms []int, alphabet int) int {
	t.Helper()
	freq := make([]int, alphabet)
	for _, s := range syms {
		freq[s]++
	}
	lens := Lengths(freq)
	c, err := New(lens)
	if err != nil {
		t.Fatal(err)
	}
	var w Writer
	for _, s := range syms {
		c.Encode(&w, s)
	}
	b := w.Bytes()
	if got, want := len(b), (c.Bits(freq)+7)/8; got != want {
		t.Fatalf("encoded %d bytes, Bits says %d", got, want)
	}
	r := NewReader(b)
	for i, s := range syms {
		d, err := c.Decode(r)
		if err != nil {
			t.Fatalf("symbol %d: %v", i, err)
		}
		if d != s {
			t.Fatalf("symbol %d: decoded %d, encoded %d", i, d, s)
		}
	}
	if r.Remaining() >= 8 {
		t.Fatalf("%d bits left after the last symbol", r.Remaining())
	}
	return len(b)
}

// TestRoundTripProperty: decode(encode(x)) == x over random streams of many
// shapes: uniform, skewed, a single symbol, two symbols, wide alphabets.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 300; trial++ {
		alphabet := 1 + rng.Intn(1<<uint(rng.Intn(12)))
		n := rng.Intn(3000)
		skew := rng.Float64() * 3
		syms := make([]int, n)
		for i := range syms {
			// a geometric-ish draw: small symbols common when skew is large
			x := int(float64(alphabet) * pow(rng.Float64(), 1+skew*3))
			syms[i] = min(x, alphabet-1)
		}
		roundTrip(t, syms, alphabet)
	}
}

func pow(x, y float64) float64 {
	r := 1.0
	for y >= 1 {
		r *= x
		y--
	}
	return r
}

// TestLengthLimit: Fibonacci counts make the unlimited tree as deep as the
// alphabet; lengths stay ≤ MaxLen and the code still round-trips.
func TestLengthLimit(t *testing.T) {
	freq := make([]int, 40)
	a, b := 1, 1
	for i := range freq {
		freq[i] = a
		a, b = b, a+b
	}
	lens := Lengths(freq)
	var syms []int
	for s, l := range lens {
		if l == 0 || l > MaxLen {
			t.Fatalf("symbol %d: length %d", s, l)
		}
		syms = append(syms, s, s)
	}
	roundTrip(t, syms, len(freq))
}

// TestOptimalOnKnownCase: counts 1,1,2,4 give lengths 3,3,2,1 (a textbook case).
func TestOptimalOnKnownCase(t *testing.T) {
	got := Lengths([]int{1, 1, 2, 4})
	want := []uint8{3, 3, 2, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lengths %v, want %v", got, want)
		}
	}
	// canonical: the length-1 symbol is 0, length-2 is 10, length-3 are 110, 111
	c, _ := New(got)
	if c.codes[3] != 0 || c.codes[2] != 2 || c.codes[0] != 6 || c.codes[1] != 7 {
		t.Fatalf("codes %v", c.codes)
	}
}

func TestRejectsBadLengths(t *testing.T) {
	if _, err := New([]uint8{1, 1, 1}); err == nil {
		t.Error("over-subscribed lengths accepted")
	}
	if _, err := New([]uint8{MaxLen + 1, 1}); err == nil {
		t.Error("length above MaxLen accepted")
	}
	// a stream that ends mid-code is an error, not a panic
	c, _ := New([]uint8{2, 2, 2, 2})
	if _, err := c.Decode(NewReader(nil)); err == nil {
		t.Error("empty stream decoded")
	}
}

func TestBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var w Writer
	var vals []uint32
	var widths []uint
	for i := 0; i < 1000; i++ {
		n := uint(1 + rng.Intn(32))
		v := rng.Uint32() & (1<<n - 1)
		w.WriteBits(v, n)
		vals, widths = append(vals, v), append(widths, n)
	}
	r := NewReader(w.Bytes())
	for i := range vals {
		v, err := r.ReadBits(widths[i])
		if err != nil || v != vals[i] {
			t.Fatalf("value %d: %d %v, want %d", i, v, err, vals[i])
		}
	}
}
