package errkind

import (
	"errors"
	"io/fs"
	"testing"
)

func TestWrap(t *testing.T) {
	kind := errors.New("kind")
	inner := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	err := Wrap(kind, inner)
	var pe *fs.PathError
	if !errors.Is(err, kind) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || err.Error() != inner.Error() {
		t.Errorf("Wrap: %v (is kind %v)", err, errors.Is(err, kind))
	}
	if Wrap(kind, nil) != nil {
		t.Error("Wrap(kind, nil) is not nil")
	}
	if errors.Is(errors.New("other"), kind) {
		t.Error("an unmarked error has the kind")
	}
}
