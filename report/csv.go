package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CSV renders one row per cell with means and standard deviations over
// seeds and the columns of the pass records: a sparsity_wL and a
// distinct_wL column for every weight tensor any cell's network has (empty
// where a cell's network has no such layer); then the half-width of the
// paired 95 % interval of the change, the validation accuracy and its
// change (empty for records without them) and the wall-clock seconds;
// then, when any record has robust figures, each figure's mean (a
// fraction, robust_<name>_mean) and its paired change against each seed's
// baseline (pp, robust_<name>_delta_pp_mean), empty where a cell lacks it.
func CSV(cells []Cell) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	var weights []string
	seen := map[string]bool{}
	for _, c := range cells {
		for _, n := range c.Weights {
			if !seen[n] {
				seen[n] = true
				weights = append(weights, n)
			}
		}
	}
	sort.Slice(weights, func(i, j int) bool { return layerOf(weights[i]) < layerOf(weights[j]) })
	head := []string{"sweep", "chain", "point", "seeds", "acc_mean", "acc_std", "delta_pp_mean", "delta_pp_std",
		"loss_mean", "size_bytes_mean", "ratio_mean", "bits_per_weight_mean"}
	for _, n := range weights {
		head = append(head, "sparsity_"+n)
	}
	for _, n := range weights {
		head = append(head, "distinct_"+n)
	}
	head = append(head, "arch", "eval_ms_mean", "packed_bytes_mean", "packed_ratio_mean",
		"delta_pp_ci95", "val_acc_mean", "val_delta_pp_mean", "seconds_mean")
	var rob []string
	for _, c := range cells {
		for _, n := range c.robustOrder {
			if !slices.Contains(rob, n) {
				rob = append(rob, n)
			}
		}
	}
	for _, n := range rob {
		head = append(head, "robust_"+n+"_mean", "robust_"+n+"_delta_pp_mean")
	}
	w.Write(head)
	f := func(x float64) string { return fmt.Sprintf("%.6g", x) }
	for _, c := range cells {
		var pt []string
		for k, v := range c.Point {
			pt = append(pt, k+"="+v)
		}
		sort.Strings(pt)
		row := []string{c.Sweep, c.Label(), strings.Join(pt, ";"), fmt.Sprint(len(c.Seeds)),
			f(c.Acc.Mean), f(c.Acc.Std), f(c.Delta.Mean), f(c.Delta.Std), f(c.Loss.Mean), f(c.Size.Mean),
			f(c.Ratio.Mean), f(c.Bits.Mean)}
		sp, d := map[string]string{}, map[string]string{}
		for i, n := range c.Weights {
			sp[n], d[n] = f(c.Sparsity[i]), f(c.Distinct[i])
		}
		for _, n := range weights {
			row = append(row, sp[n])
		}
		for _, n := range weights {
			row = append(row, d[n])
		}
		ci := ""
		if h := c.Delta.CI95(); !math.IsNaN(h) {
			ci = f(h)
		}
		row = append(row, c.Arch, fmt.Sprintf("%.1f", c.EvalMS.Mean), packedCol(c.Packed), packedCol(c.PackedRatio),
			ci, packedCol(c.Val), packedCol(c.ValDelta), packedCol(c.Seconds))
		for _, n := range rob {
			d := c.RobustVsBaseline(n)
			row = append(row, packedCol(c.Robust[n]), packedCol(d.Stat))
		}
		w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}

// packedCol is the mean, empty for cells whose records lack the quantity
// (written before packing, validation accuracy or timing were kept).
func packedCol(s Stat) string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%.6g", s.Mean)
}

// layerOf returns the layer number of a weight name (w12 → 12).
func layerOf(name string) int {
	n, _ := strconv.Atoi(name[1:])
	return n
}
