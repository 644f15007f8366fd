// Package training trains a model.Params with gorgonia: the expression graph
// built from the layer list (fused ops over non-zero inputs whose
// derivatives are gorgonia ops, differentiated by G.Grad), a sequential
// executor, Keras's Adam, constraints held through every step (pruning
// masks, quantizer projections, weight sharing: the mechanism; package
// retrain holds the policy), constraints that learn parameters of their
// own with the weights (Learner: quantizer step sizes), learned activation
// quantizer steps (LSQ, StepQuant), knowledge distillation, and the
// recipe's options: a cosine learning-rate schedule, input jitter and
// adversarial examples in the loop (Hooks.Attack crafts them). It returns
// plain model.Params; nothing here prints or exits — progress goes to Hooks.
package training
