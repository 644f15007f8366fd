package report

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mnistc/compress"
	"mnistc/experiments"
	"mnistc/model"
)

// recordsFor parses an experiment and makes a record for every cell of
// every sweep and seed, with accuracies and sizes drawn from seed: two
// calls with different seeds give reports that differ in every file.
func recordsFor(t *testing.T, text string, seed int64) (*experiments.Experiment, []experiments.Record) {
	t.Helper()
	e, err := experiments.Parse("x.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(seed))
	var recs []experiments.Record
	for _, s := range e.Sweeps {
		cells, err := s.Cells()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cells {
			for _, sd := range e.Seeds {
				acc := 0.9 + 0.09*rng.Float64()
				size := 10000 + rng.Intn(90000)
				tot := compress.Record{Pass: "total", AccBefore: 0.97, AccAfter: acc, DeltaPP: 100 * (acc - 0.97), SizeBytes: size,
					Ratio: 407080 / float64(size), BitsPerWeight: 32 * float64(size) / 407080, CorrectAfter: int(acc * 10000),
					Sizes: []int{784, 128, 10}, Tensors: []compress.TensorStats{{Name: "w1", Sparsity: rng.Float64(), DistinctValues: 4}, {Name: "w2", Sparsity: 0.5, DistinctValues: 3}}}
				recs = append(recs, experiments.Record{Sweep: s.Name, Seed: sd, Cell: c, Train: model.TrainConfig{Layers: []int{128}},
					Baseline: experiments.Baseline{TestAccuracy: 0.97, TestCorrect: 9700}, Steps: []compress.Record{tot, tot},
					Packed: &experiments.Packed{Bytes: size/2 + 1000, MetaBytes: 300, Ratio: 407080 / float64(size/2+1000)}})
			}
		}
	}
	return e, recs
}

const twoSweeps = `name: files
seeds: [1, 2]
sweeps:
  - name: quantize
    rows: bits
    steps:
      - methods: [quantize, "quantize:scheme=affine"]
        grid: {bits: [2, 4, 8]}
  - name: prune
    rows: keep
    steps:
      - methods: [prune]
        grid: {keep: [0.1, 0.5]}
`

// snapshot reads every file under dir (hidden ones too), by relative path.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree reports the first difference between two snapshots.
func sameTree(a, b map[string]string) error {
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			return fmt.Errorf("%s is gone", k)
		}
		if v != w {
			return fmt.Errorf("%s changed", k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return fmt.Errorf("%s appeared", k)
		}
	}
	return nil
}

// userFiles are files a person (or the sweep) keeps in a results folder:
// no report may touch them.
var userFiles = map[string]string{
	experiments.LogFile:       "the records\n",
	"notes.md":                "my notes\n",
	"plots/notes.txt":         "about the plots\n",
	"plots/my-figure.jpeg":    "a picture\n",
	"plots/01-quantize.png~":  "an editor's backup\n",
	"baselines/seed1-abc.npz": "weights\n",
}

func addUserFiles(t *testing.T, dir string) {
	t.Helper()
	for rel, content := range userFiles {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// restore puts the seams back after a test that replaced them.
func restore(t *testing.T) {
	w, r, p := writeFile, rename, plotSweep
	t.Cleanup(func() { writeFile, rename, plotSweep = w, r, p })
}

// TestWriteFailureLeavesPreviousReport: a second report that fails at
// any write, at any move into place, or while rendering a plot leaves the
// first report's files byte-identical, the user's files untouched and no
// staging folder behind; the same report without the failure replaces
// every file.
func TestWriteFailureLeavesPreviousReport(t *testing.T) {
	restore(t)
	dir := t.TempDir()
	e, first := recordsFor(t, twoSweeps, 1)
	if err := Write(dir, e, first); err != nil {
		t.Fatal(err)
	}
	addUserFiles(t, dir)
	before := snapshot(t, dir)
	_, second := recordsFor(t, twoSweeps, 2)
	injected := errors.New("injected failure")
	// rendered once: Write is renderSet then replaceSet, and rendering the
	// plots is what takes time
	firstFiles, err := renderSet(e, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	secondFiles, err := renderSet(e, second, nil)
	if err != nil {
		t.Fatal(err)
	}

	writes := 0
	for k := 0; ; k++ {
		n := 0
		writeFile = func(p string, b []byte) error {
			if n++; n == k+1 {
				return injected
			}
			return writeSynced(p, b)
		}
		err := replaceSet(dir, secondFiles)
		writeFile = writeSynced
		if n <= k { // the report has fewer than k+1 files: nothing failed
			if err != nil {
				t.Fatal(err)
			}
			writes = n
			break
		}
		if !errors.Is(err, injected) {
			t.Fatalf("write %d failing: error %v, want the injected one", k, err)
		}
		if d := sameTree(before, snapshot(t, dir)); d != nil {
			t.Fatalf("write %d failing: %v", k, d)
		}
	}
	if writes < 7 { // 3 files and 2 plots of each sweep and the Pareto plot, each twice
		t.Fatalf("the report wrote %d files", writes)
	}
	// back to the first report, then fail each move into place
	if err := replaceSet(dir, firstFiles); err != nil {
		t.Fatal(err)
	}
	if d := sameTree(before, snapshot(t, dir)); d != nil {
		t.Fatalf("writing the first report again: %v", d)
	}
	for k := 0; ; k++ {
		n := 0
		rename = func(from, to string) error {
			if n++; n == k+1 {
				return injected
			}
			return os.Rename(from, to)
		}
		err := replaceSet(dir, secondFiles)
		rename = os.Rename
		if n <= k {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if !errors.Is(err, injected) {
			t.Fatalf("move %d failing: error %v, want the injected one", k, err)
		}
		if d := sameTree(before, snapshot(t, dir)); d != nil {
			t.Fatalf("move %d failing: %v", k, d)
		}
	}
	// the loop's last Write succeeded: every report file is new, the rest as it was
	after := snapshot(t, dir)
	for rel, content := range before {
		owned := ownedPath(filepath.ToSlash(rel))
		if _, user := userFiles[filepath.ToSlash(rel)]; user && after[rel] != content {
			t.Errorf("%s (not the report's) changed", rel)
		}
		if owned && strings.HasSuffix(rel, ".md") && after[rel] == content {
			t.Errorf("%s was not replaced", rel)
		}
	}
	// a plot that fails to render
	if err := replaceSet(dir, firstFiles); err != nil {
		t.Fatal(err)
	}
	plotSweep = func(Study, Grid, string) (Figure, bool, error) { return Figure{}, false, injected }
	if err := Write(dir, e, second); !errors.Is(err, injected) {
		t.Fatalf("failing plot: %v", err)
	}
	if d := sameTree(before, snapshot(t, dir)); d != nil {
		t.Fatalf("failing plot: %v", d)
	}
}

// TestWriteUndoFailureKeepsPreviousFiles: when a move fails and putting
// the previous files back fails too, they are not deleted: the error
// names the folder that holds them.
func TestWriteUndoFailureKeepsPreviousFiles(t *testing.T) {
	restore(t)
	dir := t.TempDir()
	e, first := recordsFor(t, twoSweeps, 1)
	if err := Write(dir, e, first); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	_, second := recordsFor(t, twoSweeps, 2)
	n := 0
	rename = func(from, to string) error {
		// the last move (REPORT.md) fails, and so does every move back
		if n++; filepath.Base(to) == ReportFile || strings.Contains(from, StagePrefix) && strings.Contains(from, "old") {
			return errors.New("disk on fire")
		}
		return os.Rename(from, to)
	}
	err := Write(dir, e, second)
	rename = os.Rename
	if err == nil || !strings.Contains(err.Error(), "putting it back failed") {
		t.Fatalf("error %v, want one saying the previous files could not be put back", err)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, StagePrefix+"*", "old", ReportFile))
	if len(kept) != 1 || !strings.Contains(err.Error(), filepath.Dir(kept[0])) {
		t.Fatalf("kept %v; error %v", kept, err)
	}
	if b, _ := os.ReadFile(kept[0]); string(b) != string(old) {
		t.Error("the kept REPORT.md is not the previous one")
	}
}

// TestWritePlotsAfresh: a report removes the plots an earlier report made
// that it no longer makes (a sweep renamed or dropped), keeps every other
// file in plots/, and every plot REPORT.md shows exists.
func TestWritePlotsAfresh(t *testing.T) {
	dir := t.TempDir()
	e, recs := recordsFor(t, twoSweeps, 1)
	if err := Write(dir, e, recs); err != nil {
		t.Fatal(err)
	}
	addUserFiles(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "plots", "02-prune.svg")); err != nil {
		t.Fatal(err)
	}
	one := strings.Replace(twoSweeps[:strings.Index(twoSweeps, "  - name: prune")], "name: quantize", "name: quant", 1)
	e2, recs2 := recordsFor(t, one, 3)
	if err := Write(dir, e2, recs2); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	for _, gone := range []string{"01-quantize.png", "01-quantize.svg", "02-prune.png", "02-prune.svg"} {
		if _, ok := got[filepath.Join("plots", gone)]; ok {
			t.Errorf("plots/%s survived a report that no longer makes it", gone)
		}
	}
	for rel, content := range userFiles {
		if got[filepath.FromSlash(rel)] != content {
			t.Errorf("%s (not the report's) was changed or removed", rel)
		}
	}
	rep := got[ReportFile]
	shown := regexp.MustCompile(`\]\((plots/[^)]+)\)`).FindAllStringSubmatch(rep, -1)
	if len(shown) != 2 {
		t.Fatalf("REPORT.md shows %d plots, want 2 (the sweep's and the Pareto plot)", len(shown))
	}
	owned := 0
	for rel := range got {
		if strings.HasPrefix(rel, "plots"+string(filepath.Separator)) && ownedPlot(filepath.Base(rel)) {
			owned++
		}
	}
	for _, m := range shown {
		if _, ok := got[filepath.FromSlash(m[1])]; !ok {
			t.Errorf("REPORT.md shows %s, which is not there", m[1])
		}
	}
	if owned != 3*len(shown) {
		t.Errorf("%d report plots in plots/, want %d (PNG, SVG and PDF of each shown)", owned, 3*len(shown))
	}
	for rel := range got {
		if strings.HasPrefix(rel, StagePrefix) {
			t.Errorf("staging folder %s left behind", rel)
		}
	}
}

// TestWriteNamesStayInside: a sweep name that would be a path (set after
// the file was read, which refuses it) makes the report fail without
// writing anything, inside or outside the results folder.
func TestWriteNamesStayInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	e, recs := recordsFor(t, twoSweeps, 1)
	prev := e.Sweeps[0].Name
	for _, bad := range []string{"x/../../../../pwned", "../escaped", "..", ".hidden", `x\y`, "a/b"} {
		e.Sweeps[0].Name = bad
		for i := range recs {
			if recs[i].Sweep == prev {
				recs[i].Sweep, recs[i].Cell.Sweep = bad, bad
			}
		}
		prev = bad
		if err := Write(dir, e, recs); err == nil {
			t.Errorf("sweep name %q: report written", bad)
		}
		var found []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if p != root {
				found = append(found, p)
			}
			return nil
		})
		if len(found) > 0 {
			t.Fatalf("sweep name %q: the failed report left %v", bad, found)
		}
	}
}

// TestOwnedPathIsInside: whatever the text, a path the report accepts to
// write is a report file or a plot directly in plots/, never outside.
func TestOwnedPathIsInside(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	parts := []string{"plots/", "plots", "", "../", "..", "/", "\\", "01-", "12-", "pareto", ".png", ".svg", "a", ".", "-", "_",
		CSVFile, TablesFile, ReportFile, "x", "C:", "~"}
	accepted := 0
	for i := 0; i < 100000; i++ {
		var b strings.Builder
		for j := rng.Intn(6); j >= 0; j-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		rel := b.String()
		if !ownedPath(rel) {
			continue
		}
		accepted++
		dir, name := filepath.Split(filepath.FromSlash(rel))
		if !filepath.IsLocal(rel) || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || (dir != "" && dir != "plots"+string(filepath.Separator)) {
			t.Fatalf("ownedPath accepts %q", rel)
		}
	}
	if accepted == 0 {
		t.Fatal("no generated path was accepted: the property was not tested")
	}
}

// TestNoStalePlotsFewerSweeps: a second report of the same folder with
// fewer sweeps (the second dropped, the first cut to one row, which makes
// it a reference instead of a plot) leaves in plots/ exactly the files
// its REPORT.md shows, in PNG, SVG and PDF, and the user's files.
func TestNoStalePlotsFewerSweeps(t *testing.T) {
	dir := t.TempDir()
	e, recs := recordsFor(t, twoSweeps, 1)
	if err := Write(dir, e, recs); err != nil {
		t.Fatal(err)
	}
	addUserFiles(t, dir)
	for _, want := range []string{"01-quantize.pdf", "02-prune.png", "pareto.svg"} {
		if _, err := os.Stat(filepath.Join(dir, PlotsDir, want)); err != nil {
			t.Fatalf("the first report: %v", err)
		}
	}
	one := strings.Replace(twoSweeps[:strings.Index(twoSweeps, "  - name: prune")], "bits: [2, 4, 8]", "bits: [4]", 1)
	e2, recs2 := recordsFor(t, one, 2)
	if err := Write(dir, e2, recs2); err != nil {
		t.Fatal(err)
	}
	rep, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, m := range regexp.MustCompile(`\]\(plots/([^)]+)\.png\)`).FindAllStringSubmatch(string(rep), -1) {
		for _, ext := range []string{".png", ".svg", ".pdf"} {
			want[m[1]+ext] = true
		}
	}
	if len(want) != 3 || !want["pareto.pdf"] {
		t.Fatalf("REPORT.md shows %v, want the Pareto plot alone (a one-row sweep is not plotted)", want)
	}
	entries, err := os.ReadDir(filepath.Join(dir, PlotsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		name := de.Name()
		_, user := userFiles[PlotsDir+"/"+name]
		if !want[name] && !user {
			t.Errorf("plots/%s survived a report that does not show it", name)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("plots/%s is shown but missing", name)
	}
}
