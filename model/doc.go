// Package model holds a network of any depth — dense layers in order, ReLU
// between them, softmax after the last — as plain float32 values: its
// parameters (w1, b1, …, wN, bN), the training recipe and activation
// ranges that describe it, the .npz checkpoint format with its metadata
// checks, and the forward pass used for evaluation. It needs only weights:
// the gorgonia graph that trains them lives in package training, so the
// packages that compress, pack and evaluate do not import gorgonia.
//
// Conventions: kernels are stored as Keras stores them, input×output
// row-major (w1 is inputs×H1, …), so each layer is relu(a·W + b) and the
// last a·W + b. Nothing here prints or exits.
package model
