// Package search finds, per layer, how far a trained network can be
// compressed: Distiller-style sensitivity analysis (each layer pruned or
// quantized alone, the rest untouched, accuracy on the validation split)
// and an automatic search for the smallest packed .mnc file whose
// validation accuracy stays within a budget of the input model's.
//
// A recipe sets, per weight layer, a magnitude-pruning keep rate and the
// bits of its k-means shared values (Deep Compression's weight sharing,
// retrained), per hidden layer the fraction of units kept (neuron
// pruning), and the bits of the biases; each moves down a fixed ladder.
// Every candidate is one fine-tuning run from the input model with the
// whole recipe held in the loop (package retrain: gradual pruning, then
// sharing), distilled from the input model itself by default (its soft
// targets beside the labels), measured by its real packed size and its
// validation accuracy. A candidate is within the budget when its
// validation drop plus Options.Guard standard errors of the paired
// difference is: the validation images share the training set's writers
// and MNIST's test writers are disjoint, so a drop measured on them runs
// optimistic.
// The search starts from each dimension pushed alone, without retraining,
// as far as the budget allows, then takes greedy steps: the bytes a step
// saves are measured by applying it after training, its accuracy cost is
// learnt from what its dimension's previous step cost per byte, and a step
// is kept only when the fine-tuned model stays within the budget and
// spends no more of it than its share of the bytes saved. See Run.
//
// The search never sees the test set: it decides on the validation split
// alone and returns a checkpoint; the caller reports the test accuracy
// once, at the end. Its result is what `mnistc finetune` with the recipe's
// pass specs and then `mnistc pack --lean` write, byte for byte: the
// search is seeded and deterministic, and its state (every trial, and the
// bytes each step was estimated to save) lets a killed run resume and end
// with the same result.
package search
