// Package data loads MNIST-format IDX files into memory and cuts the
// validation split.
//
// Conventions: a Set holds N images as one row-major N×784 float32 slice
// (pixels scaled to [0,1] by ÷255, as the article does) and N labels in 0–9.
// The validation split is the last Val images of the training file; the test
// set is only ever used for reported numbers. Every error names the file and
// what is wrong with it.
package data
