//go:build !unix

package experiments

import "errors"

// LockFile is the file a running sweep holds an exclusive lock on (unix only).
const LockFile = ".lock"

// ErrBusy is returned when another sweep holds the results folder.
var ErrBusy = errors.New("another sweep is running in this folder")

// lockFolder is a no-op where flock is not available.
func lockFolder(dir string) (func(), error) { return func() {}, nil }
