package report

import (
	"fmt"
	"sort"
	"strings"

	"mnistc/experiments"
)

// searchRuns are a search sweep's records at one budget, by seed.
type searchRuns struct {
	maxDrop float64
	recs    []experiments.Record
}

// searchRunsOf groups sweep's search records by budget (ascending).
func searchRunsOf(recs []experiments.Record, sweep string) []searchRuns {
	by := map[float64][]experiments.Record{}
	for _, r := range recs {
		if r.Sweep == sweep && r.Search != nil {
			by[r.Search.MaxDropPP] = append(by[r.Search.MaxDropPP], r)
		}
	}
	var out []searchRuns
	for b, rs := range by {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seed < rs[j].Seed })
		out = append(out, searchRuns{b, rs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].maxDrop < out[j].maxDrop })
	return out
}

// figures returns each seed's test accuracy change (pp, negative: a
// loss), file bytes, float32 bytes and validation change.
func (s searchRuns) figures() (delta, bytes, ratio, val []float64) {
	for _, r := range s.recs {
		delta = append(delta, r.Total().DeltaPP)
		bytes = append(bytes, float64(r.Packed.Bytes))
		ratio = append(ratio, r.Packed.Ratio)
		val = append(val, -r.Search.ValDropPP)
	}
	return
}

// searchSetup says what a search sweep's cells did.
func searchSetup(recs []experiments.Record, sweep string) string {
	runs := searchRunsOf(recs, sweep)
	if len(runs) == 0 {
		return ""
	}
	r := runs[0].recs[0]
	kd := "on the labels alone"
	if d := r.Finetune.Train.Distill; d != nil {
		kd = fmt.Sprintf("on the labels and the baseline's soft targets (T = %g, α = %g)", d.Temperature, d.Alpha)
	}
	return fmt.Sprintf("Each cell runs `mnistc search` from the seed's baseline with the seed as its seed: greedy steps over per-layer keep rates, "+
		"k-means shared-value bits, hidden units and bias bits, each trial fine-tuned for %d epochs %s with the recipe in the loop and packed; "+
		"a trial counts as within the budget when its validation drop plus %g standard error(s) of the paired difference is (the guard). "+
		"The search sees only the validation split; the test accuracy of its one result is read once, at the end. "+
		"Rows are the budget (max_drop, pp of validation accuracy).",
		r.Finetune.Train.Epochs, kd, r.Search.Guard)
}

// searchTable is a search sweep's per-seed table: what each search found.
func searchTable(recs []experiments.Record, sweep string) string {
	runs := searchRunsOf(recs, sweep)
	if len(runs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Per seed: the file the search picked, its validation change (± the standard error of the paired difference) and its test change against the seed's baseline, the recipe (per weight layer keep rate and shared-value bits, units kept per hidden layer, bias bits), the fine-tunes it ran (accepted) and its wall time.\n\n")
	b.WriteString("| max_drop | seed | bytes | ratio | validation Δ pp | test Δ pp | recipe | fine-tunes | minutes |\n|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, s := range runs {
		for _, r := range s.recs {
			o := r.Search
			fmt.Fprintf(&b, "| %g | %d | %d | %.1f× | %s ± %.2f | %s | %s | %d (%d) | %.1f |\n", s.maxDrop, r.Seed, r.Packed.Bytes, r.Packed.Ratio,
				signed(-o.ValDropPP), o.ValSEPP, signed(r.Total().DeltaPP), o.Recipe, o.Trials, o.Accepted, o.Seconds/60)
		}
		d, by, ra, v := s.figures()
		fmt.Fprintf(&b, "| %g | mean | %.0f | %.1f× | %s | %s | | | |\n", s.maxDrop, stat(by).Mean, stat(ra).Mean, signed(stat(v).Mean), diffOf(d))
	}
	return b.String() + "\n"
}

// searchFindings are the Findings' lines of a search sweep: per budget,
// the mean file and ratio, the test change with its interval, and how
// many seeds stayed within the budget on the test set too.
func searchFindings(recs []experiments.Record, sweep, sec string) []string {
	var out []string
	for _, s := range searchRunsOf(recs, sweep) {
		d, by, ra, v := s.figures()
		within := 0
		for _, x := range d {
			if x >= -s.maxDrop-1e-9 {
				within++
			}
		}
		b := stat(by)
		out = append(out, fmt.Sprintf("%s: `mnistc search` within %g pp picks %.0f ± %.0f bytes (%.1f× float32; %s) at %s on test (validation %s pp; %d of %d seeds within %g pp on test too).",
			sec, s.maxDrop, b.Mean, b.Std, stat(ra).Mean, spanText(by, "%.0f")+" B", diffOf(d), signed(stat(v).Mean), within, len(d), s.maxDrop))
	}
	return out
}

// sensitivitySetup says what a sensitivity sweep's cells are.
func sensitivitySetup(s *experiments.Sweep) string {
	what := map[string]string{"keep": "magnitude-pruned to the row's keep rate", "bits": "quantized to the row's bits (symmetric, per channel)",
		"units": "cut to the row's share of its hidden units (neuron pruning)"}[s.Sensitivity.Kind]
	return fmt.Sprintf("Distiller's sensitivity analysis: each column is one layer %s alone, the rest untouched, no retraining. The table gives test accuracy as everywhere; `mnistc search` reads the same analysis on the validation split (results.csv's val_accuracy, and `mnistc sensitivity`).", what)
}

// searchVersus compares a search sweep with an earlier one (ref), paired
// by seed at each budget both ran: the bytes the file gains and the test
// accuracy it gains, with the interval of the latter.
func searchVersus(recs []experiments.Record, sweep, ref, sec, refSec string) []string {
	refBy := map[[2]float64]experiments.Record{}
	for _, s := range searchRunsOf(recs, ref) {
		for _, r := range s.recs {
			refBy[[2]float64{s.maxDrop, float64(r.Seed)}] = r
		}
	}
	var out []string
	for _, s := range searchRunsOf(recs, sweep) {
		var dBytes, dAcc []float64
		for _, r := range s.recs {
			q, ok := refBy[[2]float64{s.maxDrop, float64(r.Seed)}]
			if !ok {
				continue
			}
			dBytes = append(dBytes, float64(r.Packed.Bytes-q.Packed.Bytes))
			dAcc = append(dAcc, r.Total().DeltaPP-q.Total().DeltaPP)
		}
		if len(dAcc) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s against %s at %g pp, paired by seed: %+.0f bytes (%s), test accuracy %s.",
			sec, refSec, s.maxDrop, stat(dBytes).Mean, spanText(dBytes, "%+.0f"), diffOf(dAcc)))
	}
	return out
}
