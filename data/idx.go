package data

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
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

// maxImagePixels bounds rows×cols of one image (4096×4096): far beyond any
// data set a dense network trained here could take, and small enough that
// count × rows × cols cannot overflow an int64.
const maxImagePixels = 1 << 24

// maxRatio is deflate's largest possible expansion (about 1032:1): a
// header promising more bytes than the compressed file could hold is
// refused before anything is allocated for them.
const maxRatio = 1032

// gzipError is a fault of the gzip layer itself (damaged, truncated or
// followed by junk), as opposed to a fault of the IDX contents. It is
// already a complete one-line message naming the file, so the IDX readers
// pass it on unchanged instead of calling it a truncated header or body.
type gzipError struct {
	path, what string
	err        error // the underlying error, for errors.Is
}

func (e *gzipError) Error() string { return e.path + ": " + e.what }
func (e *gzipError) Unwrap() error { return e.err }

// gzFile is an open gzipped file: the decompressed stream and the most
// bytes it can possibly hold.
//
// Integrity: it reads member by member and, at the end of each, the gzip
// reader checks the member's CRC-32 and ISIZE against the bytes it
// decompressed, so a caller that reads to io.EOF has verified the whole
// file. Concatenated members are accepted, as RFC 1952 (§2.2) defines a gzip
// file as a series of members and gzip -d decompresses them as one stream;
// anything after the last member that does not begin a new member
// (zero padding, a stray byte, …) is refused as junk, which Go's own
// multistream reading would either call a bad header (10 or more bytes) or
// an unexpected EOF (fewer). After any fault Read keeps returning it.
type gzFile struct {
	path     string
	f        *os.File
	br       *bufio.Reader // read by z byte by byte, so it stops exactly at a member's end
	z        *gzip.Reader
	member   int // 1-based number of the member being read
	err      error
	maxBytes int64
}

func (g *gzFile) Close() error { return g.f.Close() }

// openGzip opens path and returns a reader over its decompressed bytes.
func openGzip(path string) (*gzFile, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: file not found", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	br := bufio.NewReader(f)
	z, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a gzip file (%v)", path, err)
	}
	z.Multistream(false)
	return &gzFile{path: path, f: f, br: br, z: z, member: 1, maxBytes: maxRatio * (st.Size() + 1)}, nil
}

// Read returns the decompressed bytes of every member in turn, io.EOF once
// the last member has ended and been verified, or a *gzipError.
func (g *gzFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for g.err == nil {
		n, err := g.z.Read(p)
		if err == io.EOF { // this member ended and its CRC-32 and ISIZE matched
			g.err = g.nextMember()
		} else if err != nil {
			g.err = g.fault(err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, g.err
}

// nextMember starts the member after the one that just ended: nil when
// there is one, io.EOF when the file ends there, a *gzipError otherwise.
func (g *gzFile) nextMember() error {
	b, err := g.br.Peek(2)
	if len(b) == 0 && err == io.EOF {
		return io.EOF
	}
	if len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		g.member++
		if err := g.z.Reset(g.br); err != nil {
			return g.fault(err)
		}
		g.z.Multistream(false)
		return nil
	}
	if err != nil && err != io.EOF {
		return g.fault(err)
	}
	junk, err := io.Copy(io.Discard, g.br)
	if err != nil {
		return g.fault(err)
	}
	return &gzipError{g.path, fmt.Sprintf("%d bytes of junk after the end of the gzip data (the file is damaged)", junk), gzip.ErrHeader}
}

// fault turns an error of the gzip layer into one line saying what it means
// for the file.
func (g *gzFile) fault(err error) error {
	var corrupt flate.CorruptInputError
	var what string
	switch {
	case errors.Is(err, gzip.ErrChecksum):
		// The trailer's CRC-32 or ISIZE disagrees with the bytes decompressed.
		what = "gzip checksum mismatch (the file is damaged)"
	case errors.As(err, &corrupt):
		what = fmt.Sprintf("corrupt compressed data at byte %d of gzip member %d (the file is damaged)", int64(corrupt), g.member)
	case errors.Is(err, gzip.ErrHeader):
		what = fmt.Sprintf("gzip member %d has a corrupt header (the file is damaged)", g.member)
	case errors.Is(err, io.ErrUnexpectedEOF):
		what = fmt.Sprintf("gzip data ends inside member %d (the file is truncated)", g.member)
	default:
		what = fmt.Sprintf("reading gzip member %d: %v", g.member, err)
	}
	return &gzipError{g.path, what, err}
}

// drain reads g to its end and returns nil or the *gzipError found there,
// and how many bytes were left.
func (g *gzFile) drain() (int64, error) {
	return io.Copy(io.Discard, g)
}

// refuse returns err, a fault found in the IDX header, unless the gzip
// stream turns out to be damaged: then the damage is the cause worth
// naming. Reading the rest costs at most the decompressed size the file
// can hold, and allocates nothing.
func (g *gzFile) refuse(err error) error {
	if _, derr := g.drain(); derr != nil {
		return derr
	}
	return err
}

// checkClaim refuses a header whose promised body the file cannot hold.
func (g *gzFile) checkClaim(want int64, what string) error {
	if want > g.maxBytes || want > math.MaxInt {
		return g.refuse(fmt.Errorf("%s: truncated: header promises %d %s bytes, more than a %d-byte gzip file can hold", g.path, want, what, g.maxBytes/maxRatio-1))
	}
	return nil
}

// readBody reads exactly want bytes from g (a size its caller checked with
// checkClaim before allocating for it), handing them to sink in chunks,
// then reads on to the end of the file so the gzip checksums are verified,
// and reports damage, truncation or trailing bytes with the counts.
func readBody(g *gzFile, want int, what string, sink func(off int, b []byte)) error {
	buf := make([]byte, 1<<16)
	off := 0
	for off < want {
		n, err := io.ReadFull(g, buf[:min(len(buf), want-off)])
		sink(off, buf[:n])
		off += n
		var gerr *gzipError
		if errors.As(err, &gerr) {
			return err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// A clean end: the gzip data is intact, the IDX body is short.
			return fmt.Errorf("%s: truncated: header promises %d %s bytes, file holds %d", g.path, want, what, off)
		}
		if err != nil {
			return fmt.Errorf("%s: reading %s bytes: %v", g.path, what, err)
		}
	}
	rest, err := g.drain()
	if err != nil {
		return err
	}
	if rest > 0 {
		return fmt.Errorf("%s: %d trailing bytes after the %d %s bytes the header promises", g.path, rest, want, what)
	}
	return nil
}

// readHeader reads k big-endian uint32 words from the start of an IDX stream.
func readHeader(g *gzFile, k int) ([]uint32, error) {
	h := make([]uint32, k)
	if err := binary.Read(g, binary.BigEndian, h); err != nil {
		var gerr *gzipError
		if errors.As(err, &gerr) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: truncated: IDX header needs %d bytes (%v)", g.path, 4*k, err)
	}
	return h, nil
}

// openImages opens an IDX image file, validates its header and checks the
// file can hold the pixels it promises.
func openImages(path string) (g *gzFile, n, rows, cols int, err error) {
	if g, err = openGzip(path); err != nil {
		return nil, 0, 0, 0, err
	}
	fail := func(err error) (*gzFile, int, int, int, error) {
		g.Close()
		return nil, 0, 0, 0, err
	}
	h, err := readHeader(g, 4)
	if err != nil {
		return fail(err)
	}
	if h[0] != imageMagic {
		return fail(g.refuse(fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX image file)", path, h[0], imageMagic)))
	}
	if h[1] > maxItems {
		return fail(g.refuse(fmt.Errorf("%s: header claims %d images, more than the %d this reader accepts", path, h[1], maxItems)))
	}
	if h[2] == 0 || h[3] == 0 || uint64(h[2])*uint64(h[3]) > maxImagePixels {
		return fail(g.refuse(fmt.Errorf("%s: image size %d×%d, want 1 to %d pixels per image", path, h[2], h[3], maxImagePixels)))
	}
	n, rows, cols = int(h[1]), int(h[2]), int(h[3])
	if err := g.checkClaim(int64(n)*int64(rows*cols), "pixel"); err != nil {
		return fail(err)
	}
	return g, n, rows, cols, nil
}

// ReadImages reads a gzipped IDX image file and returns the image count,
// rows, columns and the raw pixels (count·rows·cols bytes, row-major).
// Any image size from 1 to 1<<24 pixels is accepted.
func ReadImages(path string) (n, rows, cols int, pix []byte, err error) {
	g, n, rows, cols, err := openImages(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer g.Close()
	pix = make([]byte, n*rows*cols)
	if err := readBody(g, len(pix), "pixel", func(off int, b []byte) { copy(pix[off:], b) }); err != nil {
		return 0, 0, 0, nil, err
	}
	return n, rows, cols, pix, nil
}

// readImagesFloat reads an IDX image file straight into float32 pixels
// scaled by 1/255, without holding the bytes as well.
func readImagesFloat(path string) (x []float32, n, rows, cols int, err error) {
	g, n, rows, cols, err := openImages(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer g.Close()
	x = make([]float32, n*rows*cols)
	err = readBody(g, len(x), "pixel", func(off int, b []byte) {
		for i, p := range b {
			x[off+i] = float32(p) / 255
		}
	})
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return x, n, rows, cols, nil
}

// ReadLabels reads a gzipped IDX label file. Labels are class numbers
// 0–255 (an IDX ubyte holds no more); the class count is the caller's to
// derive (see Set.Classes).
func ReadLabels(path string) ([]uint8, error) {
	g, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	h, err := readHeader(g, 2)
	if err != nil {
		return nil, err
	}
	if h[0] != labelMagic {
		return nil, g.refuse(fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX label file)", path, h[0], labelMagic))
	}
	if h[1] > maxItems {
		return nil, g.refuse(fmt.Errorf("%s: header claims %d labels, more than the %d this reader accepts", path, h[1], maxItems))
	}
	n := int(h[1])
	if err := g.checkClaim(int64(n), "label"); err != nil {
		return nil, err
	}
	lab := make([]byte, n)
	if err := readBody(g, n, "label", func(off int, b []byte) { copy(lab[off:], b) }); err != nil {
		return nil, err
	}
	return lab, nil
}
