package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
)

// outFile is one file of a report: its path relative to the results
// folder ("REPORT.md", "plots/pareto.png") and its bytes.
type outFile struct {
	rel  string
	data []byte
}

// plotName matches the plot files a report writes (and so owns): NN-<sweep
// name>.png|svg|pdf, pareto.png|svg|pdf and robust-bits|keep.png|svg|pdf.
// Only these are ever removed from plots/.
var plotName = regexp.MustCompile(`^([0-9]{2,}-[A-Za-z0-9_-][A-Za-z0-9._-]*|pareto|robust-bits|robust-keep)\.(png|svg|pdf)$`)

// ownedPlot reports whether a file name in plots/ is one a report writes.
func ownedPlot(name string) bool { return plotName.MatchString(name) }

// ownedPath reports whether rel is a path a report writes: one of its
// files, or a plot in plots/. Whatever the names in the experiment file,
// nothing outside the results folder is ever written.
func ownedPath(rel string) bool {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return false
	}
	switch rel {
	case CSVFile, TablesFile, ReportFile:
		return true
	}
	dir, name := path.Split(rel)
	return dir == PlotsDir+"/" && ownedPlot(name)
}

// Seams a test replaces to make a write or a move fail part-way: the
// previous report must come through untouched.
var (
	writeFile = writeSynced
	rename    = os.Rename
)

// writeSynced writes b to a new file at p and syncs it to disk.
func writeSynced(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// StagePrefix starts the name of the staging folder a report is written
// into before it replaces the previous one. It is removed when the report
// is in place or has failed; one left behind by a killed report holds
// either the new report's files (new/) or the previous one's (old/).
const StagePrefix = ".report-"

// replaceSet writes files into dir, replacing the previous report as a
// set. The files are first written into a staging folder in dir (so the
// moves are renames within one file system). Then plots the previous
// report made and this one does not are moved into the staging folder,
// and each new file replaces its old one by a rename after the old one
// is linked (or copied) into the staging folder; REPORT.md goes last. If
// any step fails, the steps done are undone in reverse order, so the
// previous report is left as it was. Only files a report writes
// (ownedPath) are moved or replaced.
func replaceSet(dir string, files []outFile) (err error) {
	for _, f := range files {
		if !ownedPath(f.rel) {
			return fmt.Errorf("report %s: refusing to write %q: not a file a report writes", dir, f.rel)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	stage, err := os.MkdirTemp(dir, StagePrefix+"*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	keep := false // set when the previous files could not be put back: they stay in stage
	defer func() {
		if !keep {
			os.RemoveAll(stage)
		}
	}()
	newDir, oldDir := filepath.Join(stage, "new"), filepath.Join(stage, "old")
	for _, d := range []string{filepath.Join(newDir, PlotsDir), filepath.Join(oldDir, PlotsDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	produced := map[string]bool{}
	for _, f := range files {
		if err := writeFile(filepath.Join(newDir, filepath.FromSlash(f.rel)), f.data); err != nil {
			return fmt.Errorf("report %s: writing %s: %w", dir, f.rel, err)
		}
		produced[f.rel] = true
	}

	var undo []func() error
	fail := func(cause error) error {
		cause = fmt.Errorf("report %s: %w; the previous report is left in place", dir, cause)
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil {
				keep = true
				return fmt.Errorf("%w — but putting it back failed (%v): its files are in %s", cause, uerr, oldDir)
			}
		}
		return cause
	}
	plots := filepath.Join(dir, PlotsDir)
	stale, err := os.ReadDir(plots)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	for _, de := range stale {
		rel := PlotsDir + "/" + de.Name()
		if produced[rel] || !de.Type().IsRegular() || !ownedPlot(de.Name()) {
			continue
		}
		from, to := filepath.Join(plots, de.Name()), filepath.Join(oldDir, PlotsDir, de.Name())
		if err := rename(from, to); err != nil {
			return fail(err)
		}
		undo = append(undo, func() error { return rename(to, from) })
	}
	if _, err := os.Stat(plots); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(plots, 0o755); err != nil {
			return fail(err)
		}
		undo = append(undo, func() error { return os.Remove(plots) }) // empty again by then
	}
	for _, f := range files {
		rel := filepath.FromSlash(f.rel)
		src, dst, bak := filepath.Join(newDir, rel), filepath.Join(dir, rel), filepath.Join(oldDir, rel)
		_, err := os.Lstat(dst)
		had := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
		if had {
			if err := backup(dst, bak); err != nil {
				return fail(err)
			}
		}
		if err := rename(src, dst); err != nil {
			return fail(err)
		}
		if had {
			undo = append(undo, func() error { return rename(bak, dst) })
		} else {
			undo = append(undo, func() error { return os.Remove(dst) })
		}
	}
	return nil
}

// backup keeps the file at p as bak: a hard link where the file system
// allows one (p itself stays in place until the rename over it), else a
// copy.
func backup(p, bak string) error {
	if err := os.Link(p, bak); err == nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return writeSynced(bak, b)
}
