package mnc_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mnistc/mnc"
	"mnistc/model"
)

// TestRoundTripExact: unpack(pack(x)) == x bit for bit, for every chain of
// compression steps, on networks of two, three and four layers.
func TestRoundTripExact(t *testing.T) {
	for _, sizes := range archs {
		for _, chain := range chains {
			name := chainName(sizes, chain)
			ck := compressed(t, sizes, chain...)
			b, f, err := mnc.Pack(ck)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			back, err := mnc.Decode(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if back.Version != mnc.Version || len(back.Tensors) != 2*len(sizes)-2 {
				t.Fatalf("%s: version %d, %d tensors", name, back.Version, len(back.Tensors))
			}
			got, err := back.Checkpoint()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sameBits(t, name, ck.Params, got.Params)
			if got.Meta.Source != ck.Meta.Source {
				t.Fatalf("%s: metadata lost: %q", name, got.Meta.Source)
			}
			if f.Size != len(b) {
				t.Fatalf("%s: Size %d, file %d", name, f.Size, len(b))
			}
		}
	}
}

// TestEncodingFollowsTheStructure: the encoder finds the structure the
// compression left — a b-bit grid per channel, a codebook, a sparse layout —
// in every layer, and the file is no larger than that structure's plain cost
// plus small overheads.
func TestEncodingFollowsTheStructure(t *testing.T) {
	cases := []struct {
		chain  []step
		w1Map  mnc.Map
		bits   int // at most, every weight tensor
		sparse bool
	}{
		{[]step{symmetric(8, true)}, mnc.Grid, 8, false},
		{[]step{symmetric(4, false)}, mnc.Grid, 4, false},
		{[]step{affine(8, true)}, mnc.Grid, 8, false},
		{[]step{codebook(3, false)}, mnc.Codebook, 3, false},
		{[]step{binarize()}, mnc.Codebook, 1, false},
		{[]step{prune(0.1), symmetric(4, true)}, mnc.Grid, 4, true},
		{[]step{prune(0.1)}, mnc.Float, 32, true},
	}
	for _, sizes := range [][]int{{784, 128, 10}, {784, 40, 30, 10}, {784, 32, 24, 16, 10}} {
		for _, c := range cases {
			name := chainName(sizes, c.chain)
			ck := compressed(t, sizes, c.chain...)
			b, f, err := mnc.Pack(ck)
			if err != nil {
				t.Fatal(err)
			}
			layers, err := f.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if w1 := layers[0].W; w1.Map != c.w1Map {
				t.Errorf("%s: w1 stored as %s", name, w1.Describe())
			}
			for _, l := range layers {
				if w := l.W; (c.w1Map != mnc.Float && (w.Map == mnc.Float || w.Bits > c.bits)) || w.Sparse != c.sparse {
					t.Errorf("%s: %s stored as %s", name, w.Name, w.Describe())
				}
			}
			// bound: codes at their width (plus, when sparse, 8-bit gaps),
			// one 32-bit scale and offset per channel, float biases, 2 kB of
			// metadata and framing
			kept, outs := 0, 0
			for _, l := range ck.Params.Layers {
				outs += l.Out()
				for _, v := range l.W.Data {
					if v != 0 || !c.sparse {
						kept++
					}
				}
			}
			bound := kept*(c.bits+map[bool]int{true: 8}[c.sparse])/8 + 8*outs + 4*outs + 2048
			if len(b) > bound {
				t.Errorf("%s: %d bytes, more than the %d its structure needs", name, len(b), bound)
			}
		}
	}
	// float weights stay float32 (no grid or codebook reproduces them more cheaply)
	_, f, _ := mnc.Pack(compressed(t, archs[1]))
	for _, l := range mustLayers(t, f) {
		if tn := l.W; tn.Map != mnc.Float {
			t.Errorf("unquantized %s stored as %s", tn.Name, tn.Describe())
		}
	}
}

// TestNegativeZeroKept: −0 and +0 differ in their bits; a packed file keeps
// which was which, in any layer.
func TestNegativeZeroKept(t *testing.T) {
	ck := compressed(t, []int{784, 8, 6, 10}, symmetric(4, false))
	for _, l := range ck.Params.Layers {
		l.W.Data[3] = float32(math.Copysign(0, -1))
		l.W.Data[5] = 0
	}
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := mnc.Decode(b)
	got, _ := f.Checkpoint()
	for _, l := range got.Params.Layers {
		if !math.Signbit(float64(l.W.Data[3])) || math.Signbit(float64(l.W.Data[5])) {
			t.Fatalf("%s: zeros came back as %v, %v", l.W.Name, l.W.Data[3], l.W.Data[5])
		}
	}
}

// smallFile is a packed 784-2-10 network, pruned and quantized; deepFile a
// 784-3-2-4-10 one, mixing encodings from layer to layer.
func smallFile(t testing.TB) []byte {
	return packed(t, compressed(t, []int{784, 2, 10}, prune(0.3), symmetric(3, true)))
}

func deepFile(t testing.TB) []byte {
	ck := compressed(t, []int{784, 3, 2, 4, 10}, prune(0.3))
	symmetric(3, true).Apply(&ck.Params.Layers[0].W)
	codebook(2, false).Apply(&ck.Params.Layers[2].W)
	ck.Meta.ActQuant = &model.ActQuant{Bits: 6, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 2}, {Lo: 0, Hi: 3}, {Lo: 0, Hi: 4}}}
	return packed(t, ck)
}

func packed(t testing.TB, ck model.Checkpoint) []byte {
	t.Helper()
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryFlippedBitDetected flips each bit of small files in turn: every
// one is refused with an error (the header and every section carry a CRC-32).
func TestEveryFlippedBitDetected(t *testing.T) {
	for _, b := range [][]byte{smallFile(t), deepFile(t)} {
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
}

// TestTruncationRefused: every proper prefix is an error, never a panic.
func TestTruncationRefused(t *testing.T) {
	for _, b := range [][]byte{smallFile(t), deepFile(t)} {
		for n := 0; n < len(b); n++ {
			if _, err := mnc.Decode(b[:n]); err == nil {
				t.Fatalf("a %d-byte prefix of %d decoded", n, len(b))
			}
		}
		if _, err := mnc.Decode(append(bytes.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "after the last section") {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	b := smallFile(t)
	bad := bytes.Clone(b)
	copy(bad, "PK\x03\x04")
	if _, err := mnc.Decode(bad); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("bad magic: %v", err)
	}
	// versions before the first and after this one, with valid header checksums
	for _, v := range []uint16{0, mnc.Version + 1, 0xffff} {
		want := "version " + strconv.Itoa(int(v))
		if _, err := mnc.Decode(withVersion(b, v)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("version %d: %v", v, err)
		}
	}
	if _, err := mnc.Decode(header(mnc.Version, 0)); err == nil || !strings.Contains(err.Error(), "no tensors") {
		t.Errorf("a header alone: %v", err)
	}
	if _, err := mnc.Decode(header(mnc.Version, mnc.MaxSections+1)); err == nil || !strings.Contains(err.Error(), "sections, more than") {
		t.Errorf("%d sections: %v", mnc.MaxSections+1, err)
	}
}

// TestVersion1HoldsTwoLayers: a version-1 file is the two-layer network;
// the same sections under version 1 with three layers are refused.
func TestVersion1HoldsTwoLayers(t *testing.T) {
	if _, err := mnc.Decode(withVersion(smallFile(t), 1)); err != nil {
		t.Fatalf("two layers as version 1: %v", err)
	}
	ck := compressed(t, []int{784, 3, 2, 10}, symmetric(4, true))
	if _, err := mnc.Decode(withVersion(packed(t, ck), 1)); err == nil || !strings.Contains(err.Error(), "version-1 file holds 2 layers") {
		t.Fatalf("three layers as version 1: %v", err)
	}
}

// TestDepthBound: a network of model.MaxDepth layers packs and reads back;
// one more is refused by Pack, and its sections cannot be framed in a file.
func TestDepthBound(t *testing.T) {
	sizes := []int{784}
	for len(sizes) < model.MaxDepth {
		sizes = append(sizes, 2+len(sizes)%3)
	}
	sizes = append(sizes, 10)
	ck := compressed(t, sizes, symmetric(2, false))
	b := packed(t, ck)
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "max depth", ck.Params, got.Params)

	deeper := compressed(t, append([]int{784, 2}, sizes[1:]...))
	if _, _, err := mnc.Pack(deeper); err == nil || !strings.Contains(err.Error(), "at most 64 layers") {
		t.Fatalf("%d layers: %v", deeper.Params.Depth(), err)
	}
	if 1+2*(model.MaxDepth+1) <= mnc.MaxSections {
		t.Fatalf("MaxSections %d frames more than %d layers", mnc.MaxSections, model.MaxDepth)
	}
}

// TestMetadataChecked: activation ranges must be one per layer input (the
// recipe's too), recorded sizes those of the tensors; Pack refuses
// otherwise, naming the field, as model's checkpoint reader would. The
// recipe's hidden widths may differ (neuron pruning removes units).
func TestMetadataChecked(t *testing.T) {
	ck := compressed(t, []int{784, 5, 4, 10}, symmetric(4, true))
	ck.Meta.ActQuant = &model.ActQuant{Bits: 8, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}, {Lo: 0, Hi: 2}}}
	if _, _, err := mnc.Pack(ck); err == nil || !strings.Contains(err.Error(), "actquant.ranges holds 2 ranges, want 3") {
		t.Errorf("two ranges for three layers: %v", err)
	}
	ck.Meta.ActQuant.Ranges = append(ck.Meta.ActQuant.Ranges, model.Range{Lo: 0, Hi: 3})
	ck.Meta.Train = &model.TrainConfig{Layers: []int{8, 8}, ActQuant: &model.ActQuant{Bits: 8, Calib: "minmax", Ranges: ck.Meta.ActQuant.Ranges[:1]}}
	if _, _, err := mnc.Pack(ck); err == nil || !strings.Contains(err.Error(), "train.actquant.ranges holds 1 ranges") {
		t.Errorf("recipe's ranges: %v", err)
	}
	ck.Meta.Train.ActQuant = nil
	ck.Meta.Sizes = []int{784, 5, 5, 10}
	if _, _, err := mnc.Pack(ck); err == nil || !strings.Contains(err.Error(), "sizes [784 5 5 10] do not match the tensors (784-5-4-10)") {
		t.Errorf("wrong sizes: %v", err)
	}
	ck.Meta.Sizes = nil
	ck.Meta.History = []model.EpochStats{{Epoch: 1}}
	ck.Meta = mnc.Lean(ck.Meta) // train.layers [8 8]: the recipe before neuron pruning
	f, err := mnc.Decode(packed(t, ck))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Meta.ActQuant.Ranges, ck.Meta.ActQuant.Ranges) || f.Meta.History != nil || !slices.Equal(f.Meta.Train.Layers, []int{8, 8}) {
		t.Fatalf("lean metadata came back as %+v", f.Meta)
	}
}

// TestHugeClaimRefusedBeforeAllocating: short, well-framed files whose
// tensor claims 2^31 entries, or 2^24 kept entries behind one index symbol,
// are refused without allocating them.
func TestHugeClaimRefusedBeforeAllocating(t *testing.T) {
	payload := []byte{2, 'w', '1', 2}                               // name "w1", rank 2
	payload = append(payload, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0)   // 2^31 × 1, float32
	sparse := []byte{2, 'w', '1', 2, 0x80, 0x20, 0x80, 0x20, 0}     // 4096 × 4096 float32
	sparse = append(sparse, 1, 16, 0x80, 0x80, 0x80, 0x08, 1, 0, 0) // sparse, w16, 2^24 kept, 1 symbol
	for _, p := range [][]byte{payload, sparse} {
		file := append(header(mnc.Version, 1), section(2, p)...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := mnc.Decode(file)
		runtime.ReadMemStats(&after)
		if err == nil || !(strings.Contains(err.Error(), "more than") || strings.Contains(err.Error(), "index symbols")) {
			t.Fatalf("got %v", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("allocated %d bytes for a %d-byte file (%v)", grew, len(file), err)
		}
	}
	// and the same claim inside the element limit but with no bytes behind it
	payload = []byte{2, 'w', '1', 2, 0x80, 0x80, 0x40, 1, 0} // 2^20 × 1 float32, 0 bytes of data
	if _, err := mnc.Decode(append(header(mnc.Version, 1), section(2, payload)...)); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("got %v", err)
	}
}

func TestPackRefusesNonFinite(t *testing.T) {
	ck := compressed(t, []int{784, 4, 3, 10})
	ck.Params.Layers[2].W.Data[0] = float32(math.NaN())
	if _, _, err := mnc.Pack(ck); err == nil || !strings.Contains(err.Error(), "w3[0]") {
		t.Fatalf("got %v", err)
	}
}

// header returns a valid header for version v with n sections.
func header(v, n uint16) []byte {
	h := []byte(mnc.Magic)
	h = append(h, byte(v), byte(v>>8), byte(n), byte(n>>8))
	c := crc(h)
	return append(h, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
}

// withVersion returns b with its header's version set to v (and the
// header checksum to match).
func withVersion(b []byte, v uint16) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint16(c[4:6], v)
	binary.LittleEndian.PutUint32(c[8:12], crc(c[:8]))
	return c
}

func section(kind byte, p []byte) []byte {
	n := len(p)
	s := append([]byte{kind, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, p...)
	c := crc(s)
	return append(s, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
}

func mustLayers(t testing.TB, f *mnc.File) []mnc.Layer {
	t.Helper()
	layers, err := f.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return layers
}
