package main

import (
	"encoding/json"
	"fmt"
	"io"

	"mnistc/model"
	"mnistc/retrain"
)

func runFinetune(args []string, stdout, stderr io.Writer) error {
	cfg := retrain.DefaultTrain()
	fs := newFlags("finetune", "finetune --model IN.npz --pass SPEC [--pass SPEC ...] [--epochs N] [--lr X] [--schedule cosine] [--batch N] [--seed N] [--distill [--temperature 2] [--alpha 0.5]] [--adversarial fgsm|pgd --adv-eps E] --out OUT.npz [--json]", stdout)
	var d dataFlags
	d.register(fs, true)
	in := fs.String("model", "", "trained checkpoint to fine-tune (.npz)")
	var passes specList
	fs.Var(&passes, "pass", "a pass `SPEC` held through training, e.g. prune:keep=0.1,scope=global,schedule=gradual (repeatable: applied in order; see 'mnistc passes'). "+
		"quantize at bits ≤ 4 (scheme=symmetric, unless range=mse) learns its step sizes (LSQ) and actquant at bits ≤ 4 its activation steps; "+
		"learn=none keeps the post-training rule at every step, learn=ttq trains ternary scales (TTQ) for scheme=ternary")
	out := fs.String("out", "", "fine-tuned checkpoint to write (.npz)")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "fine-tuning epochs (≥ 1)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "mini-batch size (≥ 1)")
	fs.Float64Var(&cfg.LR, "lr", 0, "Adam learning rate (> 0; default 1e-3 with a prune pass, else 3e-4 with quantization to ≤ 4 bits or ternary, else 1e-4: measured, see README)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for shuffling")
	fs.StringVar(&cfg.Schedule, "schedule", "", "learning-rate schedule: constant or cosine (annealed to 0 over the run); default cosine with quantization to ≤ 4 bits or ternary and no prune pass, else constant")
	distill := fs.Bool("distill", false, "distil from the input model as it is given: its soft targets at --temperature, weighted by --alpha, beside the labels (self-distillation in the loop; mnistc search's default)")
	kd := model.Distill{Temperature: 2, Alpha: 0.5}
	fs.distillFlags(&kd, "--distill: ")
	var adv model.Adversarial
	fs.StringVar(&adv.Attack, "adversarial", "", "adversarial fine-tuning: fgsm or pgd examples, crafted against the weights of each step, replace --adv-mix of every batch")
	fs.Float64Var(&adv.Eps, "adv-eps", 0.1, "--adversarial: L∞ radius ε on pixels in [0, 1]")
	fs.Float64Var(&adv.Mix, "adv-mix", 0.5, "--adversarial: fraction of each batch replaced by adversarial images")
	fs.IntVar(&adv.Steps, "adv-steps", 0, "--adversarial pgd: steps (0: 40, Madry et al.'s)")
	fs.Float64Var(&adv.Step, "adv-step", 0, "--adversarial pgd: step size (0: 0.01)")
	asJSON := fs.Bool("json", false, "print the record as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(passes) == 0 {
		return usagef("--pass is required")
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
	if cfg.LR == 0 {
		cfg.LR = retrain.DefaultLR(passes)
	}
	if cfg.Schedule == "" {
		cfg.Schedule = retrain.DefaultSchedule(passes)
	}
	if adv.Attack != "" {
		cfg.Adversarial = &adv
	}
	if fs.distillGiven() && !*distill {
		return usagef("--temperature and --alpha set the distillation of --distill, which is not given")
	}
	if *distill {
		if err := kd.Validate(); err != nil {
			return usagef("--%v", err)
		}
		cfg.Distill = &kd
	}
	cfg.Layers = []int{model.DefaultHidden} // checked here; the checkpoint's layers are used
	if err := cfg.Validate(); err != nil {
		return usagef("--%v", err)
	}
	if err := retrain.Check(passes); err != nil {
		return passError(err)
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if err := retrain.CheckFit(passes, ck.Params); err != nil { // retrain reads the learn key compress does not
		return passError(err)
	}
	if err := d.check(); err != nil {
		return err
	}
	train, val, test, err := d.load()
	if err != nil {
		return err
	}
	if err := ck.Params.CheckData(test.Inputs(), test.Classes()); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	hooks := epochHooks(stderr, *quiet, cfg.Epochs, val.Len(), nil)
	outCk, rec, err := retrain.Run(ck, retrain.Config{Train: cfg, Passes: passes}, train, val, test, hooks)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	outCk.Meta.Passes = append(outCk.Meta.Passes, b)
	if err := outCk.Save(*out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rec)
	}
	fmt.Fprintf(stdout, "%s: test accuracy %.4f before, %.4f with the passes and no retraining, %.4f after %d epochs in the loop (%+.2f pp); %d bytes (%.1f×); saved %s\n",
		rec.Spec, rec.AccBefore, rec.AccNoRetrain, rec.AccAfter, cfg.Epochs, rec.DeltaPP, rec.SizeBytes, rec.Ratio, *out)
	return nil
}
