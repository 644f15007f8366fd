package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"mnistc/experiments"
)

// Literature renders the experiment's published references beside the
// cells of the sweeps they name: test error before and after, the change
// with its 95 % interval over seeds, kept % and bits per kept weight per
// layer, and the compression ratio counted the paper's way (the size
// model: codes at their width, relative indices and codebooks, no Huffman
// coding) and as the real .mnc file (Huffman-coded, biases, framing and
// metadata included). Empty when the experiment cites nothing.
func Literature(e *experiments.Experiment, cells []Cell, st Study) string {
	if len(e.Literature) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Beside the literature\n\n")
	b.WriteString("Published figures are as their papers print them (error in %, kept % and bits per layer, w1 first). Ours are means over seeds; " +
		"Δ error is the paired change against each seed's own baseline with its 95 % t interval over the seeds. " +
		"\"ratio, size model\" counts the bytes as Deep Compression's tables do (codes at their bit width, relative indices, codebooks; no Huffman coding); " +
		"\".mnc ratio\" is the real packed file (Huffman coding, float32 biases, framing and metadata included), against float32 parameters.\n\n")
	for _, r := range e.Literature {
		fmt.Fprintf(&b, "**%s** — %s.\n\n", r.Source, r.Method)
		b.WriteString("| | error before % | error after % | Δ error pp (95 % CI) | kept % per layer | bits per kept weight | index bits | ratio, size model | .mnc ratio |\n")
		b.WriteString("|---|---:|---:|---:|---|---|---|---:|---:|\n")
		fmt.Fprintf(&b, "| published | %.2f | %.2f | %+.2f | %s | %s | | %.0f× | |\n",
			r.ErrorBefore, r.ErrorAfter, r.ErrorAfter-r.ErrorBefore, joinFloats(r.Kept, "%.0f"), joinFloats(r.Bits, "%.0f"), r.Ratio)
		for _, c := range cells {
			if c.Sweep != r.Compare {
				continue
			}
			before := 100 * (c.Acc.Mean - c.Delta.Mean/100)
			var kept, bits, idx []float64
			for _, l := range c.Layers {
				kept, bits, idx = append(kept, 100*l.Kept), append(bits, l.CodeBits), append(idx, l.IndexBits)
			}
			ci := c.Delta.CI95()
			ciText := ""
			if !math.IsNaN(ci) {
				ciText = fmt.Sprintf(" [%+.2f, %+.2f]", -c.Delta.Mean-ci, -c.Delta.Mean+ci)
			}
			packed := ""
			if c.PackedRatio.N > 0 {
				packed = fmt.Sprintf("%.1f×", c.PackedRatio.Mean)
			}
			fmt.Fprintf(&b, "| %s | %.2f | %.2f ± %.2f | %+.2f%s | %s | %s | %s | %.1f× | %s |\n",
				escape(st.Label(c)), 100-before, 100*(1-c.Acc.Mean), 100*c.Acc.Std, -c.Delta.Mean, ciText,
				joinFloats(kept, "%.1f"), joinFloats(bits, "%.2f"), joinFloats(idx, "%.2f"), c.Ratio.Mean, packed)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func joinFloats(v []float64, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, " / ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
