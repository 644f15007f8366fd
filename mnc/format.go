package mnc

import (
	"fmt"

	"mnistc/model"
)

// Magic opens every .mnc file; Version is the layout this package writes.
// Version 2 holds a network of any depth (w1, b1, …, wN, bN) and metadata
// whose activation ranges are one per layer input ("ranges"); version 1
// files — two layers, ranges written as "input" and "hidden" — still read.
// The version changed although the sections did not, so that a version-1
// reader refuses a deeper network, and metadata it would misread, instead
// of evaluating them wrongly.
const (
	Magic   = "MNC\x1a"
	Version = 2
)

// versions lists what Decode reads, and the layer count a version-1 file
// must have.
var versions = []uint16{1, Version}

const v1Depth = 2

// Limits of the format, checked before allocating.
const (
	MaxRank     = 4
	MaxElements = 1 << 24 // per tensor: 64 MB as float32
	// MaxSections is the metadata plus two tensors for each of the at most
	// model.MaxDepth layers a checkpoint may hold.
	MaxSections = 1 + 2*model.MaxDepth
	MaxMeta     = 1 << 20 // metadata JSON after inflating
	MaxBits     = 16      // code and index widths
	MaxBook     = 4096    // codebook entries per group
)

// Section kinds.
const (
	sectionMeta   = 1
	sectionTensor = 2
)

// Map says how a code becomes a value.
type Map uint8

const (
	// Float stores raw float32 values (no codes).
	Float Map = 0
	// Grid: value = scale[g] · float32(code + offset[g]), in float32.
	Grid Map = 1
	// Codebook: value = book[g][code].
	Codebook Map = 2
)

func (m Map) String() string {
	switch m {
	case Float:
		return "float32"
	case Grid:
		return "grid"
	case Codebook:
		return "codebook"
	}
	return fmt.Sprintf("map(%d)", uint8(m))
}

// Stream coding.
const (
	streamFixed   = 0
	streamHuffman = 1
)

// Tensor is one tensor as the file stores it.
type Tensor struct {
	Name  string
	Shape []int
	Map   Map

	Float []float32 // Map == Float: the values (dense: all n; sparse: the kept ones)

	Groups  int         // 1, or the last dimension (one group per output column)
	Bits    int         // code width
	Scales  []float32   // Grid: per group
	Offsets []int32     // Grid: per group
	Book    [][]float32 // Codebook: per group

	Sparse    bool
	IndexBits int      // Sparse: relative-index width w
	Pos       []int32  // Sparse: positions of the stored entries, increasing
	Codes     []uint16 // dense: one per entry; sparse: one per position

	// Stats of the stored streams, for inspection.
	Stats Stats
}

// Stats are what the streams cost, before and after entropy coding.
type Stats struct {
	CodeBitsFixed   int  // codes at Bits each
	CodeBitsStored  int  // as stored (Huffman table included when used)
	CodeHuffman     bool // the code stream is Huffman-coded
	IndexSymbols    int  // gap symbols, filler entries included
	IndexBitsFixed  int  // gaps at IndexBits each
	IndexBitsStored int
	IndexHuffman    bool
	GroupBytes      int // scales, offsets or codebooks
	PayloadBytes    int // the whole section
}

// Len returns the number of entries the shape describes.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Kept returns the number of stored (non-zero for sparse) entries.
func (t *Tensor) Kept() int {
	if t.Sparse {
		return len(t.Pos)
	}
	return t.Len()
}

// group returns the group of flat position i.
func (t *Tensor) group(i int) int {
	if t.Groups <= 1 {
		return 0
	}
	return i % t.Groups
}

// Value returns the value of code c in group g.
func (t *Tensor) Value(g int, c uint16) float32 {
	if t.Map == Grid {
		return t.Scales[g] * float32(int32(c)+t.Offsets[g])
	}
	return t.Book[g][c]
}

// Dense expands the tensor to float32 values (zeros where sparse).
func (t *Tensor) Dense() []float32 {
	if t.Map == Float && !t.Sparse {
		return append([]float32(nil), t.Float...)
	}
	out := make([]float32, t.Len())
	if t.Map == Float {
		for k, p := range t.Pos {
			out[p] = t.Float[k]
		}
		return out
	}
	if t.Sparse {
		for k, p := range t.Pos {
			out[p] = t.Value(t.group(int(p)), t.Codes[k])
		}
		return out
	}
	for i, c := range t.Codes {
		out[i] = t.Value(t.group(i), c)
	}
	return out
}

// Describe names the encoding, e.g. "grid 4b ×128 sparse w5, huffman".
func (t *Tensor) Describe() string {
	if t.Map == Float {
		if t.Sparse {
			s := fmt.Sprintf("float32 sparse w%d", t.IndexBits)
			if t.Stats.IndexHuffman {
				s += ", huffman index"
			}
			return s
		}
		return "float32"
	}
	s := fmt.Sprintf("%s %db", t.Map, t.Bits)
	if t.Groups > 1 {
		s += fmt.Sprintf(" ×%d", t.Groups)
	}
	if t.Sparse {
		s += fmt.Sprintf(" sparse w%d", t.IndexBits)
	}
	switch {
	case t.Stats.CodeHuffman && t.Stats.IndexHuffman:
		s += ", huffman codes+index"
	case t.Stats.CodeHuffman:
		s += ", huffman codes"
	case t.Stats.IndexHuffman:
		s += ", huffman index"
	}
	return s
}
