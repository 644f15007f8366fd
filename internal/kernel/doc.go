// Package kernel holds the optimizer's inner loop and the first layer of
// evaluation over an image's non-zero pixels, in Go and in AVX2 assembly. It is its own package because Go assembly cannot live in a
// cgo package, which the model package is in its OpenBLAS build.
//
// Conventions: every kernel rounds exactly as the scalar Go loop does
// (multiplies and adds are never fused), so the vector and scalar paths
// give the same bits and runs repeat on any CPU.
package kernel
