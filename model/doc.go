// Package model holds the article's 784-H-10 network: its parameters as plain
// float32 values, the gorgonia graph that trains them, the .npz checkpoint
// format, and the fast batched forward pass used for evaluation.
//
// Conventions: kernels are stored as Keras stores them, input×output
// row-major (W1 is 784×H, W2 is H×10), so logits = relu(x·W1 + b1)·W2 + b2.
// Nothing here prints or exits; progress is reported through callbacks.
package model
