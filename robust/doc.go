// Package robust measures how a network of any depth holds up when its
// input is attacked or corrupted: white-box FGSM and PGD (L∞, pixels in
// [0, 1]), a transfer attack crafted on another model, and a fixed, seeded
// set of common corruptions in the spirit of MNIST-C (Mu & Gilmer 2019).
// Evaluate runs all of them on a test set and returns a Result that a
// record, a CSV row or a table can carry.
//
// The attacks see the network as it is evaluated (model.Forward): pruned
// and quantized weights as stored, activations through the ActQuant's fake
// quantizers. A quantizer's derivative is the straight-through estimator
// in its clipped form, as in training's fake quantization: the gradient
// passes unchanged where the quantizer's input lies inside its calibrated
// range [Lo, Hi] and is zero where the input was clamped (a Literal
// quantizer has no range and passes it everywhere). ReLU's derivative is 1
// where its input is > 0, else 0. A Result says whether the gradients went
// through such quantizers (STE), because a white-box accuracy that rises
// under quantization may be masked gradients rather than robustness: the
// transfer attack, crafted on the float baseline, shows which.
//
// Conventions: images are n×inputs row-major float32 in [0, 1], labels
// uint8; adversarial images are new slices (or dst, for the Attacker's
// methods) and inputs are never modified. Accuracies are fractions in
// [0, 1]. Every random draw comes from a seed, so a seed gives the same
// numbers on any run; per-image corruption streams do not depend on how
// many images are corrupted or on the number of cores. Functions panic
// (prefix "robust:") only on programmer errors such as slice lengths that
// do not match n; input that depends on files and flags is checked by
// Evaluate and NewTransfer, which return errors.
package robust
