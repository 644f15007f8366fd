package main

import (
	"bufio"
	"encoding/json"
	"mnistc/data"
	"mnistc/model"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mnistc/compress"
)

// TestCompressCommand: compress writes OUT.npz and one JSON record per pass
// plus the total, and NumPy's forward pass on OUT.npz (activation
// quantization included) gives exactly the correct_after it reports.
func TestCompressCommand(t *testing.T) {
	in, _ := trainSmall(t)
	chains := [][]string{
		{"quantize:bits=4,granularity=channel"},
		{"prune:keep=0.3,scope=global", "quantize:bits=3,scheme=kmeans"},
		{"prune:keep=0.5,method=neuron"},
		{"actquant:bits=4,calib=percentile"},
		{"quantize:scheme=literal"},
	}
	for _, chain := range chains {
		out := filepath.Join(t.TempDir(), "c.npz")
		args := []string{"compress", "--model", in, "--out", out, "--json"}
		for _, p := range chain {
			args = append(args, "--pass", p)
		}
		code, stdout, stderr := mnistc(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", chain, code, stderr)
		}
		var recs []compress.Record
		sc := bufio.NewScanner(strings.NewReader(stdout))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r compress.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%v: record %q: %v", chain, sc.Text(), err)
			}
			recs = append(recs, r)
		}
		if len(recs) != len(chain)+1 || recs[len(recs)-1].Pass != "total" {
			t.Fatalf("%v: %d records, want %d plus the total", chain, len(recs), len(chain))
		}
		final := recs[len(recs)-1]
		if correct, sizes, _, ok := numpyEval(t, out); ok && (correct != final.CorrectAfter || !slices.Equal(sizes, final.Sizes)) {
			t.Errorf("%v: NumPy %d correct (sizes %v), mnistc correct_after %d (sizes %v)", chain, correct, sizes, final.CorrectAfter, final.Sizes)
		}
	}
}

func TestCompressBadInput(t *testing.T) {
	in, _ := trainSmall(t)
	out := filepath.Join(t.TempDir(), "c.npz")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--model", in, "--out", out}, "at least one --pass"},
		{[]string{"--model", in, "--out", out, "--pass", "quantize:bits=99"}, "bits=99 out of range"},
		{[]string{"--model", in, "--out", out, "--pass", "squash:bits=2"}, `unknown pass "squash"`},
		{[]string{"--model", in, "--out", out, "--pass", "prune:keep=0.1,color=red"}, `unknown key "color"`},
		{[]string{"--model", in, "--out", out, "--pass", "prune:keep"}, "malformed"},
		{[]string{"--out", out, "--pass", "prune:keep=0.5"}, "--model is required"},
	}
	for _, c := range cases {
		code, _, stderr := mnistc(t, append([]string{"compress"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("compress %v: exit %d, %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused compress wrote its output")
	}
	code, stdout, _ := mnistc(t, "passes")
	for _, want := range []string{"clip", "quantize", "prune", "actquant", "granularity", "percentile", "keep"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("passes: exit %d, output lacks %q", code, want)
		}
	}
}

// TestCalibrationSplit: compress calibrates on exactly the split the
// checkpoint records, and refuses one the data cannot hold or one that
// does not exist (val_images 0) instead of calibrating elsewhere.
func TestCalibrationSplit(t *testing.T) {
	s := data.Set{X: make([]float32, 100*784), Y: make([]uint8, 100)}
	for i := range s.Y {
		s.Y[i] = uint8(i % 10)
	}
	got, err := calibrationSplit(s, &model.TrainConfig{TrainImages: 70, ValImages: 20}, -1)
	if err != nil || got.Len() != 20 || &got.Y[0] != &s.Y[70] {
		t.Errorf("recorded split: %d images, %v; want images 70–89", got.Len(), err)
	}
	for _, tc := range []*model.TrainConfig{{TrainImages: 90, ValImages: 20}, {TrainImages: 100, ValImages: 0}} {
		if _, err := calibrationSplit(s, tc, -1); err == nil {
			t.Errorf("split %d+%d of 100 images accepted", tc.TrainImages, tc.ValImages)
		}
	}
	if got, err := calibrationSplit(s, &model.TrainConfig{TrainImages: 100}, 30); err != nil || got.Len() != 30 {
		t.Errorf("--val 30: %d images, %v", got.Len(), err)
	}
}
