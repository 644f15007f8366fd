package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"mnistc/model"
)

// evalOutput is what `eval --json` prints.
type evalOutput struct {
	Model   string  `json:"model"`
	Backend string  `json:"backend"`
	EvalMS  float64 `json:"eval_ms"`
	model.Result
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval --model model.npz [--data DIR] [--json]", stderr)
	var d dataFlags
	d.register(fs, false)
	path := fs.String("model", "", "checkpoint to evaluate (.npz)")
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
	ck, err := model.Load(*path)
	if err != nil {
		return err
	}
	if err := d.check(); err != nil {
		return err
	}
	_, _, test, err := d.load()
	if err != nil {
		return err
	}
	start := time.Now()
	r := model.Evaluate(ck.Params, test, ck.Meta.ActQuant)
	ms := float64(time.Since(start).Microseconds()) / 1000
	if *asJSON {
		return printJSON(stdout, evalOutput{Model: *path, Backend: model.Backend(), EvalMS: ms, Result: r})
	}
	fmt.Fprintf(stdout, "%s: test accuracy %.4f (%d/%d correct), loss %.4f, %.1f ms (BLAS %s)\n",
		*path, r.Accuracy, r.Correct, r.Total, r.Loss, ms, model.Backend())
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "true\\pred\t0\t1\t2\t3\t4\t5\t6\t7\t8\t9\taccuracy\t")
	for c := 0; c < model.Classes; c++ {
		fmt.Fprintf(tw, "%d\t", c)
		for p := 0; p < model.Classes; p++ {
			fmt.Fprintf(tw, "%d\t", r.Confusion[c][p])
		}
		fmt.Fprintf(tw, "%.4f\t\n", r.PerClass[c])
	}
	return tw.Flush()
}
