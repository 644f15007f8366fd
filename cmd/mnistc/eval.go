package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"mnistc/mnc"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"mnistc/data"
	"mnistc/infer"
	"mnistc/model"
	"mnistc/robust"
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
	// Robust: with --robust, accuracy under attack and corruption
	// (robust.Result), measured in RobustMS.
	Robust   *robust.Result `json:"robust,omitempty"`
	RobustMS float64        `json:"robust_ms,omitempty"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval --model model.npz|model.mnc [--data DIR] [--json] [--robust [--eps LIST] [--transfer-from BASE] …]", stdout)
	var d dataFlags
	d.register(fs, false)
	path := fs.String("model", "", "checkpoint (.npz) or packed model (.mnc, evaluated from its packed form) to evaluate")
	asJSON := fs.Bool("json", false, "print accuracy, correct, total, loss, per-class accuracy and confusion as JSON")
	var rf robustFlags
	rf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if *path == "" {
		return usagef("--model is required")
	}
	opt, err := rf.options(fs)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*path); err != nil {
		return fmt.Errorf("--model %s: %w", *path, err)
	}
	var ck model.Checkpoint
	var net *infer.Net
	if isPacked(*path) {
		f, err := loadPacked(*path)
		if err != nil {
			return err
		}
		if net, err = infer.New(f); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		if rf.on { // the attacks need the weights: unpack them
			if ck, err = f.Checkpoint(); err != nil {
				return fmt.Errorf("%s: %w", *path, err)
			}
		}
	} else if ck, err = model.Load(*path); err != nil {
		return err
	}
	var source *model.Checkpoint
	if rf.on && rf.transferFrom != "" {
		if source, err = loadAny(rf.transferFrom); err != nil {
			return err
		}
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
	if rf.on {
		start := time.Now()
		r, err := evalRobust(robust.Model{Params: ck.Params, ActQuant: ck.Meta.ActQuant}, *path, source, rf.transferFrom, test, opt)
		if err != nil {
			return err
		}
		out.Robust, out.RobustMS = &r, float64(time.Since(start).Microseconds())/1000
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
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.Robust != nil {
		return printRobust(stdout, *out.Robust, out.RobustMS, net != nil)
	}
	return nil
}

// loadAny reads a checkpoint (.npz) or a packed model (.mnc, unpacked).
func loadAny(path string) (*model.Checkpoint, error) {
	if !isPacked(path) {
		ck, err := model.Load(path)
		return &ck, err
	}
	f, err := loadPacked(path)
	if err != nil {
		return nil, err
	}
	ck, err := f.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ck, nil
}

// evalRobust crafts the transfer images on source (when given) and
// measures the target; errors name the file.
func evalRobust(target robust.Model, path string, source *model.Checkpoint, sourcePath string, test data.Set, opt robust.Options) (robust.Result, error) {
	var tr *robust.Transfer
	if source != nil {
		var err error
		src := robust.Model{Params: source.Params, ActQuant: source.Meta.ActQuant}
		if tr, err = robust.NewTransfer(src, sourcePath, test, opt); err != nil {
			return robust.Result{}, fmt.Errorf("--transfer-from %s: %w", sourcePath, err)
		}
	}
	r, err := robust.Evaluate(target, tr, test, opt)
	if err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
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

// robustFlags are eval's --robust flags.
type robustFlags struct {
	on           bool
	eps, attacks string
	pgdImages    int
	images       int
	pgdSteps     int
	pgdStep      float64
	severity     int
	seed         int64
	transferFrom string
}

func (r *robustFlags) register(fs *cmdFlags) {
	fs.BoolVar(&r.on, "robust", false, "also measure accuracy under FGSM and PGD attacks (L∞, white-box through the straight-through estimator), a transfer attack (--transfer-from) and common corruptions")
	fs.StringVar(&r.attacks, "attacks", strings.Join(robust.AttackNames(), ","), "with --robust: what to measure, a `LIST` of fgsm, pgd, transfer (needs --transfer-from), corrupt")
	fs.StringVar(&r.eps, "eps", joinEps(robust.DefaultEps()), "with --robust: the L∞ radii `ε,…` in pixel units (pixels in [0, 1])")
	fs.IntVar(&r.pgdImages, "robust-images", robust.DefaultPGDImages, "with --robust: how many test images (the first `N`) PGD attacks")
	fs.IntVar(&r.images, "attack-images", 0, "with --robust: how many test images (the first `N`) FGSM, the transfer FGSM and the corruptions use (0: all)")
	fs.IntVar(&r.pgdSteps, "pgd-steps", robust.DefaultPGDSteps, "with --robust: PGD iterations")
	fs.Float64Var(&r.pgdStep, "pgd-step", robust.DefaultPGDStep, "with --robust: PGD step size (pixel units)")
	fs.IntVar(&r.severity, "severity", robust.DefaultSeverity, fmt.Sprintf("with --robust: corruption severity 1..%d (the table prints each corruption's parameter at it)", robust.Severities))
	fs.Int64Var(&r.seed, "seed", 1, "with --robust: seed of PGD's random starts and of the corruptions")
	fs.StringVar(&r.transferFrom, "transfer-from", "", "with --robust: the model (`BASE.npz` or .mnc, usually the float baseline) whose FGSM and PGD images are scored on this one (transfer attack)")
}

// options checks the flags and returns the robust.Options they give, or a
// usage error naming the flag.
func (r *robustFlags) options(fs *cmdFlags) (robust.Options, error) {
	if !r.on {
		var stray string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "robust" && strings.Contains(f.Usage, "with --robust") && stray == "" {
				stray = f.Name
			}
		})
		if stray != "" {
			return robust.Options{}, usagef("--%s needs --robust", stray)
		}
		return robust.Options{}, nil
	}
	o := robust.Options{Images: r.images, PGDImages: r.pgdImages, PGDSteps: r.pgdSteps, PGDStep: float32(r.pgdStep), Severity: r.severity, Seed: r.seed}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "attacks" })
	for _, a := range strings.Split(r.attacks, ",") {
		a = strings.TrimSpace(a)
		switch {
		case !slices.Contains(robust.AttackNames(), a):
			return o, usagef("--attacks %q: %q unknown, want some of %s", r.attacks, a, strings.Join(robust.AttackNames(), ","))
		case a == robust.AttackTransfer && r.transferFrom == "" && given:
			return o, usagef("--attacks transfer needs --transfer-from")
		case a == robust.AttackTransfer && r.transferFrom == "":
			continue // the default list: transfer only with a source
		}
		o.Attacks = append(o.Attacks, a)
	}
	for _, f := range strings.Split(r.eps, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil || !(v >= 0 && v <= 1) || slices.Contains(o.Eps, float32(v)) {
			return o, usagef("--eps %q: want distinct radii in 0..1 separated by commas, like 0.05,0.1", r.eps)
		}
		o.Eps = append(o.Eps, float32(v))
	}
	switch {
	case r.pgdImages < 1:
		return o, usagef("--robust-images %d out of range: want ≥ 1", r.pgdImages)
	case r.images < 0:
		return o, usagef("--attack-images %d out of range: want ≥ 0 (0: the whole test set)", r.images)
	case r.pgdSteps < 1:
		return o, usagef("--pgd-steps %d out of range: want ≥ 1", r.pgdSteps)
	case !(r.pgdStep > 0 && r.pgdStep <= 1):
		return o, usagef("--pgd-step %v out of range: want 0 < step ≤ 1", r.pgdStep)
	case r.severity < 1 || r.severity > robust.Severities:
		return o, usagef("--severity %d out of range: want 1..%d", r.severity, robust.Severities)
	}
	if r.transferFrom != "" {
		if _, err := os.Stat(r.transferFrom); err != nil {
			return o, usagef("--transfer-from %s: %v", r.transferFrom, errors.Unwrap(err))
		}
	}
	if err := o.Validate(); err != nil {
		return o, usagef("--robust: %v", err)
	}
	return o, nil
}

// joinEps formats radii as --eps takes them.
func joinEps(eps []float32) string {
	s := make([]string, len(eps))
	for i, e := range eps {
		s[i] = robust.EpsKey(e)
	}
	return strings.Join(s, ",")
}

// printRobust prints the robustness figures as tables.
func printRobust(w io.Writer, r robust.Result, ms float64, packed bool) error {
	grads := "float activations"
	if r.STE {
		grads = "quantized activations by the straight-through estimator"
	}
	fmt.Fprintf(w, "\nrobustness, %.1f s: clean accuracy %.4f on the first %d test images, %.4f on the first %d (PGD)\n",
		ms/1000, r.Clean, r.Images["clean"], r.CleanPGD, r.Images["clean_pgd"])
	fmt.Fprintf(w, "white-box gradients through %s; PGD %d steps of %v from a random start, seed %d", grads, r.PGDSteps, r.PGDStep, r.Seed)
	if packed {
		fmt.Fprint(w, "; the unpacked float32 weights through model.Forward")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.FGSM != nil || r.PGD != nil || r.TransferFGSM != nil {
		fmt.Fprint(tw, "attack\timages\t")
		for _, e := range r.Eps {
			fmt.Fprintf(tw, "ε=%s\t", robust.EpsKey(e))
		}
		fmt.Fprintln(tw)
		for _, a := range []struct {
			name string
			m    map[string]float64
		}{{"fgsm", r.FGSM}, {"pgd", r.PGD}, {"transfer_fgsm", r.TransferFGSM}, {"transfer_pgd", r.TransferPGD}} {
			if a.m == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t", a.name, r.Images[a.name])
			for _, e := range r.Eps {
				fmt.Fprintf(tw, "%.4f\t", a.m[robust.EpsKey(e)])
			}
			fmt.Fprintln(tw)
		}
	}
	if r.TransferFrom != "" {
		fmt.Fprintf(tw, "(transfer images crafted on %s)\n", r.TransferFrom)
	}
	if r.Corrupt != nil {
		fmt.Fprintf(tw, "\ncorruption (severity %d, %d images)\tparameter\taccuracy\t\n", r.Severity, r.Images["corrupt"])
		for _, c := range robust.Corruptions() {
			if v, ok := r.Corrupt[c.Name]; ok {
				fmt.Fprintf(tw, "%s\t%g\t%.4f\t\n", c.Name, r.CorruptParams[c.Name], v)
			}
		}
		fmt.Fprintf(tw, "mean\t\t%.4f\t\n", *r.CorruptMean)
	}
	return tw.Flush()
}
