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
// (keep=w1:0.1/w2:0.3).
package compress
