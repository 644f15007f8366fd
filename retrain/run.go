package retrain

import (
	"fmt"
	"strings"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/model"
	"mnistc/training"
)

// Config is a run with passes held in the loop: the recipe (epochs,
// batch, lr, seed; for fine-tuning the hidden width comes from the
// checkpoint) and the passes, applied in order at every step.
type Config struct {
	Train  model.TrainConfig `json:"train"`
	Passes []string          `json:"passes"`
	// Reference, for Train, is a network trained plainly with the same
	// recipe: the record's AccBefore and AccNoRetrain (the same passes
	// applied to it after training) come from it.
	Reference *model.Checkpoint `json:"-"`
}

// DefaultTrain is the fine-tuning recipe: the article's Adam (batch 32)
// for 5 epochs, at DefaultLR of the passes.
func DefaultTrain() model.TrainConfig {
	c := model.DefaultTrainConfig()
	c.Epochs = 5
	return c
}

// DefaultLR is the fine-tuning learning rate for the passes, as measured
// on the baselines: with a pruning pass 1e-3 (seed 1, keep 0.1, 2 epochs
// recovered 95.4 % at 1e-3, 92.7 % at 3e-4, 86.2 % at 1e-4: the pruned net
// must move far); with low-bit quantization in the loop — weights at
// bits ≤ 4 or ternary, activations at bits ≤ 4 — 3e-4, annealed by
// DefaultSchedule (3 seeds, 5 epochs, against a constant 1e-4: 2-bit
// per-channel LSQ +0.23 pp against +0.05 pp, 1-bit −0.61 against −1.03,
// 2-bit weights and activations −0.15 against −0.35, ternary (TWN in the
// loop) −0.26 against −0.51); otherwise 1e-4 (seed 1, 8-bit and 4-bit QAT:
// 1e-3 knocks a converged net off its minimum, 97.53 % against 98.03 %).
func DefaultLR(passes []string) float64 {
	for _, p := range passes {
		if strings.HasPrefix(strings.TrimSpace(p), "prune:") {
			return 1e-3
		}
	}
	if lowBit(passes) {
		return 3e-4
	}
	return 1e-4
}

// DefaultSchedule is the fine-tuning learning-rate schedule for the
// passes: cosine annealing with low-bit quantization and no pruning pass
// (see DefaultLR), else constant ("").
func DefaultSchedule(passes []string) string {
	if DefaultLR(passes) == 3e-4 {
		return "cosine"
	}
	return ""
}

// lowBit reports whether a pass quantizes weights to at most 4 bits (or
// ternary) or activations to at most 4 bits.
func lowBit(passes []string) bool {
	for _, p := range passes {
		s, err := parseLoop(p)
		if err != nil || (s.Name != "quantize" && s.Name != "actquant") {
			continue
		}
		if b, _ := s.Int("bits"); b <= 4 || s.Args["scheme"] == "ternary" {
			return true
		}
	}
	return false
}

// Record is what a run with passes in the loop did.
type Record struct {
	Spec      string              `json:"spec"` // the chain, canonical specs joined by " → "
	Schedules []map[string]string `json:"schedules"`
	Train     model.TrainConfig   `json:"train"`
	// AccBefore is the checkpoint as given (fine-tuning; 0 when training
	// from scratch); AccNoRetrain the same passes applied after training
	// without fine-tuning: what training in the loop is measured against.
	AccBefore    float64                `json:"acc_before"`
	AccNoRetrain float64                `json:"acc_no_retrain"`
	AccAfter     float64                `json:"acc_after"`
	DeltaPP      float64                `json:"delta_pp"` // after − before
	CorrectAfter int                    `json:"correct_after"`
	LossAfter    float64                `json:"loss_after"`
	Sizes        []int                  `json:"sizes"` // the final network's [inputs, hidden…, classes]
	Tensors      []compress.TensorStats `json:"tensors"`
	SizeBytes    int                    `json:"size_bytes"`
	Ratio        float64                `json:"ratio"`
	History      []model.EpochStats     `json:"history"`
	Seconds      float64                `json:"train_seconds"`
	// Learned holds the quantizer parameters trained in the loop, per
	// tensor: LSQ's steps (one per tensor or per column: ŵ = step·level),
	// TTQ's positive scales then negative ones.
	Learned map[string][]float32 `json:"learned,omitempty"`
}

// Run fine-tunes ck with the passes in the loop and evaluates before and
// after on test. val is the validation split (per-epoch figures and
// calibration), train the images to fine-tune on.
func Run(ck model.Checkpoint, cfg Config, train, val, test data.Set, hooks training.Hooks) (model.Checkpoint, Record, error) {
	cfg.Passes = ChainDefaults(cfg.Passes)
	c, scheds, post, err := prepare(cfg, train, ck.Params)
	if err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	before := model.Evaluate(ck.Params, test, ck.Meta.ActQuant)
	noRetrain, err := compress.Run(ck, post, compress.Env{Calib: val, Before: &before}, test)
	if err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	// Train within the activation ranges the post-training chain ends
	// with: calibrated on the validation split after the weight passes when
	// it quantizes activations, else the checkpoint's own (a model whose
	// activations are quantized stays so; nil when they are not).
	cfg.Train.ActQuant = noRetrain.State.ActQuant
	cfg.Train.LearnAct = cfg.Train.ActQuant != nil && LearnsActivations(cfg.Passes)
	var res training.TrainResult
	if cfg.Train.Distill != nil { // soft targets from ck as given
		res, err = training.FineTuneDistilled(ck.Params, ck.Meta.ActQuant, cfg.Train, c, train, val, withAttack(cfg.Train, hooks))
	} else {
		res, err = training.FineTune(ck.Params, cfg.Train, c, train, val, withAttack(cfg.Train, hooks))
	}
	if err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	out, rec, err := finish(res, post, noRetrain, test, 4*ck.Params.Count())
	rec.Schedules, rec.AccBefore, rec.Learned = scheds, before.Accuracy, learnedOf(c)
	rec.DeltaPP = 100 * (rec.AccAfter - before.Accuracy)
	out.Meta = mergeMeta(ck.Meta, out.Meta)
	return out, rec, err
}

// Train trains a fresh network with the passes in the loop from the first
// step: the article's §4 flow. AccNoRetrain is the same passes applied
// after training; the plain-trained reference is trained here too.
func Train(cfg Config, train, val, test data.Set, hooks training.Hooks) (model.Checkpoint, Record, error) {
	cfg.Passes = ChainDefaults(cfg.Passes)
	if err := CheckScratch(cfg.Passes); err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	c, scheds, post, err := prepare(cfg, train, model.NewParams(cfg.Train.Sizes(train.Inputs(), train.Classes())))
	if err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	var noRetrain compress.Result
	var before model.Result
	if ref := cfg.Reference; ref != nil {
		before = model.Evaluate(ref.Params, test, ref.Meta.ActQuant)
		if noRetrain, err = compress.Run(*ref, post, compress.Env{Calib: val, Before: &before}, test); err != nil {
			return model.Checkpoint{}, Record{}, err
		}
	}
	res, err := training.TrainConstrained(cfg.Train, c, train, val, withAttack(cfg.Train, hooks))
	if err != nil {
		return model.Checkpoint{}, Record{}, err
	}
	out, rec, err := finish(res, post, noRetrain, test, 4*model.ParamCount(cfg.Train.Sizes(train.Inputs(), train.Classes())))
	rec.Schedules, rec.Learned = scheds, learnedOf(c)
	if cfg.Reference != nil {
		rec.AccBefore = before.Accuracy
		rec.DeltaPP = 100 * (rec.AccAfter - before.Accuracy)
	}
	return out, rec, err
}

// prepare validates the passes (against net, the network they will hold:
// every tensor they name must be there) and builds their constraint and
// the post-training equivalents (the same specs without the training keys).
func prepare(cfg Config, train data.Set, net model.Params) (training.Constraint, []map[string]string, []compress.Pass, error) {
	if len(cfg.Passes) == 0 {
		return nil, nil, nil, fmt.Errorf("no pass to hold in the loop")
	}
	for _, p := range cfg.Passes {
		spec, err := parseLoop(p)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := spec.Layers(&net); err != nil {
			return nil, nil, nil, err
		}
	}
	batch := max(1, min(cfg.Train.Batch, train.Len()))
	steps := cfg.Train.Epochs * ((train.Len() + batch - 1) / batch)
	c, scheds, err := Constraints(cfg.Passes, steps)
	if err != nil {
		return nil, nil, nil, err
	}
	var texts []string
	for _, p := range cfg.Passes {
		spec, _ := parseLoop(p)
		texts = append(texts, postText(spec))
	}
	post, err := compress.Build(texts)
	return c, scheds, post, err
}

// finish turns the trained weights into the saved network (a neuron-pruned
// net loses its held units), evaluates it and builds the record.
func finish(res training.TrainResult, post []compress.Pass, noRetrain compress.Result, test data.Set, origBytes int) (model.Checkpoint, Record, error) {
	final := res.Params
	var specs []string
	enc := map[string]compress.Encoding{}
	for _, p := range post {
		s := p.Spec()
		specs = append(specs, s.String())
		if s.Name == "prune" && s.Args["method"] == "neuron" {
			// The held units are exactly zero; dropping them gives the same
			// outputs (compress tests it) from a genuinely smaller network.
			st, err := p.Apply(compress.State{Params: final}, compress.Env{})
			if err != nil {
				return model.Checkpoint{}, Record{}, err
			}
			final = st.Params
		}
	}
	if noRetrain.Records != nil {
		enc = noRetrain.State.Enc
	} else if st, err := applyAll(post, res.Params); err == nil {
		enc = st.Enc
	}
	after := model.Evaluate(final, test, res.Config.ActQuant)
	ts := compress.Measure(compress.State{Params: final, Enc: enc})
	size, _, _ := compress.Totals(ts)
	var secs float64
	for _, s := range res.Seconds {
		secs += s
	}
	rec := Record{Spec: strings.Join(specs, " → "), Train: res.Config, AccAfter: after.Accuracy, CorrectAfter: after.Correct,
		LossAfter: after.Loss, Sizes: final.Sizes(), Tensors: ts, SizeBytes: size, Ratio: float64(origBytes) / float64(max(1, size)),
		History: res.History, Seconds: secs}
	if noRetrain.Records != nil {
		rec.AccNoRetrain = noRetrain.Records[len(noRetrain.Records)-1].AccAfter
	}
	out := model.Checkpoint{Params: final, Meta: model.Meta{Train: &res.Config, History: res.History, Test: &after,
		Backend: model.Backend(), Source: "mnistc retrain", ActQuant: res.Config.ActQuant}}
	return out, rec, nil
}

// applyAll runs the post-training passes over p, for their encodings.
func applyAll(post []compress.Pass, p model.Params) (compress.State, error) {
	st := compress.State{Params: p}
	for _, x := range post {
		var err error
		if st, err = x.Apply(st, compress.Env{}); err != nil {
			return compress.State{}, err
		}
	}
	return st, nil
}

// mergeMeta keeps the input checkpoint's metadata and takes the run's
// training config, history and test result.
func mergeMeta(in, run model.Meta) model.Meta {
	out := in
	out.Train, out.History, out.Test, out.Backend, out.ActQuant = run.Train, run.History, run.Test, run.Backend, run.ActQuant
	out.Source = "mnistc finetune"
	return out
}

// Check validates the passes for training in the loop before any work.
func Check(passes []string) error {
	_, _, err := Constraints(passes, 1)
	return err
}

// CheckScratch is Check for training a fresh network with the passes from
// the first step (Train): besides, it refuses what needs a trained network
// — activation ranges to calibrate, weights to cluster.
func CheckScratch(passes []string) error {
	if err := Check(passes); err != nil {
		return err
	}
	for _, p := range passes {
		spec, _ := parseLoop(p)
		switch {
		case spec.Name == "actquant":
			return fmt.Errorf("actquant from the first step: a fresh network has no activation ranges to calibrate; train, then finetune with it")
		case spec.Name == "quantize" && spec.Args["scheme"] == "kmeans":
			return fmt.Errorf("quantize: scheme=kmeans from the first step would fix the clusters of the random initial weights; train, then finetune with it (Deep Compression clusters a trained, pruned network)")
		}
	}
	return nil
}

// constraintFor builds the constraint that holds spec through a run of
// steps optimizer steps, and describes its schedule.
func constraintFor(spec compress.Spec, steps int) (training.Constraint, map[string]string, error) {
	if spec.Name == "prune" {
		p, err := NewPrune(spec, steps)
		if err != nil {
			return nil, nil, err
		}
		return p, p.Schedule(), nil
	}
	if spec.Name == "quantize" && spec.Args["scheme"] == "kmeans" {
		c, err := newShare(spec)
		if err != nil {
			return nil, nil, err
		}
		return c, map[string]string{"schedule": "shared from from_step (once pruning ahead of it is complete), clustered again only if its zeros change; shared values retrained every step",
			"steps": fmt.Sprint(steps)}, nil
	}
	if spec.Name == "quantize" && spec.Args[learnKey] == learnLSQ {
		q, err := newLSQ(spec)
		if err != nil {
			return nil, nil, err
		}
		return q, map[string]string{"schedule": "every step, learned steps (LSQ: STE backward, step gradient scaled by 1/sqrt(N·Qp))",
			"steps": fmt.Sprint(steps), "levels": fmt.Sprintf("%d…%d", -q.q.Qn, q.q.Qp), "init": q.init}, nil
	}
	if spec.Name == "quantize" && spec.Args[learnKey] == learnTTQ {
		q, err := newTTQ(spec)
		if err != nil {
			return nil, nil, err
		}
		return q, map[string]string{"schedule": "every step, learned positive and negative scales (TTQ), threshold t·max|w|",
			"steps": fmt.Sprint(steps), "t": fmt.Sprint(q.t)}, nil
	}
	if spec.Name == "quantize" && spec.Args["range"] == "mse" && spec.Args["scheme"] == "symmetric" {
		q, err := newMSEQuant(spec, steps)
		if err != nil {
			return nil, nil, err
		}
		return q, map[string]string{"schedule": "every step", "steps": fmt.Sprint(steps),
			"mse_search_every": fmt.Sprint(mseEvery)}, nil
	}
	c, err := newPassConstraint(spec)
	if err != nil {
		return nil, nil, err
	}
	return c, map[string]string{"schedule": "every step", "steps": fmt.Sprint(steps)}, nil
}
