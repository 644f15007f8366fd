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

// decodeNPY parses a .npy array of float32 or float64 values (either byte
// order, C or Fortran order, format versions 1.0, 2.0 and 3.0: what
// numpy.save writes for any float array) into a float32 tensor in C order.
// float64 values are rounded to the nearest float32, as NumPy's
// astype(np.float32) does; one beyond float32's range is refused rather
// than turned into an infinity. Other dtypes are refused, naming the array
// and the dtype.
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
	if hlen > len(b)-off {
		return Tensor{}, fmt.Errorf("%s: truncated .npy header", name)
	}
	header := string(b[off : off+hlen])
	body := b[off+hlen:]
	m := descrRE.FindStringSubmatch(header)
	if m == nil {
		if strings.Contains(header, "'descr': [") || strings.Contains(header, "'descr':[") {
			return Tensor{}, fmt.Errorf("%s: a structured dtype (record array): want float32 or float64", name)
		}
		return Tensor{}, fmt.Errorf("%s: .npy header has no descr", name)
	}
	var size int
	var order binary.ByteOrder = binary.LittleEndian
	switch m[1] {
	case "<f4", "=f4":
		size = 4
	case ">f4":
		size, order = 4, binary.BigEndian
	case "<f8", "=f8":
		size = 8
	case ">f8":
		size, order = 8, binary.BigEndian
	default:
		return Tensor{}, fmt.Errorf("%s: dtype %s%s: want float32 (<f4) or float64 (<f8)", name, m[1], dtypeName(m[1]))
	}
	f := fortranRE.FindStringSubmatch(header)
	if f == nil {
		return Tensor{}, fmt.Errorf("%s: .npy header has no fortran_order", name)
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
	if len(body) != size*n {
		return Tensor{}, fmt.Errorf("%s: dtype %s with shape (%s) needs %d bytes of data, member holds %d", name, m[1], s[1], size*n, len(body))
	}
	data := make([]float32, n)
	for i := range data {
		if size == 4 {
			data[i] = math.Float32frombits(order.Uint32(body[4*i:]))
			continue
		}
		v := math.Float64frombits(order.Uint64(body[8*i:]))
		data[i] = float32(v)
		if math.IsInf(float64(data[i]), 0) && !math.IsInf(v, 0) {
			return Tensor{}, fmt.Errorf("%s[%d] is %g, beyond float32's range", name, i, v)
		}
	}
	if f[1] == "True" {
		data = fromFortran(data, shape)
	}
	return Tensor{Name: name, Shape: shape, Data: data}, nil
}

// fromFortran returns v, stored in Fortran order (first index fastest),
// in C order (last index fastest).
func fromFortran(v []float32, shape []int) []float32 {
	if len(shape) < 2 {
		return v
	}
	out := make([]float32, len(v))
	idx := make([]int, len(shape)) // C-order index of out[k]
	for k := range out {
		// Fortran offset of idx: Σ idx[d]·Π_{e<d} shape[e]
		off, stride := 0, 1
		for d := range shape {
			off += idx[d] * stride
			stride *= shape[d]
		}
		out[k] = v[off]
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// dtypeName names a NumPy type string for an error message: " (int64)".
func dtypeName(descr string) string {
	if len(descr) < 3 {
		return ""
	}
	kinds := map[byte]string{'f': "float", 'i': "int", 'u': "uint", 'b': "bool", 'c': "complex", 'U': "unicode string", 'S': "byte string", 'O': "Python object", 'M': "datetime", 'm': "timedelta", 'V': "raw bytes"}
	k, ok := kinds[descr[1]]
	if !ok {
		return ""
	}
	bits, err := strconv.Atoi(descr[2:])
	if err != nil {
		return ""
	}
	switch descr[1] {
	case 'f', 'i', 'u', 'c':
		return fmt.Sprintf(" (%s%d)", k, 8*bits)
	}
	return " (" + k + ")"
}
