//go:build openblas

package model

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
// int openblas_get_num_procs(void);
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// With the openblas build tag, gorgonia (training) and gonum's blas32
// (evaluation) both call OpenBLAS through cgo.
func init() {
	G.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
	backend = "OpenBLAS (cgo)"
	setThreads = func(n int) {
		if n <= 0 {
			n = int(C.openblas_get_num_procs())
		}
		C.openblas_set_num_threads(C.int(n))
	}
}
