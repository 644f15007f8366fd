package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"mnistc/model"
	"mnistc/search"
)

func init() {
	registered = append(registered, command{"sensitivity",
		"per-layer sensitivity: validation accuracy of each layer pruned or quantized alone (CSV and plots)", runSensitivity})
}

func runSensitivity(args []string, stdout, stderr io.Writer) error {
	def := search.DefaultSensitivity()
	fs := newFlags("sensitivity", "sensitivity --model M.npz [--out DIR] [--keeps 1,0.5,…] [--bits 8,…,1] [--units 1,0.75,…] [--val N] [--data DIR] [--json]", stdout)
	var d dataFlags
	d.register(fs, false)
	in := fs.String("model", "", "trained checkpoint to analyse (.npz)")
	out := fs.String("out", "", "folder for sensitivity.csv and the plots (default: next to --model, named after it with -sensitivity)")
	keeps := fs.String("keeps", joinFloats(def.Keeps), "keep `RATES` for magnitude pruning of one layer at a time (comma-separated, each in (0, 1])")
	bits := fs.String("bits", joinInts(def.Bits, ","), "`WIDTHS` for symmetric per-channel quantization of one layer at a time (1–16)")
	units := fs.String("units", joinFloats(def.Units), "`FRACTIONS` of a hidden layer's units kept by neuron pruning (\"\" for none)")
	val := fs.Int("val", -1, "evaluate on the last `N` training images (default: the checkpoint's own validation split, else 5000)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	var opt search.SensitivityOptions
	var err error
	if opt.Keeps, err = parseFloats("keeps", *keeps); err != nil {
		return err
	}
	if opt.Bits, err = parseInts("bits", *bits); err != nil {
		return err
	}
	if opt.Units, err = parseFloats("units", *units); err != nil {
		return err
	}
	if err := opt.Check(); err != nil {
		return usagef("--%s", strings.TrimPrefix(err.Error(), "sensitivity: "))
	}
	if *val < -1 {
		return usagef("--val %d out of range: want ≥ 0", *val)
	}
	dir := *out
	if dir == "" {
		dir = strings.TrimSuffix(*in, ".npz") + "-sensitivity"
	}
	if err := checkOut("out", filepath.Join(dir, "sensitivity.csv"), ""); err != nil {
		return err
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if len(opt.Units) > 0 && ck.Params.Depth() < 2 {
		opt.Units = nil // no hidden layer to prune units of
	}
	calib, _, err := loadCalibration(d, ck, *in, *val)
	if err != nil {
		return err
	}
	res, err := search.Sensitivity(ck, calib, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := res.Write(dir); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s: %s, validation accuracy %.4f on %d images, %d bytes packed; each layer alone (Δ pp against it):\n",
		*in, res.Arch, res.ValAccuracy, res.ValImages, res.Bytes)
	printSensitivity(stdout, res)
	fmt.Fprintf(stdout, "wrote %s/sensitivity.csv and %d plots (PNG and SVG)\n", dir, len(res.Kinds()))
	return nil
}

// printSensitivity writes one table per sweep: a row per layer, a column
// per value, the change in validation accuracy in pp.
func printSensitivity(w io.Writer, res search.SensitivityResult) {
	for _, kind := range res.Kinds() {
		var values []float64
		var layers []string
		at := map[[2]string]float64{}
		for _, p := range res.Points {
			if p.Kind != kind {
				continue
			}
			v := strconv.FormatFloat(p.Value, 'g', -1, 64)
			if !containsFloat(values, p.Value) {
				values = append(values, p.Value)
			}
			if !containsString(layers, p.Layer) {
				layers = append(layers, p.Layer)
			}
			at[[2]string{p.Layer, v}] = p.DeltaPP
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\t", kind)
		for _, v := range values {
			fmt.Fprintf(tw, "%s\t", strconv.FormatFloat(v, 'g', -1, 64))
		}
		fmt.Fprintln(tw)
		for _, l := range layers {
			fmt.Fprintf(tw, "%s\t", l)
			for _, v := range values {
				fmt.Fprintf(tw, "%+.2f\t", at[[2]string{l, strconv.FormatFloat(v, 'g', -1, 64)}])
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

func containsFloat(v []float64, x float64) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func containsString(v []string, x string) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// parseFloats reads a comma-separated list of numbers for --name ("" is
// an empty list).
func parseFloats(name, v string) ([]float64, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, usagef("--%s %q: %q is not a number", name, v, f)
		}
		out = append(out, x)
	}
	return out, nil
}

// parseInts reads a comma-separated list of whole numbers for --name.
func parseInts(name, v string) ([]int, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, usagef("--%s %q: %q is not a whole number", name, v, f)
		}
		out = append(out, x)
	}
	return out, nil
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}
