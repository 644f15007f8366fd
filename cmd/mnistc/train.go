package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"mnistc/data"
	"mnistc/model"
	"mnistc/retrain"
	"mnistc/training"
)

// trainOutput is what `train --json` prints.
type trainOutput struct {
	Model        string             `json:"model"`
	Backend      string             `json:"backend"`
	Config       model.TrainConfig  `json:"config"`
	History      []model.EpochStats `json:"history"`
	EpochSeconds []float64          `json:"epoch_seconds"`
	// EpochRSSMB is the process's resident memory after each epoch and
	// PeakRSSMB its high-water mark (Linux; 0 elsewhere).
	EpochRSSMB   []float64    `json:"epoch_rss_mb"`
	PeakRSSMB    float64      `json:"peak_rss_mb"`
	TestAccuracy float64      `json:"test_accuracy"`
	Test         model.Result `json:"test"`
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	cfg := model.DefaultTrainConfig()
	fs := newFlags("train", "train [--layers W1,W2,…|--hidden N] [--epochs N] [--batch N] [--lr X] [--schedule constant|cosine] [--jitter P] [--seed N] [--data DIR] [--val N] [--pass SPEC ...] --out model.npz [--json]", stdout)
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "training epochs (≥ 1)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "mini-batch size (≥ 1)")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate (> 0)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for initial weights and shuffling")
	fs.StringVar(&cfg.Schedule, "schedule", "constant", "learning-rate schedule: constant or cosine (annealed to 0 over the run)")
	fs.IntVar(&cfg.Jitter, "jitter", 0, "shift each training image by up to this many pixels along each axis, anew each epoch (0–8; a stronger teacher for distill)")
	var arch archFlags
	arch.register(fs, "the network", cfg.Layers)
	var d dataFlags
	d.register(fs, true)
	out := fs.String("out", "", "checkpoint to write (.npz); written atomically")
	var passes specList
	fs.Var(&passes, "pass", "a pass `SPEC` held in the model from the first step (the article's §4 flow; repeatable, applied in order)")
	asJSON := fs.Bool("json", false, "print the final record as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Layers, err = arch.value(fs); err != nil {
		return err
	}
	if cfg.Schedule == "constant" {
		cfg.Schedule = "" // the checkpoint records a constant rate as no schedule, as before the flag
	}
	if err := cfg.Validate(); err != nil {
		return usagef("--%v", err) // Validate names the field as its flag is named
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	if len(passes) > 0 {
		if err := retrain.CheckScratch(passes); err != nil {
			return passError(err)
		}
		// tensor names depend on the depth alone: MNIST's sizes will do
		if err := checkPassesFit(passes, model.NewParams(cfg.Sizes(model.Inputs, model.Classes))); err != nil {
			return err
		}
	}
	if err := d.check(); err != nil {
		return err
	}
	train, val, test, err := d.load()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "training %s on %d images (validation %d), %d epochs, batch %d, lr %g, seed %d, BLAS %s\n",
		model.ArchName(cfg.Sizes(train.Inputs(), train.Classes())), train.Len(), val.Len(), cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed, model.Backend())
	var rss []float64
	hooks := epochHooks(stderr, *quiet, cfg.Epochs, val.Len(), func() { rss = append(rss, memMB("VmRSS")) })
	if len(passes) > 0 {
		return trainWithPasses(cfg, passes, train, val, test, hooks, *out, *asJSON, stdout)
	}
	res, err := training.Train(cfg, train, val, hooks)
	if err != nil {
		return err
	}
	r := model.Evaluate(res.Params, test, nil)
	ck := model.Checkpoint{Params: res.Params, Meta: model.Meta{
		Train: &res.Config, History: res.History, Test: &r, Backend: model.Backend(), Source: "mnistc train",
	}}
	if err := ck.Save(*out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, trainOutput{Model: *out, Backend: model.Backend(), Config: res.Config,
			History: res.History, EpochSeconds: res.Seconds, EpochRSSMB: rss, PeakRSSMB: memMB("VmHWM"), TestAccuracy: r.Accuracy, Test: r})
	}
	fmt.Fprintf(stdout, "test accuracy %.4f (%d/%d correct), test loss %.4f; saved %s\n", r.Accuracy, r.Correct, r.Total, r.Loss, *out)
	return nil
}

// memMB reads a memory figure (VmRSS, VmHWM) of this process in MB from
// /proc/self/status; 0 where there is no such file.
func memMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}

// trainWithPasses is `train --pass`: the passes are held from the first
// step, and the record says what they cost.
func trainWithPasses(cfg model.TrainConfig, passes []string, train, val, test data.Set, hooks training.Hooks, out string, asJSON bool, stdout io.Writer) error {
	ck, rec, err := retrain.Train(retrain.Config{Train: cfg, Passes: passes}, train, val, test, hooks)
	if err != nil {
		return err
	}
	ck.Meta.Source = "mnistc train --pass"
	b, _ := json.Marshal(rec)
	ck.Meta.Passes = append(ck.Meta.Passes, b)
	if err := ck.Save(out); err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, rec)
	}
	fmt.Fprintf(stdout, "%s in the loop: test accuracy %.4f (%d/%d), %d bytes (%.1f×); saved %s\n",
		rec.Spec, rec.AccAfter, rec.CorrectAfter, test.Len(), rec.SizeBytes, rec.Ratio, out)
	return nil
}
