package retrain

import (
	"math/rand"

	"mnistc/model"
	"mnistc/robust"
	"mnistc/training"
)

// Attack returns the perturbation adversarial training with a asks for:
// package robust's FGSM or PGD (L∞, pixels in [0, 1]) against the network
// as it is evaluated at that step — the projected (pruned, quantized)
// weights, activations through their quantizers' straight-through
// estimator. PGD takes a.Steps steps of a.Step (0: robust's defaults,
// Madry et al.'s 40 of 0.01) from a random start drawn from a stream
// seeded by seed. nil when a is nil.
func Attack(a *model.Adversarial, seed int64) training.Perturb {
	if a == nil {
		return nil
	}
	eps := float32(a.Eps)
	if a.Attack == "pgd" {
		steps, step := a.Steps, float32(a.Step)
		if steps == 0 {
			steps = robust.DefaultPGDSteps
		}
		if step == 0 {
			step = robust.DefaultPGDStep
		}
		rng := rand.New(rand.NewSource(seed ^ 0x6a5d))
		return func(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int) []float32 {
			return robust.PGD(p, aq, x, y, n, eps, step, steps, rng)
		}
	}
	return func(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int) []float32 {
		return robust.FGSM(p, aq, x, y, n, eps)
	}
}

// withAttack fills hooks.Attack from the recipe when it asks for
// adversarial training and the caller gave none.
func withAttack(cfg model.TrainConfig, hooks training.Hooks) training.Hooks {
	if hooks.Attack == nil && cfg.Adversarial != nil {
		hooks.Attack = Attack(cfg.Adversarial, cfg.Seed)
	}
	return hooks
}
