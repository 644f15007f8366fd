package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"mnistc/experiments"
)

const killExperiment = `name: kill
train: {epochs: 1, limit: 2500, val: 500}
seeds: [4]
sweeps:
  - name: quantize
    rows: bits
    steps:
      - methods:
          - quantize:scheme=symmetric,range=minmax
          - quantize:scheme=symmetric,range=mse
          - quantize:scheme=kmeans
          - quantize:scheme=affine
        grid:
          bits: [1, 2, 3, 4, 5, 6, 7, 8]
          granularity: [tensor, channel]
`

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// stripTimes drops the eval timings, the only fields two runs may differ in.
func stripTimes(recs []experiments.Record) []experiments.Record {
	for i := range recs {
		recs[i].Seconds = 0
		for j := range recs[i].Steps {
			recs[i].Steps[j].EvalMS = 0
		}
	}
	return recs
}

// TestSweepSurvivesSIGKILL: a sweep killed with SIGKILL mid-way and started
// again ends with the same records as an uninterrupted run: none lost, none
// repeated. Then report rebuilds the outputs from the records alone.
func TestSweepSurvivesSIGKILL(t *testing.T) {
	tmp := t.TempDir()
	exp := filepath.Join(tmp, "kill.yaml")
	os.WriteFile(exp, []byte(killExperiment), 0o644)
	whole, killed := filepath.Join(tmp, "whole"), filepath.Join(tmp, "killed")
	if code, _, stderr := mnistc(t, "sweep", exp, "--out", whole, "--quiet"); code != 0 {
		t.Fatalf("uninterrupted sweep: exit %d: %s", code, stderr)
	}
	cmd := exec.Command(bin, "sweep", exp, "--out", killed, "--quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(killed, experiments.LogFile)
	deadline := time.Now().Add(2 * time.Minute)
	for lines(log) < 5 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	n := lines(log)
	if n < 5 || n >= 64 {
		t.Fatalf("killed after %d of 64 records; want a kill mid-way", n)
	}
	code, _, stderr := mnistc(t, "sweep", exp, "--out", killed, "--quiet")
	if code != 0 || !strings.Contains(stderr, "already done") {
		t.Fatalf("resumed sweep: exit %d: %s", code, stderr)
	}
	e, _ := experiments.Load(exp)
	a, _, errA := experiments.ReadLog(filepath.Join(whole, experiments.LogFile))
	b, tornB, errB := experiments.ReadLog(log)
	if errA != nil || errB != nil || tornB {
		t.Fatalf("logs: %v, %v, torn %v", errA, errB, tornB)
	}
	experiments.SortRecords(e, a)
	experiments.SortRecords(e, b)
	if len(a) != 64 || !reflect.DeepEqual(stripTimes(a), stripTimes(b)) {
		t.Errorf("killed-and-resumed run: %d records; uninterrupted: %d; they differ", len(b), len(a))
	}
	os.Remove(filepath.Join(killed, "REPORT.md"))
	if code, stdout, stderr := mnistc(t, "report", killed); code != 0 || !strings.Contains(stdout, "from 64 records") {
		t.Fatalf("report: exit %d, %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"REPORT.md", "results.csv", "tables.md", "plots/01-quantize.png", "plots/pareto.svg"} {
		if _, err := os.Stat(filepath.Join(killed, f)); err != nil {
			t.Errorf("report did not write %s", f)
		}
	}
}

// TestSweepBadInput: a bad experiment file is refused before any training,
// with file and line; another experiment's folder is refused without --force.
func TestSweepBadInput(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(killExperiment, "bits: [1, 2,", "bits: [0, 2,", 1)), 0o644)
	code, _, stderr := mnistc(t, "sweep", bad, "--out", filepath.Join(tmp, "o"))
	if code != 2 || !strings.Contains(stderr, "bad.yaml:14:") || !strings.Contains(stderr, "bits=0 out of range") {
		t.Errorf("bad grid value: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(tmp, "o")); err == nil {
		t.Error("a refused experiment created its results folder")
	}
	code, _, stderr = mnistc(t, "sweep", filepath.Join(tmp, "none.yaml"))
	if code != 2 || !strings.Contains(stderr, "none.yaml") {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
	out := filepath.Join(tmp, "shared")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, experiments.ManifestFile), []byte(`{"experiment":"other","sha256":"00"}`), 0o644)
	good := filepath.Join(tmp, "good.yaml")
	os.WriteFile(good, []byte(killExperiment), 0o644)
	code, _, stderr = mnistc(t, "sweep", good, "--out", out)
	if code != 1 || !strings.Contains(stderr, "another experiment file") || !strings.Contains(stderr, "--force") {
		t.Errorf("another experiment's folder: exit %d, %q", code, stderr)
	}
}
