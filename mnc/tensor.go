package mnc

import (
	"fmt"
	"math"
	"sort"

	"mnistc/mnc/huffman"
)

// layout of a quantized tensor's entries.
const (
	layoutDense  = 0
	layoutSparse = 1
)

// encodeTensor writes t's payload and fills t.Stats.
func encodeTensor(t *Tensor) []byte {
	var w buf
	w.str(t.Name)
	w.uvar(uint64(len(t.Shape)))
	for _, d := range t.Shape {
		w.uvar(uint64(d))
	}
	w.u8(uint8(t.Map))
	st := Stats{}
	g0 := len(w.b)
	if t.Map != Float {
		w.uvar(uint64(t.Groups))
		w.u8(uint8(t.Bits))
		g0 = len(w.b)
	}
	switch t.Map {
	case Grid:
		for _, s := range t.Scales {
			w.f32(s)
		}
		shared := true
		for _, o := range t.Offsets {
			shared = shared && o == t.Offsets[0]
		}
		if shared {
			w.u8(0)
			w.svar(int64(t.Offsets[0]))
		} else {
			w.u8(1)
			for _, o := range t.Offsets {
				w.svar(int64(o))
			}
		}
	case Codebook:
		for _, b := range t.Book {
			w.uvar(uint64(len(b)))
			for _, v := range b {
				w.f32(v)
			}
		}
	}
	st.GroupBytes = len(w.b) - g0
	if t.Sparse {
		w.u8(layoutSparse)
		w.u8(uint8(t.IndexBits))
		gaps := gapSymbols(t.Pos, t.Len(), t.IndexBits)
		w.uvar(uint64(len(t.Pos)))
		w.uvar(uint64(len(gaps)))
		st.IndexSymbols = len(gaps)
		st.IndexBitsFixed = 8 * ((len(gaps)*t.IndexBits + 7) / 8) // as a fixed-width stream stores them
		st.IndexBitsStored, st.IndexHuffman = writeStream(&w, gaps, t.IndexBits)
	} else {
		w.u8(layoutDense)
	}
	if t.Map == Float {
		for _, v := range t.Float { // all n values, or the kept ones
			w.f32(v)
		}
		st.PayloadBytes = len(w.b)
		t.Stats = st
		return w.b
	}
	st.CodeBitsFixed = 8 * ((len(t.Codes)*t.Bits + 7) / 8)
	st.CodeBitsStored, st.CodeHuffman = writeStream(&w, t.Codes, t.Bits)
	st.PayloadBytes = len(w.b)
	t.Stats = st
	return w.b
}

// gapSymbols codes increasing positions in [0, n) as relative gaps of width
// w (Deep Compression's scheme): symbol s < 2^w−1 advances s+1 and stores
// an entry there; symbol 2^w−1 is a filler that advances 2^w−1 without one.
// Fillers also cover the trailing run, so it is shorter than one filler and
// the decoder can bound n by the symbols it read.
func gapSymbols(pos []int32, n, w int) []uint16 {
	span := 1<<w - 1
	var out []uint16
	cur := -1
	for _, p := range pos {
		g := int(p) - cur
		for g > span {
			out = append(out, uint16(span))
			g -= span
		}
		out = append(out, uint16(g-1))
		cur = int(p)
	}
	for n-1-cur >= span {
		out = append(out, uint16(span))
		cur += span
	}
	return out
}

// decodeTensor parses a tensor payload.
func decodeTensor(p []byte, ctx string) (Tensor, error) {
	r := &rd{b: p, ctx: ctx}
	var t Tensor
	t.Name = string(r.take(r.count("name length", 64), "name"))
	if r.err == nil {
		r.ctx = fmt.Sprintf("%s (tensor %q)", ctx, t.Name)
	}
	rank := r.count("rank", MaxRank)
	if r.err == nil && rank < 1 {
		r.fail("rank is 0")
	}
	n := 1
	for i := 0; i < rank && r.err == nil; i++ {
		d := r.count("dimension", MaxElements)
		if d < 1 {
			r.fail("dimension %d is 0", i)
		}
		n *= max(d, 1)
		if n > MaxElements {
			r.fail("shape %v… has more than %d entries", append(t.Shape, d), MaxElements)
		}
		t.Shape = append(t.Shape, d)
	}
	t.Map = Map(r.u8("encoding"))
	if r.err != nil {
		return t, r.err
	}
	switch t.Map {
	case Float:
	case Grid, Codebook:
		t.Groups = r.count("groups", n)
		t.Bits = int(r.u8("code bits"))
		if r.err != nil {
			return t, r.err
		}
		if t.Groups != 1 && t.Groups != t.Shape[rank-1] {
			r.fail("%d groups: must be 1 or the last dimension %d", t.Groups, t.Shape[rank-1])
		}
		if t.Bits < 1 || t.Bits > MaxBits {
			r.fail("code width %d outside 1–%d", t.Bits, MaxBits)
		}
	default:
		r.fail("unknown encoding %d", t.Map)
		return t, r.err
	}
	groupStart := r.left()
	if r.err == nil && t.Map == Grid {
		if r.left() < 4*t.Groups {
			r.fail("truncated: %d scales need %d bytes, %d left", t.Groups, 4*t.Groups, r.left())
			return t, r.err
		}
		t.Scales = make([]float32, t.Groups)
		for g := range t.Scales {
			t.Scales[g] = r.f32("scale")
			if s := float64(t.Scales[g]); math.IsNaN(s) || math.IsInf(s, 0) {
				r.fail("scale %d is %v", g, s)
			}
		}
		t.Offsets = make([]int32, t.Groups)
		shared := r.u8("offset mode")
		for g := range t.Offsets {
			if shared == 0 && g > 0 {
				t.Offsets[g] = t.Offsets[0]
				continue
			}
			o := r.svar("offset")
			if o < -maxK-1 || o > maxK {
				r.fail("offset %d outside ±%d", o, maxK)
			}
			t.Offsets[g] = int32(o)
		}
		if shared > 1 {
			r.fail("unknown offset mode %d", shared)
		}
	} else if r.err == nil && t.Map == Codebook {
		t.Book = make([][]float32, t.Groups)
		for g := range t.Book {
			k := r.count("codebook size", min(1<<t.Bits, MaxBook))
			if r.left() < 4*k {
				r.fail("truncated: codebook of %d entries needs %d bytes, %d left", k, 4*k, r.left())
			}
			if r.err != nil {
				return t, r.err
			}
			t.Book[g] = make([]float32, k)
			for i := range t.Book[g] {
				v := r.f32("codebook entry")
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					r.fail("codebook entry is %v", v)
				}
				t.Book[g][i] = v
			}
		}
	}
	t.Stats.GroupBytes = groupStart - r.left()
	layout := r.u8("layout")
	if r.err != nil {
		return t, r.err
	}
	count := n
	switch layout {
	case layoutDense:
	case layoutSparse:
		t.Sparse = true
		t.IndexBits = int(r.u8("index bits"))
		if t.IndexBits < 1 || t.IndexBits > MaxBits {
			r.fail("index width %d outside 1–%d", t.IndexBits, MaxBits)
		}
		nnz := r.count("stored entries", n)
		nsym := r.count("index symbols", 8*r.left())
		if r.err == nil && nnz > nsym { // each entry takes a symbol: bound nnz before allocating it
			r.fail("%d stored entries but %d index symbols", nnz, nsym)
		}
		if r.err != nil {
			return t, r.err
		}
		var gaps []uint16
		gaps, t.Stats.IndexBitsStored, t.Stats.IndexHuffman = readStream(r, nsym, t.IndexBits, "index stream")
		t.Stats.IndexSymbols = nsym
		t.Stats.IndexBitsFixed = 8 * ((nsym*t.IndexBits + 7) / 8)
		if r.err != nil {
			return t, r.err
		}
		t.Pos = make([]int32, 0, nnz)
		span := 1<<t.IndexBits - 1
		cur := -1
		for i, s := range gaps {
			if int(s) == span {
				cur += span
			} else {
				cur += int(s) + 1
				if cur < n && len(t.Pos) == nnz {
					r.fail("index stream holds more than the %d entries declared", nnz)
					break
				}
				if cur < n {
					t.Pos = append(t.Pos, int32(cur))
				}
			}
			if cur >= n {
				r.fail("index symbol %d reaches position %d, past the %d entries of shape %v", i, cur, n, t.Shape)
				break
			}
		}
		if r.err == nil && len(t.Pos) != nnz {
			r.fail("index stream holds %d entries, %d declared", len(t.Pos), nnz)
		} else if r.err == nil && n-1-cur >= span {
			r.fail("index stream ends at position %d, %d entries short of shape %v", cur, n-1-cur, t.Shape)
		}
		count = nnz
	default:
		r.fail("unknown layout %d", layout)
	}
	if r.err != nil {
		return t, r.err
	}
	if t.Map == Float {
		if r.left() != 4*count {
			r.fail("float32 values are %d bytes, %d entries need %d", r.left(), count, 4*count)
			return t, r.err
		}
		t.Float = make([]float32, count)
		for i := range t.Float {
			t.Float[i] = r.f32("value")
			if f := float64(t.Float[i]); math.IsNaN(f) || math.IsInf(f, 0) {
				r.fail("value %d is %v", i, f)
				return t, r.err
			}
		}
		return t, nil
	}
	t.Codes, t.Stats.CodeBitsStored, t.Stats.CodeHuffman = readStream(r, count, t.Bits, "code stream")
	t.Stats.CodeBitsFixed = 8 * ((count*t.Bits + 7) / 8)
	if r.err != nil {
		return t, r.err
	}
	if r.left() != 0 {
		r.fail("%d bytes after the code stream", r.left())
		return t, r.err
	}
	// every code within its codebook, every grid level it stands for finite
	if t.checkCodes(r.fail) != nil {
		return t, r.err
	}
	return t, nil
}

// candidates returns every exact encoding of v worth trying, fully built.
func candidates(name string, shape []int, v []float32) []Tensor {
	base := Tensor{Name: name, Shape: shape}
	out := []Tensor{{Name: name, Shape: shape, Map: Float, Float: v}}
	groupings := []int{1}
	if len(shape) == 2 && shape[1] > 1 {
		groupings = append(groupings, shape[1])
	}
	var nz []int32
	for i, x := range v {
		if math.Float32bits(x) != 0 {
			nz = append(nz, int32(i))
		}
	}
	layouts := []bool{false}
	// Below a fifth of zeros the sparse layout cannot win: every kept entry
	// pays an index symbol besides its code.
	if len(v)-len(nz) >= len(v)/5 && len(nz) < len(v) {
		layouts = append(layouts, true)
	}
	if len(layouts) == 2 {
		kept := make([]float32, len(nz))
		for k, p := range nz {
			kept[k] = v[p]
		}
		out = append(out, withIndex(Tensor{Name: name, Shape: shape, Map: Float, Float: kept}, true, nz)...)
	}
	for _, groups := range groupings {
		for _, sparse := range layouts {
			if t, ok := gridTensor(base, v, groups, sparse, nz); ok {
				out = append(out, withIndex(t, sparse, nz)...)
			}
			if t, ok := bookTensor(base, v, groups, sparse, nz); ok {
				out = append(out, withIndex(t, sparse, nz)...)
			}
		}
	}
	return out
}

// withIndex sets the sparse positions and the index width whose gap stream
// (Huffman-coded where smaller) is shortest.
func withIndex(t Tensor, sparse bool, nz []int32) []Tensor {
	if !sparse {
		return []Tensor{t}
	}
	t.Sparse, t.Pos = true, nz
	best := -1
	for w := 1; w <= MaxBits; w++ {
		if c := indexBits(nz, t.Len(), w); best < 0 || c < best {
			best, t.IndexBits = c, w
		}
	}
	return []Tensor{t}
}

// indexBits is the size of the gap stream at width w — fixed width or
// Huffman-coded with its table, whichever writeStream would pick — from the
// symbol counts alone.
func indexBits(pos []int32, n, w int) int {
	span := 1<<w - 1
	freq := make([]int, span+1)
	total := 0
	cur := -1
	for _, p := range pos {
		g := int(p) - cur
		fill := (g - 1) / span
		freq[span] += fill
		freq[g-fill*span-1]++
		total += fill + 1
		cur = int(p)
	}
	if tail := (n - 1 - cur) / span; tail > 0 {
		freq[span] += tail
		total += tail
	}
	fixed := 8 * ((total*w + 7) / 8)
	top := 0
	for s, f := range freq {
		if f > 0 {
			top = s
		}
	}
	lens := huffman.Lengths(freq[:top+1])
	h := 8*((5*(top+1)+7)/8) + 32 // table and its lengths
	for s, f := range freq[:top+1] {
		h += f * int(lens[s])
	}
	return min(fixed, h)
}

// members returns the entries of group g that the layout stores.
func members(v []float32, groups, g int, sparse bool) []float32 {
	out := make([]float32, 0, len(v)/groups+1)
	for i := g; i < len(v); i += groups {
		if !sparse || math.Float32bits(v[i]) != 0 {
			out = append(out, v[i])
		}
	}
	return out
}

func distinctBits(v []float32) []float32 {
	seen := map[uint32]bool{}
	var out []float32
	for _, x := range v {
		if b := math.Float32bits(x); !seen[b] {
			seen[b] = true
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func gridTensor(t Tensor, v []float32, groups int, sparse bool, nz []int32) (Tensor, bool) {
	t.Map, t.Groups = Grid, groups
	t.Scales = make([]float32, groups)
	t.Offsets = make([]int32, groups)
	lo, hi := make([]int32, groups), make([]int32, groups)
	span := 0
	for g := 0; g < groups; g++ {
		m := members(v, groups, g, sparse)
		var nonzero []float32
		for _, x := range distinctBits(m) {
			if x != 0 {
				nonzero = append(nonzero, x)
			}
		}
		s, ok := gridScale(nonzero)
		if !ok {
			return t, false
		}
		first := true
		for _, x := range m {
			k, ok := gridLevel(x, s)
			if !ok {
				return t, false // a −0 has no level
			}
			if first || k < lo[g] {
				lo[g] = k
			}
			if first || k > hi[g] {
				hi[g] = k
			}
			first = false
		}
		t.Scales[g] = s
		span = max(span, int(hi[g]-lo[g]))
	}
	t.Bits = max(1, bitsLen(span))
	if t.Bits > MaxBits {
		return t, false
	}
	copy(t.Offsets, lo)
	t.Codes = codes(t, v, sparse, nz, func(g int, x float32) uint16 {
		k, _ := gridLevel(x, t.Scales[g])
		return uint16(k - t.Offsets[g])
	})
	return t, true
}

func bookTensor(t Tensor, v []float32, groups int, sparse bool, nz []int32) (Tensor, bool) {
	t.Map, t.Groups = Codebook, groups
	t.Book = make([][]float32, groups)
	index := make([]map[uint32]uint16, groups)
	size, entries := 0, 0
	for g := 0; g < groups; g++ {
		d := distinctBits(members(v, groups, g, sparse))
		entries += len(d)
		// a codebook holding most of the values costs more than float32
		if len(d) > MaxBook || entries > len(v)/2 {
			return t, false
		}
		t.Book[g] = d
		index[g] = map[uint32]uint16{}
		for i, x := range d {
			index[g][math.Float32bits(x)] = uint16(i)
		}
		size = max(size, len(d))
	}
	t.Bits = max(1, bitsLen(size-1))
	t.Codes = codes(t, v, sparse, nz, func(g int, x float32) uint16 { return index[g][math.Float32bits(x)] })
	return t, true
}

func codes(t Tensor, v []float32, sparse bool, nz []int32, code func(g int, x float32) uint16) []uint16 {
	if sparse {
		out := make([]uint16, len(nz))
		for k, p := range nz {
			out[k] = code(t.group(int(p)), v[p])
		}
		return out
	}
	out := make([]uint16, len(v))
	for i, x := range v {
		out[i] = code(t.group(i), x)
	}
	return out
}

// bitsLen is the width that holds 0…x.
func bitsLen(x int) int {
	n := 0
	for x > 0 {
		n++
		x >>= 1
	}
	return n
}
