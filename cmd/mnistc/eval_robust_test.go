package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// robustArgs keeps the attacks small: 300 images, PGD-5 on 40.
var robustArgs = []string{"--robust", "--attack-images", "300", "--robust-images", "40", "--pgd-steps", "5", "--eps", "0,0.1"}

// TestEvalRobust: eval --robust --json adds the "robust" object (keyed by
// attack and ε, ε = 0 at the clean accuracy, the image counts of the
// flags), the same for the checkpoint and its packed file; the text output
// prints the tables.
func TestEvalRobust(t *testing.T) {
	in, _ := trainSmall(t)
	args := append([]string{"eval", "--model", in, "--json", "--transfer-from", in, "--seed", "3"}, robustArgs...)
	code, stdout, stderr := mnistc(t, args...)
	if code != 0 {
		t.Fatalf("eval --robust exited %d: %s", code, stderr)
	}
	var out evalOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("eval --robust --json: %v in %q", err, stdout)
	}
	r := out.Robust
	if r == nil {
		t.Fatalf("no robust object: %s", stdout)
	}
	if r.FGSM["0"] != r.Clean || r.PGD["0"] != r.CleanPGD || r.TransferFGSM["0"] != r.Clean || r.TransferPGD["0"] != r.CleanPGD {
		t.Errorf("ε = 0 differs from the clean accuracy: %+v", r)
	}
	if !(r.FGSM["0.1"] < r.Clean && r.Clean > 0.8) || r.Seed != 3 || r.PGDSteps != 5 || r.STE {
		t.Errorf("figures: %+v", r)
	}
	for k, want := range map[string]int{"fgsm": 300, "pgd": 40, "transfer_fgsm": 300, "transfer_pgd": 40, "corrupt": 300} {
		if r.Images[k] != want {
			t.Errorf("images[%s] = %d, want %d", k, r.Images[k], want)
		}
	}
	if len(r.Corrupt) != 8 || r.CorruptMean == nil {
		t.Errorf("corruptions: %v", r.Corrupt)
	}
	for _, key := range []string{`"robust": {`, `"fgsm": {`, `"0.1": `, `"transfer_pgd": {`, `"gaussian_noise": `} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}

	packed := filepath.Join(t.TempDir(), "m.mnc")
	if code, _, stderr := mnistc(t, "pack", "--model", in, "--out", packed); code != 0 {
		t.Fatalf("pack: %s", stderr)
	}
	args[2] = packed
	code, stdout, stderr = mnistc(t, args...)
	var pout evalOutput
	if code != 0 || json.Unmarshal([]byte(stdout), &pout) != nil || pout.Robust == nil {
		t.Fatalf("eval --robust of the packed file: %d %s %s", code, stdout, stderr)
	}
	if !reflect.DeepEqual(pout.Robust.Columns(), r.Columns()) {
		t.Errorf("packed file: %v\ncheckpoint: %v", pout.Robust.Columns(), r.Columns())
	}

	code, stdout, stderr = mnistc(t, append([]string{"eval", "--model", in}, robustArgs...)...)
	if code != 0 {
		t.Fatalf("eval --robust (text): %s", stderr)
	}
	for _, want := range []string{"robustness", "fgsm", "pgd", "ε=0.1", "gaussian_noise", "mean"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "transfer_fgsm") {
		t.Errorf("transfer rows without --transfer-from:\n%s", stdout)
	}
}

// TestEvalRobustBadFlags: each bad robust flag is one line naming the
// flag, exit 2, before any work.
func TestEvalRobustBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--eps", "0.1"}, "--eps needs --robust"},
		{[]string{"--robust", "--eps", "2"}, "--eps"},
		{[]string{"--robust", "--eps", "0.1,x"}, "--eps"},
		{[]string{"--robust", "--eps", "0.1,0.1"}, "--eps"},
		{[]string{"--robust", "--robust-images", "0"}, "--robust-images"},
		{[]string{"--robust", "--attack-images", "-1"}, "--attack-images"},
		{[]string{"--robust", "--pgd-steps", "0"}, "--pgd-steps"},
		{[]string{"--robust", "--pgd-step", "0"}, "--pgd-step"},
		{[]string{"--robust", "--severity", "6"}, "--severity"},
		{[]string{"--robust", "--attacks", "fgsm,cw"}, "--attacks"},
		{[]string{"--robust", "--attacks", "transfer"}, "--transfer-from"},
		{[]string{"--robust", "--transfer-from", "/nonexistent/base.npz"}, "--transfer-from"},
	} {
		args := append([]string{"eval", "--model", "/nonexistent/m.npz"}, c.args...)
		code, _, stderr := mnistc(t, args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q: want exit 2 and one line naming %s", c.args, code, stderr, c.want)
		}
	}
}
