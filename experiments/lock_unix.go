//go:build unix

package experiments

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file a running sweep holds an exclusive lock on.
const LockFile = ".lock"

// ErrBusy is returned when another sweep holds the results folder.
var ErrBusy = errors.New("another sweep is running in this folder")

// lockFolder takes an exclusive, non-blocking flock on dir/.lock. The
// kernel drops it when the process ends however it ends (SIGKILL too), so
// a killed run never leaves a stale lock behind. unlock releases it.
func lockFolder(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (it holds %s); wait for it to finish or use another --out", dir, ErrBusy, path)
		}
		return nil, fmt.Errorf("%s: locking: %v", path, err)
	}
	return func() { f.Close() }, nil
}
