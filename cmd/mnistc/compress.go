package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/model"
)

// specList collects repeated --pass flags.
type specList []string

func (s *specList) String() string     { return strings.Join(*s, " ") }
func (s *specList) Set(v string) error { *s = append(*s, v); return nil }

func runCompress(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compress", "compress --model IN.npz --pass SPEC [--pass SPEC ...] --out OUT.npz [--json]", stderr)
	var d dataFlags
	d.register(fs, false)
	var specs specList
	fs.Var(&specs, "pass", "a pass `SPEC` name:key=value,... (repeatable; applied in order; see 'mnistc passes')")
	in := fs.String("model", "", "checkpoint to compress (.npz)")
	out := fs.String("out", "", "compressed checkpoint to write (.npz, float32 values after the passes)")
	val := fs.Int("val", -1, "calibrate on the last `N` training images (default: the checkpoint's own validation split, else 5000)")
	asJSON := fs.Bool("json", false, "print one JSON record per pass (and the chain total) on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(specs) == 0 {
		return usagef("at least one --pass is required (see 'mnistc passes')")
	}
	passes, err := compress.Build(specs)
	if err != nil {
		return usagef("--pass %v", err)
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	if *val < -1 {
		return usagef("--val %d out of range: want ≥ 0", *val)
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	train, test, err := data.Load(d.dir)
	if err != nil {
		return err
	}
	if err := ck.Params.CheckData(test.Inputs(), test.Classes()); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	calib, err := calibrationSplit(train, ck.Meta.Train, *val)
	if err != nil {
		return err
	}
	res, err := compress.Run(ck, passes, compress.Env{Calib: calib}, test)
	if err != nil {
		return err
	}
	outCk := model.Checkpoint{Params: res.State.Params, Meta: ck.Meta}
	outCk.Meta.ActQuant = res.State.ActQuant
	outCk.Meta.Source = "mnistc compress"
	for _, r := range res.Records {
		b, _ := json.Marshal(r)
		outCk.Meta.Passes = append(outCk.Meta.Passes, b)
	}
	if err := outCk.Save(*out); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range res.Records {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	printRecords(stdout, res.Records)
	fmt.Fprintf(stdout, "saved %s\n", *out)
	return nil
}

// calibrationSplit returns the images a pass may calibrate on: exactly the
// checkpoint's validation split when its metadata records one (images
// [train, train+val) of the training file), else the last val (default
// 5000) training images.
func calibrationSplit(train data.Set, tc *model.TrainConfig, val int) (data.Set, error) {
	if val == -1 && tc != nil && tc.ValImages > 0 && tc.TrainImages+tc.ValImages <= train.Len() {
		return train.Slice(tc.TrainImages, tc.TrainImages+tc.ValImages), nil
	}
	if val == -1 {
		val = 5000
	}
	_, v, err := data.Split(train, val)
	if err != nil {
		return data.Set{}, usagef("--val: %v", err)
	}
	return v, nil
}

func printRecords(w io.Writer, recs []compress.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\tpass\tacc before\tacc after\tΔ pp\tsize bytes\tratio\tbits/weight\tsparsity w1/w2\tdistinct w1/w2")
	for _, r := range recs {
		step := fmt.Sprint(r.Step)
		if r.Step == 0 {
			step = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%+.2f\t%d\t%.2f×\t%.2f\t%s\t%s\n", step, r.Spec, r.AccBefore, r.AccAfter, r.DeltaPP,
			r.SizeBytes, r.Ratio, r.BitsPerWeight, tensorField(r, func(t compress.TensorStats) string { return fmt.Sprintf("%.3f", t.Sparsity) }),
			tensorField(r, func(t compress.TensorStats) string { return fmt.Sprint(t.DistinctValues) }))
	}
	tw.Flush()
}

func tensorField(r compress.Record, f func(compress.TensorStats) string) string {
	var parts []string
	for _, t := range r.Tensors {
		if t.Name == "w1" || t.Name == "w2" {
			parts = append(parts, f(t))
		}
	}
	return strings.Join(parts, "/")
}

func runPasses(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("passes", "passes", stderr)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprint(stdout, "Passes for --pass name:key=value,... (lists use '/', per-tensor values w1:0.1/w2:0.3)\n\n")
	fmt.Fprint(stdout, compress.Describe())
	return nil
}
