package compress

import (
	"math"
	"math/bits"
	"sort"

	"mnistc/model"
)

// TensorStats describes one tensor after the passes: how sparse it is, how
// many distinct values it holds, and what storing it would cost.
type TensorStats struct {
	Name           string    `json:"name"`
	Shape          []int     `json:"shape"`
	Count          int       `json:"count"`
	Nonzero        int       `json:"nonzero"`
	Sparsity       float64   `json:"sparsity"`
	DistinctValues int       `json:"distinct_values"`
	Encoding       *Encoding `json:"encoding,omitempty"`
	IndexBits      int       `json:"index_bits"` // relative-index width when stored sparse; 0 when dense
	BitsPerWeight  float64   `json:"bits_per_weight"`
	SizeBytes      int       `json:"size_bytes"`
	DenseBytes     int       `json:"dense_bytes"`
}

// Measure returns the stats of every tensor of s.
//
// The size formula (also in the README): a tensor costs
//
//	group bits + min(dense, sparse)
//	dense  = n · c
//	sparse = E · (w + c'),  E = Σ_i ceil(gap_i / 2^w), best w in 1..16
//
// where n is the number of entries; c the bits of one code — 32 for float,
// the encoding's bits for a quantized tensor (one more when zeros occur and
// zero is not one of its levels, as for binary and k-means); c' the code
// bits of a kept entry; gap_i the distance between successive non-zero
// positions, coded in w bits with a filler entry whenever a gap exceeds
// 2^w (Deep Compression's relative indexing); and group bits the scales,
// zero-points or codebooks: 32 bits per scale or zero-point, 32 per
// codebook entry.
func Measure(s State) []TensorStats {
	var out []TensorStats
	for _, t := range s.Params.Tensors() {
		out = append(out, measureTensor(*t, s.Enc[t.Name]))
	}
	return out
}

func measureTensor(t model.Tensor, enc Encoding) TensorStats {
	st := TensorStats{Name: t.Name, Shape: t.Shape, Count: len(t.Data), DenseBytes: 4 * len(t.Data), DistinctValues: distinct(t.Data)}
	for _, x := range t.Data {
		if x != 0 {
			st.Nonzero++
		}
	}
	st.Sparsity = 1 - float64(st.Nonzero)/float64(max(1, st.Count))
	code, overhead := 32, 0
	if enc.Scheme != "" {
		e := enc
		st.Encoding = &e
		code, overhead = enc.Bits, enc.Groups*enc.GroupBits
	}
	denseCode := code
	if st.Nonzero < st.Count && (enc.Scheme == "binary" || enc.Scheme == "kmeans") {
		denseCode = bitsFor(1<<enc.Bits + 1) // zero is an extra symbol
	}
	total := st.Count * denseCode
	if w, sparse := sparseBits(t.Data, code); sparse < total {
		total, st.IndexBits = sparse, w
	}
	total += overhead
	st.BitsPerWeight = float64(total) / float64(max(1, st.Count))
	st.SizeBytes = (total + 7) / 8
	return st
}

// sparseBits returns the best relative-index width and the bits of storing
// only the non-zero entries of v with code bits each.
func sparseBits(v []float32, code int) (int, int) {
	var gaps []int
	last := -1
	for i, x := range v {
		if x != 0 {
			gaps = append(gaps, i-last)
			last = i
		}
	}
	bestW, best := 0, math.MaxInt
	for w := 1; w <= 16; w++ {
		span := 1 << w
		entries := 0
		for _, g := range gaps {
			entries += (g + span - 1) / span
		}
		if b := entries * (w + code); b < best {
			bestW, best = w, b
		}
	}
	return bestW, best
}

// distinct counts the distinct float32 values of v.
func distinct(v []float32) int {
	if len(v) == 0 {
		return 0
	}
	s := append([]float32(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := 1
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1] {
			n++
		}
	}
	return n
}

// bitsFor is the code width that can tell d values apart: ceil(log2 d).
func bitsFor(d int) int {
	if d <= 1 {
		return 0
	}
	return bits.Len(uint(d - 1))
}

// Totals sums sizes over all tensors and the effective bits per weight of
// the weight matrices (w1 … wN) alone.
func Totals(ts []TensorStats) (size, dense int, weightBits float64) {
	var wBits float64
	var wCount int
	for _, t := range ts {
		size += t.SizeBytes
		dense += t.DenseBytes
		if isWeightName(t.Name) {
			wBits += t.BitsPerWeight * float64(t.Count)
			wCount += t.Count
		}
	}
	return size, dense, wBits / float64(max(1, wCount))
}
