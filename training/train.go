package training

import (
	"fmt"
	"math"
	"math/rand"
	"time"

	"mnistc/data"
	"mnistc/model"
)

// Hooks lets a caller watch training, and supply what a recipe names but
// this package does not hold. Every field may be nil.
type Hooks struct {
	// Batch is called after each optimizer step with the 1-based batch
	// index and the number of batches in the epoch.
	Batch func(epoch, batch, batches int)
	// Epoch is called after each epoch with its stats and wall time.
	Epoch func(s model.EpochStats, elapsed time.Duration)
	// Attack crafts the adversarial examples of cfg.Adversarial (its
	// attack and ε bound in); a recipe that asks for them without it is an
	// error.
	Attack Perturb
}

// TrainResult is what Train returns: the trained parameters, the per-epoch
// history and the wall time of each epoch (kept apart from the history so
// checkpoints stay byte-identical across runs).
type TrainResult struct {
	Params  model.Params
	Config  model.TrainConfig
	History []model.EpochStats
	Seconds []float64
}

// Train trains a fresh network on train with the recipe cfg, evaluating on
// val (which may be empty) after each epoch. Every sample is used each
// epoch: the last, smaller batch runs through a second graph of its size.
func Train(cfg model.TrainConfig, train, val data.Set, hooks Hooks) (TrainResult, error) {
	return TrainConstrained(cfg, nil, train, val, hooks)
}

// begin validates the recipe against the data and records the set sizes
// in it: the common start of every training entry point.
func begin(cfg model.TrainConfig, train, val data.Set) (model.TrainConfig, error) {
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if train.Len() == 0 {
		return cfg, fmt.Errorf("training set is empty")
	}
	if err := model.CheckSizes(sizes(cfg, train)); err != nil {
		return cfg, fmt.Errorf("layers %v: %v", cfg.Layers, err)
	}
	if side := int(math.Sqrt(float64(train.Inputs()))); cfg.Jitter > 0 && side*side != train.Inputs() {
		return cfg, fmt.Errorf("jitter %d: the images are not square (%d pixels)", cfg.Jitter, train.Inputs())
	}
	cfg.TrainImages, cfg.ValImages = train.Len(), val.Len()
	return cfg, nil
}

// sizes returns the network's widths for the recipe on a data set: its
// image width and class count around the recipe's hidden layers.
func sizes(cfg model.TrainConfig, s data.Set) []int { return cfg.Sizes(s.Inputs(), s.Classes()) }

// trainer owns what one training run needs: the graph for full batches,
// the graph for the last partial batch (nil when n divides evenly) and the
// optimizer, all over the same parameter slices.
type trainer struct {
	full, tail *trainGraph
	opt        *Adam
	// weights is what the optimizer updates: p's slices (or the shadow's),
	// then the learned activation steps, then a Learner's parameters;
	// grads is the matching list of gradients, rebuilt each step.
	weights [][]float32
	grads   [][]float32
	nw      int // model tensors at the head of weights
	batch   int
	cfg     model.TrainConfig // for the optimizer's settings
	// With a constraint, the optimizer updates shadow and the graph's
	// weights p are projected from it after every step.
	p, shadow *model.Params
	c         Constraint
	learner   Learner
	steps     int
	lastHeld  [][]bool    // the masks whose moments and shadow were last cleared
	keepF     [][]float32 // lastHeld as 0/1 multipliers: held gradients zeroed without branches
	// act holds the learned activation steps (cfg.LearnAct), nil otherwise.
	act *actSteps
	// With distillation: the soft targets of every training image (n×10),
	// each image's Σ q log q, and α·T² to add that term to the loss. With a
	// teacher instead, the soft targets are computed per batch from the
	// images as loaded (jittered).
	soft    []float32
	negEnt  []float64
	klW     float64
	teacher *teacherNet
	// jitter shifts the loaded images (nil: none); perturb replaces part
	// of each batch by adversarial images (nil: none).
	jitter  *jitterer
	perturb *perturber
}

// fitOpts are fit's optional parts: a constraint over shadow weights,
// distillation's soft targets (precomputed, or a teacher run per batch),
// an adversarial perturbation.
type fitOpts struct {
	shadow  *model.Params
	c       Constraint
	soft    []float32
	negEnt  []float64
	teacher *teacherNet
	perturb Perturb
}

// newTrainer builds the graphs for batches of cfg.Batch (capped at n) over p.
func newTrainer(p *model.Params, cfg model.TrainConfig, n int) (*trainer, error) {
	t := &trainer{batch: min(cfg.Batch, n), cfg: cfg}
	if cfg.LearnAct {
		if cfg.ActQuant == nil || cfg.ActQuant.Literal || len(cfg.ActQuant.Ranges) != p.Depth() {
			return nil, fmt.Errorf("learn_act: learned activation steps need calibrated activation ranges, one per layer input")
		}
		t.act = newActSteps(cfg.ActQuant, p.Depth())
	}
	var err error
	if t.full, err = newTrainGraph(p, t.batch, cfg.Distill, cfg.ActQuant, t.act); err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	if r := n % t.batch; r != 0 {
		if t.tail, err = newTrainGraph(p, r, cfg.Distill, cfg.ActQuant, t.act); err != nil {
			return nil, fmt.Errorf("build graph for last batch: %w", err)
		}
	}
	t.p = p
	t.setWeights(p.Data())
	return t, nil
}

// setWeights makes w (the model tensors the optimizer updates) and the
// learned parameters the optimizer's list, with fresh Adam moments.
func (t *trainer) setWeights(w [][]float32) {
	t.nw = len(w)
	t.weights = append([][]float32(nil), w...)
	if t.act != nil {
		t.weights = append(t.weights, t.act.s...)
	}
	if t.learner != nil {
		t.weights = append(t.weights, t.learner.Params()...)
	}
	sizes := make([]int, len(t.weights))
	for i, w := range t.weights {
		sizes[i] = len(w)
	}
	t.grads = make([][]float32, len(t.weights))
	t.opt = NewAdam(t.cfg.LR, t.cfg.Beta1, t.cfg.Beta2, t.cfg.Eps, sizes)
}

// step runs forward, backward and one Adam update on images idx of s and
// returns the batch's mean loss and its number of correct predictions.
func (t *trainer) step(s data.Set, idx []int) (float64, int, error) {
	tg := t.full
	if len(idx) < t.batch {
		tg = t.tail
	}
	tg.copyIn(s.X, s.Y, t.soft, idx)
	if t.jitter != nil || t.perturb != nil || t.teacher != nil {
		t.reload(tg, idx)
	}
	tg.finishInput(len(idx))
	cost, correct, err := tg.run(s.Y, idx)
	if err != nil {
		return 0, 0, err
	}
	if t.negEnt != nil { // report the full KL: add back the teacher's Σ q log q
		var h float64
		for _, i := range idx {
			h += t.negEnt[i]
		}
		cost += t.klW * h / float64(len(idx))
	} else if t.teacher != nil {
		cost += t.klW * t.teacher.negEnt / float64(len(idx))
	}
	g, err := tg.grads()
	if err != nil {
		return 0, 0, err
	}
	if t.c == nil {
		t.opt.Step(t.weights, g)
	} else {
		grads := append(t.grads[:0], g...)
		if t.learner != nil {
			grads = append(grads, t.learner.Learn(t.shadow, grads[:t.nw])...)
		}
		for k, f := range t.keepF {
			if f != nil {
				gk := grads[k][:len(f)]
				for i := range f {
					gk[i] *= f[i]
				}
			}
		}
		if sat, ok := t.c.(Saturater); ok && t.learner == nil { // STE: no gradient where the forward pass saturated
			for k, m := range sat.Saturated() {
				if m != nil {
					zeroWhere(grads[k], m)
				}
			}
		}
		t.opt.Step(t.weights, grads)
		t.steps++
		t.c.Project(t.shadow, t.p, t.steps)
		if held := t.c.Held(); !SameMasks(held, t.lastHeld) {
			// New masks: clear what they newly hold. From then on a zero
			// gradient keeps moments, shadow and weight at exactly zero.
			// (The projection has already applied them to p.)
			t.opt.hold(held)
			holdShadow(t.shadow, held)
			t.setHeld(held)
		}
	}
	if t.act != nil {
		t.act.sync()
	}
	return cost, correct, nil
}

// setHeld records the masks in force and their 0/1 multipliers.
func (t *trainer) setHeld(held [][]bool) {
	t.lastHeld = held
	t.keepF = make([][]float32, len(held))
	for k, h := range held {
		if h == nil {
			continue
		}
		f := make([]float32, len(h))
		for i, x := range h {
			if !x {
				f[i] = 1
			}
		}
		t.keepF[k] = f
	}
}

// constrain makes the optimizer update shadow and project it into the
// graph's weights through c after every step; a Learner's parameters join
// the optimizer's.
func (t *trainer) constrain(shadow *model.Params, c Constraint) {
	t.shadow, t.c = shadow, c
	t.learner, _ = c.(Learner)
	t.setWeights(shadow.Data())
}

// fitWith runs cfg.Epochs epochs of Adam over p in place, with options:
// under a constraint the optimizer updates o.shadow and p holds the
// projected weights; with soft targets or a teacher the loss is
// distillation's; with cfg.Jitter the images are shifted as they load;
// with o.perturb part of each batch is adversarial.
func fitWith(p *model.Params, o fitOpts, cfg model.TrainConfig, train, val data.Set, rng *rand.Rand, hooks Hooks) (TrainResult, error) {
	n := train.Len()
	tr, err := newTrainer(p, cfg, n)
	if err != nil {
		return TrainResult{}, err
	}
	if o.c != nil {
		tr.constrain(o.shadow, o.c)
		tr.setHeld(o.c.Held()) // constrainStart cleared the shadow under these
	}
	if o.soft != nil || o.teacher != nil {
		tr.soft, tr.negEnt, tr.teacher = o.soft, o.negEnt, o.teacher
		tr.klW = cfg.Distill.Alpha * cfg.Distill.Temperature * cfg.Distill.Temperature
	}
	if cfg.Jitter > 0 {
		tr.jitter = newJitterer(cfg.Jitter, train.Inputs(), cfg.Seed)
	}
	if a := cfg.Adversarial; a != nil && a.Mix > 0 {
		if o.perturb == nil {
			o.perturb = hooks.Attack
		}
		if o.perturb == nil {
			return TrainResult{}, fmt.Errorf("adversarial training: no attack given for %q", a.Attack)
		}
		tr.perturb = newPerturber(o.perturb, a.Mix, tr.batch)
	}
	aq := cfg.ActQuant
	if tr.act != nil {
		tr.act.initMSE(*p, train.X, n)
		aq = tr.act.aq
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	batches := (n + tr.batch - 1) / tr.batch
	total := cfg.Epochs * batches
	var res TrainResult
	for ep := 1; ep <= cfg.Epochs; ep++ {
		start := time.Now()
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var lossSum float64
		var correct int
		for b := 0; b < batches; b++ {
			if f := lrFactor(cfg.Schedule, (ep-1)*batches+b, total); f != 1 {
				tr.opt.LR = cfg.LR * f
			}
			idx := perm[b*tr.batch : min((b+1)*tr.batch, n)]
			cost, c, err := tr.step(train, idx)
			if err != nil {
				return res, fmt.Errorf("epoch %d batch %d: %w", ep, b+1, err)
			}
			lossSum += cost * float64(len(idx))
			correct += c
			if hooks.Batch != nil {
				hooks.Batch(ep, b+1, batches)
			}
		}
		st := model.EpochStats{Epoch: ep, TrainLoss: lossSum / float64(n), TrainAccuracy: float64(correct) / float64(n)}
		if val.Len() > 0 {
			r := model.Evaluate(*p, val, aq)
			st.ValLoss, st.ValAccuracy = r.Loss, r.Accuracy
		}
		elapsed := time.Since(start)
		res.History = append(res.History, st)
		res.Seconds = append(res.Seconds, elapsed.Seconds())
		if hooks.Epoch != nil {
			hooks.Epoch(st, elapsed)
		}
	}
	res.Config = cfg
	if tr.act != nil {
		res.Config.ActQuant = tr.act.aq // the learned ranges
	}
	return res, nil
}

// lrFactor is the schedule's multiplier of the learning rate at step
// (0-based) of total: 1 throughout for the constant schedule ("" or
// "constant"); (1 + cos(π·step/total))/2 for "cosine" (Loshchilov &
// Hutter's annealing without restarts).
func lrFactor(schedule string, step, total int) float64 {
	if schedule != "cosine" || total <= 0 {
		return 1
	}
	return 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
}
