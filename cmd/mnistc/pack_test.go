package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/model"
)

// TestPackInspectUnpackEval: a compressed checkpoint packs to a smaller
// file whose inspect table adds up to its length, unpacks to the same
// values bit for bit, and evaluates from the packed form with the accuracy
// of the float evaluation (activation quantization included).
func TestPackInspectUnpackEval(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	chains := [][]string{
		{"prune:keep=0.1", "quantize:bits=4,granularity=channel"},
		{"quantize:bits=8,granularity=channel", "actquant:bits=8"},
		{"quantize:bits=3,scheme=kmeans"},
	}
	for i, chain := range chains {
		ck := filepath.Join(dir, "c.npz")
		args := []string{"compress", "--model", in, "--out", ck}
		for _, p := range chain {
			args = append(args, "--pass", p)
		}
		if code, _, stderr := mnistc(t, args...); code != 0 {
			t.Fatalf("%v: %s", chain, stderr)
		}
		packed := filepath.Join(dir, "m.mnc")
		code, stdout, stderr := mnistc(t, "pack", "--model", ck, "--out", packed, "--json")
		if code != 0 {
			t.Fatalf("%v: pack: %s", chain, stderr)
		}
		var p packOutput
		if err := json.Unmarshal([]byte(stdout), &p); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(packed)
		sum := 12 + 9 + p.MetaBytes // header, meta framing
		for _, ts := range p.Tensors {
			sum += 9 + ts.Bytes
		}
		if p.Bytes != int(st.Size()) || sum != p.Bytes || p.Ratio < 3.9 {
			t.Fatalf("%v: pack says %d bytes (ratio %.2f), file %d, sections add to %d", chain, p.Bytes, p.Ratio, st.Size(), sum)
		}
		if code, out, stderr := mnistc(t, "inspect", packed); code != 0 || !strings.Contains(out, "w1") || !strings.Contains(out, "vs float32") {
			t.Fatalf("inspect: %d %s %s", code, out, stderr)
		}
		back := filepath.Join(dir, "back.npz")
		if code, _, stderr := mnistc(t, "unpack", "--model", packed, "--out", back); code != 0 {
			t.Fatalf("unpack: %s", stderr)
		}
		a, _ := model.Load(ck)
		b, _ := model.Load(back)
		at, bt := a.Params.Tensors(), b.Params.Tensors()
		for k := range at {
			for j := range at[k].Data {
				if math.Float32bits(at[k].Data[j]) != math.Float32bits(bt[k].Data[j]) {
					t.Fatalf("%v: %s[%d] unpacked as %v, was %v", chain, at[k].Name, j, bt[k].Data[j], at[k].Data[j])
				}
			}
		}
		if (a.Meta.ActQuant == nil) != (b.Meta.ActQuant == nil) {
			t.Fatalf("%v: activation ranges lost", chain)
		}
		var fromFile, float evalOutput
		_, o1, _ := mnistc(t, "eval", "--model", packed, "--json")
		_, o2, _ := mnistc(t, "eval", "--model", ck, "--json")
		json.Unmarshal([]byte(o1), &fromFile)
		json.Unmarshal([]byte(o2), &float)
		if !fromFile.Packed || len(fromFile.Kernels) != 2 {
			t.Fatalf("%v: eval of the packed file: %+v", chain, fromFile)
		}
		// at most one test image in a thousand may change (a hidden level
		// flipped by rounding when activations are quantized)
		if d := fromFile.Correct - float.Correct; d*d > 100 || float.Total != 10000 {
			t.Fatalf("%v: %d correct from the file, %d from the float evaluation", chain, fromFile.Correct, float.Correct)
		}
		if i == 0 && !strings.Contains(strings.Join(fromFile.Kernels, " "), "sparse") {
			t.Fatalf("keep 0.1 did not run the sparse kernel: %v", fromFile.Kernels)
		}
	}
}

func TestPackBadInput(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "g.mnc")
	if code, _, stderr := mnistc(t, "pack", "--model", in, "--out", good); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "t.mnc")
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	flipped := filepath.Join(dir, "f.mnc")
	c := bytes.Clone(b)
	c[len(c)/3] ^= 4
	os.WriteFile(flipped, c, 0o644)
	keep := filepath.Join(dir, "keep.npz")
	os.WriteFile(keep, []byte("earlier result"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pack", "--model", in, "--out", filepath.Join(dir, "x.npz")}, 2, "want a .mnc file"},
		{[]string{"pack", "--out", good}, 2, "--model is required"},
		{[]string{"pack", "--model", filepath.Join(dir, "none.npz"), "--out", good}, 1, "none.npz"},
		{[]string{"inspect", trunc}, 1, "t.mnc: truncated"},
		{[]string{"eval", "--model", flipped}, 1, "checksum mismatch"},
		{[]string{"unpack", "--model", trunc, "--out", keep}, 1, "truncated"},
		{[]string{"inspect", good, trunc}, 2, "want one packed model"},
		{[]string{"pack", "--model", good, "--out", filepath.Join(dir, "y.mnc")}, 1, "this is a packed .mnc model"},
	}
	for _, c := range cases {
		code, _, stderr := mnistc(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q on one line", c.args, code, stderr, c.code, c.want)
		}
	}
	if got, _ := os.ReadFile(keep); string(got) != "earlier result" {
		t.Errorf("a failed unpack changed %s", keep)
	}
}

// TestWideActivationCodesEvaluate: activation quantization wider than 8
// bits survives pack and eval from the .mnc file with the checkpoint's own
// count (it used to panic in infer: "activation codes wider than 8 bits").
func TestWideActivationCodesEvaluate(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	aq, packed := filepath.Join(dir, "aq12.npz"), filepath.Join(dir, "aq12.mnc")
	if code, _, stderr := mnistc(t, "compress", "--model", in, "--pass", "actquant:bits=12", "--out", aq); code != 0 {
		t.Fatalf("compress: %s", stderr)
	}
	if code, _, stderr := mnistc(t, "pack", "--model", aq, "--out", packed); code != 0 {
		t.Fatalf("pack: %s", stderr)
	}
	var a, b struct{ Correct int }
	for _, c := range []struct {
		path string
		dst  *struct{ Correct int }
	}{{aq, &a}, {packed, &b}} {
		code, stdout, stderr := mnistc(t, "eval", "--model", c.path, "--json")
		if code != 0 || json.Unmarshal([]byte(stdout), c.dst) != nil {
			t.Fatalf("eval %s: exit %d: %s", c.path, code, stderr)
		}
	}
	if d := a.Correct - b.Correct; d > 2 || d < -2 {
		t.Errorf("12-bit activations: %d correct from the .npz, %d from the .mnc", a.Correct, b.Correct)
	}
}
