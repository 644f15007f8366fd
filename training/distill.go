package training

import (
	"fmt"
	"math"
	"math/rand"

	"mnistc/data"
	"mnistc/model"
)

// SoftTargets returns softmax(teacher logits / T) for every image of s
// (n×classes) and each image's Σ q log q, the teacher's negative entropy
// that the loss's KL term contains. The teacher runs as it is evaluated:
// with its activation quantizer aq (nil: none).
func SoftTargets(teacher model.Params, aq *model.ActQuant, s data.Set, T float64) (q []float32, negEnt []float64) {
	logits := model.Forward(teacher, s.X, s.Len(), aq)
	C := teacher.Classes()
	q = make([]float32, len(logits))
	negEnt = make([]float64, s.Len())
	for i := 0; i < s.Len(); i++ {
		row := logits[i*C : (i+1)*C]
		mx := float64(row[model.Argmax(row)]) / T
		var sum float64
		e := make([]float64, C)
		for k, z := range row {
			e[k] = math.Exp(float64(z)/T - mx)
			sum += e[k]
		}
		for k := range e {
			p := e[k] / sum
			q[i*C+k] = float32(p)
			if p > 0 {
				negEnt[i] += p * math.Log(p)
			}
		}
	}
	return q, negEnt
}

// TrainDistilled trains a fresh student (layers cfg.Layers, initialised and
// shuffled from cfg.Seed exactly as Train) from the teacher's soft targets
// on train; cfg.Distill sets T and α; teacherAQ is the teacher's
// activation quantizer (its checkpoint's; nil: none). With cfg.Jitter the
// student sees shifted images; the teacher's soft targets are those of the
// original images, or with cfg.Distill.Shifted those of each shifted image,
// computed per batch.
func TrainDistilled(cfg model.TrainConfig, teacher model.Params, teacherAQ *model.ActQuant, train, val data.Set, hooks Hooks) (TrainResult, error) {
	if cfg.Distill == nil {
		return TrainResult{}, fmt.Errorf("no distillation settings")
	}
	cfg, err := begin(cfg, train, val)
	if err != nil {
		return TrainResult{}, err
	}
	if err := cfg.Distill.Validate(); err != nil {
		return TrainResult{}, err
	}
	if err := teacher.CheckData(train.Inputs(), train.Classes()); err != nil {
		return TrainResult{}, fmt.Errorf("teacher: %v", err)
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	p := model.InitGlorot(sizes(cfg, train), rng)
	res, err := fitWith(&p, distillOpts(cfg, teacher, teacherAQ, train), cfg, train, val, rng, hooks)
	res.Params = p
	return res, err
}

// distillOpts are the fit options of distillation from teacher (evaluated
// with aq): soft targets of the original images computed once, or, with
// cfg.Distill.Shifted and images that change as they load (jitter, an
// attack), the teacher run on each batch as the student sees it.
func distillOpts(cfg model.TrainConfig, teacher model.Params, aq *model.ActQuant, train data.Set) fitOpts {
	var o fitOpts
	if cfg.Distill.Shifted && (cfg.Jitter > 0 || cfg.Adversarial != nil) {
		o.teacher = &teacherNet{p: teacher, aq: aq, T: cfg.Distill.Temperature}
	} else {
		o.soft, o.negEnt = SoftTargets(teacher, aq, train, cfg.Distill.Temperature)
	}
	return o
}
