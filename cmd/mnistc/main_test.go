package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mnistc/data"
)

// bin is the mnistc binary built once for these tests, with the same build
// tags as the test binary, so the smoke test runs what users run.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mnistc-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "mnistc")
	out, err := exec.Command("go", "build", "-tags", buildTags, "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mnistc: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mnistc runs the binary and returns its exit status, stdout and stderr.
func mnistc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, so.String(), se.String()
}

// trainSmall trains one epoch on 3,000 images into dir/m.npz once per test
// binary and returns the path and the train record.
func trainSmall(t *testing.T) (string, trainOutput) {
	t.Helper()
	if smallPath != "" {
		return smallPath, smallRecord
	}
	path := filepath.Join(t.TempDir(), "m.npz")
	code, stdout, stderr := mnistc(t, "train", "--epochs", "1", "--limit", "3500", "--val", "500", "--seed", "2", "--out", path, "--json")
	if code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	var rec trainOutput
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatalf("train --json: %v in %q", err, stdout)
	}
	if !strings.Contains(stderr, "epoch  1") {
		t.Errorf("no epoch line on stderr: %q", stderr)
	}
	// Keep the file for the other tests: copy it out of the test's temp dir.
	keep := filepath.Join(os.TempDir(), fmt.Sprintf("mnistc-smoke-%d.npz", os.Getpid()))
	b, _ := os.ReadFile(path)
	os.WriteFile(keep, b, 0o644)
	smallPath, smallRecord = keep, rec
	return keep, rec
}

var (
	smallPath   string
	smallRecord trainOutput
)

// TestTrainThenEval: the binary starts (the assume-no-moving-gc pin), trains,
// and eval of the saved checkpoint reproduces train's test figures.
func TestTrainThenEval(t *testing.T) {
	path, rec := trainSmall(t)
	if rec.TestAccuracy < 0.85 || rec.Test.Total != 10000 || rec.Config.TrainImages != 3000 {
		t.Fatalf("train record: accuracy %.4f on %d (trained on %d); want ≥ 0.85 on 10000 after 3000 images",
			rec.TestAccuracy, rec.Test.Total, rec.Config.TrainImages)
	}
	code, stdout, stderr := mnistc(t, "eval", "--model", path, "--json")
	if code != 0 {
		t.Fatalf("eval exited %d: %s", code, stderr)
	}
	var ev evalOutput
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Correct != rec.Test.Correct || ev.Total != 10000 || ev.Accuracy != rec.TestAccuracy {
		t.Errorf("eval: %d/%d (%.4f), train reported %d (%.4f)", ev.Correct, ev.Total, ev.Accuracy, rec.Test.Correct, rec.TestAccuracy)
	}
	code, stdout, _ = mnistc(t, "eval", "--model", path)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("(%d/10000 correct)", ev.Correct)) || !strings.Contains(stdout, "true\\pred") {
		t.Errorf("human eval output: %q", stdout)
	}
}

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
	return false
}

// numpyEval runs scripts/numpy_eval.py on a checkpoint: NumPy's own
// forward pass (activation quantization included) over a network of any
// depth. ok is false when /usr/bin/python3 has no NumPy outside CI.
func numpyEval(t *testing.T, path string) (correct int, sizes []int, metaFormat string, ok bool) {
	t.Helper()
	if !haveNumPy(t) {
		return 0, nil, "", false
	}
	dir, err := data.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "../../scripts/numpy_eval.py", path, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy_eval.py %s: %v\n%s", path, err, out)
	}
	var np struct {
		Correct, Total int
		Sizes          []int
		MetaFormat     string `json:"meta_format"`
	}
	if err := json.Unmarshal(out, &np); err != nil || np.Total != 10000 {
		t.Fatalf("numpy_eval.py: %v: %s", err, out)
	}
	return np.Correct, np.Sizes, np.MetaFormat, true
}

// TestNumPyAgrees: NumPy's own forward pass on the checkpoint gives exactly
// the correct count mnistc reports.
func TestNumPyAgrees(t *testing.T) {
	path, rec := trainSmall(t)
	correct, _, format, ok := numpyEval(t, path)
	if !ok {
		t.Skip("no NumPy for /usr/bin/python3 (Debian: apt-get install python3-numpy)")
	}
	if correct != rec.Test.Correct || format == "" {
		t.Errorf("NumPy: %d correct (meta %q); mnistc: %d", correct, format, rec.Test.Correct)
	}
}

// TestBadInput: each mistake gets one clear line on stderr and its exit code.
func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	corrupt := filepath.Join(tmp, "corrupt.npz")
	os.WriteFile(corrupt, []byte("not a zip"), 0o644)
	emptyData := filepath.Join(tmp, "nodata")
	os.Mkdir(emptyData, 0o755)
	out := filepath.Join(tmp, "out.npz")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage"},
		{[]string{"fly"}, 2, `unknown command "fly"`},
		{[]string{"train", "--epochs", "0", "--out", out}, 2, "--epochs 0 out of range"},
		{[]string{"train", "--batch", "-3", "--out", out}, 2, "--batch -3 out of range"},
		{[]string{"train", "--lr", "0", "--out", out}, 2, "--lr 0 out of range"},
		{[]string{"train", "--epochs", "ten", "--out", out}, 2, `invalid value "ten" for flag -epochs`},
		{[]string{"train"}, 2, "--out is required"},
		{[]string{"train", "--out", filepath.Join(tmp, "m.txt")}, 2, "want a .npz file"},
		{[]string{"train", "--val", "-1", "--out", out}, 2, "--val -1 out of range"},
		{[]string{"train", "--data", filepath.Join(tmp, "missing"), "--out", out}, 1, "does not exist"},
		{[]string{"train", "--data", emptyData, "--out", out}, 1, "has no train-images-idx3-ubyte.gz"},
		{[]string{"train", "stray", "--out", out}, 2, `unexpected argument "stray"`},
		{[]string{"eval"}, 2, "--model is required"},
		{[]string{"eval", "--model", filepath.Join(tmp, "none.npz")}, 1, "no such file"},
		{[]string{"eval", "--model", corrupt}, 1, "not a valid .npz"},
		{[]string{"sweep", "experiments/quick.yaml", "--shard", "3/2"}, 2, `--shard "3/2": want 1 ≤ I ≤ N`},
		{[]string{"sweep", "experiments/quick.yaml", "--shard", "half"}, 2, `--shard "half": want I/N`},
		{[]string{"merge", tmp}, 2, "--out is required"},
		{[]string{"merge", "--out", filepath.Join(tmp, "m")}, 2, "name the shards' results folders"},
		{[]string{"merge", "--bogus", tmp}, 2, "flag provided but not defined: -bogus"},
		{[]string{"merge", "--out", filepath.Join(tmp, "m"), tmp}, 1, "not a results folder"},
	}
	for _, c := range cases {
		code, _, stderr := mnistc(t, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("mnistc %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if c.args != nil && len(lines) != 1 {
			t.Errorf("mnistc %v: %d lines on stderr, want one", c.args, len(lines))
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed train left an output file")
	}
}

// TestFailedRunKeepsEarlierOutput: a run that fails does not truncate or
// replace a checkpoint already at --out.
func TestFailedRunKeepsEarlierOutput(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "keep.npz")
	os.WriteFile(out, []byte("earlier result"), 0o644)
	bad := filepath.Join(tmp, "bad")
	os.Mkdir(bad, 0o755)
	for _, f := range []string{data.TrainImages, data.TrainLabels, data.TestImages, data.TestLabels} {
		os.WriteFile(filepath.Join(bad, f), []byte("garbage"), 0o644)
	}
	code, _, stderr := mnistc(t, "train", "--data", bad, "--out", out)
	if code == 0 || !strings.Contains(stderr, "not a gzip file") {
		t.Fatalf("train on garbage: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "earlier result" {
		t.Errorf("earlier output changed to %q", b)
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestHelp: help that was asked for goes to stdout with exit 0, and
// `mnistc help CMD` is CMD's help, not the list of commands.
func TestHelp(t *testing.T) {
	for _, c := range []string{"train", "eval"} {
		for _, args := range [][]string{{c, "--help"}, {"help", c}} {
			code, stdout, _ := mnistc(t, args...)
			if code != 0 || !strings.Contains(stdout, "Usage: mnistc "+c) || !strings.Contains(stdout, "-json") {
				t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
			}
		}
	}
	if code, stdout, _ := mnistc(t, "--help"); code != 0 || !strings.Contains(stdout, "Commands:") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
}

// TestOutputsNeverOverwriteInputs and other refusals before any work
// (issue 14): an output that is the input, under the same or another
// name; an output in a folder that cannot exist; two files to inspect; a
// pass error names the flag once.
func TestOutputsNeverOverwriteInputs(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "link.npz")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(in)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compress", "--model", in, "--pass", "prune:keep=0.5", "--out", in}, "is the input given by --model"},
		{[]string{"compress", "--model", in, "--pass", "prune:keep=0.5", "--out", link}, "is the input given by --model"},
		{[]string{"finetune", "--model", in, "--pass", "prune:keep=0.5", "--out", in}, "is the input given by --model"},
		{[]string{"distill", "--teacher", in, "--out", in}, "is the input given by --teacher"},
		{[]string{"compress", "--model", in, "--pass", "prune:keep=0.5", "--out", filepath.Join(notDir, "x.npz")}, "is not a folder"},
		{[]string{"compress", "--model", in, "--pass", "quantize:bits=99", "--out", filepath.Join(dir, "o.npz")}, "--pass quantize: bits=99"},
		{[]string{"inspect", "a.mnc", "b.mnc"}, "want one packed model, got 2"},
	} {
		code, _, stderr := mnistc(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Error("the input checkpoint changed")
	}
}

// TestDeepNetworkEndToEnd: --layers trains a three-layer network whose
// checkpoint NumPy evaluates to the same count; packed as .mnc it evaluates
// to the same count again; --hidden and --layers together are refused.
func TestDeepNetworkEndToEnd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deep.npz")
	code, stdout, stderr := mnistc(t, "train", "--layers", "48,24", "--epochs", "1", "--limit", "3500", "--val", "500", "--out", path, "--json")
	if code != 0 {
		t.Fatalf("train --layers 48,24 exited %d: %s", code, stderr)
	}
	var rec trainOutput
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Config.Layers, []int{48, 24}) || !strings.Contains(stderr, "784-48-24-10") {
		t.Errorf("layers %v; stderr %q", rec.Config.Layers, stderr)
	}
	if correct, sizes, _, ok := numpyEval(t, path); ok && (correct != rec.Test.Correct || !slices.Equal(sizes, []int{784, 48, 24, 10})) {
		t.Errorf("NumPy: %d correct, sizes %v; mnistc %d", correct, sizes, rec.Test.Correct)
	}
	mncPath := filepath.Join(dir, "deep.mnc")
	if code, _, stderr := mnistc(t, "pack", "--model", path, "--out", mncPath); code != 0 {
		t.Fatalf("pack: %s", stderr)
	}
	code, stdout, stderr = mnistc(t, "eval", "--model", mncPath, "--json")
	var ev struct{ Correct int }
	if code != 0 || json.Unmarshal([]byte(stdout), &ev) != nil || ev.Correct != rec.Test.Correct {
		t.Errorf("eval of the packed deep net: exit %d, %q %s; want %d correct", code, stdout, stderr, rec.Test.Correct)
	}
	if code, _, stderr := mnistc(t, "train", "--layers", "48", "--hidden", "48", "--out", path); code != 2 || !strings.Contains(stderr, "--layers and --hidden") {
		t.Errorf("--layers with --hidden: exit %d, %q", code, stderr)
	}
	if code, _, stderr := mnistc(t, "train", "--layers", "48,x", "--out", path); code != 2 || !strings.Contains(stderr, "--layers") {
		t.Errorf("--layers 48,x: exit %d, %q", code, stderr)
	}
}

// TestNumPyWrittenCheckpoint: arrays written by numpy.savez (float32 w1, b1,
// w2, b2, w3, b3, no metadata, as a PyTorch export would give) are a valid
// input: eval reads them and gives the count NumPy's own forward pass does.
func TestNumPyWrittenCheckpoint(t *testing.T) {
	if !haveNumPy(t) {
		t.Skip("no NumPy for /usr/bin/python3 (Debian: apt-get install python3-numpy)")
	}
	path := filepath.Join(t.TempDir(), "np.npz")
	script := `import numpy as np, sys
rng = np.random.default_rng(4)
s = [784, 40, 20, 10]
arrs = {}
for l in range(3):
    arrs[f"w{l+1}"] = (rng.standard_normal((s[l], s[l+1])) * np.sqrt(2 / s[l])).astype(np.float32)
    arrs[f"b{l+1}"] = (rng.standard_normal(s[l+1]) * 0.01).astype(np.float32)
np.savez(sys.argv[1], **arrs)`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("numpy.savez: %v: %s", err, out)
	}
	code, stdout, stderr := mnistc(t, "eval", "--model", path, "--json")
	var ev struct{ Correct int }
	if code != 0 || json.Unmarshal([]byte(stdout), &ev) != nil {
		t.Fatalf("eval of a NumPy-written checkpoint: exit %d: %s", code, stderr)
	}
	if correct, sizes, _, _ := numpyEval(t, path); correct != ev.Correct || !slices.Equal(sizes, []int{784, 40, 20, 10}) {
		t.Errorf("NumPy %d correct (sizes %v), mnistc %d", correct, sizes, ev.Correct)
	}
}
