package main

import (
	"fmt"
	"io"
	"mnistc/mnc"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"mnistc/infer"
	"mnistc/model"
)

// evalOutput is what `eval --json` prints.
type evalOutput struct {
	Model   string  `json:"model"`
	Backend string  `json:"backend"`
	EvalMS  float64 `json:"eval_ms"`
	// Packed: evaluated straight from a .mnc file, with these kernels.
	Packed  bool     `json:"packed,omitempty"`
	Kernels []string `json:"kernels,omitempty"`
	model.Result
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval --model model.npz|model.mnc [--data DIR] [--json]", stdout)
	var d dataFlags
	d.register(fs, false)
	path := fs.String("model", "", "checkpoint (.npz) or packed model (.mnc, evaluated from its packed form) to evaluate")
	asJSON := fs.Bool("json", false, "print accuracy, correct, total, loss, per-class accuracy and confusion as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *path == "" {
		return usagef("--model is required")
	}
	if _, err := os.Stat(*path); err != nil {
		return fmt.Errorf("--model %s: %w", *path, err)
	}
	var ck model.Checkpoint
	var net *infer.Net
	var err error
	if isPacked(*path) {
		f, err := loadPacked(*path)
		if err != nil {
			return err
		}
		if net, err = infer.New(f); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
	} else if ck, err = model.Load(*path); err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	_, _, test, err := d.load()
	if err != nil {
		return err
	}
	if net != nil {
		err = net.CheckData(test.Inputs(), test.Classes())
	} else {
		err = ck.Params.CheckData(test.Inputs(), test.Classes())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	start := time.Now()
	var r model.Result
	if net != nil {
		r = model.Score(net.Forward(test.X, test.Len()), net.Classes(), test)
	} else {
		r = model.Evaluate(ck.Params, test, ck.Meta.ActQuant)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	out := evalOutput{Model: *path, Backend: model.Backend(), EvalMS: ms, Result: r}
	if net != nil {
		out.Packed, out.Kernels = true, net.Kernels()
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	for _, k := range out.Kernels {
		fmt.Fprintf(stdout, "from the packed file: %s\n", k)
	}
	fmt.Fprintf(stdout, "%s: test accuracy %.4f (%d/%d correct), loss %.4f, %.1f ms (BLAS %s)\n",
		*path, r.Accuracy, r.Correct, r.Total, r.Loss, ms, model.Backend())
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "true\\pred\t")
	for p := range r.Confusion {
		fmt.Fprintf(tw, "%d\t", p)
	}
	fmt.Fprintln(tw, "accuracy\t")
	for c := range r.Confusion {
		fmt.Fprintf(tw, "%d\t", c)
		for p := range r.Confusion[c] {
			fmt.Fprintf(tw, "%d\t", r.Confusion[c][p])
		}
		fmt.Fprintf(tw, "%.4f\t\n", r.PerClass[c])
	}
	return tw.Flush()
}

// isPacked reports whether path is a packed .mnc model: by its first
// bytes, so a renamed file (or .MNC) is read for what it is.
func isPacked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return strings.HasSuffix(strings.ToLower(path), ".mnc") // let the loader name the error
	}
	defer f.Close()
	head := make([]byte, len(mnc.Magic))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == mnc.Magic
}
