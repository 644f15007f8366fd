// Package training trains a model.Params with gorgonia: the expression graph
// built from the layer list (fused ops over non-zero inputs whose
// derivatives are gorgonia ops, differentiated by G.Grad), a sequential
// executor, Keras's Adam, constraints held through every step (pruning
// masks, quantizer projections, weight sharing: the mechanism; package
// retrain holds the policy) and knowledge distillation. It returns plain
// model.Params; nothing here prints or exits — progress goes to Hooks.
package training
