package retrain

import (
	"fmt"
	"strings"

	"mnistc/compress"
	"mnistc/internal/errkind"
	"mnistc/model"
)

// The learn key chooses how a quantizer is held in the loop:
//
//	quantize learn=lsq   learned step sizes (LSQ): the default for
//	                     scheme=symmetric at bits ≤ 4 when range is not given
//	quantize learn=ttq   learned positive and negative scales (TTQ), for
//	                     scheme=ternary (whose default stays TWN's rule:
//	                     as accurate in the loop, and smaller — see README)
//	actquant learn=lsq   learned activation steps: the default at bits ≤ 4
//	learn=none           the post-training rule applied at every step, with
//	                     ranges from max|w| (or the MSE search) and fixed
//	                     activation ranges: the default otherwise
//
// It is a training key: retrain reads it and removes it before the spec
// reaches compress, so post-training runs of the same spec are unchanged.
const learnKey = "learn"

// Choices of the learn key.
const (
	learnNone = "none"
	learnLSQ  = "lsq"
	learnTTQ  = "ttq"
)

// parseLoop parses a pass spec for training in the loop: the learn key
// (validated here) and the rest by compress.ParseSpec. The returned spec
// carries the resolved learn value in Args[learnKey] for quantize and
// actquant passes.
func parseLoop(text string) (compress.Spec, error) {
	rest, learn, given := cutKey(text, learnKey)
	if given[learnKey] && learn == "" {
		name, _, _ := strings.Cut(strings.TrimSpace(text), ":")
		return compress.Spec{}, specErr("pass %s: malformed \"learn=\": want key=value", name)
	}
	spec, err := compress.ParseSpec(rest)
	if err != nil {
		return compress.Spec{}, err
	}
	if spec.Name != "quantize" && spec.Name != "actquant" {
		if learn != "" {
			return compress.Spec{}, specErr("pass %s: learn applies to quantize and actquant only", spec.Name)
		}
		return spec, nil
	}
	bits, _ := spec.Int("bits")
	// post-training refinements of the rounding (bias correction,
	// AdaRound) describe a fixed quantizer, not a learned one
	refined := (spec.Args["correct"] != "" && spec.Args["correct"] != "none") || (spec.Args["rounding"] != "" && spec.Args["rounding"] != "nearest")
	if learn == "" && refined {
		learn = learnNone
	}
	if learn == "" {
		learn = learnNone
		switch {
		case spec.Name == "actquant" && bits <= 4 && spec.Args["calib"] != "literal":
			learn = learnLSQ
		case spec.Name == "quantize" && spec.Args["scheme"] == "symmetric" && bits <= 4 && spec.Args["range"] != "mse":
			// (range=minmax is the default, and canonical specs — a
			// sweep's cells — spell it: only an MSE search opts out)
			learn = learnLSQ
		}
	}
	switch {
	case learn != learnNone && learn != learnLSQ && learn != learnTTQ:
		return compress.Spec{}, specErr("pass %s: learn=%s: want lsq, ttq or none", spec.Name, learn)
	case learn == learnTTQ && (spec.Name != "quantize" || spec.Args["scheme"] != "ternary"):
		return compress.Spec{}, specErr("pass %s: learn=ttq learns ternary scales: it needs quantize scheme=ternary", spec.Name)
	case learn == learnLSQ && spec.Name == "quantize" && spec.Args["scheme"] != "symmetric":
		return compress.Spec{}, specErr("pass quantize: learn=lsq learns a symmetric quantizer's step; scheme=%s has none", spec.Args["scheme"])
	case learn == learnLSQ && spec.Name == "quantize" && spec.Args["range"] == "mse":
		return compress.Spec{}, specErr("pass quantize: learn=lsq learns the range: range=%s does not apply", spec.Args["range"])
	case learn == learnTTQ && given["delta"] && spec.Args["delta"] != "0.7": // (canonical specs spell the default)
		return compress.Spec{}, specErr("pass quantize: learn=ttq sets its threshold at 0.05·max|w| (Zhu et al.): delta is TWN's")
	case learn != learnNone && refined:
		return compress.Spec{}, specErr("pass quantize: learn=%s trains its own scales: correct=%s, rounding=%s do not apply", learn, spec.Args["correct"], spec.Args["rounding"])
	case learn == learnLSQ && spec.Name == "actquant" && spec.Args["calib"] == "literal":
		return compress.Spec{}, specErr("pass actquant: learn=lsq needs a calibrated range to start from, not calib=literal")
	}
	spec.Args[learnKey] = learn
	return spec, nil
}

// postText is a loop spec as compress takes it after training: without
// the keys only training reads.
func postText(spec compress.Spec) string {
	s := compress.Spec{Name: spec.Name, Args: map[string]string{}}
	for k, v := range spec.Args {
		switch k {
		case learnKey, "schedule", "rounds", "every", "ramp":
		default:
			s.Args[k] = v
		}
	}
	return s.String()
}

// cutKey removes key=value from a spec's text and returns the rest, the
// value ("" when absent) and the keys the text gives.
func cutKey(text, key string) (rest, value string, given map[string]bool) {
	given = map[string]bool{}
	name, args, ok := strings.Cut(strings.TrimSpace(text), ":")
	if !ok {
		return text, "", given
	}
	var kept []string
	for _, kv := range strings.Split(args, ",") {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		given[k] = true
		if k == key && value == "" {
			value = strings.TrimSpace(v)
			continue
		}
		kept = append(kept, kv)
	}
	if len(kept) == 0 {
		return name, value, given
	}
	return name + ":" + strings.Join(kept, ","), value, given
}

// LearnsActivations reports whether the passes hold activation
// quantization with learned steps (an actquant pass whose learn resolves
// to lsq): the recipe's LearnAct.
func LearnsActivations(passes []string) bool {
	for _, p := range passes {
		if s, err := parseLoop(p); err == nil && s.Name == "actquant" && s.Args[learnKey] == learnLSQ {
			return true
		}
	}
	return false
}

// CheckFit is Check for a given network: besides, every tensor a pass
// names must be in p.
func CheckFit(passes []string, p model.Params) error {
	if err := Check(passes); err != nil {
		return err
	}
	for _, text := range passes {
		spec, err := parseLoop(text)
		if err != nil {
			return err
		}
		if _, err := spec.Layers(&p); err != nil {
			return fmt.Errorf("%s: %w", text, err)
		}
	}
	return nil
}

// specErr is an invalid-spec error (compress.ErrSpec) with compress's
// wording: "pass NAME: what is wrong".
func specErr(format string, a ...any) error {
	return errkind.Wrap(compress.ErrSpec, fmt.Errorf(format, a...))
}

// ChainDefaults resolves the learn default that depends on the whole
// chain: after a prune pass, quantization keeps the fixed grid (learn=none)
// unless told otherwise. Measured on the Deep Compression chain (gradual
// pruning to keep 0.05, 4-bit per channel, 3 seeds, results/robustness):
// with LSQ −0.34 pp in 8.72 kB, with the fixed grid −0.22 pp in 7.37 kB —
// LSQ's steps, tuned at 3e-4 without pruning, leave a less compressible
// set of codes and no better accuracy at the pruning rate of 1e-3. A
// chain without pruning is returned unchanged; so is a pass that names
// its learn key.
func ChainDefaults(passes []string) []string {
	pruned := false
	for _, p := range passes {
		pruned = pruned || strings.HasPrefix(strings.TrimSpace(p), "prune:") || strings.TrimSpace(p) == "prune"
	}
	if !pruned {
		return passes
	}
	out := make([]string, len(passes))
	for i, p := range passes {
		out[i] = p
		t := strings.TrimSpace(p)
		if name, args, _ := strings.Cut(t, ":"); name == "quantize" {
			if _, _, given := cutKey(t, learnKey); !given[learnKey] {
				if args == "" {
					out[i] = t + ":learn=none"
				} else {
					out[i] = t + ",learn=none"
				}
			}
		}
	}
	return out
}
