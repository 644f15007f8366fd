package search

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"mnistc/data"
	"mnistc/model"
)

// SensitivityOptions are the points each layer is swept over.
type SensitivityOptions struct {
	// Keeps are magnitude-pruning keep rates, each applied to one weight
	// layer alone.
	Keeps []float64
	// Bits are widths of symmetric per-channel quantization, each applied
	// to one weight layer alone.
	Bits []int
	// Units are fractions of a hidden layer's units kept by neuron pruning
	// (L2 norm of their incoming weights); empty: no units sweep.
	Units []float64
}

// DefaultSensitivity is Distiller's sweep on this project's scale: keep
// rates from 1 to 0.01, 8 down to 1 bits, and hidden units from all to
// an eighth.
func DefaultSensitivity() SensitivityOptions {
	return SensitivityOptions{
		Keeps: []float64{1, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01},
		Bits:  []int{8, 7, 6, 5, 4, 3, 2, 1},
		Units: []float64{1, 0.75, 0.5, 0.375, 0.25, 0.125},
	}
}

// Check refuses empty sweeps and values out of range.
func (o SensitivityOptions) Check() error {
	if len(o.Keeps) == 0 && len(o.Bits) == 0 && len(o.Units) == 0 {
		return fmt.Errorf("sensitivity: nothing to sweep")
	}
	for _, k := range o.Keeps {
		if !(k > 0 && k <= 1) {
			return fmt.Errorf("sensitivity: keep %g out of range: want 0 < keep ≤ 1", k)
		}
	}
	for _, b := range o.Bits {
		if b < 1 || b > 16 {
			return fmt.Errorf("sensitivity: bits %d out of range: want 1–16", b)
		}
	}
	for _, u := range o.Units {
		if !(u > 0 && u <= 1) {
			return fmt.Errorf("sensitivity: units %g out of range: want 0 < units ≤ 1", u)
		}
	}
	return nil
}

// SensitivityMethod is the pass spec, without its value, that compresses
// weight layer w alone for a sweep of kind keep (magnitude pruning), bits
// (symmetric per-channel quantization) or units (neuron pruning of the
// layer's outputs); the value goes in key SensitivityKey(kind).
func SensitivityMethod(kind, w string) string {
	switch kind {
	case "keep":
		return "prune:layers=" + w
	case "bits":
		return "quantize:granularity=channel,layers=" + w
	case "units":
		return "prune:method=neuron,layers=" + w
	}
	panic("search: unknown sensitivity kind " + kind)
}

// SensitivityKey is the spec key a sensitivity kind's values go in.
func SensitivityKey(kind string) string {
	if kind == "bits" {
		return "bits"
	}
	return "keep"
}

// SensitivitySpec is SensitivityMethod with the value v.
func SensitivitySpec(kind, w string, v float64) string {
	val := num(v)
	if kind == "bits" {
		val = strconv.Itoa(int(v))
	}
	return SensitivityMethod(kind, w) + "," + SensitivityKey(kind) + "=" + val
}

// Point is one layer compressed one way, the rest untouched, on the
// validation split.
type Point struct {
	// Layer is the weight tensor (w1 … wN); for kind units, the weight
	// whose outputs are the hidden layer's units.
	Layer       string  `json:"layer"`
	Kind        string  `json:"kind"` // keep | bits | units
	Value       float64 `json:"value"`
	ValAccuracy float64 `json:"val_accuracy"`
	// DeltaPP is the change against the untouched model, in percentage
	// points (negative: a loss).
	DeltaPP float64 `json:"delta_pp"`
	// Bytes is the whole model packed as a .mnc file (lean metadata) with
	// this one change.
	Bytes int `json:"bytes"`
}

// SensitivityResult is a sensitivity analysis of one model.
type SensitivityResult struct {
	Arch        string  `json:"arch"`
	ValImages   int     `json:"val_images"`
	ValAccuracy float64 `json:"val_accuracy"` // the untouched model
	Bytes       int     `json:"bytes"`        // the untouched model, packed
	Points      []Point `json:"points"`
}

// Sensitivity sweeps each weight layer of ck alone through opt's keep
// rates (magnitude pruning) and bit widths (symmetric per-channel
// quantization), and each hidden layer through opt's unit fractions
// (neuron pruning), evaluating on val. Nothing is retrained: it shows how
// much each layer tolerates on its own, which is where a per-layer recipe
// starts.
func Sensitivity(ck model.Checkpoint, val data.Set, opt SensitivityOptions) (SensitivityResult, error) {
	if err := opt.Check(); err != nil {
		return SensitivityResult{}, err
	}
	if val.Len() == 0 {
		return SensitivityResult{}, fmt.Errorf("sensitivity: the validation split is empty")
	}
	if err := ck.Params.CheckData(val.Inputs(), val.Classes()); err != nil {
		return SensitivityResult{}, err
	}
	base := model.Evaluate(ck.Params, val, ck.Meta.ActQuant)
	baseBytes, err := packedBytes(ck.Params, ck.Meta)
	if err != nil {
		return SensitivityResult{}, err
	}
	res := SensitivityResult{Arch: ck.Params.Arch(), ValImages: val.Len(), ValAccuracy: base.Accuracy, Bytes: baseBytes}
	depth := ck.Params.Depth()
	type sweep struct {
		kind   string
		layers int
		values []float64
		spec   func(layer string, v float64) string
	}
	spec := func(kind string) func(string, float64) string {
		return func(w string, v float64) string { return SensitivitySpec(kind, w, v) }
	}
	sweeps := []sweep{
		{"keep", depth, opt.Keeps, spec("keep")},
		{"bits", depth, ints(opt.Bits), spec("bits")},
		{"units", depth - 1, opt.Units, spec("units")},
	}
	for _, s := range sweeps {
		for l := 1; l <= s.layers; l++ {
			w := model.WeightName(l)
			for _, v := range s.values {
				p, err := applySpecs(ck.Params, []string{s.spec(w, v)})
				if err != nil {
					return SensitivityResult{}, err
				}
				r := model.Evaluate(p, val, ck.Meta.ActQuant)
				b, err := packedBytes(p, ck.Meta)
				if err != nil {
					return SensitivityResult{}, err
				}
				res.Points = append(res.Points, Point{Layer: w, Kind: s.kind, Value: v, ValAccuracy: r.Accuracy,
					DeltaPP: dropPP(r.Correct, base.Correct, val.Len()), Bytes: b})
			}
		}
	}
	return res, nil
}

func ints(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// dropPP returns the change from base to correct of n images in
// percentage points.
func dropPP(correct, base, n int) float64 { return 100 * float64(correct-base) / float64(n) }

// CSV returns the points as CSV: layer, kind, value, val_accuracy,
// delta_pp, bytes.
func (s SensitivityResult) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"layer", "kind", "value", "val_accuracy", "delta_pp", "bytes"})
	for _, p := range s.Points {
		w.Write([]string{p.Layer, p.Kind, num(p.Value), strconv.FormatFloat(p.ValAccuracy, 'f', 4, 64),
			strconv.FormatFloat(p.DeltaPP, 'f', 2, 64), strconv.Itoa(p.Bytes)})
	}
	w.Flush()
	return b.Bytes()
}

// Kinds returns the kinds of sweep the result holds, in a fixed order.
func (s SensitivityResult) Kinds() []string {
	var out []string
	for _, k := range []string{"keep", "bits", "units"} {
		if slices.ContainsFunc(s.Points, func(p Point) bool { return p.Kind == k }) {
			out = append(out, k)
		}
	}
	return out
}

// Write writes dir/sensitivity.csv and one plot per sweep
// (sensitivity-KIND.png and .svg), each file atomically; the folder is
// created when missing. Every plot is rendered before anything is
// written.
func (s SensitivityResult) Write(dir string) error {
	files := map[string][]byte{"sensitivity.csv": s.CSV()}
	for _, k := range s.Kinds() {
		f, err := s.Plot(k)
		if err != nil {
			return err
		}
		files[f.Name+".png"], files[f.Name+".svg"] = f.PNG, f.SVG
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := model.WriteFileAtomic(filepath.Join(dir, n), files[n]); err != nil {
			return err
		}
	}
	return nil
}
