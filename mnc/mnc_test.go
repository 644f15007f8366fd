package mnc_test

import (
	"bytes"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/mnc"
	"mnistc/model"
)

// compressed returns Glorot weights of hidden width h after the passes
// (which must not need calibration data).
func compressed(t testing.TB, h int, specs ...string) model.Checkpoint {
	t.Helper()
	p := model.InitGlorot(h, rand.New(rand.NewSource(7)))
	for i := range p.B1.Data { // non-zero biases, as after training
		p.B1.Data[i] = float32(i%7) * 0.01
	}
	st := compress.State{Params: p, Enc: map[string]compress.Encoding{}}
	passes, err := compress.Build(specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range passes {
		if st, err = ps.Apply(st, compress.Env{}); err != nil {
			t.Fatal(err)
		}
	}
	return model.Checkpoint{Params: st.Params, Meta: model.Meta{Source: "test " + strings.Join(specs, " ")}}
}

var chains = [][]string{
	nil,
	{"quantize:bits=8,granularity=channel"},
	{"quantize:bits=8"},
	{"quantize:bits=4,granularity=channel,range=mse"},
	{"quantize:bits=8,scheme=affine,granularity=channel"},
	{"quantize:bits=3,scheme=affine"},
	{"quantize:bits=1"},
	{"quantize:bits=2,scheme=ternary"},
	{"quantize:bits=3,scheme=kmeans"},
	{"quantize:bits=2,scheme=kmeans,granularity=channel"},
	{"quantize:bits=4,scheme=literal"},
	{"prune:keep=0.5"},
	{"prune:keep=0.05,scope=global"},
	{"prune:keep=0.1", "quantize:bits=4,granularity=channel"},
	{"prune:keep=0.02", "quantize:bits=5,scheme=kmeans"},
	{"prune:keep=0.3,method=neuron"},
	{"clip:threshold=0.05"},
	{"prune:keep=0.1", "quantize:bits=1"},
}

// TestRoundTripExact: unpack(pack(x)) == x bit for bit, for every pass chain.
func TestRoundTripExact(t *testing.T) {
	for _, chain := range chains {
		ck := compressed(t, 32, chain...)
		b, f, err := mnc.Pack(ck)
		if err != nil {
			t.Fatalf("%v: %v", chain, err)
		}
		back, err := mnc.Decode(b)
		if err != nil {
			t.Fatalf("%v: %v", chain, err)
		}
		got, err := back.Checkpoint()
		if err != nil {
			t.Fatalf("%v: %v", chain, err)
		}
		want, have := ck.Params.Tensors(), got.Params.Tensors()
		for i := range want {
			for j := range want[i].Data {
				if math.Float32bits(want[i].Data[j]) != math.Float32bits(have[i].Data[j]) {
					t.Fatalf("%v: %s[%d] = %v after the round trip, was %v", chain, want[i].Name, j, have[i].Data[j], want[i].Data[j])
				}
			}
		}
		if got.Meta.Source != ck.Meta.Source {
			t.Fatalf("%v: metadata lost: %q", chain, got.Meta.Source)
		}
		if f.Size != len(b) {
			t.Fatalf("%v: Size %d, file %d", chain, f.Size, len(b))
		}
	}
}

// TestEncodingFollowsThePasses: the encoder finds the structure the passes
// left — a b-bit grid per channel, a codebook, a sparse layout — and the
// file is no larger than that structure's plain cost plus small overheads.
func TestEncodingFollowsThePasses(t *testing.T) {
	cases := []struct {
		chain  []string
		maxMap mnc.Map // w1's map
		bits   int     // at most
		sparse bool
	}{
		{[]string{"quantize:bits=8,granularity=channel"}, mnc.Grid, 8, false},
		{[]string{"quantize:bits=4"}, mnc.Grid, 4, false},
		{[]string{"quantize:bits=8,scheme=affine,granularity=channel"}, mnc.Grid, 8, false},
		{[]string{"quantize:bits=3,scheme=kmeans"}, mnc.Codebook, 3, false},
		{[]string{"quantize:bits=1"}, mnc.Codebook, 1, false},
		{[]string{"prune:keep=0.1", "quantize:bits=4,granularity=channel"}, mnc.Grid, 4, true},
		{[]string{"prune:keep=0.1"}, mnc.Float, 32, true},
	}
	for _, c := range cases {
		ck := compressed(t, 128, c.chain...)
		b, f, err := mnc.Pack(ck)
		if err != nil {
			t.Fatal(err)
		}
		w1 := f.Tensor("w1")
		if w1.Map != c.maxMap || (w1.Map != mnc.Float && w1.Bits > c.bits) || w1.Sparse != c.sparse {
			t.Errorf("%v: w1 stored as %s", c.chain, w1.Describe())
		}
		// bound: codes at their width (plus, when sparse, 8-bit gaps), one
		// 32-bit scale and offset per channel, float biases, 2 kB of metadata
		// and framing
		n := ck.Params.Count()
		kept := n
		if c.sparse {
			kept = 0
			for _, v := range ck.Params.W1.Data {
				if v != 0 {
					kept++
				}
			}
			kept += len(ck.Params.W2.Data)
		}
		bound := kept*(c.bits+map[bool]int{true: 8}[c.sparse])/8 + 8*(128+10) + 4*(128+10) + 2048
		if len(b) > bound {
			t.Errorf("%v: %d bytes, more than the %d its structure needs", c.chain, len(b), bound)
		}
	}
	// float weights stay float32 (no grid or codebook reproduces them more cheaply)
	_, f, _ := mnc.Pack(compressed(t, 32))
	if w1 := f.Tensor("w1"); w1.Map != mnc.Float {
		t.Errorf("unquantized w1 stored as %s", w1.Describe())
	}
}

// TestNegativeZeroKept: −0 and +0 differ in their bits; a packed file keeps
// which was which.
func TestNegativeZeroKept(t *testing.T) {
	ck := compressed(t, 8, "quantize:bits=4")
	ck.Params.W1.Data[3] = float32(math.Copysign(0, -1))
	ck.Params.W1.Data[5] = 0
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := mnc.Decode(b)
	got, _ := f.Checkpoint()
	if !math.Signbit(float64(got.Params.W1.Data[3])) || math.Signbit(float64(got.Params.W1.Data[5])) {
		t.Fatalf("zeros came back as %v, %v", got.Params.W1.Data[3], got.Params.W1.Data[5])
	}
}

func smallFile(t testing.TB) []byte {
	ck := compressed(t, 2, "prune:keep=0.3", "quantize:bits=3,granularity=channel")
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryFlippedBitDetected flips each bit of a small file in turn: every
// one is refused with an error (the header and every section carry a CRC-32).
func TestEveryFlippedBitDetected(t *testing.T) {
	b := smallFile(t)
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := mnc.Decode(c); err == nil {
				t.Fatalf("byte %d bit %d flipped: decoded without error", i, bit)
			}
		}
	}
	t.Logf("%d bytes × 8 bits, every flip refused", len(b))
}

// TestTruncationRefused: every proper prefix is an error, never a panic.
func TestTruncationRefused(t *testing.T) {
	b := smallFile(t)
	for n := 0; n < len(b); n++ {
		if _, err := mnc.Decode(b[:n]); err == nil {
			t.Fatalf("a %d-byte prefix of %d decoded", n, len(b))
		}
	}
	if _, err := mnc.Decode(append(bytes.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "after the last section") {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	b := smallFile(t)
	bad := bytes.Clone(b)
	copy(bad, "PK\x03\x04")
	if _, err := mnc.Decode(bad); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("bad magic: %v", err)
	}
	// a future version with a valid header checksum
	v2 := header(2, 1)
	if _, err := mnc.Decode(v2); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("unknown version: %v", err)
	}
}

// header returns a valid header for version v with n sections.
func header(v, n uint16) []byte {
	h := []byte(mnc.Magic)
	h = append(h, byte(v), byte(v>>8), byte(n), byte(n>>8))
	c := crc(h)
	return append(h, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
}

// TestHugeClaimRefusedBeforeAllocating: a short, well-framed file whose
// tensor claims 2^31 entries is refused without allocating them.
func TestHugeClaimRefusedBeforeAllocating(t *testing.T) {
	payload := []byte{2, 'w', '1', 2}                             // name "w1", rank 2
	payload = append(payload, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0) // 2^31 × 1, float32
	file := append(header(1, 1), section(2, payload)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := mnc.Decode(file)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("got %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte file", grew, len(file))
	}
	// and the same claim inside the element limit but with no bytes behind it
	payload = []byte{2, 'w', '1', 2, 0x80, 0x80, 0x40, 1, 0} // 2^20 × 1 float32, 0 bytes of data
	if _, err := mnc.Decode(append(header(1, 1), section(2, payload)...)); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("got %v", err)
	}
}

func section(kind byte, p []byte) []byte {
	n := len(p)
	s := append([]byte{kind, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, p...)
	c := crc(s)
	return append(s, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
}

func TestPackRefusesNonFinite(t *testing.T) {
	ck := compressed(t, 4)
	ck.Params.W2.Data[0] = float32(math.NaN())
	if _, _, err := mnc.Pack(ck); err == nil || !strings.Contains(err.Error(), "w2[0]") {
		t.Fatalf("got %v", err)
	}
}
