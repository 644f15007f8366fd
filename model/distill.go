package model

import (
	"fmt"
	"math"
	"math/rand"

	"mnistc/data"
)

// Distill is knowledge distillation (Hinton et al. 2015): the student is
// trained on α·T²·KL(teacher‖student at temperature T) + (1−α)·CE(labels),
// the teacher's probabilities at temperature T being the soft targets.
type Distill struct {
	Temperature float64 `json:"temperature"`
	Alpha       float64 `json:"alpha"`
}

// Validate names the field out of range.
func (d Distill) Validate() error {
	switch {
	case !(d.Temperature > 0) || d.Temperature > 100:
		return fmt.Errorf("temperature %v out of range: want 0 < T ≤ 100", d.Temperature)
	case !(d.Alpha >= 0 && d.Alpha <= 1):
		return fmt.Errorf("alpha %v out of range: want 0 ≤ α ≤ 1", d.Alpha)
	}
	return nil
}

// SoftTargets returns softmax(teacher logits / T) for every image of s
// (n×10) and each image's Σ q log q, the teacher's negative entropy that
// the loss's KL term contains.
func SoftTargets(teacher Params, s data.Set, T float64) (q []float32, negEnt []float64) {
	logits := Forward(teacher, s.X, s.Len(), nil)
	q = make([]float32, len(logits))
	negEnt = make([]float64, s.Len())
	for i := 0; i < s.Len(); i++ {
		row := logits[i*Classes : (i+1)*Classes]
		mx := float64(row[Argmax(row)]) / T
		var sum float64
		e := make([]float64, Classes)
		for k, z := range row {
			e[k] = math.Exp(float64(z)/T - mx)
			sum += e[k]
		}
		for k := range e {
			p := e[k] / sum
			q[i*Classes+k] = float32(p)
			if p > 0 {
				negEnt[i] += p * math.Log(p)
			}
		}
	}
	return q, negEnt
}

// TrainDistilled trains a fresh student (width cfg.Hidden, initialised and
// shuffled from cfg.Seed exactly as Train) from the teacher's soft targets
// on train; cfg.Distill sets T and α.
func TrainDistilled(cfg TrainConfig, teacher Params, train, val data.Set, hooks Hooks) (TrainResult, error) {
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
	q, negEnt := SoftTargets(teacher, train, cfg.Distill.Temperature)
	rng := rand.New(rand.NewSource(cfg.Seed))
	p := InitGlorot(cfg.Hidden, rng)
	res, err := fitWith(&p, fitOpts{soft: q, negEnt: negEnt}, cfg, train, val, rng, hooks)
	res.Params, res.Config = p, cfg
	return res, err
}
