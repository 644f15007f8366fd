package data

import (
	"bufio"
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

// maxRatio is deflate's largest possible expansion (about 1032:1): a
// header promising more bytes than the compressed file could hold is
// refused before anything is allocated for them.
const maxRatio = 1032

// gzFile is an open gzipped file: the decompressed stream and the most
// bytes it can possibly hold.
type gzFile struct {
	io.Reader
	f        *os.File
	maxBytes int64
}

func (g gzFile) Close() error { return g.f.Close() }

// openGzip opens path and returns a reader over its decompressed bytes.
func openGzip(path string) (gzFile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return gzFile{}, fmt.Errorf("%s: file not found", path)
		}
		return gzFile{}, fmt.Errorf("%s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return gzFile{}, fmt.Errorf("%s: %w", path, err)
	}
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return gzFile{}, fmt.Errorf("%s: not a gzip file (%v)", path, err)
	}
	return gzFile{Reader: z, f: f, maxBytes: maxRatio * (st.Size() + 1)}, nil
}

// checkClaim refuses a header whose promised body the file cannot hold.
func (g gzFile) checkClaim(path string, want int, what string) error {
	if int64(want) > g.maxBytes {
		return fmt.Errorf("%s: truncated: header promises %d %s bytes, more than a %d-byte gzip file can hold", path, want, what, g.maxBytes/maxRatio-1)
	}
	return nil
}

// readBody reads exactly want bytes from g (a size its caller checked with
// checkClaim before allocating for it), handing them to sink in chunks, and
// reports truncation or trailing bytes with the counts.
func readBody(path string, g gzFile, want int, what string, sink func(off int, b []byte)) error {
	buf := make([]byte, 1<<16)
	off := 0
	for off < want {
		n, err := io.ReadFull(g, buf[:min(len(buf), want-off)])
		sink(off, buf[:n])
		off += n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: truncated: header promises %d %s bytes, file holds %d", path, want, what, off)
		}
		if err != nil {
			return fmt.Errorf("%s: truncated or corrupt gzip stream after %d of %d %s bytes: %v", path, off, want, what, err)
		}
	}
	if rest := countRest(g); rest > 0 {
		return fmt.Errorf("%s: %d trailing bytes after the %d %s bytes the header promises", path, rest, want, what)
	}
	return nil
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

// openImages opens an IDX image file and validates its header.
func openImages(path string) (g gzFile, n int, err error) {
	if g, err = openGzip(path); err != nil {
		return gzFile{}, 0, err
	}
	h, err := readHeader(path, g, 4)
	if err != nil {
		g.Close()
		return gzFile{}, 0, err
	}
	if h[0] != imageMagic {
		g.Close()
		return gzFile{}, 0, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX image file)", path, h[0], imageMagic)
	}
	n, rows, cols := int(h[1]), int(h[2]), int(h[3])
	if n > maxItems {
		g.Close()
		return gzFile{}, 0, fmt.Errorf("%s: header claims %d images, more than the %d this reader accepts", path, n, maxItems)
	}
	if rows != Rows || cols != Cols {
		g.Close()
		return gzFile{}, 0, fmt.Errorf("%s: image size %d×%d, want %d×%d", path, rows, cols, Rows, Cols)
	}
	return g, n, nil
}

// ReadImages reads a gzipped IDX image file and returns the image count,
// rows, columns and the raw pixels (count·rows·cols bytes, row-major).
func ReadImages(path string) (n, rows, cols int, pix []byte, err error) {
	g, n, err := openImages(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer g.Close()
	if err := g.checkClaim(path, n*Pixels, "pixel"); err != nil {
		return 0, 0, 0, nil, err
	}
	pix = make([]byte, n*Pixels)
	if err := readBody(path, g, n*Pixels, "pixel", func(off int, b []byte) { copy(pix[off:], b) }); err != nil {
		return 0, 0, 0, nil, err
	}
	return n, Rows, Cols, pix, nil
}

// readImagesFloat reads an IDX image file straight into float32 pixels
// scaled by 1/255, without holding the bytes as well.
func readImagesFloat(path string) ([]float32, int, error) {
	g, n, err := openImages(path)
	if err != nil {
		return nil, 0, err
	}
	defer g.Close()
	if err := g.checkClaim(path, n*Pixels, "pixel"); err != nil {
		return nil, 0, err
	}
	x := make([]float32, n*Pixels)
	err = readBody(path, g, n*Pixels, "pixel", func(off int, b []byte) {
		for i, p := range b {
			x[off+i] = float32(p) / 255
		}
	})
	return x, n, err
}

// ReadLabels reads a gzipped IDX label file and checks every label is 0–9.
func ReadLabels(path string) ([]uint8, error) {
	g, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	h, err := readHeader(path, g, 2)
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
	if err := g.checkClaim(path, n, "label"); err != nil {
		return nil, err
	}
	lab := make([]byte, n)
	if err := readBody(path, g, n, "label", func(off int, b []byte) { copy(lab[off:], b) }); err != nil {
		return nil, err
	}
	for i, l := range lab {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d at index %d is outside 0–9", path, l, i)
		}
	}
	return lab, nil
}
