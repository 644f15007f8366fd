package model

// backend names the BLAS that both training and evaluation use; a build
// with the openblas tag replaces it in its init.
var backend = "gonum (pure Go)"

// Backend returns the name of the BLAS in use.
func Backend() string { return backend }
