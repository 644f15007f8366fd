package main

import (
	"encoding/json"
	"fmt"
	"io"

	"mnistc/model"
	"mnistc/training"
)

// distillOutput is what `distill --json` prints.
type distillOutput struct {
	Model   string            `json:"model"`
	Teacher string            `json:"teacher"`
	Config  model.TrainConfig `json:"config"`
	// TeacherAccuracy, StudentAccuracy (distilled) and AloneAccuracy (the
	// same student, seed and budget, trained on the labels alone).
	TeacherAccuracy float64            `json:"teacher_accuracy"`
	StudentAccuracy float64            `json:"student_accuracy"`
	AloneAccuracy   float64            `json:"alone_accuracy"`
	GainPP          float64            `json:"gain_pp"`
	Student         model.Result       `json:"student"`
	History         []model.EpochStats `json:"history"`
	EpochSeconds    []float64          `json:"epoch_seconds"`
}

func runDistill(args []string, stdout, stderr io.Writer) error {
	// The recipe that did best in a search over T, α, jitter, epochs and
	// schedule (784-32-10 from the 784-128-10 baselines, 3 seeds; see
	// README): 20 epochs annealed by cosine, images shifted by up to a
	// pixel, T 2, α 0.5, soft targets of the unshifted images. The student
	// alone gets the same recipe.
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Schedule, cfg.Jitter = 20, "cosine", 1
	d := model.Distill{Temperature: 2, Alpha: 0.5}
	fs := newFlags("distill", "distill --teacher T.npz [--layers W1,…|--hidden K] [--temperature 2] [--alpha 0.5] [--epochs 20] [--schedule cosine] [--jitter 1] [--seed N] --out S.npz [--json]", stdout)
	var df dataFlags
	df.register(fs, true)
	teacherPath := fs.String("teacher", "", "trained teacher checkpoint (.npz)")
	out := fs.String("out", "", "student checkpoint to write (.npz)")
	var arch archFlags
	arch.register(fs, "the student", []int{32})
	fs.distillFlags(&d, "")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "training epochs, for the distilled student and the one trained alone")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "mini-batch size (≥ 1)")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate (> 0)")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for the student's initial weights and shuffling")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "learning-rate schedule: constant or cosine (annealed to 0 over the run)")
	fs.IntVar(&cfg.Jitter, "jitter", cfg.Jitter, "shift each training image by up to this many pixels along each axis, anew each epoch (0–8; both students)")
	fs.BoolVar(&d.Shifted, "shifted-targets", false, "with --jitter, the teacher's soft targets of each shifted image (for a teacher trained with jitter) instead of the original's")
	asJSON := fs.Bool("json", false, "print the record as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Layers, err = arch.value(fs); err != nil {
		return err
	}
	if *teacherPath == "" {
		return usagef("--teacher is required")
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"teacher": *teacherPath}); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usagef("--%v", err)
	}
	if err := d.Validate(); err != nil {
		return usagef("--%v", err)
	}
	teacher, err := model.Load(*teacherPath)
	if err != nil {
		return err
	}
	if err := df.check(); err != nil {
		return err
	}
	train, val, test, err := df.load()
	if err != nil {
		return err
	}
	if err := teacher.Params.CheckData(test.Inputs(), test.Classes()); err != nil {
		return fmt.Errorf("%s: %w", *teacherPath, err)
	}
	tr := model.Evaluate(teacher.Params, test, teacher.Meta.ActQuant) // as the teacher is evaluated
	student := model.ArchName(cfg.Sizes(train.Inputs(), train.Classes()))
	fmt.Fprintf(stderr, "distilling %s from a %s teacher (test %.4f), T %g, α %g, %d epochs (%s), jitter %d\n",
		student, teacher.Params.Arch(), tr.Accuracy, d.Temperature, d.Alpha, cfg.Epochs, scheduleName(cfg.Schedule), cfg.Jitter)
	dcfg := cfg
	dcfg.Distill = &d
	res, err := training.TrainDistilled(dcfg, teacher.Params, teacher.Meta.ActQuant, train, val, epochHooks(stderr, *quiet, cfg.Epochs, val.Len(), nil))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "the same student alone, same seed, budget, schedule and jitter:\n")
	alone, err := training.Train(cfg, train, val, epochHooks(stderr, *quiet, cfg.Epochs, val.Len(), nil))
	if err != nil {
		return err
	}
	sr, ar := model.Evaluate(res.Params, test, nil), model.Evaluate(alone.Params, test, nil)
	rec := distillOutput{Model: *out, Teacher: *teacherPath, Config: res.Config, TeacherAccuracy: tr.Accuracy,
		StudentAccuracy: sr.Accuracy, AloneAccuracy: ar.Accuracy, GainPP: 100 * (sr.Accuracy - ar.Accuracy),
		Student: sr, History: res.History, EpochSeconds: res.Seconds}
	b, _ := json.Marshal(map[string]any{"teacher": *teacherPath, "teacher_accuracy": tr.Accuracy, "alone_accuracy": ar.Accuracy})
	ck := model.Checkpoint{Params: res.Params, Meta: model.Meta{Train: &res.Config, History: res.History, Test: &sr,
		Backend: model.Backend(), Source: "mnistc distill", Passes: []json.RawMessage{b}}}
	if err := ck.Save(*out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rec)
	}
	fmt.Fprintf(stdout, "%s: distilled %.4f, alone %.4f (%+.2f pp; teacher %.4f); saved %s\n",
		student, sr.Accuracy, ar.Accuracy, rec.GainPP, tr.Accuracy, *out)
	return nil
}

// scheduleName names a learning-rate schedule for messages.
func scheduleName(s string) string {
	if s == "" {
		return "constant"
	}
	return s
}
