package mnc

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"mnistc/internal/errkind"
	"slices"
	"strings"

	"mnistc/model"
)

// File is a decoded .mnc file: the checkpoint's metadata and its tensors,
// w1, b1, …, wN, bN in that order (Layers pairs them up).
type File struct {
	// Version is the format version the file was read in, or written in
	// by Encode.
	Version int
	Meta    model.Meta
	Tensors []Tensor
	// MetaBytes is the stored size of the metadata section's payload.
	MetaBytes int
	// Size is the file's length in bytes.
	Size int
}

// Pack returns the .mnc bytes of c: every tensor in its smallest exact
// encoding, checked by decoding the result and comparing every value bit for
// bit. It refuses a checkpoint that does not validate (non-finite values,
// inconsistent shapes).
func Pack(c model.Checkpoint) ([]byte, *File, error) {
	if err := c.Params.Validate(); err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	if meta, err := json.Marshal(c.Meta); err == nil && len(meta) > MaxMeta {
		return nil, nil, fmt.Errorf("pack: the metadata is %d bytes of JSON, more than the %d a .mnc file holds (a long history or source?); pack --lean keeps only what a deployed model needs", len(meta), MaxMeta)
	}
	f := &File{Meta: c.Meta}
	for _, t := range c.Params.Tensors() {
		f.Tensors = append(f.Tensors, best(t.Name, t.Shape, t.Data))
	}
	b, err := f.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	back, err := Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: the packed bytes do not decode (a bug): %w", err)
	}
	got, err := back.Checkpoint()
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	want, have := c.Params.Tensors(), got.Params.Tensors()
	for i := range want {
		for j, x := range want[i].Data {
			if math.Float32bits(x) != math.Float32bits(have[i].Data[j]) {
				return nil, nil, fmt.Errorf("pack: %s[%d] = %v packs as %v (a bug): refusing an inexact file", want[i].Name, j, x, have[i].Data[j])
			}
		}
	}
	return b, back, nil
}

// Lean keeps the metadata a deployed model needs — the activation ranges
// (one per layer input), the training recipe and where the weights came
// from — and drops the training history, the test evaluation and the pass
// records. The layer sizes need no field: the tensors' shapes hold them.
func Lean(m model.Meta) model.Meta {
	src := m.Source
	if len(src) > maxLeanSource { // a note, not a payload
		src = strings.ToValidUTF8(src[:maxLeanSource], "") + "…"
	}
	return model.Meta{Train: m.Train, ActQuant: m.ActQuant, Source: src}
}

// maxLeanSource bounds the source note lean metadata keeps.
const maxLeanSource = 1000

// best returns the smallest encoding of one tensor.
func best(name string, shape []int, v []float32) Tensor {
	var win Tensor
	size := math.MaxInt
	for _, c := range candidates(name, shape, v) {
		if n := len(encodeTensor(&c)); n < size {
			win, size = c, n
		}
	}
	return win
}

// Encode serializes f in the current version: header, the metadata
// section, one section per tensor. It refuses what Decode would: tensors
// that do not form a network (see Layers), metadata that does not describe
// it.
//
//	header   magic "MNC\x1a" · u16 version · u16 sections · u32 CRC-32 of the 8 bytes before it
//	section  u8 kind · u32 payload length · payload · u32 CRC-32 of kind, length and payload
func (f *File) Encode() ([]byte, error) {
	current := *f // a version-1 file's layers, checked as this version's
	current.Version = Version
	layers, err := current.Layers()
	if err != nil {
		return nil, err
	}
	if err := checkMeta(&f.Meta, Sizes(layers)); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	meta, err := json.Marshal(f.Meta)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, flate.BestCompression)
	zw.Write(meta)
	zw.Close()
	var mp buf
	mp.u8(1) // deflate
	mp.b = append(mp.b, z.Bytes()...)

	var out buf
	out.b = append(out.b, Magic...)
	out.b = binary.LittleEndian.AppendUint16(out.b, Version)
	out.b = binary.LittleEndian.AppendUint16(out.b, uint16(1+len(f.Tensors)))
	out.u32(crc32.ChecksumIEEE(out.b))
	section := func(kind uint8, p []byte) {
		start := len(out.b)
		out.u8(kind)
		out.u32(uint32(len(p)))
		out.b = append(out.b, p...)
		out.u32(crc32.ChecksumIEEE(out.b[start:]))
	}
	section(sectionMeta, mp.b)
	f.MetaBytes = len(mp.b)
	for i := range f.Tensors {
		section(sectionTensor, encodeTensor(&f.Tensors[i]))
	}
	f.Size = len(out.b)
	f.Version = Version
	return out.b, nil
}

// Decode parses .mnc bytes of any version this package reads. Every fault
// is an error naming the section and what is wrong: bad magic, unknown
// version, truncation, checksum mismatch, inconsistent counts, tensors out
// of order or whose shapes do not chain (see Layers), metadata that does
// not fit the network. Nothing larger than the bytes justify is allocated.
func Decode(b []byte) (*File, error) {
	f, err := decode(b)
	return f, errkind.Wrap(ErrFormat, err)
}

// ErrFormat marks every error Decode gives for bytes that are not a valid
// .mnc file: errors.Is(err, mnc.ErrFormat).
var ErrFormat = errors.New("invalid .mnc file")

func decode(b []byte) (*File, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("truncated: %d bytes, a header alone is 12", len(b))
	}
	if string(b[:4]) != Magic {
		return nil, fmt.Errorf("not an .mnc file (bad magic %q)", b[:4])
	}
	if got := crc32.ChecksumIEEE(b[:8]); got != binary.LittleEndian.Uint32(b[8:12]) {
		return nil, fmt.Errorf("header checksum mismatch: the file is corrupt")
	}
	v := binary.LittleEndian.Uint16(b[4:6])
	if !slices.Contains(versions, v) {
		return nil, fmt.Errorf("format version %d: this build reads versions %v", v, versions)
	}
	nsec := int(binary.LittleEndian.Uint16(b[6:8]))
	if nsec > MaxSections {
		return nil, fmt.Errorf("%d sections, more than %d", nsec, MaxSections)
	}
	f := &File{Version: int(v), Size: len(b)}
	rest := b[12:]
	sawMeta := false
	for i := 0; i < nsec; i++ {
		if len(rest) < 9 {
			return nil, fmt.Errorf("truncated: section %d of %d needs at least 9 bytes, %d left", i+1, nsec, len(rest))
		}
		kind := rest[0]
		n := binary.LittleEndian.Uint32(rest[1:5])
		if uint64(n)+9 > uint64(len(rest)) {
			return nil, fmt.Errorf("truncated: section %d of %d declares %d bytes, %d left", i+1, nsec, n, len(rest)-9)
		}
		body := rest[:5+n]
		if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(rest[5+n:9+n]) {
			return nil, fmt.Errorf("section %d of %d: checksum mismatch: the file is corrupt", i+1, nsec)
		}
		payload := body[5:]
		rest = rest[9+n:]
		ctx := fmt.Sprintf("section %d", i+1)
		switch kind {
		case sectionMeta:
			if sawMeta {
				return nil, fmt.Errorf("%s: a second metadata section", ctx)
			}
			sawMeta = true
			if err := decodeMeta(payload, &f.Meta); err != nil {
				return nil, fmt.Errorf("%s (metadata): %w", ctx, err)
			}
			f.MetaBytes = len(payload)
		case sectionTensor:
			t, err := decodeTensor(payload, ctx)
			if err != nil {
				return nil, err
			}
			if want := tensorName(len(f.Tensors)); t.Name != want {
				if len(f.Tensors) >= 2*model.MaxDepth {
					return nil, fmt.Errorf("%s: tensor %q: a network holds at most %d layers", ctx, t.Name, model.MaxDepth)
				}
				return nil, fmt.Errorf("%s: tensor %q where %s belongs: tensors go w1, b1, …, wN, bN", ctx, t.Name, want)
			}
			t.Stats.PayloadBytes = len(payload)
			f.Tensors = append(f.Tensors, t)
		default:
			return nil, fmt.Errorf("%s: unknown kind %d", ctx, kind)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the last section", len(rest))
	}
	layers, err := f.Layers()
	if err != nil {
		return nil, err
	}
	if err := checkMeta(&f.Meta, Sizes(layers)); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return f, nil
}

func decodeMeta(p []byte, m *model.Meta) error {
	if len(p) < 1 {
		return fmt.Errorf("empty")
	}
	var raw []byte
	switch p[0] {
	case 0:
		raw = p[1:]
	case 1:
		var err error
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(p[1:])), MaxMeta+1))
		if err != nil {
			return fmt.Errorf("corrupt deflate stream: %v", err)
		}
		if len(raw) > MaxMeta {
			return fmt.Errorf("inflates to more than %d bytes", MaxMeta)
		}
	default:
		return fmt.Errorf("unknown compression %d", p[0])
	}
	if err := json.Unmarshal(raw, m); err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	return nil
}

// Tensor returns the tensor with the given name, or nil.
func (f *File) Tensor(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// Checkpoint expands the file to a float32 checkpoint (unpack) and
// validates it as a network.
func (f *File) Checkpoint() (model.Checkpoint, error) {
	layers, err := f.Layers()
	if err != nil {
		return model.Checkpoint{}, err
	}
	c := model.Checkpoint{Meta: f.Meta, Params: model.Params{Layers: make([]model.Dense, len(layers))}}
	expand := func(t *Tensor) model.Tensor {
		return model.Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: t.Dense()}
	}
	for i, l := range layers {
		c.Params.Layers[i] = model.Dense{W: expand(l.W), B: expand(l.B)}
	}
	if err := c.Params.Validate(); err != nil {
		return model.Checkpoint{}, err
	}
	return c, nil
}
