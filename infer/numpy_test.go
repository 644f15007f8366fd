package infer

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mnistc/data"
	"mnistc/model"
)

// haveNumPy reports whether /usr/bin/python3 has NumPy. In CI (CI=true) a
// missing NumPy fails the test instead: make test installs python3-numpy,
// and a check that silently skips there hides a broken set-up.
func haveNumPy(t *testing.T) bool {
	t.Helper()
	if exec.Command("/usr/bin/python3", "-c", "import numpy").Run() == nil {
		return true
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no NumPy for /usr/bin/python3 in CI: scripts/setup.sh should have installed python3-numpy")
	}
	t.Skip("no NumPy for /usr/bin/python3")
	return false
}

// TestIntegerMatchesNumPy: scripts/numpy_int_eval.py, NumPy's integer
// evaluation written from the definition in integer.go, gives the integer
// path's logits bit for bit on the 10,000 test images — every logit of
// every image — for trained networks of two and three layers compressed to
// 8-bit and 4-bit weights (per channel and per tensor), Deep Compression's
// keep 0.05 + 4 bits and a very sparse layer on the CSR kernel, with 8- and
// 4-bit activations. NumPy reads the unpacked float32 weights and the
// column scales, and checks that the weights are int8 levels times them.
func TestIntegerMatchesNumPy(t *testing.T) {
	if !haveNumPy(t) {
		return
	}
	dir, err := data.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	test := mnist(t)
	tmp := t.TempDir()
	cases := []struct {
		hidden []int
		chain  []string
	}{
		{[]int{128}, int8Chain},
		{[]int{128}, deepChain},
		{[]int{128}, int4Act4},
		{lenetHidden, int8Tensor},
		{lenetHidden, []string{"prune:keep=0.001", "quantize:bits=4,granularity=channel", "actquant:bits=8"}},
	}
	for i, c := range cases {
		name := fmt.Sprintf("%v %s", c.hidden, strings.Join(c.chain, " → "))
		ck, f := compressed(t, trained(t, c.hidden...), c.chain...)
		net, err := New(f)
		if err != nil {
			t.Fatal(err)
		}
		if net.ints == nil {
			t.Fatalf("%s: not on the integer path: %q", name, net.Kernels())
		}
		if csr := strings.Contains(name, "keep=0.001"); csr != strings.Contains(net.Kernels()[0], kInt8Sparse) {
			t.Fatalf("%s: w1 runs %q", name, net.Kernels()[0])
		}
		layers, err := f.Layers()
		if err != nil {
			t.Fatal(err)
		}
		unpacked, err := f.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		arrays := map[string]npyArray{}
		for l, ml := range layers {
			_, scales, ok := int8Levels(ml.W)
			if !ok {
				t.Fatalf("%s: w%d has no int8 levels", name, l+1)
			}
			d := unpacked.Params.Layers[l]
			arrays[fmt.Sprintf("w%d", l+1)] = f32Array(d.W.Data, d.W.Shape...)
			arrays[fmt.Sprintf("s%d", l+1)] = f32Array(scales, len(scales))
			arrays[fmt.Sprintf("b%d", l+1)] = f32Array(d.B.Data, len(d.B.Data))
		}
		aq := ck.Meta.ActQuant
		var lo, hi []float32
		for _, r := range aq.Ranges {
			lo, hi = append(lo, r.Lo), append(hi, r.Hi)
		}
		arrays["lo"], arrays["hi"] = f32Array(lo, len(lo)), f32Array(hi, len(hi))
		arrays["bits"] = npyArray{descr: "<i8", data: binary.LittleEndian.AppendUint64(nil, uint64(aq.Bits))}
		netPath, outPath := filepath.Join(tmp, fmt.Sprintf("net%d.npz", i)), filepath.Join(tmp, fmt.Sprintf("logits%d.npy", i))
		writeNPZ(t, netPath, arrays)
		out, err := exec.Command("/usr/bin/python3", "../scripts/numpy_int_eval.py", netPath, dir, "--out", outPath).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: numpy_int_eval.py: %v\n%s", name, err, out)
		}
		var res struct{ Correct, Total int }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: numpy_int_eval.py printed %q: %v", name, out, err)
		}
		want := readNPYFloat32(t, outPath, test.Len()*10)
		got := net.Forward(test.X, test.Len())
		correct := 0
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s (%s): image %d logit %d = %v, NumPy %v", name, net.Kernels()[0], i/10, i%10, got[i], want[i])
			}
		}
		for i := 0; i < test.Len(); i++ {
			if model.Argmax(got[i*10:i*10+10]) == int(test.Y[i]) {
				correct++
			}
		}
		if res.Correct != correct || res.Total != test.Len() {
			t.Errorf("%s: NumPy %d/%d correct, the integer path %d/%d", name, res.Correct, res.Total, correct, test.Len())
		}
	}
}

// npyArray is one array of an .npz: its NumPy type, shape and
// little-endian bytes (shape nil: a scalar).
type npyArray struct {
	descr string
	shape []int
	data  []byte
}

func f32Array(v []float32, shape ...int) npyArray {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return npyArray{descr: "<f4", shape: shape, data: b}
}

// writeNPZ writes the arrays as an uncompressed .npz (a zip of .npy files,
// format version 1.0).
func writeNPZ(t *testing.T, path string, arrays map[string]npyArray) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for name, a := range arrays {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		dims := make([]string, len(a.shape))
		for i, d := range a.shape {
			dims[i] = strconv.Itoa(d)
		}
		shape := strings.Join(dims, ", ")
		if len(a.shape) == 1 {
			shape += ","
		}
		h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.descr, shape)
		pad := 64 - (10+len(h)+1)%64
		h += strings.Repeat(" ", pad%64) + "\n"
		w.Write([]byte("\x93NUMPY\x01\x00"))
		w.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(h))))
		w.Write([]byte(h))
		w.Write(a.data)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := model.WriteFileAtomic(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// readNPYFloat32 reads a little-endian float32 .npy of n values.
func readNPYFloat32(t *testing.T, path string, n int) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" || b[6] != 1 {
		t.Fatalf("%s: not a version-1 .npy", path)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if len(b) < 10+hl {
		t.Fatalf("%s: truncated header", path)
	}
	header, body := string(b[10:10+hl]), b[10+hl:]
	if !regexp.MustCompile(`'descr':\s*'<f4'`).MatchString(header) || strings.Contains(header, "'fortran_order': True") || len(body) != 4*n {
		t.Fatalf("%s: header %q with %d bytes, want %d little-endian float32", path, header, len(body), n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return v
}
