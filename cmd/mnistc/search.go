package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"mnistc/data"
	"mnistc/model"
	"mnistc/search"
	"mnistc/training"
)

func init() {
	registered = append(registered, command{"search",
		"search per-layer keep rates and bit widths (with retraining) for the smallest .mnc within a validation-accuracy budget", runSearch})
}

// searchOutput is what `search --json` prints and what the recipe file
// next to --out holds.
type searchOutput struct {
	search.Result
	// Commands rerun the recipe: finetune from the input model, then pack.
	Commands         []string `json:"commands"`
	BaseTestAccuracy float64  `json:"base_test_accuracy"`
	TestAccuracy     float64  `json:"test_accuracy"`
	TestDropPP       float64  `json:"test_drop_pp"` // positive: a loss
	Out              string   `json:"out"`
}

func runSearch(args []string, stdout, stderr io.Writer) error {
	opt := search.DefaultOptions()
	fs := newFlags("search", "search --model M.npz --out S.mnc [--max-drop 0.5] [--guard 1] [--seed N] [--epochs N] [--trials N] [--state DIR] [--lr X] [--schedule cosine] [--distill=false|--temperature 2 --alpha 0.5] [--val N] [--limit N] [--data DIR] [--json] [--quiet]", stdout)
	dataDir := fs.String("data", "", "folder with the four MNIST IDX .gz files (default: the copy shipped in the GoMNIST module)")
	in := fs.String("model", "", "trained checkpoint to compress (.npz)")
	out := fs.String("out", "", "packed model to write (.mnc); the recipe goes next to it as .recipe.json")
	fs.Float64Var(&opt.MaxDrop, "max-drop", opt.MaxDrop, "budget: the most validation accuracy, in percentage points, the result may lose against --model's")
	fs.Float64Var(&opt.Guard, "guard", opt.Guard, "a trial is within the budget when its validation drop plus this many standard errors of the paired difference is (0: the drop as measured; see README)")
	fs.Int64Var(&opt.Seed, "seed", opt.Seed, "seed of every fine-tuning run")
	fs.IntVar(&opt.Epochs, "epochs", opt.Epochs, "fine-tuning epochs per trial")
	fs.IntVar(&opt.Trials, "trials", opt.Trials, "most fine-tuning runs in all (a resumed search's earlier ones count)")
	fs.Float64Var(&opt.LR, "lr", 0, "fine-tuning learning rate (default: finetune's for the recipe: 1e-3 when it prunes)")
	fs.StringVar(&opt.Schedule, "schedule", "", "fine-tuning learning-rate schedule, constant or cosine (default: finetune's for the recipe)")
	distill := fs.Bool("distill", true, "fine-tune every trial on the input model's soft targets beside the labels (finetune --distill); --distill=false: labels alone")
	kd := *opt.Distill
	fs.distillFlags(&kd, "--distill: ")
	state := fs.String("state", "", "`DIR` for the resumable state (default: --out without .mnc, plus .search)")
	val := fs.Int("val", -1, "validation split: the last `N` of the training images used; default: the checkpoint's own split, else 5000")
	limit := fs.Int("limit", -1, "use only the first `N` training images before the split; default: the checkpoint's own split, else all")
	asJSON := fs.Bool("json", false, "print the result (recipe, every trial, test accuracy) as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	opt.Distill = &kd
	if !*distill {
		if fs.distillGiven() {
			return usagef("--temperature and --alpha set the distillation that --distill=false turns off")
		}
		opt.Distill = nil
	}
	if err := checkOut("out", *out, ".mnc"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"model": *in}); err != nil {
		return err
	}
	if err := opt.Check(); err != nil {
		return usagef("--%v", err)
	}
	if *val < -1 {
		return usagef("--val %d out of range: want ≥ 1", *val)
	}
	if *limit < -1 {
		return usagef("--limit %d out of range: want ≥ 1", *limit)
	}
	if *state == "" {
		*state = strings.TrimSuffix(*out, ".mnc") + ".search"
	}
	if st, err := os.Stat(*state); err == nil && !st.IsDir() {
		return usagef("--state %s is a file, not a folder", *state)
	}
	recipePath := strings.TrimSuffix(*out, ".mnc") + ".recipe.json"
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	d := dataFlags{dir: *dataDir}
	if err := d.check(); err != nil {
		return err
	}
	if err := searchSplit(&d, ck.Meta.Train, *val, *limit); err != nil {
		return err
	}
	full, test, err := data.Load(d.dir)
	if err != nil {
		return err
	}
	if d.limit >= full.Len() {
		d.limit = 0 // no cut: the recipe needs no --limit
	}
	if d.limit > 0 {
		full = full.Slice(0, d.limit)
	}
	train, valSet, err := data.Split(full, d.val)
	if err != nil {
		return usagef("--val: %v", err)
	}
	if err := ck.Params.CheckData(test.Inputs(), test.Classes()); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if !*quiet {
		bar := newProgress(stderr, false)
		opt.Hooks = training.Hooks{Batch: func(ep, b, n int) { bar.update(fmt.Sprintf("fine-tuning epoch %d/%d", ep, opt.Epochs), b, n) }}
		opt.Log = barClearing{stderr, bar}
		if os.Getenv("MNISTC_SEARCH_DEBUG") != "" {
			opt.Debug = opt.Log
		}
	}
	opt.StateDir = *state
	res, err := search.Run(ck, train, valSet, opt)
	if err != nil {
		if errors.Is(err, search.ErrOtherState) {
			return usagef("--%v", err)
		}
		if errors.Is(err, search.ErrNothingFits) {
			return fmt.Errorf("%s: %w: try a larger --max-drop or more --trials", *in, err)
		}
		return err
	}
	// Only now, once: the test set.
	o := searchOutput{Result: res, Out: *out}
	baseTest := model.Evaluate(ck.Params, test, ck.Meta.ActQuant)
	finalTest := model.Evaluate(res.Checkpoint.Params, test, res.Checkpoint.Meta.ActQuant)
	o.BaseTestAccuracy, o.TestAccuracy = baseTest.Accuracy, finalTest.Accuracy
	o.TestDropPP = 100 * float64(baseTest.Correct-finalTest.Correct) / float64(test.Len())
	o.Commands = recipeCommands(*in, *out, d, res)
	if err := model.WriteFileAtomic(*out, res.Packed); err != nil {
		return err
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	if err := model.WriteFileAtomic(recipePath, append(b, '\n')); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, o)
	}
	fmt.Fprintf(stdout, "%s: %s, %d bytes, %s the %d bytes of float32 parameters of %s\n", *out, res.Arch, res.Bytes, ratioText(res.Ratio), res.FloatBytes, *in)
	fmt.Fprintf(stdout, "validation %.4f (input %.4f: %+.2f ± %.2f pp, budget −%.2f pp with %g SE); test %.4f (input %.4f: %+.2f pp)\n",
		res.ValAccuracy, res.BaseValAccuracy, -res.ValDropPP, res.ValSEPP, res.MaxDropPP, res.Guard, o.TestAccuracy, o.BaseTestAccuracy, -o.TestDropPP)
	fmt.Fprintf(stdout, "recipe (%s), after %d fine-tunes (%d accepted), %.0f s of fine-tuning:\n", res.Recipe, len(res.Trials), res.Accepted(), res.TrialSeconds)
	for _, c := range o.Commands {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	fmt.Fprintf(stdout, "saved %s and %s\n", *out, recipePath)
	return nil
}

// searchSplit sets d's validation and training cut the way `finetune`
// would need them to see the same images: from the flags when given, else
// from the checkpoint's recorded split (as compress calibrates), else
// finetune's defaults.
func searchSplit(d *dataFlags, tc *model.TrainConfig, val, limit int) error {
	d.val, d.limit = 5000, 0
	if tc != nil && tc.ValImages > 0 {
		d.val, d.limit = tc.ValImages, tc.TrainImages+tc.ValImages
	} else if tc != nil && tc.TrainImages > 0 && val == -1 {
		return usagef("--val: the checkpoint was trained with no validation split (val_images 0), so every training image was seen in training; give --val N to decide on the last N anyway")
	}
	if val >= 0 {
		d.val = val
	}
	if limit >= 0 {
		d.limit = limit
	}
	if d.val < 1 {
		return usagef("--val %d: the search decides on the validation split; want ≥ 1", d.val)
	}
	return d.check()
}

// recipeCommands returns the commands that rebuild the result: finetune
// of the input model with the recipe's passes and the search's training
// settings, then pack --lean.
func recipeCommands(in, out string, d dataFlags, res search.Result) []string {
	npz := strings.TrimSuffix(out, ".mnc") + ".npz"
	ft := []string{"mnistc", "finetune", "--model", shellQuote(in)}
	for _, s := range res.Specs {
		ft = append(ft, "--pass", shellQuote(s))
	}
	ft = append(ft, "--epochs", strconv.Itoa(res.Train.Epochs), "--lr", strconv.FormatFloat(res.Train.LR, 'g', -1, 64),
		"--batch", strconv.Itoa(res.Train.Batch), "--seed", strconv.FormatInt(res.Train.Seed, 10))
	if res.Train.Schedule != "" {
		ft = append(ft, "--schedule", res.Train.Schedule)
	}
	if kd := res.Train.Distill; kd != nil {
		ft = append(ft, "--distill", "--temperature", strconv.FormatFloat(kd.Temperature, 'g', -1, 64), "--alpha", strconv.FormatFloat(kd.Alpha, 'g', -1, 64))
	}
	if d.val != 5000 {
		ft = append(ft, "--val", strconv.Itoa(d.val))
	}
	if d.limit > 0 {
		ft = append(ft, "--limit", strconv.Itoa(d.limit))
	}
	if def, err := data.DefaultDir(); err != nil || d.dir != def {
		ft = append(ft, "--data", shellQuote(d.dir))
	}
	ft = append(ft, "--out", shellQuote(npz))
	pack := []string{"mnistc", "pack", "--model", shellQuote(npz), "--out", shellQuote(out), "--lean"}
	return []string{strings.Join(ft, " "), strings.Join(pack, " ")}
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,+@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// barClearing erases the progress bar before each log line.
type barClearing struct {
	w   io.Writer
	bar *progress
}

func (b barClearing) Write(p []byte) (int, error) {
	b.bar.clear()
	return b.w.Write(p)
}
