package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// searchArgs is a search over the smoke model short enough for a test:
// one epoch per trial on its 3,000 training images, five trials.
func searchArgs(in, out string, extra ...string) []string {
	return append([]string{"search", "--model", in, "--out", out, "--epochs", "1", "--trials", "5", "--max-drop", "1", "--quiet"}, extra...)
}

// TestSearchRecipeReruns: the recipe `search` prints, run as the
// commands it gives (finetune, then pack), writes the search's .mnc file
// byte for byte; the recipe file holds the same commands and the test
// accuracy, and the validation drop is within the budget.
func TestSearchRecipeReruns(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "s.mnc")
	code, stdout, stderr := mnistc(t, searchArgs(in, out)...)
	if code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	var rec searchOutput
	b, err := os.ReadFile(filepath.Join(dir, "s.recipe.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Commands) != 2 || !strings.Contains(stdout, rec.Commands[0]) || rec.ValDropPP > 1 || rec.TestAccuracy < 0.5 || rec.BaseTestAccuracy < 0.85 {
		t.Fatalf("recipe file: commands %q, val drop %.2f, test %.4f (input %.4f); stdout:\n%s", rec.Commands, rec.ValDropPP, rec.TestAccuracy, rec.BaseTestAccuracy, stdout)
	}
	// Rerun the printed commands, writing elsewhere.
	npz, mnc := filepath.Join(dir, "again.npz"), filepath.Join(dir, "again.mnc")
	for i, c := range rec.Commands {
		args := strings.Fields(c)[1:] // drop "mnistc"; the test paths hold no spaces
		for j := range args {
			switch args[j] {
			case filepath.Join(dir, "s.npz"):
				args[j] = npz
			case out:
				args[j] = mnc
			}
		}
		if i == 0 {
			args = append(args, "--quiet")
		}
		if code, _, stderr := mnistc(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	want, _ := os.ReadFile(out)
	got, _ := os.ReadFile(mnc)
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("the recipe rerun writes %d bytes that differ from the search's %d", len(got), len(want))
	}
}

// TestSearchSurvivesSIGKILL: a search killed after its first trials and
// run again with the same flags writes the same file as one run that was
// never interrupted.
func TestSearchSurvivesSIGKILL(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.mnc")
	if code, _, stderr := mnistc(t, searchArgs(in, whole)...); code != 0 {
		t.Fatalf("search: exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "killed.mnc")
	cmd := exec.Command(bin, searchArgs(in, out)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "killed.search", "state.json")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(state)
		if bytes.Count(b, []byte(`"n":`)) >= 2 { // two trials recorded
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Log("the search finished before the kill; the rerun below replays it")
	}
	code, _, stderr := mnistc(t, append(searchArgs(in, out), "--quiet=false")...)
	if code != 0 {
		t.Fatalf("search after SIGKILL: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming") {
		t.Errorf("the rerun does not say it resumes: %s", stderr)
	}
	want, _ := os.ReadFile(whole)
	got, _ := os.ReadFile(out)
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("after SIGKILL and a rerun: %d bytes that differ from the uninterrupted run's %d", len(got), len(want))
	}
	// Another budget into the same state folder is refused.
	args := searchArgs(in, out)
	args[len(args)-2] = "2" // --max-drop
	if code, _, stderr := mnistc(t, args...); code != 2 || !strings.Contains(stderr, "holds another search") {
		t.Errorf("another search into the same state: exit %d, %q", code, stderr)
	}
}

// TestSearchAndSensitivityBadInput: bad flags are one-line usage errors
// (exit 2) naming the flag, before any work.
func TestSearchAndSensitivityBadInput(t *testing.T) {
	in, _ := trainSmall(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "s.mnc")
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "--out", out}, "--model is required"},
		{[]string{"search", "--model", in}, "--out is required"},
		{[]string{"search", "--model", in, "--out", filepath.Join(dir, "s.npz")}, "want a .mnc file"},
		{[]string{"search", "--model", in, "--out", out, "--max-drop", "-1"}, "--max-drop -1 out of range"},
		{[]string{"search", "--model", in, "--out", out, "--trials", "0"}, "--trials 0 out of range"},
		{[]string{"search", "--model", in, "--out", out, "--epochs", "0"}, "--epochs 0 out of range"},
		{[]string{"search", "--model", in, "--out", out, "--lr", "2"}, "--lr 2 out of range"},
		{[]string{"search", "--model", in, "--out", out, "--state", file}, "--state " + file + " is a file"},
		{[]string{"search", "--model", in, "--out", out, "--val", "0"}, "--val 0"},
		{[]string{"search", "--model", in, "--out", out, "--max-drop", "x"}, "invalid value"},
		{[]string{"search", "--model", in, "--out", out, "--budget", "1"}, "flag provided but not defined: -budget"},
		{[]string{"search", "--model", in, "--out", out, "--guard", "-1"}, "--guard -1 out of range"},
		{[]string{"search", "--model", in, "--out", out, "--distill=false", "--alpha", "0.3"}, "--distill=false turns off"},
		{[]string{"search", "--model", in, "--out", out, "--temperature", "0"}, "--temperature 0 out of range"},
		{[]string{"finetune", "--model", in, "--pass", "prune:keep=0.5", "--out", filepath.Join(dir, "f.npz"), "--temperature", "3"}, "--distill, which is not given"},
		{[]string{"finetune", "--model", in, "--pass", "prune:keep=0.5", "--out", filepath.Join(dir, "f.npz"), "--distill", "--alpha", "2"}, "--alpha 2 out of range"},
		{[]string{"sensitivity", "--out", dir}, "--model is required"},
		{[]string{"sensitivity", "--model", in, "--keeps", "0.5,0"}, "keep 0 out of range"},
		{[]string{"sensitivity", "--model", in, "--bits", "4,x"}, `"x" is not a whole number`},
		{[]string{"sensitivity", "--model", in, "--bits", "17"}, "bits 17 out of range"},
		{[]string{"sensitivity", "--model", in, "--keeps", "", "--bits", "", "--units", ""}, "nothing to sweep"},
		{[]string{"sensitivity", "--model", in, "--out", file}, "is not a folder"},
	} {
		code, _, stderr := mnistc(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused search wrote %s", out)
	}
}

// TestSensitivityCommand: the sweep's CSV has a row per layer and value,
// and the plots are written next to it.
func TestSensitivityCommand(t *testing.T) {
	in, _ := trainSmall(t)
	dir := filepath.Join(t.TempDir(), "sens")
	code, stdout, stderr := mnistc(t, "sensitivity", "--model", in, "--out", dir, "--keeps", "1,0.1", "--bits", "8,2", "--units", "0.5")
	if code != 0 {
		t.Fatalf("sensitivity: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sensitivity.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(b), "\n"); rows != 1+2*2+2*2+1 || !strings.Contains(stdout, "keep") {
		t.Errorf("%d CSV lines:\n%s\nstdout:\n%s", rows, b, stdout)
	}
	for _, f := range []string{"sensitivity-keep.png", "sensitivity-bits.svg", "sensitivity-units.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
