package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand: export writes an ONNX file from a checkpoint and from
// a packed model, says what each tensor became, keeps the 8-bit weights as
// int8 (a quarter of the float32 bytes), and refuses bad command lines in
// one line naming the flag or file. (The ONNX Runtime check of what it
// writes is package onnx's TestONNXRuntimeAgrees.)
func TestExportCommand(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	q := filepath.Join(dir, "q.npz")
	if code, _, stderr := mnistc(t, "compress", "--model", in, "--pass", "quantize:bits=8,granularity=channel", "--pass", "actquant:bits=8", "--val", "500", "--out", q); code != 0 {
		t.Fatalf("compress: exit %d: %s", code, stderr)
	}
	packed := filepath.Join(dir, "q.mnc")
	if code, _, stderr := mnistc(t, "pack", "--model", q, "--out", packed); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, stderr)
	}
	export := func(model, out string, extra ...string) exportOutput {
		t.Helper()
		code, stdout, stderr := mnistc(t, append([]string{"export", "--model", model, "--out", out, "--json"}, extra...)...)
		if code != 0 {
			t.Fatalf("export %s: exit %d: %s", model, code, stderr)
		}
		var r exportOutput
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(out)
		if err != nil || st.Size() != int64(r.Bytes) {
			t.Fatalf("export %s: %v, reported %d bytes", out, err, r.Bytes)
		}
		return r
	}
	float := export(in, filepath.Join(dir, "f.onnx"))
	if float.Opset != 13 || float.IRVersion != 7 || float.Arch != "784-128-10" || len(float.Items) != 4 || float.Items[0].As != "float32" {
		t.Errorf("float export: %+v", float)
	}
	for _, src := range []string{q, packed} {
		r := export(src, filepath.Join(dir, filepath.Base(src)+".onnx"))
		if r.Bytes*3 > float.Bytes || len(r.Items) != 6 || !strings.HasPrefix(r.Items[1].As, "int8, one scale per output column") ||
			!strings.Contains(r.Items[0].As, "uint8 QuantizeLinear/DequantizeLinear") {
			t.Errorf("8-bit export of %s: %d bytes (float: %d), items %+v", src, r.Bytes, float.Bytes, r.Items)
		}
	}
	code, stdout, _ := mnistc(t, "export", "--model", packed, "--out", filepath.Join(dir, "h.onnx"))
	if code != 0 || !strings.Contains(stdout, "ONNX opset 13") || !strings.Contains(stdout, "DequantizeLinear axis=1") {
		t.Errorf("human output: exit %d, %q", code, stdout)
	}

	corrupt := filepath.Join(dir, "corrupt.mnc")
	os.WriteFile(corrupt, []byte("MNC\x1a garbage"), 0o644)
	same := filepath.Join(dir, "same.onnx")
	os.WriteFile(same, []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--out", filepath.Join(dir, "x.onnx")}, 2, "--model is required"},
		{[]string{"export", "--model", in}, 2, "--out is required"},
		{[]string{"export", "--model", in, "--out", filepath.Join(dir, "x.npz")}, 2, "want a .onnx file"},
		{[]string{"export", "--model", same, "--out", same}, 2, "is the input given by --model"},
		{[]string{"export", "--model", filepath.Join(dir, "none.npz"), "--out", filepath.Join(dir, "x.onnx")}, 1, "--model " + filepath.Join(dir, "none.npz")},
		{[]string{"export", "--model", corrupt, "--out", filepath.Join(dir, "x.onnx")}, 1, "corrupt.mnc"},
	} {
		code, _, stderr := mnistc(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("mnistc %v: exit %d, %q; want exit %d and one line containing %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.onnx")); err == nil {
		t.Errorf("a refused export left its output behind")
	}
}
