// Package errkind marks errors with a kind a caller can test with
// errors.Is, without changing their text: the packages' messages stay one
// line naming the file, field or flag, and a program can still tell a
// damaged checkpoint from a bad experiment file.
package errkind

// Wrap returns err marked with kind (nil for a nil err). errors.Is(w,
// kind) holds, and so does errors.Is/As for whatever err wraps.
func Wrap(kind, err error) error {
	if err == nil {
		return nil
	}
	return kinded{kind, err}
}

type kinded struct{ kind, err error }

func (k kinded) Error() string   { return k.err.Error() }
func (k kinded) Unwrap() []error { return []error{k.kind, k.err} }
