package mnc

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

// frame writes tensors as a file of the given version, bypassing Encode's
// checks: what a hostile or buggy writer could produce.
func frame(version uint16, tensors ...Tensor) []byte {
	var out buf
	out.b = append(out.b, Magic...)
	out.b = binary.LittleEndian.AppendUint16(out.b, version)
	out.b = binary.LittleEndian.AppendUint16(out.b, uint16(len(tensors)))
	out.u32(crc32.ChecksumIEEE(out.b))
	for i := range tensors {
		start := len(out.b)
		p := encodeTensor(&tensors[i])
		out.u8(sectionTensor)
		out.u32(uint32(len(p)))
		out.b = append(out.b, p...)
		out.u32(crc32.ChecksumIEEE(out.b[start:]))
	}
	return out.b
}

func floats(name string, shape ...int) Tensor {
	t := Tensor{Name: name, Shape: shape, Map: Float}
	t.Float = make([]float32, t.Len())
	for i := range t.Float {
		t.Float[i] = float32(i%5) * 0.25
	}
	return t
}

// TestNetworkStructureRefused: tensors out of order, missing, of the wrong
// rank or width, or whose widths do not chain are refused by Decode (and by
// Encode, for a File built by hand), naming the tensor.
func TestNetworkStructureRefused(t *testing.T) {
	w1, b1 := floats("w1", 6, 4), floats("b1", 4)
	w2, b2 := floats("w2", 4, 3), floats("b2", 3)
	cases := []struct {
		tensors []Tensor
		want    string
	}{
		{[]Tensor{w1, b1, w2, b2}, ""},
		{[]Tensor{w1, b1, floats("w2", 5, 3), b2}, "w2 has shape [5 3]: its 5 inputs do not match the 4 outputs of w1"},
		{[]Tensor{w1, b1, w2, floats("b2", 4)}, "b2 has shape [4], want (3,)"},
		{[]Tensor{w1, floats("b1", 4, 1), w2, b2}, "b1 has shape [4 1]"},
		{[]Tensor{floats("w1", 24), b1, w2, b2}, "w1 has shape [24], want (inputs, outputs)"},
		{[]Tensor{w1, w2, b1, b2}, `"w2" where b1 belongs`},
		{[]Tensor{b1, w1}, `"b1" where w1 belongs`},
		{[]Tensor{w1, b1, w2}, "no tensor b2"},
		{[]Tensor{w1, b1, w2, b2, floats("w3", 3, 2), floats("b3", 2)}, ""},
		{[]Tensor{w1, b1, w2, b2, floats("w3", 4, 2), floats("b3", 2)}, "w3 has shape [4 2]: its 4 inputs do not match the 3 outputs of w2"},
		{[]Tensor{floats("w1", 1, 1<<16+1), floats("b1", 1<<16+1)}, "out of range"},
	}
	for _, c := range cases {
		_, err := Decode(frame(Version, c.tensors...))
		f := &File{Tensors: c.tensors}
		_, encErr := f.Encode()
		for what, e := range map[string]error{"decode": err, "encode": encErr} {
			if c.want == "" && e != nil {
				t.Errorf("%s %v: %v", what, names(c.tensors), e)
			}
			if c.want != "" && (e == nil || !strings.Contains(e.Error(), c.want)) {
				t.Errorf("%s %v: got %v, want %q", what, names(c.tensors), e, c.want)
			}
		}
	}
}

func names(ts []Tensor) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// TestGridOverflowRefused: a grid whose scale times a stored level is not
// finite decodes to an error, not to an infinite weight.
func TestGridOverflowRefused(t *testing.T) {
	w1 := Tensor{Name: "w1", Shape: []int{2, 2}, Map: Grid, Groups: 1, Bits: 4,
		Scales: []float32{3e37}, Offsets: []int32{0}, Codes: []uint16{0, 1, 2, 15}}
	b := frame(Version, w1, floats("b1", 2))
	if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "code 15 at entry 3 stands for +Inf") {
		t.Fatalf("got %v", err)
	}
	w1.Codes[3] = 3
	f, err := Decode(frame(Version, w1, floats("b1", 2)))
	if err != nil {
		t.Fatal(err)
	}
	if v, s := f.Tensors[0].Dense()[3], w1.Scales[0]; math.IsInf(float64(v), 0) || v != s*3 {
		t.Fatalf("level 3 came back as %v", v)
	}
}

// TestHandBuiltTensorsChecked: Encode refuses a File whose tensors are
// inconsistent in themselves rather than writing a file that reads back as
// something else.
func TestHandBuiltTensorsChecked(t *testing.T) {
	grid := func() Tensor {
		return Tensor{Name: "w1", Shape: []int{2, 2}, Map: Grid, Groups: 1, Bits: 2,
			Scales: []float32{0.5}, Offsets: []int32{-1}, Codes: []uint16{0, 1, 2, 3}}
	}
	cases := map[string]func(*Tensor){
		"":                               func(*Tensor) {},
		"3 codes for 4 entries":          func(t *Tensor) { t.Codes = t.Codes[:3] },
		"code 4 at entry 0 is wider":     func(t *Tensor) { t.Codes[0] = 4 },
		"2 groups":                       func(t *Tensor) { t.Groups = 2 },
		"not increasing":                 func(t *Tensor) { t.Sparse, t.IndexBits, t.Pos, t.Codes = true, 2, []int32{2, 1}, t.Codes[:2] },
		"code width 17":                  func(t *Tensor) { t.Bits = 17 },
		"outside its codebook of 2":      func(t *Tensor) { t.Map, t.Book = Codebook, [][]float32{{1, 2}} },
		"scale 0 is NaN":                 func(t *Tensor) { t.Scales[0] = float32(math.NaN()) },
		"offset 40000 outside ±32767":    func(t *Tensor) { t.Offsets[0] = 40000 },
		"1 float32 values for 4 entries": func(t *Tensor) { t.Map, t.Float = Float, []float32{1} },
	}
	for want, breakIt := range cases {
		w1 := grid()
		breakIt(&w1)
		f := &File{Tensors: []Tensor{w1, floats("b1", 2)}}
		_, err := f.Encode()
		if want == "" && err != nil {
			t.Errorf("intact: %v", err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
