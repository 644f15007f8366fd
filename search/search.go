package search

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/retrain"
	"mnistc/training"
)

// Options configure a search.
type Options struct {
	// MaxDrop is the budget: the most validation accuracy, in percentage
	// points, the result may lose against the input model's.
	MaxDrop float64
	// Seed seeds every fine-tuning run (the order of the batches).
	Seed int64
	// Epochs is the length of each fine-tuning run.
	Epochs int
	// LR is the fine-tuning learning rate; 0: retrain.DefaultLR of the
	// recipe's passes (1e-3 when it prunes, 1e-4 otherwise).
	LR float64
	// Schedule is the fine-tuning learning-rate schedule (constant or
	// cosine); "": retrain.DefaultSchedule of the recipe's passes.
	Schedule string
	// Batch is the fine-tuning batch; 0: the default (32).
	Batch int
	// Distill, when set, fine-tunes every trial on the input model's soft
	// targets beside the labels (`finetune --distill`): measured on the
	// search's own recipes (784-128-10, seed 1) it wins 0.2–0.3 pp of test
	// accuracy at the same bytes (T 2, α 0.5; see DefaultOptions).
	Distill *model.Distill
	// Guard is how many standard errors of the paired difference (from the
	// validation images the trial and the input model disagree on) the
	// drop is charged beyond its measured value: a trial is within the
	// budget when drop + Guard·SE ≤ MaxDrop. 0: the drop as measured.
	// Why: the validation images come from the training set's writers and
	// MNIST's test writers are disjoint from them, and the search picks
	// its steps on the validation split; on seed 1 (784-128-10) every
	// fine-tuned trial, accepted or not, lost more on test than on
	// validation (0.28 pp more on average, 0.56 at the recipe picked).
	Guard float64
	// Trials bounds the fine-tuning runs, counted over the whole search
	// (a resumed run's earlier trials included).
	Trials int
	// StateDir, when set, holds the state that makes the search resumable:
	// state.json after every trial and the model of the accepted recipe.
	StateDir string
	// Log receives one line per trial with the ETA (nil: nothing).
	Log io.Writer
	// Debug receives every candidate's estimate (nil: nothing).
	Debug io.Writer
	// Hooks are passed to every fine-tuning run (a progress bar).
	Hooks training.Hooks
}

// DefaultOptions is the search of the README: 0.5 pp, seed 1, 10 epochs
// per trial distilled from the input model at T 2, α 0.5, at most 30
// trials (on 784-128-10 it stops after 10–13, in 2.3–5 minutes on 2
// cores; on LeNet-300-100 after 15–22, in 7–13: results/search*).
//
// Self-distillation is on because it was the one change to the trials'
// fine-tuning that paid (seed 1's recipes at 3.5–4.0 kB, test accuracy
// against the same recipe on labels alone): T 2, α 0.5 +0.33 and +0.24
// pp; T 3, α 0.5 +0.27/+0.23; T 4, α 0.9 +0.17/+0.19; T 1 +0.03/+0.10.
// What did not: cosine annealing (−0.45/−0.54: the ramp of gradual
// pruning ends with the rate already low), annealing only after the ramp,
// 15–20 epochs, a ramp of 0.5, half the rate (all within ±0.15 pp).
func DefaultOptions() Options {
	return Options{MaxDrop: 0.5, Guard: 1, Seed: 1, Epochs: 10, Trials: 30, Distill: &model.Distill{Temperature: 2, Alpha: 0.5}}
}

// Check refuses options out of range, naming the field as a flag.
func (o Options) Check() error {
	switch {
	case !(o.MaxDrop >= 0 && o.MaxDrop <= 100):
		return fmt.Errorf("max-drop %g out of range: want 0–100 percentage points", o.MaxDrop)
	case !(o.Guard >= 0 && o.Guard <= 10):
		return fmt.Errorf("guard %g out of range: want 0–10 standard errors", o.Guard)
	case o.Epochs < 1 || o.Epochs > 1000:
		return fmt.Errorf("epochs %d out of range: want 1–1000", o.Epochs)
	case o.Trials < 1 || o.Trials > 10000:
		return fmt.Errorf("trials %d out of range: want 1–10000", o.Trials)
	case !(o.LR >= 0 && o.LR <= 1):
		return fmt.Errorf("lr %g out of range: want 0 < lr ≤ 1 (0: the default)", o.LR)
	case o.Schedule != "" && o.Schedule != "constant" && o.Schedule != "cosine":
		return fmt.Errorf("schedule %q unknown: want constant or cosine", o.Schedule)
	case o.Batch < 0:
		return fmt.Errorf("batch %d out of range: want ≥ 1 (0: the default)", o.Batch)
	case o.Seed < 0:
		return fmt.Errorf("seed %d out of range: want ≥ 0", o.Seed)
	}
	if o.Distill != nil {
		return o.Distill.Validate()
	}
	return nil
}

// Trial is one fine-tuning run of a candidate recipe.
type Trial struct {
	N    int    `json:"n"`    // 1-based
	Step string `json:"step"` // what changed from the accepted recipe
	// Key identifies the recipe (its specs joined).
	Key         string   `json:"key"`
	Recipe      Recipe   `json:"recipe"`
	Specs       []string `json:"specs"`
	ValCorrect  int      `json:"val_correct"`
	ValAccuracy float64  `json:"val_accuracy"`
	DropPP      float64  `json:"val_drop_pp"` // against the input model; positive: a loss
	// Lost and Gained count the validation images the input model gets
	// right and the trial wrong, and the reverse; SEPP is the standard
	// error of the paired difference they give, in pp.
	Lost     int     `json:"val_lost"`
	Gained   int     `json:"val_gained"`
	SEPP     float64 `json:"val_se_pp"`
	Bytes    int     `json:"bytes"` // the packed .mnc file
	Accepted bool    `json:"accepted"`
	// EstDropPP and EstSavedBytes are what the step was chosen on: the
	// bytes it saves applied after training to the accepted model, and the
	// loss its dimension's previous step cost per byte (0: never tried).
	EstDropPP     float64 `json:"est_drop_pp"`
	EstSavedBytes int     `json:"est_saved_bytes"`
	Seconds       float64 `json:"seconds"`
}

// Result is what a search found.
type Result struct {
	Arch   string            `json:"arch"`
	Recipe Recipe            `json:"recipe"`
	Specs  []string          `json:"specs"` // the passes for `mnistc finetune`
	Train  model.TrainConfig `json:"train"` // epochs, lr, batch and seed of that fine-tuning
	// Checkpoint is the fine-tuned model as `mnistc finetune` saves it
	// (its Meta.Test unset: the search never evaluates on the test set).
	Checkpoint model.Checkpoint `json:"-"`
	// Packed is the .mnc file, as `mnistc pack --lean` writes it.
	Packed          []byte  `json:"-"`
	Bytes           int     `json:"bytes"`
	FloatBytes      int     `json:"float32_bytes"` // the input model's parameters as float32
	Ratio           float64 `json:"ratio"`
	BaseValAccuracy float64 `json:"base_val_accuracy"`
	ValSEPP         float64 `json:"val_se_pp"`
	Guard           float64 `json:"guard"`
	ValAccuracy     float64 `json:"val_accuracy"`
	ValDropPP       float64 `json:"val_drop_pp"`
	MaxDropPP       float64 `json:"max_drop_pp"`
	Trials          []Trial `json:"trials"`
	// TrialSeconds sums the fine-tuning time of every trial, earlier runs
	// of a resumed search included; Seconds is this run's wall time.
	TrialSeconds float64 `json:"trial_seconds"`
	Seconds      float64 `json:"seconds"`
}

// Accepted counts the trials that were accepted.
func (r Result) Accepted() int {
	n := 0
	for _, t := range r.Trials {
		if t.Accepted {
			n++
		}
	}
	return n
}

// shareFactor scales a step's share of the budget left: a step saving a
// fraction f of the file may spend up to shareFactor·f of it (all of it
// from f = 1/shareFactor).
const shareFactor = 4

// minSaving is the smallest fraction of the file a step must be expected
// to save to be worth a trial.
const minSaving = 0.005

// maxStride bounds how many rungs one step may move a dimension: after
// each accepted step along a dimension its stride doubles up to this.
const maxStride = 4

// estFloorPP is the smallest estimated loss a step is charged: below it,
// differences are noise on a validation split of a few thousand images.
const estFloorPP = 0.1

// ErrNothingFits is returned when no recipe the search tried stayed within
// the budget.
var ErrNothingFits = errors.New("no recipe tried stays within the budget")

// searcher is one run's working state.
type searcher struct {
	opt        Options
	ck         model.Checkpoint
	train, val data.Set
	base       model.Result
	baseRight  []bool // per validation image: the input model is right
	st         *state
	start      time.Time
	logged     int     // trials logged so far
	ran        int     // fine-tunes run by this process
	ranSeconds float64 // their time
	// the accepted recipe: its trial (nil: the input model) and, when
	// loaded, its fine-tuned model and packed bytes
	cur      *Trial
	curCk    *model.Checkpoint
	curBytes int
	// refBytes is the accepted recipe applied after training to its own
	// model and packed, for the recipe refKey: what saved compares with.
	refKey   string
	refBytes int
}

// Run searches, from the trained checkpoint ck, for the per-layer recipe
// whose fine-tuned model packs into the fewest bytes while its accuracy
// on val stays within opt.MaxDrop percentage points of ck's. train is what
// each trial fine-tunes on; val decides. (The test set is not an
// argument: the caller evaluates the result on it once.)
//
// Method: each dimension of the recipe (per layer keep rate and k-means
// bits, per hidden layer the units kept, the bias bits) is first pushed
// alone, on ck without retraining, as far down its ladder as stays within
// the budget; all of them together are the first trial. Then greedy
// steps: every dimension not yet frozen proposes its next step (one rung,
// doubling up to maxStride rungs after each success); the bytes each
// would save are measured by applying it to the accepted model after
// training and packing, its accuracy cost is estimated from what the
// dimension's previous step cost per byte (a dimension never tried goes
// first, the biggest saving first), and the step with the most bytes per
// pp is fine-tuned. It is accepted when its validation drop stays within
// the budget, its file is smaller, and it spends no more of the budget
// left than its share (shareFactor times the fraction of the file it
// saves: a step saving 1 % of the bytes may not spend half the budget
// that the big steps need). A rejected step falls back to one rung or, at
// one rung, freezes its dimension. The search stops when every dimension
// is frozen or after opt.Trials fine-tunes.
func Run(ck model.Checkpoint, train, val data.Set, opt Options) (Result, error) {
	if err := opt.Check(); err != nil {
		return Result{}, err
	}
	if train.Len() == 0 || val.Len() == 0 {
		return Result{}, fmt.Errorf("search: needs training and validation images (have %d and %d)", train.Len(), val.Len())
	}
	if err := ck.Params.CheckData(val.Inputs(), val.Classes()); err != nil {
		return Result{}, err
	}
	if ck.Params.Depth() < 1 {
		return Result{}, fmt.Errorf("search: the network has no layers")
	}
	s := &searcher{opt: opt, ck: ck, train: train, val: val, start: time.Now()}
	s.base = model.Evaluate(ck.Params, val, ck.Meta.ActQuant)
	s.baseRight = rightOf(ck.Params, val, ck.Meta.ActQuant)
	st, err := openState(opt.StateDir, stateKey(ck, train, val, opt))
	if err != nil {
		return Result{}, err
	}
	s.st = st
	s.logf("search: %s, validation %.2f %% (%d/%d), budget %.2f pp (drop + %g SE); at most %d fine-tunes of %d epochs%s\n",
		ck.Params.Arch(), 100*s.base.Accuracy, s.base.Correct, val.Len(), opt.MaxDrop, opt.Guard, opt.Trials, opt.Epochs, st.resumeNote())
	if s.curBytes, err = packedBytes(ck.Params, ck.Meta); err != nil {
		return Result{}, err
	}
	if err := s.search(); err != nil {
		return Result{}, err
	}
	if s.cur == nil {
		return Result{}, fmt.Errorf("%w (%.2f pp) after %d fine-tunes", ErrNothingFits, opt.MaxDrop, len(s.st.Trials))
	}
	return s.result()
}

// search runs the start and the greedy steps until every dimension is
// frozen or the trials are spent.
func (s *searcher) search() error {
	depth := s.ck.Params.Depth()
	sizes := s.ck.Params.Sizes()
	first, err := s.startRecipe()
	if err != nil {
		return err
	}
	s.logf("start: each dimension alone as far as it stays within the budget without retraining: %s\n", first)
	// The start, then, if it fails, half of it; from the plain network
	// if both fail.
	for _, r := range []Recipe{first, halfway(first)} {
		if r.Key() == plain(depth).Key() || (s.cur != nil && r.Key() == s.cur.Key) {
			break
		}
		if s.spent() {
			return nil
		}
		if _, _, err := s.try(r, "start "+r.String(), 0, 0); err != nil {
			return err
		}
		if s.cur != nil {
			break
		}
	}
	stride := map[dim]int{}
	frozen := map[dim]bool{}
	// last[d] is what d's latest trial did against the recipe accepted
	// then: its bytes-per-pp efficiency is the estimate for d's next step.
	last := map[dim]estimate{}
	for _, d := range dims(depth) {
		stride[d] = 1
	}
	for !s.spent() {
		cur := s.recipe()
		type cand struct {
			d     dim
			r     Recipe
			saved int
			estPP float64
			score float64
			tried bool
		}
		var best *cand
		for _, d := range dims(depth) {
			if frozen[d] {
				continue
			}
			r, ok := cur.down(d, stride[d])
			for ok && !r.fits(sizes) && stride[d] > 1 {
				stride[d] = 1
				r, ok = cur.down(d, 1)
			}
			if !ok || !r.fits(sizes) {
				frozen[d] = true
				continue
			}
			saved, err := s.saved(r)
			if err != nil {
				return err
			}
			if float64(saved) < minSaving*float64(s.curBytes) { // nothing worth a trial along d
				frozen[d] = true
				continue
			}
			c := cand{d: d, r: r, saved: saved}
			if o, seen := last[d]; seen {
				// pp per byte as d's last step cost, for this step's bytes
				c.estPP = math.Max(o.DropPP, estFloorPP) / float64(max(o.Saved, 1)) * float64(saved)
				c.score, c.tried = float64(saved)/math.Max(c.estPP, estFloorPP), true
			} else {
				// never tried: optimistic, so every dimension is tried once,
				// the biggest saving first
				c.score = math.Inf(1)
			}
			s.debugf("    candidate %s: saves ~%d B, estimated %+.2f pp (tried before: %v)\n", d, saved, -c.estPP, c.tried)
			if best == nil || c.score > best.score || (c.score == best.score && c.saved > best.saved) {
				best = &c
			}
		}
		if best == nil {
			s.logf("every dimension is frozen: done\n")
			return nil
		}
		step := fmt.Sprintf("%s %s → %s", best.d, fmtValue(best.d, cur.value(best.d)), fmtValue(best.d, best.r.value(best.d)))
		before := s.curTrial()
		ok, t, err := s.try(best.r, step, best.estPP, best.saved)
		if err != nil {
			return err
		}
		last[best.d] = estimate{DropPP: t.DropPP - before.DropPP, Saved: before.Bytes - t.Bytes}
		switch {
		case ok:
			stride[best.d] = min(2*stride[best.d], maxStride)
		case stride[best.d] > 1:
			stride[best.d] = 1
		default:
			frozen[best.d] = true
		}
	}
	s.logf("the %d fine-tunes are spent: done\n", s.opt.Trials)
	return nil
}

// estimate is what one step did or is expected to do against the recipe
// accepted before it.
type estimate struct {
	DropPP float64 // validation accuracy lost, pp (negative: gained)
	Saved  int     // bytes saved
}

// curTrial returns the accepted trial, or a stand-in for the input model.
func (s *searcher) curTrial() Trial {
	if s.cur == nil {
		return Trial{ValCorrect: s.base.Correct, ValAccuracy: s.base.Accuracy, Bytes: s.curBytes}
	}
	return *s.cur
}

// spent reports whether the trial budget is used up.
func (s *searcher) spent() bool { return len(s.st.Trials) >= s.opt.Trials }

// recipe returns the accepted recipe (the plain one before any).
func (s *searcher) recipe() Recipe {
	if s.cur == nil {
		return plain(s.ck.Params.Depth())
	}
	return s.cur.Recipe
}

// halfway returns r with every dimension at half its rung (rounded down).
func halfway(r Recipe) Recipe {
	out := plain(len(r.Keep))
	for _, d := range dims(len(r.Keep)) {
		out = out.with(d, r.rung(d)/2)
	}
	return out
}

func fmtValue(d dim, v float64) string {
	if (d.Kind == "bits" || d.Kind == "bias") && v >= 32 {
		return "float32"
	}
	if d.Kind == "bits" || d.Kind == "bias" {
		return fmt.Sprintf("%gb", v)
	}
	return num(v)
}

// startRecipe pushes each dimension alone down its ladder, on the input
// model without retraining, while the validation drop stays within the
// budget, and returns all of them together.
func (s *searcher) startRecipe() (Recipe, error) {
	depth := s.ck.Params.Depth()
	out := plain(depth)
	for _, d := range dims(depth) {
		at := 0
		for i := 1; i < d.rungs(); i++ {
			r := plain(depth).with(d, i)
			if !r.fits(s.ck.Params.Sizes()) {
				break
			}
			p, err := applySpecs(s.ck.Params, r.Specs())
			if err != nil {
				return Recipe{}, err
			}
			res := model.Evaluate(p, s.val, s.ck.Meta.ActQuant)
			if -dropPP(res.Correct, s.base.Correct, s.val.Len()) > s.opt.MaxDrop+1e-9 {
				break
			}
			at = i
		}
		out = out.with(d, at)
	}
	return out, nil
}

// saved returns the bytes step r would save against the accepted recipe:
// both applied after training to the accepted model and packed (cached in
// the state, so a resumed search needs no model to repeat its choices).
// Bytes depend on the counts and the value distributions, which a step
// applied after training gets right; accuracy it does not (fine-tuning
// recovers most of what pruning loses and little of what a lost bit
// does), so the search learns that from its trials instead.
func (s *searcher) saved(r Recipe) (int, error) {
	key := s.curKey() + " | " + r.Key()
	if b, ok := s.st.Saved[key]; ok {
		return b, nil
	}
	ck, err := s.curModel()
	if err != nil {
		return 0, err
	}
	size := func(x Recipe) (int, error) {
		p, err := applySpecs(ck.Params, x.Specs())
		if err != nil {
			return 0, err
		}
		return packedBytes(p, ck.Meta)
	}
	if s.refKey != s.curKey() { // the accepted recipe itself, the same way
		if s.refBytes, err = size(s.recipe()); err != nil {
			return 0, err
		}
		s.refKey = s.curKey()
	}
	b, err := size(r)
	if err != nil {
		return 0, err
	}
	s.st.Saved[key] = s.refBytes - b
	return s.refBytes - b, nil
}

func (s *searcher) curKey() string {
	if s.cur == nil {
		return "(input)"
	}
	return s.cur.Key
}

// curModel returns the accepted model: the input model before any, else
// the one in memory, in the state folder, or fine-tuned again (the same
// bits: the fine-tuning is deterministic; checked against the trial).
func (s *searcher) curModel() (model.Checkpoint, error) {
	if s.cur == nil {
		return s.ck, nil
	}
	if s.curCk != nil {
		return *s.curCk, nil
	}
	if ck, ok := s.st.loadModel(s.cur.Key); ok {
		s.curCk = &ck
		return ck, nil
	}
	ck, b, right, _, err := s.finetune(s.cur.Recipe)
	if err != nil {
		return model.Checkpoint{}, err
	}
	if correct := count(right); len(b) != s.cur.Bytes || correct != s.cur.ValCorrect {
		return model.Checkpoint{}, fmt.Errorf("search: fine-tuning trial %d again gave %d bytes and %d correct, not the %d and %d recorded: another build, or BLAS with another thread count? (start afresh without the state)",
			s.cur.N, len(b), correct, s.cur.Bytes, s.cur.ValCorrect)
	}
	s.curCk = &ck
	return ck, s.st.saveModel(s.cur.Key, ck)
}

// try fine-tunes recipe r (or takes its recorded trial), records it and
// accepts it when its validation drop is within the budget and its file
// is smaller than the accepted one's. It reports whether it accepted, and
// the trial.
func (s *searcher) try(r Recipe, step string, estDrop float64, estSaved int) (bool, Trial, error) {
	key := r.Key()
	t, cached := s.st.trial(key)
	var ck model.Checkpoint
	if !cached {
		c, b, right, secs, err := s.finetune(r)
		if err != nil {
			return false, Trial{}, err
		}
		ck = c
		correct := count(right)
		lost, gained := disagreements(s.baseRight, right)
		t = Trial{N: len(s.st.Trials) + 1, Step: step, Key: key, Recipe: r, Specs: r.Specs(), ValCorrect: correct,
			ValAccuracy: float64(correct) / float64(s.val.Len()), DropPP: -dropPP(correct, s.base.Correct, s.val.Len()),
			Lost: lost, Gained: gained, SEPP: pairedSEPP(lost, gained, s.val.Len()), Bytes: len(b),
			EstDropPP: estDrop, EstSavedBytes: estSaved, Seconds: secs}
		t.Accepted = s.verdict(t) == ""
		if t.Accepted {
			if err := s.st.saveModel(key, ck); err != nil {
				return false, Trial{}, err
			}
		}
		s.st.Trials = append(s.st.Trials, t)
		if err := s.st.save(); err != nil {
			return false, Trial{}, err
		}
		if t.Accepted {
			s.st.dropModels(key)
		}
	}
	if t.N > s.logged { // a recipe met again is not logged twice
		s.logTrial(t, cached)
		s.logged = t.N
	}
	if t.Accepted {
		s.cur, s.curBytes, s.curCk = &t, t.Bytes, nil
		if !cached {
			s.curCk = &ck
		}
	}
	return t.Accepted, t, nil
}

// verdict returns why trial t cannot replace the accepted recipe, or ""
// when it can: its validation drop is within the budget, its file is
// smaller, and it spends no more of the budget left than its share,
// the fraction of the file it saves times shareFactor (so a step that
// saves 1 % of the bytes may not spend half the budget: it would leave
// too little for the steps that save more).
func (s *searcher) verdict(t Trial) string {
	cur := s.curTrial()
	left := s.opt.MaxDrop - cur.DropPP
	share := math.Min(1, shareFactor*float64(cur.Bytes-t.Bytes)/float64(cur.Bytes))
	switch {
	case t.DropPP > s.opt.MaxDrop+1e-9:
		return "beyond the budget"
	case t.DropPP+s.opt.Guard*t.SEPP > s.opt.MaxDrop+1e-9:
		return fmt.Sprintf("beyond the budget with its %g × %.2f pp standard error", s.opt.Guard, t.SEPP)
	case t.Bytes >= cur.Bytes:
		return "no smaller"
	case t.DropPP-cur.DropPP > share*left+1e-9:
		return fmt.Sprintf("spends %.2f of the %.2f pp left for %.1f %% of the bytes", t.DropPP-cur.DropPP, left, 100*float64(cur.Bytes-t.Bytes)/float64(cur.Bytes))
	}
	return ""
}

// finetune runs one trial: `mnistc finetune` of the input model with r's
// passes, then the file `mnistc pack --lean` writes; it returns them and
// which validation images the model gets right. The validation split is
// passed as retrain's evaluation set too, so no test image is seen.
func (s *searcher) finetune(r Recipe) (model.Checkpoint, []byte, []bool, float64, error) {
	t0 := time.Now()
	specs := r.Specs()
	cfg := s.trainConfig(specs)
	out, _, err := retrain.Run(s.ck, retrain.Config{Train: cfg, Passes: specs}, s.train, s.val, s.val, s.opt.Hooks)
	if err != nil {
		return model.Checkpoint{}, nil, nil, 0, fmt.Errorf("search: fine-tuning %s: %w", strings.Join(specs, " "), err)
	}
	out.Meta.Test = nil // retrain.Run evaluated on the validation split
	b, _, err := mnc.Pack(model.Checkpoint{Params: out.Params, Meta: mnc.Lean(out.Meta)})
	if err != nil {
		return model.Checkpoint{}, nil, nil, 0, err
	}
	right := rightOf(out.Params, s.val, out.Meta.ActQuant)
	secs := time.Since(t0).Seconds()
	s.ran++
	s.ranSeconds += secs
	return out, b, right, secs, nil
}

// trainConfig is the fine-tuning recipe of a trial: what `mnistc finetune`
// builds from the same flags.
func (s *searcher) trainConfig(specs []string) model.TrainConfig {
	cfg := retrain.DefaultTrain()
	cfg.Epochs, cfg.Seed = s.opt.Epochs, s.opt.Seed
	if s.opt.Batch > 0 {
		cfg.Batch = s.opt.Batch
	}
	cfg.LR, cfg.Schedule = s.opt.LR, s.opt.Schedule
	if cfg.LR == 0 {
		cfg.LR = retrain.DefaultLR(specs)
	}
	if cfg.Schedule == "" {
		cfg.Schedule = retrain.DefaultSchedule(specs)
	}
	cfg.Layers = []int{model.DefaultHidden} // as finetune: the checkpoint's layers are used
	if s.opt.Distill != nil {
		d := *s.opt.Distill
		cfg.Distill = &d
	}
	return cfg
}

// result assembles the accepted recipe's result.
func (s *searcher) result() (Result, error) {
	ck, err := s.curModel()
	if err != nil {
		return Result{}, err
	}
	b, _, err := mnc.Pack(model.Checkpoint{Params: ck.Params, Meta: mnc.Lean(ck.Meta)})
	if err != nil {
		return Result{}, err
	}
	if len(b) != s.cur.Bytes {
		return Result{}, fmt.Errorf("search: the accepted model packs into %d bytes, not the %d recorded (a bug)", len(b), s.cur.Bytes)
	}
	var secs float64
	for _, t := range s.st.Trials {
		secs += t.Seconds
	}
	fb := 4 * s.ck.Params.Count()
	res := Result{Arch: ck.Params.Arch(), Recipe: s.cur.Recipe, Specs: s.cur.Specs, Train: *ck.Meta.Train, Checkpoint: ck, Packed: b,
		Bytes: len(b), FloatBytes: fb, Ratio: float64(fb) / float64(len(b)), BaseValAccuracy: s.base.Accuracy,
		ValAccuracy: s.cur.ValAccuracy, ValDropPP: s.cur.DropPP, ValSEPP: s.cur.SEPP, Guard: s.opt.Guard, MaxDropPP: s.opt.MaxDrop,
		Trials: append([]Trial(nil), s.st.Trials...), TrialSeconds: secs, Seconds: time.Since(s.start).Seconds()}
	s.st.Done = true
	return res, s.st.save()
}

func (s *searcher) debugf(format string, a ...any) {
	if s.opt.Debug != nil {
		fmt.Fprintf(s.opt.Debug, format, a...)
	}
}

func (s *searcher) logf(format string, a ...any) {
	if s.opt.Log != nil {
		fmt.Fprintf(s.opt.Log, format, a...)
	}
}

// logTrial prints one trial with the time so far and the most left.
func (s *searcher) logTrial(t Trial, cached bool) {
	verdict := "accepted"
	if !t.Accepted {
		verdict = "rejected: " + s.verdict(t)
	}
	eta := ""
	if s.ran > 0 {
		left := time.Duration(float64(s.opt.Trials-len(s.st.Trials)) * s.ranSeconds / float64(s.ran) * float64(time.Second))
		eta = fmt.Sprintf(" | %s elapsed, at most ~%s left", time.Since(s.start).Round(time.Second), left.Round(time.Second))
	}
	from := ""
	if cached {
		from = " (recorded)"
	}
	est := ""
	if t.EstSavedBytes != 0 {
		est = fmt.Sprintf(" (estimated %+.2f pp, %+d B)", -t.EstDropPP, -t.EstSavedBytes)
	}
	s.logf("[%2d/%d] %s%s: val %.2f %% (%+.2f ± %.2f pp), %d B: %s%s%s\n", t.N, s.opt.Trials, t.Step, est, 100*t.ValAccuracy, -t.DropPP,
		t.SEPP, t.Bytes, verdict, from, eta)
}

// rightOf reports, per image of s, whether p classifies it correctly.
func rightOf(p model.Params, s data.Set, aq *model.ActQuant) []bool {
	pred := model.Predict(p, s, aq)
	out := make([]bool, len(pred))
	for i, k := range pred {
		out[i] = k == int(s.Y[i])
	}
	return out
}

// count counts the true values of v.
func count(v []bool) int {
	n := 0
	for _, x := range v {
		if x {
			n++
		}
	}
	return n
}

// disagreements counts the images base gets right and x wrong (lost) and
// the reverse (gained).
func disagreements(base, x []bool) (lost, gained int) {
	for i := range base {
		switch {
		case base[i] && !x[i]:
			lost++
		case !base[i] && x[i]:
			gained++
		}
	}
	return lost, gained
}

// pairedSEPP is the standard error, in percentage points, of the
// difference between two classifiers' accuracies on the same n images,
// from the images only one of them gets right (McNemar's counts): the
// variance of the per-image difference d ∈ {−1, 0, 1} over n².
func pairedSEPP(lost, gained, n int) float64 {
	if n == 0 {
		return 0
	}
	mean := float64(gained-lost) / float64(n)
	v := (float64(lost+gained)/float64(n) - mean*mean) / float64(n)
	return 100 * math.Sqrt(max(v, 0))
}
