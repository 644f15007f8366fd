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
	fs := newFlags("compress", "compress --model IN.npz --pass SPEC [--pass SPEC ...] --out OUT.npz [--json]", stdout)
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
		return passError(err)
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"model": *in}); err != nil {
		return err
	}
	if *val < -1 {
		return usagef("--val %d out of range: want ≥ 0", *val)
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if err := checkPassesFit(specs, ck.Params); err != nil {
		return err
	}
	calib, test, err := loadCalibration(d, ck, *in, *val)
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

// loadCalibration reads the data d names, checks that the checkpoint ck
// (read from path in) fits them, and returns its calibration split (see
// calibrationSplit) and the test set.
func loadCalibration(d dataFlags, ck model.Checkpoint, in string, val int) (calib, test data.Set, err error) {
	if err := d.check(); err != nil {
		return data.Set{}, data.Set{}, err
	}
	train, test, err := data.Load(d.dir)
	if err != nil {
		return data.Set{}, data.Set{}, err
	}
	if err := ck.Params.CheckData(test.Inputs(), test.Classes()); err != nil {
		return data.Set{}, data.Set{}, fmt.Errorf("%s: %w", in, err)
	}
	calib, err = calibrationSplit(train, ck.Meta.Train, val)
	return calib, test, err
}

// calibrationSplit returns the images a pass may calibrate on: exactly the
// checkpoint's validation split when its metadata records one (images
// [train, train+val) of the training file), else the last val (default
// 5000) training images.
//
// A recorded split the data cannot hold (another --data?) or one without
// validation images is refused rather than replaced by another split:
// calibrating on images the network trained on would go unnoticed.
func calibrationSplit(train data.Set, tc *model.TrainConfig, val int) (data.Set, error) {
	if val == -1 && tc != nil && (tc.TrainImages > 0 || tc.ValImages > 0) {
		switch {
		case tc.TrainImages+tc.ValImages > train.Len():
			return data.Set{}, fmt.Errorf("the checkpoint's split (train_images %d + val_images %d) needs more than the %d training images of the data; was it trained on other --data? (--val N calibrates on the last N images instead)",
				tc.TrainImages, tc.ValImages, train.Len())
		case tc.ValImages == 0:
			return data.Set{}, usagef("--val: the checkpoint was trained with no validation split (val_images 0), so every training image was seen in training; give --val N to calibrate on the last N anyway")
		}
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
	fmt.Fprintln(tw, "step\tpass\tacc before\tacc after\tΔ pp\tsize bytes\tratio\tbits/weight\tsparsity w1/…/wN\tdistinct w1/…/wN")
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
		if len(t.Shape) == 2 { // the weights w1 … wN
			parts = append(parts, f(t))
		}
	}
	return strings.Join(parts, "/")
}

func runPasses(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("passes", "passes", stdout)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprint(stdout, "Passes for --pass name:key=value,... (lists use '/', per-tensor values w1:0.1/w2:0.3)\n\n")
	fmt.Fprint(stdout, compress.Describe())
	return nil
}
