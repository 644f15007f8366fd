package model

// backend names the BLAS that both training and evaluation use; a build
// with the openblas tag replaces it in its init.
var backend = "gonum (pure Go)"

// Backend returns the name of the BLAS in use.
func Backend() string { return backend }

// setThreads is replaced by the OpenBLAS build; gonum's pure-Go BLAS
// needs no setting.
var setThreads = func(int) {}

// SetBLASThreads sets how many threads one BLAS call may use (0: the
// library's default). A caller running several evaluations in parallel
// sets 1 so they do not oversubscribe the cores.
func SetBLASThreads(n int) { setThreads(n) }
