package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
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
		if x, n, err := readImagesFloat(path); err == nil && len(x) != n*Pixels {
			t.Fatalf("%d floats for %d images", len(x), n)
		}
		if l, err := ReadLabels(path); err == nil {
			for _, y := range l {
				if y > 9 {
					t.Fatalf("label %d accepted", y)
				}
			}
		}
	})
}
