// Package data loads IDX files in MNIST's layout into memory and cuts the
// validation split.
//
// Conventions: a Set holds N images as one row-major N×Dim float32 slice
// (pixels scaled to [0,1] by ÷255, as the article does; Dim = rows×cols of
// the IDX header, 784 for MNIST) and N labels 0–255 (NumClasses = largest
// label + 1, 10 for MNIST). The validation split is the last Val images of
// the training file; the test set is only ever used for reported numbers.
// Every file is read to its end so the gzip CRC-32 and length of each member
// are checked; every error is one line naming the file and what is wrong
// with it.
package data
