package mnc_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mnistc/mnc"
	"mnistc/model"
)

// v1File is testdata/v1.mnc, written by the version-1 code (commit 47a06ef,
// before networks had depth): the seed-1 baseline 784-128-10 of
// results/article/baselines after prune:keep=w1:0.05/w2:0.5 →
// quantize:bits=4,granularity=channel, with 8-bit activation ranges (minmax
// over the first 1,000 test images: input [0, 1], hidden [0, 6.6212583])
// and the baseline's lean metadata; 7,713 bytes.
func v1File(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/v1.mnc")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sections splits a file into its header and its sections, framing
// included.
func sections(t testing.TB, b []byte) (header []byte, secs [][]byte) {
	t.Helper()
	header, rest := b[:12], b[12:]
	for len(rest) > 0 {
		n := 9 + int(binary.LittleEndian.Uint32(rest[1:5]))
		secs, rest = append(secs, rest[:n]), rest[n:]
	}
	if len(secs) != int(binary.LittleEndian.Uint16(header[6:8])) {
		t.Fatalf("%d sections, the header says %d", len(secs), binary.LittleEndian.Uint16(header[6:8]))
	}
	return header, secs
}

// metaJSON inflates a metadata section's JSON.
func metaJSON(t testing.TB, sec []byte) []byte {
	t.Helper()
	if sec[0] != 1 || sec[5] != 1 {
		t.Fatalf("section kind %d, compression %d: want a deflated metadata section", sec[0], sec[5])
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(sec[6 : len(sec)-4])))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestVersion1File: a version-1 file reads as a two-layer network whose
// activation ranges are the "input" and "hidden" ranges its metadata wrote
// and whose recipe's "hidden": 128 is layers [128].
func TestVersion1File(t *testing.T) {
	b := v1File(t)
	f, err := mnc.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := f.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || !slices.Equal(mnc.Sizes(layers), []int{784, 128, 10}) {
		t.Fatalf("version %d, sizes %v", f.Version, mnc.Sizes(layers))
	}
	_, secs := sections(t, b)
	var old struct {
		Train    struct{ Hidden int }
		ActQuant struct{ Input, Hidden model.Range }
	}
	if err := json.Unmarshal(metaJSON(t, secs[0]), &old); err != nil {
		t.Fatal(err)
	}
	if old.Train.Hidden != 128 || old.ActQuant.Hidden.Hi <= 0 {
		t.Fatalf("the fixture's metadata is not the old kind: %+v", old)
	}
	aq := f.Meta.ActQuant
	if aq == nil || aq.Bits != 8 || !slices.Equal(aq.Ranges, []model.Range{old.ActQuant.Input, old.ActQuant.Hidden}) {
		t.Fatalf("actquant read as %+v, want ranges [%v %v]", aq, old.ActQuant.Input, old.ActQuant.Hidden)
	}
	if f.Meta.Train == nil || !slices.Equal(f.Meta.Train.Layers, []int{128}) {
		t.Fatalf("train read as %+v", f.Meta.Train)
	}
	ck, err := f.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if ck.Params.Arch() != "784-128-10" {
		t.Fatalf("unpacked as %s", ck.Params.Arch())
	}
}

// TestVersion1Repacks: packing what a version-1 file holds gives the same
// bytes but for the version (header bytes 4–5), the header's checksum
// (8–11) and the metadata section, whose JSON now writes "ranges" and
// "layers" for "input"/"hidden" and "hidden" — and whose content is
// unchanged. Every tensor section is identical: the encoder chose the same
// encodings, streams and index widths.
func TestVersion1Repacks(t *testing.T) {
	old := v1File(t)
	f, err := mnc.Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := f.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := mnc.Pack(ck)
	if err != nil {
		t.Fatal(err)
	}
	oh, olds := sections(t, old)
	nh, ns := sections(t, b)
	for _, i := range []int{0, 1, 2, 3, 6, 7} { // magic, section count
		if oh[i] != nh[i] {
			t.Errorf("header byte %d: %#x, was %#x", i, nh[i], oh[i])
		}
	}
	if binary.LittleEndian.Uint16(nh[4:6]) != mnc.Version || binary.LittleEndian.Uint16(oh[4:6]) != 1 {
		t.Errorf("versions %d → %d", binary.LittleEndian.Uint16(oh[4:6]), binary.LittleEndian.Uint16(nh[4:6]))
	}
	if len(ns) != len(olds) {
		t.Fatalf("%d sections, were %d", len(ns), len(olds))
	}
	for i := 1; i < len(olds); i++ {
		if !bytes.Equal(ns[i], olds[i]) {
			t.Errorf("section %d (%s) changed: %d bytes, were %d", i+1, f.Tensors[i-1].Name, len(ns[i]), len(olds[i]))
		}
	}
	var om, nm model.Meta
	if err := json.Unmarshal(metaJSON(t, olds[0]), &om); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(metaJSON(t, ns[0]), &nm); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(om, nm) {
		t.Errorf("metadata changed in content: %+v, was %+v", nm, om)
	}
	t.Logf("metadata JSON %d → %d bytes (deflated section %d → %d); file %d → %d bytes",
		len(metaJSON(t, olds[0])), len(metaJSON(t, ns[0])), len(olds[0]), len(ns[0]), len(old), len(b))
}

// TestDecodeErrorKind: a damaged file is an ErrFormat.
func TestDecodeErrorKind(t *testing.T) {
	if _, err := mnc.Decode([]byte("MNC? not a file")); !errors.Is(err, mnc.ErrFormat) {
		t.Errorf("%v is not an ErrFormat", err)
	}
}

// TestPackedGivenAsCheckpoint: model's reader names a packed file for what
// it is (it keeps its own copy of the magic, which must match).
func TestPackedGivenAsCheckpoint(t *testing.T) {
	b, err := os.ReadFile("testdata/v1.mnc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := model.Decode(b); err == nil || !strings.Contains(err.Error(), "packed .mnc model") {
		t.Errorf("model.Decode of a .mnc: %v", err)
	}
}

// TestOversizedMetadata: metadata beyond what a file holds is refused by
// name (not as "a bug"), and lean metadata cuts a long source note.
func TestOversizedMetadata(t *testing.T) {
	p := model.InitGlorot([]int{20, 4, 3}, rand.New(rand.NewSource(1)))
	big := model.Meta{Source: strings.Repeat("x", mnc.MaxMeta+1)}
	if _, _, err := mnc.Pack(model.Checkpoint{Params: p, Meta: big}); err == nil || !strings.Contains(err.Error(), "pack --lean") {
		t.Errorf("oversized metadata: %v", err)
	}
	if _, _, err := mnc.Pack(model.Checkpoint{Params: p, Meta: mnc.Lean(big)}); err != nil {
		t.Errorf("lean metadata of the same checkpoint: %v", err)
	}
}
