package experiments

import (
	"context"
	"strings"
	"testing"
)

// TestRobustCells: an experiment with a robust: section attacks every
// cell and each seed's baseline; the figures sit in the records; the plan
// is part of the cell key (adding it re-runs the cells rather than reusing
// records without the figures); a bad plan is refused naming the field.
func TestRobustCells(t *testing.T) {
	text := strings.Replace(strings.Replace(smallExperiment, "seeds: [1, 2]", "seeds: [1]", 1), "[2, 4, 8]", "[4]", 1) +
		"robust: {eps: [0.1], images: 300, pgd_images: 40, pgd_steps: 5, corruptions: [shift, gaussian_noise]}\n"
	e, err := Parse("robust.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), e, options(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Records {
		rr, br := r.Robust, r.Baseline.Robust
		if rr == nil || br == nil {
			t.Fatalf("%s %v: no robust figures (cell %v, baseline %v)", r.Sweep, r.Cell.Specs, rr, br)
		}
		if rr.Images["fgsm"] != 300 || rr.Images["pgd"] != 40 || len(rr.FGSM) != 1 || len(rr.PGD) != 1 || len(rr.TransferFGSM) != 1 || len(rr.Corrupt) != 2 {
			t.Errorf("%v: robust result %+v does not follow the plan", r.Cell.Specs, rr)
		}
		if rr.PGD["0.1"] > rr.CleanPGD || rr.FGSM["0.1"] > rr.Clean {
			t.Errorf("%v: attacked accuracy above clean: %+v", r.Cell.Specs, rr)
		}
		if br.TransferFGSM["0.1"] != br.FGSM["0.1"] {
			t.Errorf("the baseline's transfer FGSM (crafted on itself) %v differs from its white-box FGSM %v", br.TransferFGSM["0.1"], br.FGSM["0.1"])
		}
	}
	cfg := sum.Records[0]
	if k := cellKey(cfg, nil); k == cfg.Key {
		t.Error("the robust plan does not change the cell key: records without its figures would be reused")
	}
	for _, bad := range []struct{ plan, want string }{
		{"robust: {eps: [2]}", "eps 2 out of range"},
		{"robust: {severity: 9}", "severity 9 out of range"},
		{"robust: {attacks: [fgsm, teleport]}", `attack "teleport" unknown`},
		{"robust: {corruptions: [rain]}", "rain"},
		{"robust: {pgd_images: -1}", "robust.pgd_images: -1 out of range"},
		{"robust: {colour: red}", `unknown field "colour"`},
	} {
		if _, err := Parse("bad.yaml", []byte(smallExperiment+bad.plan+"\n")); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.plan, err, bad.want)
		}
	}
}

func TestRobustnessExperimentParses(t *testing.T) {
	e, err := Load("robustness.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e.Robust == nil || e.CellCount() == 0 {
		t.Fatalf("robustness.yaml: robust %v, %d cells", e.Robust, e.CellCount())
	}
}
