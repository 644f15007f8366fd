package report

import (
	"fmt"
	"strings"
)

// SizeNotes explains the sizes of a sweep that would mislead as printed:
// all-zero models (whose ratio means nothing), cells the size model counts
// as 0 bytes, cells larger than the float32 model, and cells where the
// size model and the packed file disagree on whether the model shrank.
func (g Grid) SizeNotes() []string {
	var zero, empty, larger, disagree []string
	for _, col := range g.Columns {
		var zeroRows, emptyRows []string
		for _, r := range g.Rows {
			if c, ok := g.At[[2]string{r, col}]; ok && c.AllZero {
				zeroRows = append(zeroRows, r)
			}
			if c, ok := g.At[[2]string{r, col}]; ok && c.Size.Mean == 0 {
				emptyRows = append(emptyRows, r)
			}
		}
		if len(zeroRows) > 0 {
			zero = append(zero, g.columnAt(col, zeroRows))
		}
		if len(emptyRows) > 0 {
			empty = append(empty, g.columnAt(col, emptyRows))
		}
	}
	for _, r := range g.Rows {
		for _, col := range g.Columns {
			c, ok := g.At[[2]string{r, col}]
			if !ok {
				continue
			}
			name := strings.TrimPrefix(g.CellLabel(r, col), g.Sweep.Name+": ")
			b, ratio, _ := c.Bytes()
			switch {
			case ratio < 0.995 && b > 0:
				larger = append(larger, fmt.Sprintf("%s (%.2f×)", name, ratio))
			case c.Size.Mean > 0 && c.Ratio.Mean < 0.995:
				larger = append(larger, fmt.Sprintf("%s by the size model (%.2f×: %s), not packed (%.2f×)", name, c.Ratio.Mean, bytesText(c.Size.Mean), ratio))
			}
			if c.Packed.N > 0 && c.Size.Mean > 0 {
				sm, pk := c.Ratio.Mean, c.PackedRatio.Mean
				if sm >= 1.01 && pk < 1.005 || pk >= 1.01 && sm < 1.005 {
					disagree = append(disagree, fmt.Sprintf("%s: size model %s (%.2f×), packed %s (%.2f×)",
						name, bytesText(c.Size.Mean), sm, bytesText(c.Packed.Mean), pk))
				}
			}
		}
	}
	var out []string
	if len(zero) > 0 {
		out = append(out, fmt.Sprintf("† All-zero models (every weight 0; the network predicts one class): %s. Their sizes and ratios measure nothing useful.", strings.Join(zero, "; ")))
	}
	if len(empty) > 0 {
		out = append(out, fmt.Sprintf("The size model counts 0 bytes for %s (nothing left to store), so its ratio is undefined; the packed file still holds its framing, biases and metadata.", strings.Join(empty, "; ")))
	}
	if len(larger) > 0 {
		out = append(out, fmt.Sprintf("Larger than the float32 model: %s.", strings.Join(larger, "; ")))
	}
	if len(disagree) > 0 {
		out = append(out, fmt.Sprintf("The size model and the packed file disagree on whether the model shrank — %s. The packed file is the real size: it infers each tensor's structure from its values (zeros, repeated values, a grid that reproduces them) and keeps the smallest exact encoding, Huffman coding included, where the size model counts what the passes declared.", strings.Join(disagree, "; ")))
	}
	return out
}

// columnAt names some rows of one column: "literal at bits = 8, 4, 2"
// (the rows alone when the sweep has one column).
func (g Grid) columnAt(col string, rows []string) string {
	if len(g.Columns) == 1 {
		return g.rowsText(rows)
	}
	return g.Labels[col] + " at " + g.rowsText(rows)
}
