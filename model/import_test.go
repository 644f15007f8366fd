package model

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// npyOpts say how foreignNPY writes an array, as NumPy could.
type npyOpts struct {
	descr   string // <f4, >f4, <f8, >f8, <i8, …
	fortran bool
	version byte // 1, 2 or 3
}

// foreignNPY writes values (given in C order for shape) as numpy.save
// would with those options.
func foreignNPY(shape []int, v []float64, o npyOpts) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	fo := "False"
	if o.fortran {
		fo = "True"
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", o.descr, fo, sh)
	pre := 10
	if o.version > 1 {
		pre = 12
	}
	header += strings.Repeat(" ", (64-(pre+len(header)+1)%64)%64) + "\n"
	var b bytes.Buffer
	b.Write(npyMagic)
	b.Write([]byte{o.version, 0})
	if o.version > 1 {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	}
	b.WriteString(header)
	order := v
	if o.fortran && len(shape) == 2 {
		order = make([]float64, len(v))
		r, c := shape[0], shape[1]
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				order[j*r+i] = v[i*c+j]
			}
		}
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if o.descr[0] == '>' {
		bo = binary.BigEndian
	}
	for _, x := range order {
		switch o.descr[1:] {
		case "f4":
			binary.Write(&b, bo, math.Float32bits(float32(x)))
		case "f8":
			binary.Write(&b, bo, math.Float64bits(x))
		case "i8":
			binary.Write(&b, bo, int64(x))
		}
	}
	return b.Bytes()
}

// foreignNPZ zips arrays (name → .npy bytes) in order, deflated as
// numpy.savez_compressed does.
func foreignNPZ(names []string, arrays map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n + ".npy", Method: zip.Deflate})
		w.Write(arrays[n])
	}
	zw.Close()
	return buf.Bytes()
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// transposed returns w (rows×cols, C order) transposed, in C order.
func transposed(w []float32, rows, cols int) []float32 {
	t := make([]float32, len(w))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			t[j*rows+i] = w[i*cols+j]
		}
	}
	return t
}

// export writes p as a foreign checkpoint: torch stores each weight
// (outputs, inputs); o says how every array is written.
func export(p Params, torch bool, o npyOpts) []byte {
	arrays := map[string][]byte{}
	var names []string
	for _, l := range p.Layers {
		w, shape := l.W.Data, l.W.Shape
		if torch {
			w, shape = transposed(w, shape[0], shape[1]), []int{shape[1], shape[0]}
		}
		arrays[l.W.Name] = foreignNPY(shape, f64(w), o)
		arrays[l.B.Name] = foreignNPY(l.B.Shape, f64(l.B.Data), o)
		names = append(names, l.W.Name, l.B.Name)
	}
	return foreignNPZ(names, arrays)
}

func sameParams(t *testing.T, what string, got, want Params) {
	t.Helper()
	if got.Arch() != want.Arch() {
		t.Fatalf("%s: read as %s, want %s", what, got.Arch(), want.Arch())
	}
	g, w := got.Tensors(), want.Tensors()
	for i := range w {
		for k := range w[i].Data {
			if math.Float32bits(g[i].Data[k]) != math.Float32bits(w[i].Data[k]) {
				t.Fatalf("%s: %s[%d] = %v, want %v", what, w[i].Name, k, g[i].Data[k], w[i].Data[k])
			}
		}
	}
}

// TestImportForeign: arrays as NumPy and PyTorch users write them read to
// the same parameters bit for bit: float32 or float64 (of float32 values),
// either byte order, C or Fortran order, .npy versions 1–3, deflated
// members, weights (inputs, outputs) or (outputs, inputs).
func TestImportForeign(t *testing.T) {
	for _, sizes := range [][]int{{784, 16, 10}, {20, 12, 12, 5}, {9, 3}} {
		p := InitGlorot(sizes, rand.New(rand.NewSource(3)))
		for _, l := range p.Layers {
			for i := range l.B.Data {
				l.B.Data[i] = float32(i) / 7
			}
		}
		for _, torch := range []bool{false, true} {
			for _, o := range []npyOpts{
				{"<f4", false, 1}, {"<f8", false, 1}, {"<f8", true, 1}, {">f4", true, 2}, {">f8", false, 3}, {"<f4", true, 3},
			} {
				what := fmt.Sprintf("%s torch=%v %+v", ArchName(sizes), torch, o)
				c, err := Decode(export(p, torch, o))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				sameParams(t, what, c.Params, p)
			}
		}
	}
}

// TestImportSquare: a network of square weights only gives no hint of its
// layout and reads as stored, (inputs, outputs); with one non-square
// (outputs, inputs) weight, the square ones are transposed too.
func TestImportSquare(t *testing.T) {
	sq := InitGlorot([]int{6, 6, 6}, rand.New(rand.NewSource(4)))
	c, err := Decode(export(sq, false, npyOpts{"<f4", false, 1}))
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "square", c.Params, sq)
	c, err = Decode(export(sq, true, npyOpts{"<f4", false, 1}))
	if err != nil {
		t.Fatal(err)
	}
	if math.Float32bits(c.Params.Layers[0].W.Data[1]) != math.Float32bits(sq.Layers[0].W.Data[6]) {
		t.Errorf("all-square (outputs, inputs) weights were transposed: no layer says so, so they read as stored")
	}
	mixed := InitGlorot([]int{6, 6, 3}, rand.New(rand.NewSource(4)))
	c, err = Decode(export(mixed, true, npyOpts{"<f4", false, 1}))
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "square then (outputs, inputs)", c.Params, mixed)
}

// TestImportRefused: what cannot be read is refused in one line naming the
// array: other dtypes, values beyond float32, non-finite values, layouts
// that disagree between layers.
func TestImportRefused(t *testing.T) {
	p := InitGlorot([]int{8, 4, 3}, rand.New(rand.NewSource(5)))
	o := npyOpts{"<f8", false, 1}
	arrays := func(edit func(name string, shape []int, v []float64) ([]int, []float64, npyOpts)) []byte {
		m := map[string][]byte{}
		var names []string
		for _, tt := range p.Tensors() {
			shape, v, oo := edit(tt.Name, tt.Shape, f64(tt.Data))
			m[tt.Name] = foreignNPY(shape, v, oo)
			names = append(names, tt.Name)
		}
		return foreignNPZ(names, m)
	}
	at := func(target string, f func(shape []int, v []float64) ([]int, []float64, npyOpts)) []byte {
		return arrays(func(name string, shape []int, v []float64) ([]int, []float64, npyOpts) {
			if name == target {
				return f(shape, v)
			}
			return shape, v, o
		})
	}
	cases := []struct {
		name, want string
		b          []byte
	}{
		{"int64", "w2: dtype <i8 (int64): want float32 (<f4) or float64 (<f8)", at("w2", func(s []int, v []float64) ([]int, []float64, npyOpts) { return s, v, npyOpts{"<i8", false, 1} })},
		{"overflow", "b1[2] is 1e+300, beyond float32's range", at("b1", func(s []int, v []float64) ([]int, []float64, npyOpts) { v[2] = 1e300; return s, v, o })},
		{"nan", "w1[3] is NaN", at("w1", func(s []int, v []float64) ([]int, []float64, npyOpts) { v[3] = math.NaN(); return s, v, o })},
		{"inf", "b2[1] is -Inf", at("b2", func(s []int, v []float64) ([]int, []float64, npyOpts) { v[1] = math.Inf(-1); return s, v, o })},
		{"mixed layouts", "w1 is stored (inputs, outputs) but w2 (outputs, inputs)", at("w2", func(s []int, v []float64) ([]int, []float64, npyOpts) {
			return []int{s[1], s[0]}, v, o
		})},
	}
	for _, c := range cases {
		_, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.name, err, c.want)
		}
	}
	if got := dtypeName("|b1"); got != " (bool)" {
		t.Errorf("dtypeName(|b1) = %q", got)
	}
}
