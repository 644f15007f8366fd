package report

import (
	"fmt"
	"strings"
)

// Per-layer tables in Deep Compression's layout (Han et al. 2016, Table 2
// and on): for each weight tensor, its shape, the share of weights kept,
// the bits per kept weight of its codes and of its relative indices as
// stored (after Huffman coding), and its bytes in the packed file.

// LayerTable renders one cell's per-layer breakdown, any depth, with a
// total row over the weight tensors and the whole file's bytes.
func LayerTable(c Cell) string {
	if len(c.Layers) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| layer | shape | weights | kept % | weight bits | index bits | bytes |\n|---|---|---:|---:|---:|---:|---:|\n")
	var n, kept, codeBits, idxBits, bytes float64
	for _, l := range c.Layers {
		w := float64(shapeSize(l.Shape))
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.1f | %.2f | %.2f | %.0f |\n", l.Name, shapeText(l.Shape), w, 100*l.Kept, l.CodeBits, l.IndexBits, l.Bytes)
		n += w
		kept += w * l.Kept
		codeBits += w * l.Kept * l.CodeBits
		idxBits += w * l.Kept * l.IndexBits
		bytes += l.Bytes
	}
	if kept > 0 {
		fmt.Fprintf(&b, "| weights | | %.0f | %.1f | %.2f | %.2f | %.0f |\n", n, 100*kept/n, codeBits/kept, idxBits/kept, bytes)
	}
	if c.Packed.N > 0 {
		fmt.Fprintf(&b, "| whole file (biases, framing, metadata) | | | | | | %.0f |\n", c.Packed.Mean)
	}
	return b.String()
}

// LayerCaption explains the per-layer columns.
const LayerCaption = "Means over seeds. kept %: weights stored (not pruned); weight bits: bits per kept weight of its codes as stored " +
	"(32 for float32, after Huffman coding otherwise); index bits: bits per kept weight of its relative sparse indices as stored " +
	"(0 when the tensor is stored dense); bytes: the tensor's payload in the packed .mnc file, its scales or codebook included."

// LayerGrid renders a sweep's per-layer breakdown as one table (for
// tables.md): a row per cell, for each weight tensor its kept %, weight
// bits, index bits and bytes.
func (g Grid) LayerGrid() string {
	var names []string
	seen := map[string]bool{}
	for _, c := range g.At {
		for _, l := range c.Layers {
			if !seen[l.Name] {
				seen[l.Name] = true
				names = append(names, l.Name)
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	sortLayers(names)
	var b strings.Builder
	b.WriteString("| configuration |")
	for _, n := range names {
		fmt.Fprintf(&b, " %s kept %% | %s bits | %s index bits | %s bytes |", n, n, n, n)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", 4*len(names)) + "\n")
	for _, r := range g.Rows {
		for _, col := range g.Columns {
			c, ok := g.At[[2]string{r, col}]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "| %s |", escape(strings.TrimPrefix(g.CellLabel(r, col), g.Sweep.Name+": ")))
			byName := map[string]LayerStat{}
			for _, l := range c.Layers {
				byName[l.Name] = l
			}
			for _, n := range names {
				if l, ok := byName[n]; ok {
					fmt.Fprintf(&b, " %.1f | %.2f | %.2f | %.0f |", 100*l.Kept, l.CodeBits, l.IndexBits, l.Bytes)
				} else {
					b.WriteString(" — | — | — | — |")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func sortLayers(names []string) {
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && layerOf(names[j]) < layerOf(names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func shapeText(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return strings.Join(p, "×")
}
