package mnc

// TensorSummary is one row of Deep Compression's per-layer table (Han et
// al. 2016, Tables 2–5) for a packed tensor: how many weights it has and
// keeps, its encoding, the bits per kept weight of its codes and of its
// relative indices before and after Huffman coding, and its bytes in the
// file against float32.
type TensorSummary struct {
	Name            string  `json:"name"`
	Shape           []int   `json:"shape"`
	Weights         int     `json:"weights"`
	Kept            int     `json:"kept"`
	Encoding        string  `json:"encoding"`
	CodeBits        float64 `json:"code_bits_per_kept"`         // before Huffman
	CodeBitsHuffman float64 `json:"code_bits_per_kept_huffman"` // as stored
	IndexBits       float64 `json:"index_bits_per_kept"`
	IndexBitsHuff   float64 `json:"index_bits_per_kept_huffman"`
	GroupBytes      int     `json:"group_bytes"` // scales, offsets, codebooks
	Bytes           int     `json:"bytes"`
	Ratio           float64 `json:"ratio"`
}

// Summary returns one row per tensor, in file order.
func (f *File) Summary() []TensorSummary {
	var out []TensorSummary
	for i := range f.Tensors {
		t := &f.Tensors[i]
		st := t.Stats
		k := float64(max(1, t.Kept()))
		ts := TensorSummary{Name: t.Name, Shape: t.Shape, Weights: t.Len(), Kept: t.Kept(), Encoding: t.Describe(),
			GroupBytes: st.GroupBytes, Bytes: st.PayloadBytes}
		if t.Map == Float {
			ts.CodeBits, ts.CodeBitsHuffman = 32, 32
		} else {
			ts.CodeBits, ts.CodeBitsHuffman = float64(st.CodeBitsFixed)/k, float64(st.CodeBitsStored)/k
		}
		if t.Map != Float || t.Sparse {
			ts.IndexBits, ts.IndexBitsHuff = float64(st.IndexBitsFixed)/k, float64(st.IndexBitsStored)/k
		}
		ts.Ratio = float64(4*t.Len()) / float64(max(1, st.PayloadBytes))
		out = append(out, ts)
	}
	return out
}
