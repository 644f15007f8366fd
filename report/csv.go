package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"sort"
	"strings"
)

// CSV renders one row per cell with means and standard deviations over
// seeds and the columns of the pass records.
func CSV(cells []Cell) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"sweep", "chain", "point", "seeds", "acc_mean", "acc_std", "delta_pp_mean", "delta_pp_std",
		"loss_mean", "size_bytes_mean", "ratio_mean", "bits_per_weight_mean", "sparsity_w1", "sparsity_w2",
		"distinct_w1", "distinct_w2", "hidden", "eval_ms_mean", "packed_bytes_mean", "packed_ratio_mean"})
	f := func(x float64) string { return fmt.Sprintf("%.6g", x) }
	for _, c := range cells {
		var pt []string
		for k, v := range c.Point {
			pt = append(pt, k+"="+v)
		}
		sort.Strings(pt)
		w.Write([]string{c.Sweep, c.Label(), strings.Join(pt, ";"), fmt.Sprint(len(c.Seeds)),
			f(c.Acc.Mean), f(c.Acc.Std), f(c.Delta.Mean), f(c.Delta.Std), f(c.Loss.Mean), f(c.Size.Mean),
			f(c.Ratio.Mean), f(c.Bits.Mean), f(c.SparsityW1), f(c.SparsityW2), f(c.DistinctW1), f(c.DistinctW2),
			fmt.Sprint(c.Hidden), fmt.Sprintf("%.1f", c.EvalMS.Mean), packedCol(c.Packed), packedCol(c.PackedRatio)})
	}
	w.Flush()
	return buf.Bytes()
}

// packedCol is empty for cells recorded before packing existed.
func packedCol(s Stat) string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%.6g", s.Mean)
}
