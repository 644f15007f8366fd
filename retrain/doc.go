// Package retrain trains with compression in the loop: it turns pass
// specs into training.Constraints (pruning masks held through every optimizer
// step, on a one-shot, iterative or gradual schedule; quantizers, fixed or
// with learned step sizes (LSQ) and ternary scales (TTQ); weight sharing)
// and fine-tunes a checkpoint under them, so accuracy lost to compression
// is recovered the way practitioners recover it. The learn key of a
// quantize or actquant spec (learn.go) chooses between the fixed and the
// learned quantizers; it is read here and never reaches compress.
//
// Conventions: schedules count optimizer steps; masks only grow, so a
// pruned weight never comes back; everything is seeded and reproducible.
package retrain
