// Package kernel holds the optimizer's inner loop, the first layer of
// evaluation over an image's non-zero pixels, and the integer path's
// kernels (int8.go: uint8 activation codes × int8 weight levels summed in
// int32 by AVX-512 VNNI or AVX2, the codes of float inputs, the rescale
// and requantization between layers), in Go and in assembly chosen at run
// time (golang.org/x/sys/cpu). It is its own package because Go assembly
// cannot live in a cgo package, which the model package is in its
// OpenBLAS build.
//
// Conventions: every kernel rounds exactly as the scalar Go loop does
// (multiplies and adds are never fused), so the vector and scalar paths
// give the same bits and runs repeat on any CPU; the integer sums are
// exact, the same on every path.
package kernel
