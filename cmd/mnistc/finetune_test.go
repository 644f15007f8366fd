package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/model"
	"mnistc/retrain"
)

// TestFinetuneCommand: fine-tuning under a gradual pruning schedule saves
// weights with exactly the kept count and records the schedule; passes
// that cannot be held in the loop are refused before any work.
func TestFinetuneCommand(t *testing.T) {
	in, _ := trainSmall(t)
	out := filepath.Join(t.TempDir(), "ft.npz")
	rec, ck, nz := runRetrain(t, out, "finetune", "--model", in, "--pass", "prune:keep=0.1,scope=global,schedule=gradual,every=20",
		"--epochs", "1", "--limit", "3500", "--val", "500")
	want := compress.KeepCount(0.1, len(ck.Params.Layers[0].W.Data)+len(ck.Params.Layers[1].W.Data))
	if nz != want || rec.Schedules[0]["schedule"] != "gradual" || rec.CorrectAfter != ck.Meta.Test.Correct || len(ck.Meta.Passes) == 0 {
		t.Errorf("saved %d non-zeros (want %d), schedule %v, correct %d vs checkpoint %d", nz, want, rec.Schedules, rec.CorrectAfter, ck.Meta.Test.Correct)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--model", in, "--pass", "quantize:bits=4,scheme=kmeans,granularity=channel", "--out", out}, "granularity=channel is post-training only"},
		{[]string{"finetune", "--model", in, "--pass", "prune:keep=0.1,rounds=2", "--out", out}, "rounds applies to schedule=iterative"},
		{[]string{"finetune", "--model", in, "--out", out}, "--pass is required"},
		{[]string{"compress", "--model", in, "--pass", "prune:keep=0.1,schedule=gradual", "--out", out}, "applies when training"},
	} {
		code, _, stderr := mnistc(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestTrainWithPasses: `train --pass` (the article's §4 flow) trains with
// prune and quantize held from the first step and saves weights that are
// sparse and on the 4-bit grid; NumPy agrees with its correct count.
func TestTrainWithPasses(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s4.npz")
	rec, ck, nz := runRetrain(t, out, "train", "--epochs", "1", "--limit", "3500", "--val", "500",
		"--pass", "prune:keep=0.3,scope=global", "--pass", "quantize:bits=4,granularity=channel")
	if max := compress.KeepCount(0.3, len(ck.Params.Layers[0].W.Data)+len(ck.Params.Layers[1].W.Data)); nz > max || rec.CorrectAfter != ck.Meta.Test.Correct || rec.AccAfter < 0.5 {
		t.Errorf("%d non-zeros (≤ %d wanted), correct %d vs checkpoint %d, accuracy %.4f", nz, max, rec.CorrectAfter, ck.Meta.Test.Correct, rec.AccAfter)
	}
	if correct, _, _, ok := numpyEval(t, out); ok && correct != rec.CorrectAfter {
		t.Errorf("NumPy: %d correct; mnistc: %d", correct, rec.CorrectAfter)
	}
	if code, _, stderr := mnistc(t, "train", "--out", out, "--pass", "quantize:bits=4,scheme=kmeans"); code != 2 || !strings.Contains(stderr, "would fix the clusters") {
		t.Errorf("train --pass kmeans (refused in the loop): exit %d, %q", code, stderr)
	}
}

// TestDistillCommand: a 784-16-10 student distilled from the smoke model
// is saved with its width and both accuracies reported; bad T or α refused.
func TestDistillCommand(t *testing.T) {
	teacher, _ := trainSmall(t)
	out := filepath.Join(t.TempDir(), "s.npz")
	code, stdout, stderr := mnistc(t, "distill", "--teacher", teacher, "--hidden", "16", "--epochs", "1", "--limit", "3500", "--val", "500", "--out", out, "--json", "--quiet")
	if code != 0 {
		t.Fatalf("distill: exit %d: %s", code, stderr)
	}
	var rec distillOutput
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatal(err)
	}
	ck, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Params.Hidden()[0] != 16 || rec.StudentAccuracy < 0.25 || rec.AloneAccuracy < 0.25 || ck.Meta.Test.Correct != rec.Student.Correct { // 94 steps: above chance (0.1), not converged
		t.Errorf("student hidden %v, distilled %.4f, alone %.4f", ck.Params.Hidden(), rec.StudentAccuracy, rec.AloneAccuracy)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"distill", "--teacher", teacher, "--out", out, "--temperature", "0"}, "--temperature 0 out of range"},
		{[]string{"distill", "--teacher", teacher, "--out", out, "--alpha", "1.5"}, "--alpha 1.5 out of range"},
		{[]string{"distill", "--out", out}, "--teacher is required"},
	} {
		if code, _, stderr := mnistc(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
	}
}

// TestFinetuneActivationQAT: 4-bit weights and activations in the loop;
// eval and NumPy (which applies the saved ranges) give the recorded count.
func TestFinetuneActivationQAT(t *testing.T) {
	in, _ := trainSmall(t)
	out := filepath.Join(t.TempDir(), "qa.npz")
	code, stdout, stderr := mnistc(t, "finetune", "--model", in, "--pass", "quantize:bits=4,granularity=channel", "--pass", "actquant:bits=4",
		"--epochs", "1", "--limit", "3500", "--val", "500", "--out", out, "--json", "--quiet")
	if code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, stderr)
	}
	var rec retrain.Record
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatal(err)
	}
	code, evalOut, _ := mnistc(t, "eval", "--model", out, "--json")
	var ev evalOutput
	json.Unmarshal([]byte(evalOut), &ev)
	if code != 0 || ev.Correct != rec.CorrectAfter {
		t.Errorf("eval: exit %d, %d correct; record %d", code, ev.Correct, rec.CorrectAfter)
	}
	if correct, _, _, ok := numpyEval(t, out); ok && correct != rec.CorrectAfter {
		t.Errorf("NumPy with the saved ranges: %d correct; record %d", correct, rec.CorrectAfter)
	}
}

// runRetrain runs finetune or train --pass writing out (with --json
// --quiet), and returns the printed record, the saved checkpoint and its
// number of non-zero weights in w1 and w2.
func runRetrain(t *testing.T, out string, args ...string) (retrain.Record, model.Checkpoint, int) {
	t.Helper()
	code, stdout, stderr := mnistc(t, append(args, "--out", out, "--json", "--quiet")...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", args[0], code, stderr)
	}
	var rec retrain.Record
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatal(err)
	}
	ck, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	nz := 0
	for _, v := range append(ck.Params.Layers[0].W.Data, ck.Params.Layers[1].W.Data...) {
		if v != 0 {
			nz++
		}
	}
	return rec, ck, nz
}
