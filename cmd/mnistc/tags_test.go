//go:build !openblas

package main

// buildTags are the tags the tested binary is built with: those of this test run.
const buildTags = ""
