package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mnistc/experiments"
)

// committedResults are the results folders the repository ships.
func committedResults(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("..", "results", "*", ReportFile))
	if len(dirs) == 0 {
		t.Fatal("no results/*/REPORT.md found")
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// TestCommittedReportsCurrent: every committed report is what `mnistc
// report` renders from the committed records now — REPORT.md, results.csv
// and tables.md byte for byte, and the same set of plots — so no figure in
// a report can drift from its records, and no stale plot survives.
func TestCommittedReportsCurrent(t *testing.T) {
	for _, dir := range committedResults(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp := t.TempDir()
			for _, name := range []string{experiments.CopyFile, experiments.LogFile, experiments.ManifestFile} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(tmp, name), b, 0o644)
			}
			e, err := experiments.Load(filepath.Join(tmp, experiments.CopyFile))
			if err != nil {
				t.Fatal(err)
			}
			recs, _, err := experiments.ReadLog(filepath.Join(tmp, experiments.LogFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := Write(tmp, e, experiments.Expand(e, recs)); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{ReportFile, CSVFile, TablesFile} {
				want, _ := os.ReadFile(filepath.Join(dir, name))
				got, _ := os.ReadFile(filepath.Join(tmp, name))
				if !bytes.Equal(got, want) {
					t.Errorf("%s/%s differs from what its records render now: run mnistc report %s", dir, name, dir)
				}
			}
			list := func(d string) string {
				ents, _ := os.ReadDir(filepath.Join(d, PlotsDir))
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				return strings.Join(names, " ")
			}
			if got, want := list(tmp), list(dir); got != want {
				t.Errorf("%s/%s holds %s; the report makes %s", dir, PlotsDir, want, got)
			}
		})
	}
}

// TestReadmeQuotesReports: the README's result figures are the reports'
// findings, quoted in marked blocks (UpdateReadme writes them); every
// committed results folder is quoted and every block equals its report's
// Findings section.
func TestReadmeQuotesReports(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, texts, err := ReadmeBlocks(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	quoted := map[string]bool{}
	for i, d := range dirs {
		quoted[d] = true
		rep, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(d), ReportFile))
		if err != nil {
			t.Errorf("README.md quotes %s: %v", d, err)
			continue
		}
		f, err := FindingsOf(string(rep))
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if texts[i] != f {
			t.Errorf("README.md's findings of %s differ from %s/%s: run mnistc report %s --readme README.md", d, d, ReportFile, d)
		}
	}
	for _, dir := range committedResults(t) {
		rel := "results/" + filepath.Base(dir)
		if !quoted[rel] {
			t.Errorf("README.md does not quote the findings of %s (add a <!-- findings: %s --> block)", rel, rel)
		}
	}
}

func TestUpdateReadme(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "results", "x")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, ReportFile), []byte("# x\n\nintro\n\n## Findings\n\n- a finding, +1.0 [+0.5, +1.5] pp.\n\n## Setup\n\nmore\n"), 0o644)
	readme := filepath.Join(tmp, "README.md")
	os.WriteFile(readme, []byte("# r\n\nbefore\n<!-- findings: "+filepath.ToSlash(dir)+" -->\nold text\n<!-- /findings -->\nafter\n"), 0o644)
	if err := UpdateReadme(readme, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(readme)
	dirs, texts, err := ReadmeBlocks(string(b))
	if err != nil || len(dirs) != 1 || texts[0] != "- a finding, +1.0 [+0.5, +1.5] pp." || !strings.HasSuffix(string(b), "<!-- /findings -->\nafter\n") {
		t.Errorf("updated README:\n%s", b)
	}
	os.WriteFile(readme, []byte("# r\n"), 0o644)
	if err := UpdateReadme(readme, dir); err == nil || !strings.Contains(err.Error(), "has no findings block") {
		t.Errorf("README without a block: %v", err)
	}
}
