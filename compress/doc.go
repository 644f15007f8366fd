// Package compress holds the compression passes of the article — weight
// clipping, weight quantization, pruning and activation quantization — each
// in the form practitioners use and in the article's literal printed form.
//
// Conventions: a Pass works on plain parameter values (model.Params), never
// on a gorgonia graph, never mutates its input State, and is deterministic
// (random choices come from a seed parameter). Passes are described by a
// SPEC string "name:key=value,key=value"; the registry in registry.go is the
// single table of names, parameters, defaults and ranges that the parser,
// the validation and `mnistc passes` all read. Lists inside a value are
// separated by '/', and per-tensor values are written name:value
// (keep=w1:0.1/w3:0.3).
//
// Passes work on networks of any depth: tensors are named w1, b1, …, wN, bN
// and a weight pass selects them with layers=, whose default is the keyword
// "weights" (every weight matrix of the network the pass is applied to;
// "all" adds the biases), so a spec means the same on every depth and its
// canonical string does not depend on the network. Names a network lacks
// are reported when the pass is applied (Spec.Layers).
//
// Post-training quantization without labels: quantize's correct=bias
// (empirical bias correction, Nagel et al. 2019) and rounding=adaround
// (AdaRound, Nagel et al. 2020) read the calibration images (Env.Calib, the
// validation split) and work layer by layer, each layer seeing the inputs
// the already-quantized layers before it give (calibrated.go,
// adaround.go). They keep the quantizer's grid and encoding, so sizes and
// packed files are those of rounding to nearest.
package compress
