package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX magic numbers: 0x0000 0803 is unsigned bytes in 3 dimensions (images),
// 0x0000 0801 unsigned bytes in 1 dimension (labels).
const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
)

// maxItems bounds the count an IDX header may claim, so a corrupt header
// cannot ask for an absurd amount of memory before the data is seen.
const maxItems = 1 << 24

// maxPrealloc caps the buffer reserved from a header's promise (MNIST's
// training images are 47 MB).
const maxPrealloc = 64 << 20

// openGzip opens path and returns a reader over its decompressed bytes.
func openGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: file not found", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a gzip file (%v)", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// readBody reads exactly want bytes from r, growing its buffer only as data
// arrives, and reports truncation or trailing bytes with the counts.
func readBody(path string, r io.Reader, want int, what string) ([]byte, error) {
	// Pre-size the buffer for what the header promises, up to a cap, so a
	// lying header cannot force a huge allocation before data arrives.
	var buf bytes.Buffer
	buf.Grow(min(want+1, maxPrealloc))
	n, err := io.Copy(&buf, io.LimitReader(r, int64(want)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: truncated or corrupt gzip stream after %d of %d %s bytes: %v", path, n, want, what, err)
	}
	if int(n) < want {
		return nil, fmt.Errorf("%s: truncated: header promises %d %s bytes, file holds %d", path, want, what, n)
	}
	if int(n) > want {
		return nil, fmt.Errorf("%s: %d trailing bytes after the %d %s bytes the header promises", path, countRest(r)+1, want, what)
	}
	return buf.Bytes(), nil
}

func countRest(r io.Reader) int64 {
	n, _ := io.Copy(io.Discard, r)
	return n
}

// readHeader reads k big-endian uint32 words from the start of an IDX stream.
func readHeader(path string, r io.Reader, k int) ([]uint32, error) {
	h := make([]uint32, k)
	if err := binary.Read(r, binary.BigEndian, h); err != nil {
		return nil, fmt.Errorf("%s: truncated: IDX header needs %d bytes (%v)", path, 4*k, err)
	}
	return h, nil
}

// ReadImages reads a gzipped IDX image file and returns the image count,
// rows, columns and the raw pixels (count·rows·cols bytes, row-major).
func ReadImages(path string) (n, rows, cols int, pix []byte, err error) {
	rc, err := openGzip(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer rc.Close()
	h, err := readHeader(path, rc, 4)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if h[0] != imageMagic {
		return 0, 0, 0, nil, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX image file)", path, h[0], imageMagic)
	}
	n, rows, cols = int(h[1]), int(h[2]), int(h[3])
	if n > maxItems {
		return 0, 0, 0, nil, fmt.Errorf("%s: header claims %d images, more than the %d this reader accepts", path, n, maxItems)
	}
	if rows != Rows || cols != Cols {
		return 0, 0, 0, nil, fmt.Errorf("%s: image size %d×%d, want %d×%d", path, rows, cols, Rows, Cols)
	}
	pix, err = readBody(path, rc, n*rows*cols, "pixel")
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return n, rows, cols, pix, nil
}

// ReadLabels reads a gzipped IDX label file and checks every label is 0–9.
func ReadLabels(path string) ([]uint8, error) {
	rc, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h, err := readHeader(path, rc, 2)
	if err != nil {
		return nil, err
	}
	if h[0] != labelMagic {
		return nil, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX label file)", path, h[0], labelMagic)
	}
	n := int(h[1])
	if n > maxItems {
		return nil, fmt.Errorf("%s: header claims %d labels, more than the %d this reader accepts", path, n, maxItems)
	}
	lab, err := readBody(path, rc, n, "label")
	if err != nil {
		return nil, err
	}
	for i, l := range lab {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d at index %d is outside 0–9", path, l, i)
		}
	}
	return lab, nil
}
