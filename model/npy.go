package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// npyMagic opens every .npy file (NumPy format version 1.0).
var npyMagic = []byte("\x93NUMPY")

// encodeNPY writes t as a little-endian float32 .npy array (format 1.0).
func encodeNPY(w io.Writer, t Tensor) error {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(t.Shape) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	// Pad with spaces so magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.Write(npyMagic)
	buf.Write([]byte{1, 0})
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	buf.Write(raw)
	_, err := w.Write(buf.Bytes())
	return err
}

var (
	descrRE   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	fortranRE = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRE   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// decodeNPY parses a float32 .npy array. size is the member's byte length,
// used to refuse a header whose shape the bytes cannot hold before allocating.
func decodeNPY(name string, b []byte) (Tensor, error) {
	if len(b) < 10 || !bytes.Equal(b[:6], npyMagic) {
		return Tensor{}, fmt.Errorf("%s: not a .npy array (bad magic)", name)
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return Tensor{}, fmt.Errorf("%s: truncated .npy header", name)
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return Tensor{}, fmt.Errorf("%s: unsupported .npy version %d.%d", name, b[6], b[7])
	}
	if off+hlen > len(b) {
		return Tensor{}, fmt.Errorf("%s: truncated .npy header", name)
	}
	header := string(b[off : off+hlen])
	body := b[off+hlen:]
	m := descrRE.FindStringSubmatch(header)
	if m == nil {
		return Tensor{}, fmt.Errorf("%s: .npy header has no descr", name)
	}
	if m[1] != "<f4" {
		return Tensor{}, fmt.Errorf("%s: dtype %s, want float32 (<f4)", name, m[1])
	}
	if f := fortranRE.FindStringSubmatch(header); f == nil || f[1] != "False" {
		return Tensor{}, fmt.Errorf("%s: Fortran-ordered or unmarked array; want C order", name)
	}
	s := shapeRE.FindStringSubmatch(header)
	if s == nil {
		return Tensor{}, fmt.Errorf("%s: .npy header has no shape", name)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(s[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > 1<<24 {
			return Tensor{}, fmt.Errorf("%s: bad dimension %q in shape", name, f)
		}
		shape = append(shape, d)
		n *= d
		if n > 1<<26 {
			return Tensor{}, fmt.Errorf("%s: shape %s is too large", name, s[1])
		}
	}
	if len(body) != 4*n {
		return Tensor{}, fmt.Errorf("%s: shape (%s) needs %d bytes of data, member holds %d", name, s[1], 4*n, len(body))
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return Tensor{Name: name, Shape: shape, Data: data}, nil
}
