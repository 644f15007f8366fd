// Package retrain trains with compression in the loop: it turns pass
// specs into training.Constraints (pruning masks held through every optimizer
// step, on a one-shot, iterative or gradual schedule) and fine-tunes a
// checkpoint under them, so accuracy lost to compression is recovered the
// way practitioners recover it.
//
// Conventions: schedules count optimizer steps; masks only grow, so a
// pruned weight never comes back; everything is seeded and reproducible.
package retrain
