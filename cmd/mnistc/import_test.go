package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// foreignScript rewrites a checkpoint's arrays as NumPy and PyTorch users
// write theirs, without meta.json: torch.npz as PyTorch's nn.Linear holds
// them (weights (outputs, inputs), the transposed view NumPy saves in
// Fortran order) in float64 through np.savez_compressed; v3.npz float32
// (inputs, outputs) with .npy format versions 3.0 and 2.0 and one
// big-endian array; and bad files a user may hit.
const foreignScript = `
import sys, zipfile, io, numpy as np
src, out = sys.argv[1], sys.argv[2]
a = np.load(src)
names = [n for n in a.files if n[0] in 'wb']
depth = len(names) // 2
torch = {}
for l in range(1, depth + 1):
    w = a['w%d' % l].astype(np.float64).T      # (outputs, inputs), a Fortran-ordered view
    assert w.flags.f_contiguous and not w.flags.c_contiguous
    torch['w%d' % l] = w
    torch['b%d' % l] = a['b%d' % l].astype(np.float64)
np.savez_compressed(out + '/torch.npz', **torch)
with zipfile.ZipFile(out + '/v3.npz', 'w') as z:
    for i, n in enumerate(names):
        buf = io.BytesIO()
        arr = a[n] if i != 1 else a[n].astype('>f4')
        np.lib.format.write_array(buf, arr, version=(3, 0) if i % 2 == 0 else (2, 0))
        z.writestr(n + '.npy', buf.getvalue())
bad = dict(torch); bad['b1'] = bad['b1'].copy(); bad['b1'][0] = np.nan
np.savez(out + '/nan.npz', **bad)
bad = dict(torch); bad['w2'] = bad['w2'].astype(np.int64)
np.savez(out + '/int.npz', **bad)
`

// TestImportNumPyAndPyTorch: checkpoints written by NumPy the ways NumPy
// and PyTorch users write them evaluate exactly as the mnistc checkpoint
// they came from, and every command that reads a checkpoint takes one.
func TestImportNumPyAndPyTorch(t *testing.T) {
	canonical, _ := trainSmall(t)
	if !haveNumPy(t) {
		t.Skip("no NumPy for /usr/bin/python3 (Debian: apt-get install python3-numpy)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("/usr/bin/python3", "-c", foreignScript, canonical, dir).CombinedOutput(); err != nil {
		t.Fatalf("writing the NumPy files: %v\n%s", err, out)
	}
	eval := func(path string) evalOutput {
		t.Helper()
		code, stdout, stderr := mnistc(t, "eval", "--model", path, "--json")
		if code != 0 {
			t.Fatalf("eval %s: exit %d: %s", filepath.Base(path), code, stderr)
		}
		var ev evalOutput
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	want := eval(canonical)
	torch := filepath.Join(dir, "torch.npz")
	for _, name := range []string{"torch.npz", "v3.npz"} {
		got := eval(filepath.Join(dir, name))
		if got.Correct != want.Correct || got.Accuracy != want.Accuracy || got.Loss != want.Loss {
			t.Errorf("%s: %d correct (%.4f, loss %v); the canonical checkpoint: %d (%.4f, loss %v)",
				name, got.Correct, got.Accuracy, got.Loss, want.Correct, want.Accuracy, want.Loss)
		}
	}

	// every command that reads a checkpoint
	quick := []string{"--limit", "3500", "--val", "500"}
	for _, args := range [][]string{
		{"compress", "--model", torch, "--pass", "quantize:bits=8,granularity=channel", "--val", "500", "--out", filepath.Join(dir, "c.npz")},
		{"pack", "--model", torch, "--out", filepath.Join(dir, "p.mnc")},
		{"export", "--model", torch, "--out", filepath.Join(dir, "e.onnx")},
		append([]string{"finetune", "--model", torch, "--pass", "prune:keep=0.5", "--epochs", "1", "--quiet", "--out", filepath.Join(dir, "f.npz")}, quick...),
		append([]string{"distill", "--teacher", torch, "--hidden", "16", "--epochs", "1", "--quiet", "--out", filepath.Join(dir, "d.npz")}, quick...),
	} {
		if code, _, stderr := mnistc(t, args...); code != 0 {
			t.Errorf("mnistc %s with the PyTorch-layout file: exit %d: %s", args[0], code, stderr)
		}
	}
	if got := eval(filepath.Join(dir, "p.mnc")); got.Correct != want.Correct {
		t.Errorf("packed from the PyTorch-layout file: %d correct, want %d", got.Correct, want.Correct)
	}

	for _, c := range []struct{ file, want string }{
		{"nan.npz", "b1[0] is NaN"},
		{"int.npz", "w2: dtype <i8 (int64): want float32 (<f4) or float64 (<f8)"},
	} {
		code, _, stderr := mnistc(t, "eval", "--model", filepath.Join(dir, c.file))
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("eval %s: exit %d, %q; want exit 1 and one line containing %q", c.file, code, stderr, c.want)
		}
	}
}
