//go:build openblas

package main

const buildTags = "openblas"
