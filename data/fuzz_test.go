package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func idxImages(n int, pix byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{imageMagic, uint32(n), Rows, Cols})
	b.Write(bytes.Repeat([]byte{pix}, n*Pixels))
	return b.Bytes()
}

func idxLabels(labels ...byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{labelMagic, uint32(len(labels))})
	b.Write(labels)
	return b.Bytes()
}

// FuzzReadIDX writes the bytes as a file — gzipped first when gz is set, as
// MNIST ships — and reads it as images and as labels: an error or a result
// that matches its header, never a panic or an allocation the file cannot
// justify (a header's claim is checked against the file size first).
func FuzzReadIDX(f *testing.F) {
	f.Add(idxImages(2, 7), true)
	f.Add(idxLabels(1, 2, 3), true)
	f.Add(idxImages(1, 0)[:20], true)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false)
	// Raw gzip files with the faults of issue 14 and two valid members.
	labels := gz(idxLabels(1, 2, 3, 4))
	f.Add(append(bytes.Clone(labels[:len(labels)-8]), 0, 0, 0, 0, 0, 0, 0, 0), false)
	f.Add(append(bytes.Clone(labels), "junk"...), false)
	f.Add(append(gz(idxLabels(1, 2)[:5]), gz(idxLabels(1, 2)[5:])...), false)
	f.Add(append(bytes.Clone(labels), 0x1f, 0x8b, 8, 0), false)
	f.Fuzz(func(t *testing.T, b []byte, gz bool) {
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			b = z.Bytes()
		}
		path := filepath.Join(t.TempDir(), "x.gz")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if n, rows, cols, pix, err := ReadImages(path); err == nil && len(pix) != n*rows*cols {
			t.Fatalf("%d pixels for %d×%d×%d", len(pix), n, rows, cols)
		}
		if x, n, rows, cols, err := readImagesFloat(path); err == nil && len(x) != n*rows*cols {
			t.Fatalf("%d floats for %d×%d×%d", len(x), n, rows, cols)
		}
		// Whatever is accepted is exactly what Go's own gzip reader (which
		// reads concatenated members too) makes of the file, and that reader
		// accepts it: damage is never read as data.
		if l, err := ReadLabels(path); err == nil {
			z, zerr := gzip.NewReader(bytes.NewReader(b))
			if zerr != nil {
				t.Fatalf("accepted %d labels from a file gzip refuses: %v", len(l), zerr)
			}
			whole, zerr := io.ReadAll(z)
			if zerr != nil {
				t.Fatalf("accepted %d labels from a file gzip refuses: %v", len(l), zerr)
			}
			if want := idxLabels(l...); !bytes.Equal(whole, want) {
				t.Fatalf("accepted labels %v from a file holding % x", l, whole)
			}
		} else if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), path+": ") {
			t.Fatalf("error %q is not one line starting with the file name", err)
		}
	})
}
