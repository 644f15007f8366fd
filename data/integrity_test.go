package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gzLevel gzips b at a given compression level.
func gzLevel(t *testing.T, b []byte, level int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := gzip.NewWriterLevel(&out, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// randomLabels returns n labels 0–9 from a fixed seed.
func randomLabels(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(r.IntN(10))
	}
	return lab
}

// oneLine checks err names path and is a single line holding want.
func oneLine(t *testing.T, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want an error containing %q", filepath.Base(path), want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Fatalf("error %q: want one line starting with %s: and containing %q", msg, path, want)
	}
}

// TestEveryBitFlip flips each bit of a small gzipped label file in turn,
// at several compression levels (stored, fixed and dynamic Huffman blocks):
// every flip must either be refused or leave the labels exactly as they
// were (a flip in the MTIME, XFL or OS byte of the gzip header, or in the
// padding bits after the last deflate block, changes no data). A flip in the
// CRC-32 or ISIZE trailer must always be refused as a checksum mismatch.
func TestEveryBitFlip(t *testing.T) {
	lab := randomLabels(300)
	path := filepath.Join(t.TempDir(), TestLabels)
	for _, level := range []int{gzip.NoCompression, gzip.BestSpeed, gzip.DefaultCompression, gzip.HuffmanOnly} {
		file := gzLevel(t, idxBytes(labelMagic, []uint32{uint32(len(lab))}, lab), level)
		refused := 0
		for bit := range 8 * len(file) {
			bad := bytes.Clone(file)
			bad[bit/8] ^= 1 << (bit % 8)
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadLabels(path)
			if err != nil {
				refused++
				if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), path+": ") {
					t.Fatalf("level %d, bit %d: error %q is not one line naming the file", level, bit, err)
				}
			} else if !bytes.Equal(got, lab) {
				t.Fatalf("level %d: flipping bit %d of %d silently changed the labels", level, bit, 8*len(file))
			}
			if bit >= 8*(len(file)-8) {
				oneLine(t, err, path, "gzip checksum mismatch (the file is damaged)")
			}
		}
		// The header's 10 bytes hold 6 that carry no data (MTIME, XFL, OS)
		// and FLG's reserved bits, which Go ignores: nearly everything else
		// must be refused.
		if refused < 8*(len(file)-10)*9/10 {
			t.Errorf("level %d: only %d of %d bit flips refused", level, refused, 8*len(file))
		}
	}
}

// TestGzipFaults checks each gzip-level fault of issue 14 is refused with
// one line naming the file and the fault, and that concatenated members,
// which RFC 1952 allows, are read as one stream.
func TestGzipFaults(t *testing.T) {
	lab := randomLabels(50)
	idx := idxBytes(labelMagic, []uint32{uint32(len(lab))}, lab)
	good := gz(idx)
	end := len(good) - 8 // start of the CRC-32 and ISIZE trailer
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name, want string
		file       []byte
	}{
		{"zeroed trailer", "gzip checksum mismatch (the file is damaged)", with(func(b []byte) []byte { clear(b[end:]); return b })},
		{"zeroed CRC", "gzip checksum mismatch", with(func(b []byte) []byte { clear(b[end : end+4]); return b })},
		{"wrong ISIZE", "gzip checksum mismatch", with(func(b []byte) []byte { b[end+4]++; return b })},
		{"one junk byte", "1 bytes of junk after the end of the gzip data", append(with(func(b []byte) []byte { return b }), 'x')},
		{"zero padding", "5 bytes of junk after", append(with(func(b []byte) []byte { return b }), 0, 0, 0, 0, 0)},
		{"text appended", "11 bytes of junk after", append(with(func(b []byte) []byte { return b }), "hello there"...)},
		{"gzip magic then junk", "gzip member 2 has a corrupt header", append(with(func(b []byte) []byte { return b }), 0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"second member cut short", "gzip data ends inside member 2 (the file is truncated)", append(with(func(b []byte) []byte { return b }), gz(nil)[:12]...)},
		{"cut in the trailer", "(the file is truncated)", good[:len(good)-3]},
		{"cut in the data", "(the file is truncated)", good[:len(good)/2]},
		{"corrupt deflate", "corrupt compressed data", with(func(b []byte) []byte { b[10] |= 6; return b })}, // BTYPE 11 is reserved
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeSet(t, 50, 50)
			path := filepath.Join(dir, TestLabels)
			writeFile(t, dir, TestLabels, c.file)
			_, err := ReadLabels(path)
			oneLine(t, err, path, c.want)
			_, _, err = Load(dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error naming %s and containing %q", err, path, c.want)
			}
		})
	}

	// A damaged image file whose IDX header comes through intact but whose
	// checksum fails is refused the same way, and damage is named rather
	// than a header fault it may have caused.
	dir := writeSet(t, 3, 2)
	img := gz(idxBytes(imageMagic, []uint32{3, Rows, Cols}, make([]byte, 3*Pixels)))
	clear(img[len(img)-8:])
	writeFile(t, dir, TrainImages, img)
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, TrainImages)+": gzip checksum mismatch") {
		t.Errorf("damaged image file: %v", err)
	}
	wrong := gz(idxBytes(labelMagic, []uint32{3, Rows, Cols}, make([]byte, 3*Pixels)))
	clear(wrong[len(wrong)-8:])
	writeFile(t, dir, TrainImages, wrong)
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "gzip checksum mismatch") {
		t.Errorf("damaged file with a wrong magic number: %v, want the damage named", err)
	}

	// Concatenated members, cut anywhere (even inside the IDX header), read
	// as the one stream gzip -d would give.
	path := filepath.Join(t.TempDir(), TestLabels)
	for _, cuts := range [][]int{{3}, {8}, {20}, {0, 8}, {1, 2, 30, 57}} {
		var file []byte
		prev := 0
		for _, c := range append(cuts, len(idx)) {
			file = append(file, gz(idx[prev:c])...)
			prev = c
		}
		writeFile(t, filepath.Dir(path), filepath.Base(path), file)
		got, err := ReadLabels(path)
		if err != nil || !bytes.Equal(got, lab) {
			t.Errorf("members cut at %v: %v, labels equal: %v", cuts, err, bytes.Equal(got, lab))
		}
	}
}

// TestShapedSet loads a data set that is not MNIST's shape: 5×4 images and
// three classes.
func TestShapedSet(t *testing.T) {
	dir := writeShaped(t, 8, 4, 5, 4, 3)
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Set{"train": train, "test": test} {
		if s.Dim != 20 || s.Inputs() != 20 || s.NumClasses != 3 || s.Classes() != 3 || len(s.X) != 20*s.Len() {
			t.Errorf("%s: Dim %d, Inputs %d, NumClasses %d, Classes %d, %d pixels for %d images; want 20, 3",
				name, s.Dim, s.Inputs(), s.NumClasses, s.Classes(), len(s.X), s.Len())
		}
	}
	// Image i holds file pixels 20i … 20i+19, each k%256/255.
	for i := range train.Len() {
		for k, p := range train.Image(i) {
			if want := float32((20*i+k)%256) / 255; p != want {
				t.Fatalf("image %d pixel %d = %v, want %v", i, k, p, want)
			}
		}
	}
	// The split keeps the width and the data set's class count, even when
	// the validation part lacks the top class.
	tr, va, err := Split(train, 2)
	if err != nil {
		t.Fatal(err)
	}
	if va.Y[0] != 0 || va.Y[1] != 1 {
		t.Fatalf("validation labels %v, want [0 1] for this test to mean something", va.Y)
	}
	for _, s := range []Set{tr, va, va.Slice(0, 0)} {
		if s.Inputs() != 20 || s.Classes() != 3 {
			t.Errorf("split of %d: Inputs %d, Classes %d; want 20, 3", s.Len(), s.Inputs(), s.Classes())
		}
	}
	if got := va.Image(1)[0]; got != train.Image(7)[0] {
		t.Errorf("validation image 1 starts %v, training image 7 %v", got, train.Image(7)[0])
	}

	// Labels up to 255 are classes: the count is the largest label of either
	// set + 1.
	writeFile(t, dir, TestLabels, gz(idxBytes(labelMagic, []uint32{4}, []byte{0, 200, 1, 2})))
	if train, test, err := Load(dir); err != nil || train.Classes() != 201 || test.Classes() != 201 {
		t.Errorf("test label 200: %v, classes %d and %d; want 201", err, train.Classes(), test.Classes())
	}
}

// TestMismatchedShapes refuses training and test sets of different image
// sizes, transposed ones included, naming both image files.
func TestMismatchedShapes(t *testing.T) {
	for _, c := range []struct{ rows, cols int }{{4, 5}, {Rows, Cols}, {5, 5}} {
		dir := writeShaped(t, 3, 2, 5, 4, 3)
		test := writeShaped(t, 3, 2, c.rows, c.cols, 3)
		b, err := os.ReadFile(filepath.Join(test, TestImages))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, TestImages, b)
		_, _, err = Load(dir)
		if err == nil {
			t.Fatalf("5×4 training and %d×%d test images accepted", c.rows, c.cols)
		}
		for _, want := range []string{filepath.Join(dir, TrainImages), filepath.Join(dir, TestImages), "5×4", "one image size"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	}
}

// TestLiteralSets checks sets written as literals, as other packages' tests
// build them, derive their width and classes from X and Y.
func TestLiteralSets(t *testing.T) {
	s := Set{X: make([]float32, 6*60), Y: []uint8{0, 4, 1, 0, 2, 3}}
	if s.Inputs() != 60 || s.Classes() != 5 || len(s.Image(5)) != 60 {
		t.Errorf("literal 6×60 with labels ≤ 4: Inputs %d, Classes %d, image length %d", s.Inputs(), s.Classes(), len(s.Image(5)))
	}
	// A slice resolves them, so it does not shrink with the labels it holds.
	if sl := s.Slice(0, 1); sl.Dim != 60 || sl.Classes() != 5 {
		t.Errorf("slice of one label-0 image: Dim %d, Classes %d; want 60, 5", sl.Dim, sl.Classes())
	}
	if e := s.Slice(2, 2); e.Inputs() != 60 || e.Classes() != 5 {
		t.Errorf("empty slice: Inputs %d, Classes %d", e.Inputs(), e.Classes())
	}
	if one := (Set{X: make([]float32, 3), Y: []uint8{0}}); one.Classes() != 2 {
		t.Errorf("single class: %d classes, want at least 2", one.Classes())
	}
	if var0 := (Set{}); var0.Inputs() != Pixels || var0.Classes() != Classes {
		t.Errorf("empty literal: %d, %d; want MNIST's %d, %d", var0.Inputs(), var0.Classes(), Pixels, Classes)
	}
	if mn := (Set{X: make([]float32, 2*Pixels), Y: []uint8{9, 3}}); mn.Inputs() != Pixels || mn.Image(1)[0] != 0 {
		t.Errorf("MNIST-shaped literal: Inputs %d", mn.Inputs())
	}
}

// TestLoadErrorKind: a folder without the files is an ErrData.
func TestLoadErrorKind(t *testing.T) {
	if _, _, err := Load(t.TempDir()); !errors.Is(err, ErrData) {
		t.Errorf("%v is not an ErrData", err)
	}
}
