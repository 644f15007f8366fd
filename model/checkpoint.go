package model

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mnistc/internal/errkind"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// metaMember is the zip member that holds the checkpoint's metadata as JSON.
// numpy.load returns it as raw bytes: json.loads(np.load(f)["meta.json"]).
const metaMember = "meta.json"

// maxMember bounds a checkpoint member's size (the article's network is
// 400 KB; even a 784-4096-10 one is under 13 MB as float32).
const maxMember = 8*MaxWeights + 4096 // every tensor of an allowed network as float64, with its .npy header

// fixedTime stamps every zip member so equal parameters give equal bytes.
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Checkpoint is a network's parameters plus the metadata that produced them.
type Checkpoint struct {
	Params Params
	Meta   Meta
}

// Meta is the JSON metadata stored beside the arrays. Every field that
// describes how the parameters came to be lives here, so any number derived
// from a checkpoint can be traced back and rerun.
type Meta struct {
	Format   string            `json:"format"`
	Sizes    []int             `json:"sizes,omitempty"` // [inputs, hidden…, classes], written by Encode
	Train    *TrainConfig      `json:"train,omitempty"`
	History  []EpochStats      `json:"history,omitempty"`
	Test     *Result           `json:"test,omitempty"`
	Backend  string            `json:"backend,omitempty"`
	ActQuant *ActQuant         `json:"actquant,omitempty"`
	Passes   []json.RawMessage `json:"passes,omitempty"`
	Source   string            `json:"source,omitempty"`
}

// packedMagic opens a packed .mnc file (package mnc, which imports this
// one): recognised so that a packed model given as a checkpoint is named.
const packedMagic = "MNC\x1a"

// FormatVersion names the checkpoint layout written by this package:
// version 2 holds any number of layers and records their sizes; version 1
// (w1, b1, w2, b2 only) reads unchanged.
const FormatVersion = "mnistc-checkpoint/2"

// formats lists the versions Decode reads ("" for arrays written by NumPy).
var formats = []string{"", "mnistc-checkpoint/1", FormatVersion}

// MaxDepth bounds the number of layers a checkpoint may hold.
const MaxDepth = 64

// Encode returns the checkpoint as .npz bytes (a stored, uncompressed zip of
// .npy arrays, as numpy.savez writes) plus meta.json.
func (c Checkpoint) Encode() ([]byte, error) {
	if err := c.Params.Validate(); err != nil {
		return nil, err
	}
	c.Meta.Format = FormatVersion
	c.Meta.Sizes = c.Params.Sizes()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	member := func(name string) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: fixedTime})
	}
	for _, t := range c.Params.Tensors() {
		w, err := member(t.Name + ".npy")
		if err != nil {
			return nil, err
		}
		if err := encodeNPY(w, *t); err != nil {
			return nil, err
		}
	}
	meta, err := json.MarshalIndent(c.Meta, "", " ")
	if err != nil {
		return nil, err
	}
	w, err := member(metaMember)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(meta); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes the checkpoint to path atomically: a temporary file in the
// same folder, synced, then renamed over path.
func (c Checkpoint) Save(path string) error {
	b, err := c.Encode()
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return WriteFileAtomic(path, b)
}

// WriteFileAtomic writes b to path through a synced temporary file and a
// rename, so path holds either its old contents or all of b, never a part.
func WriteFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	werr := f.Chmod(0o644) // CreateTemp makes 0600; results are for sharing
	if werr == nil {
		_, werr = f.Write(b)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// Load reads and validates a checkpoint file.
func Load(path string) (Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load %s: %w", path, err)
	}
	c, err := Decode(b)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// Decode parses .npz bytes: arrays w1, b1, …, wN, bN whose shapes chain
// (the sizes are read from them), finite values, and an optional meta.json
// whose fields are checked against the arrays.
//
// Arrays written by NumPy or PyTorch read too: np.savez or
// np.savez_compressed, float32 or float64 (rounded to float32), C or
// Fortran order, any .npy format version. A checkpoint without meta.json
// may store its weights (outputs, inputs) as PyTorch's nn.Linear does; see
// orient for when they are transposed.
func Decode(b []byte) (Checkpoint, error) {
	c, err := decode(b)
	return c, errkind.Wrap(ErrCheckpoint, err)
}

// ErrCheckpoint marks every error Decode (and so Load) gives for bytes that
// are not a valid checkpoint: errors.Is(err, model.ErrCheckpoint).
var ErrCheckpoint = errors.New("invalid checkpoint")

func decode(b []byte) (Checkpoint, error) {
	if bytes.HasPrefix(b, []byte(packedMagic)) {
		return Checkpoint{}, fmt.Errorf("this is a packed .mnc model, not a .npz checkpoint: 'mnistc unpack' expands it into one")
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("not a valid .npz (zip) file: %v", err)
	}
	members := map[string][]byte{}
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxMember {
			return Checkpoint{}, fmt.Errorf("member %s is %d bytes, more than the %d allowed", f.Name, f.UncompressedSize64, maxMember)
		}
		rc, err := f.Open()
		if err != nil {
			return Checkpoint{}, fmt.Errorf("member %s: %v", f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxMember+1))
		rc.Close()
		if err != nil {
			return Checkpoint{}, fmt.Errorf("member %s is corrupt: %v", f.Name, err)
		}
		members[f.Name] = data
	}
	var c Checkpoint
	depth := 0
	for depth < MaxDepth {
		if _, ok := members[WeightName(depth+1)+".npy"]; !ok {
			break
		}
		depth++
	}
	if depth == 0 {
		return Checkpoint{}, fmt.Errorf("missing array w1")
	}
	if _, ok := members[WeightName(depth+1)+".npy"]; ok {
		return Checkpoint{}, fmt.Errorf("more than %d layers", MaxDepth)
	}
	// a later layer's array with a gap before it: name what is missing
	for _, name := range slices.Sorted(maps.Keys(members)) {
		var kind byte
		var l int
		if n, _ := fmt.Sscanf(name, "%c%d.npy", &kind, &l); n == 2 && (kind == 'w' || kind == 'b') && l > depth+1 && name == fmt.Sprintf("%c%d.npy", kind, l) {
			return Checkpoint{}, fmt.Errorf("missing array %s: the checkpoint holds %s but its layers stop at %d", WeightName(depth+1), strings.TrimSuffix(name, ".npy"), depth)
		}
	}
	c.Params.Layers = make([]Dense, depth)
	for i, name := range TensorNames(depth) {
		raw, ok := members[name+".npy"]
		if !ok {
			return Checkpoint{}, fmt.Errorf("missing array %s", name)
		}
		t, err := decodeNPY(name, raw)
		if err != nil {
			return Checkpoint{}, err
		}
		*c.Params.Tensors()[i] = t
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if strings.HasSuffix(name, ".npy") && c.Params.Get(strings.TrimSuffix(name, ".npy")) == nil {
			return Checkpoint{}, fmt.Errorf("unexpected array %s: a %d-layer checkpoint holds %s", strings.TrimSuffix(name, ".npy"), depth, strings.Join(TensorNames(depth), ", "))
		}
	}
	_, hasMeta := members[metaMember]
	if !hasMeta {
		if err := orient(&c.Params); err != nil {
			return Checkpoint{}, err
		}
	}
	if err := c.Params.Validate(); err != nil {
		return Checkpoint{}, err
	}
	if raw, ok := members[metaMember]; ok {
		if err := json.Unmarshal(raw, &c.Meta); err != nil {
			return Checkpoint{}, fmt.Errorf("%s: %v", metaMember, jsonProblem(err))
		}
		if err := c.Meta.check(c.Params); err != nil {
			return Checkpoint{}, fmt.Errorf("%s: %v", metaMember, err)
		}
	}
	return c, nil
}

// orient transposes the weights of a checkpoint written elsewhere that
// stores them (outputs, inputs) — PyTorch's nn.Linear.weight — into this
// package's (inputs, outputs). A weight is read as (outputs, inputs) when
// its first dimension is its bias's length and its second is not. If any
// is, every weight is transposed, square ones included (a checkpoint uses
// one layout), provided the transposed shapes chain from layer to layer;
// weights that disagree (one (inputs, outputs), another (outputs,
// inputs)) are refused. A network whose weights are all square reads as
// stored: (inputs, outputs). Shapes that fit neither layout are left for
// Validate to name.
func orient(p *Params) error {
	var canon, torch string
	for _, l := range p.Layers {
		w, b := l.W, l.B
		if len(w.Shape) != 2 || len(b.Shape) != 1 || w.Shape[0] == w.Shape[1] {
			continue
		}
		switch m := b.Shape[0]; {
		case w.Shape[1] == m && canon == "":
			canon = w.Name
		case w.Shape[0] == m && torch == "":
			torch = w.Name
		}
	}
	if torch == "" {
		return nil
	}
	if canon != "" {
		return fmt.Errorf("%s is stored (inputs, outputs) but %s (outputs, inputs), as PyTorch stores it: a checkpoint must use one layout", canon, torch)
	}
	prev := -1
	for _, l := range p.Layers {
		if len(l.W.Shape) != 2 || len(l.B.Shape) != 1 || l.W.Shape[0] != l.B.Shape[0] || (prev >= 0 && l.W.Shape[1] != prev) {
			return nil // not PyTorch's layout throughout: Validate names the fault
		}
		prev = l.W.Shape[0]
	}
	for i := range p.Layers {
		w := &p.Layers[i].W
		out, in := w.Shape[0], w.Shape[1]
		t := make([]float32, len(w.Data))
		for o := 0; o < out; o++ {
			for j := 0; j < in; j++ {
				t[j*out+o] = w.Data[o*in+j]
			}
		}
		w.Shape, w.Data = []int{in, out}, t
	}
	return nil
}

// check validates the metadata against the parameters it describes: a
// known format, sizes that match the arrays, an activation
// quantizer for this depth, split sizes that are not negative.
func (m Meta) check(p Params) error {
	known := false
	for _, f := range formats {
		known = known || m.Format == f
	}
	if !known {
		return fmt.Errorf("format %q unknown: this version reads %q", m.Format, formats[1:])
	}
	if m.Sizes != nil && !sameShape(m.Sizes, p.Sizes()) {
		return fmt.Errorf("sizes %v do not match the arrays (%s)", m.Sizes, p.Arch())
	}
	if m.ActQuant != nil {
		if err := m.ActQuant.Validate(p.Depth()); err != nil {
			return err
		}
	}
	if t := m.Train; t != nil {
		if t.TrainImages < 0 || t.ValImages < 0 {
			return fmt.Errorf("train.train_images %d / train.val_images %d: want ≥ 0", t.TrainImages, t.ValImages)
		}
		// train.layers is the recipe's: neuron pruning leaves fewer units
		// in the arrays than the recipe trained, so it is not compared.
		if t.ActQuant != nil {
			if err := t.ActQuant.Validate(p.Depth()); err != nil {
				return fmt.Errorf("train.%v", err)
			}
		}
	}
	return nil
}

// jsonProblem says what is wrong with a JSON document without Go's type
// names: "format: want text, not a number" rather than "cannot unmarshal
// number into Go struct field Meta.format of type string".
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := "a value of another kind"
		switch te.Type.Kind() {
		case reflect.String:
			want = "text"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "a whole number"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		case reflect.Bool:
			want = "true or false"
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Struct, reflect.Map, reflect.Pointer:
			want = "an object"
		}
		// (the types that read older layouts embed theirs as "plain")
		field := strings.ReplaceAll(te.Field, "plain.", "")
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s: want %s, not %s", field, want, article(te.Value))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not JSON at byte %d: %v", se.Offset, se)
	}
	return err.Error()
}

// article puts "a" or "an" before a JSON value kind ("number", "array").
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
