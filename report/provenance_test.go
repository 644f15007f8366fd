package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/experiments"
)

// TestProvenance: Write prints the manifest's runs (commit, dirty flag,
// toolchain, machine, command, wall-clock) and the cells' recorded times
// by sweep; without a manifest it says so instead of failing.
func TestProvenance(t *testing.T) {
	e, recs := loadSynthetic(t)
	dir := t.TempDir()
	if err := Write(dir, e, recs); err != nil {
		t.Fatal(err)
	}
	rep, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	if !strings.Contains(string(rep), "No manifest.json") {
		t.Error("a folder without manifest.json: REPORT.md does not say so")
	}
	m := experiments.Manifest{Experiment: "synthetic", SHA256: "abc123", Complete: true, Runs: []experiments.Provenance{{
		Commit: "0123456789abcdef0123", Dirty: true, Go: "go1.26.8", OS: "linux", Arch: "amd64", CPU: "AMD EPYC 9R14", Cores: 2,
		BLAS: "openblas", Started: "2026-01-02T03:04:05Z", Command: []string{"mnistc", "sweep", "x.yaml"}, WallSeconds: 192, Ran: 36}}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, experiments.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, e, recs); err != nil {
		t.Fatal(err)
	}
	rep, _ = os.ReadFile(filepath.Join(dir, ReportFile))
	prov := string(rep[strings.Index(string(rep), "## Provenance"):])
	for _, want := range []string{"`0123456789ab (uncommitted changes)`", "go1.26.8", "linux/amd64", "AMD EPYC 9R14 (2)", "openblas",
		"`mnistc sweep x.yaml`", "3 min 12 s", "| 36 |",
		// the synthetic cells took 0.5, 1.5 and 2.5 s for seeds 1–3: 9 quantize cells per seed
		"| quantize | 27 | 40.5 s | 1.50 s |"} {
		if !strings.Contains(prov, want) {
			t.Errorf("the provenance section lacks %q:\n%s", want, prov)
		}
	}
}
