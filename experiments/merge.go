package experiments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Merge gathers the results folders of an experiment's shards (each made by
// a sweep with --shard I/N, complete) into a new results folder out, which
// then holds what one run of the whole experiment on one machine holds:
// every record, every baseline, the experiment file and a manifest whose
// runs are the shards'. It returns the experiment and its records laid out
// as cells (Expand), ready for the report.
//
// It refuses shards of different experiment files, a missing, repeated or
// unfinished shard, baselines or records that differ between shards, and an
// out folder that exists and is not empty. out appears whole or not at all:
// it is assembled in a temporary folder beside it and renamed into place.
func Merge(out string, dirs []string) (*Experiment, []Record, error) {
	if len(dirs) == 0 {
		return nil, nil, fmt.Errorf("name the shards' results folders")
	}
	type shard struct {
		dir string
		m   Manifest
	}
	var shards []shard
	seen := map[string]string{}
	count := 0
	for _, d := range dirs {
		m, err := ReadManifest(d)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no %s: not a results folder of mnistc sweep", d, ManifestFile)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", filepath.Join(d, ManifestFile), err)
		}
		s, err := ParseShard(m.Shard)
		switch {
		case m.Shard == "":
			return nil, nil, fmt.Errorf("%s holds a whole run, not a shard (made without --shard I/N)", d)
		case err != nil:
			return nil, nil, fmt.Errorf("%s: shard %v", filepath.Join(d, ManifestFile), err)
		case !m.Complete:
			return nil, nil, fmt.Errorf("%s: shard %s is unfinished: rerun its sweep command to complete it", d, m.Shard)
		case len(shards) > 0 && m.SHA256 != shards[0].m.SHA256:
			return nil, nil, fmt.Errorf("%s comes from another experiment file than %s (%s sha256 %.12s…, %s sha256 %.12s…)",
				d, shards[0].dir, m.Experiment, m.SHA256, shards[0].m.Experiment, shards[0].m.SHA256)
		case count > 0 && s.Count != count:
			return nil, nil, fmt.Errorf("%s is shard %s but %s is shard %s: the shards split the cells differently", d, m.Shard, shards[0].dir, shards[0].m.Shard)
		}
		if other, ok := seen[m.Shard]; ok {
			return nil, nil, fmt.Errorf("%s and %s are both shard %s", other, d, m.Shard)
		}
		seen[m.Shard], count = d, s.Count
		shards = append(shards, shard{d, m})
	}
	if len(shards) != count {
		var missing []string
		for i := 1; i <= count; i++ {
			if _, ok := seen[fmt.Sprintf("%d/%d", i, count)]; !ok {
				missing = append(missing, fmt.Sprintf("%d/%d", i, count))
			}
		}
		return nil, nil, fmt.Errorf("shard %s missing: give all %d shards' folders", strings.Join(missing, ", "), count)
	}
	for _, s := range shards {
		if same, _ := samePath(out, s.dir); same {
			return nil, nil, fmt.Errorf("--out %s is one of the shards: merge into a new folder", out)
		}
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return nil, nil, fmt.Errorf("--out %s exists and is not empty: merge writes a new results folder", out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("--out %s: %v", out, err)
	}
	e, err := Load(filepath.Join(shards[0].dir, CopyFile))
	if err != nil {
		return nil, nil, err
	}
	// records: the union, by key; a key two shards both hold must agree
	byKey := map[string]Record{}
	from := map[string]string{}
	var all []Record
	for _, s := range shards {
		recs, torn, err := ReadLog(filepath.Join(s.dir, LogFile))
		if err != nil {
			return nil, nil, err
		}
		if torn {
			return nil, nil, fmt.Errorf("%s: the last record is torn: rerun the shard's sweep command to repair it", filepath.Join(s.dir, LogFile))
		}
		for _, r := range recs {
			if prev, ok := byKey[r.Key]; ok {
				if !sameOutcome(prev, r) {
					return nil, nil, fmt.Errorf("record %s (%s seed %d) differs between %s and %s", r.Key, r.Sweep, r.Seed, from[r.Key], s.dir)
				}
				continue
			}
			byKey[r.Key], from[r.Key] = r, s.dir
			all = append(all, r)
		}
	}
	// stage the folder, then rename it into place
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, nil, fmt.Errorf("--out %s: %v", out, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".merge-")
	if err != nil {
		return nil, nil, fmt.Errorf("--out %s: %v", out, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed
	if err := os.Mkdir(filepath.Join(tmp, "baselines"), 0o755); err != nil {
		return nil, nil, err
	}
	copied := map[string]string{}
	for _, s := range shards {
		ents, err := os.ReadDir(filepath.Join(s.dir, "baselines"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		for _, ent := range ents {
			if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".npz") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(s.dir, "baselines", ent.Name()))
			if err != nil {
				return nil, nil, err
			}
			dst := filepath.Join(tmp, "baselines", ent.Name())
			if other, ok := copied[ent.Name()]; ok {
				prev, err := os.ReadFile(dst)
				if err != nil {
					return nil, nil, err
				}
				if !bytes.Equal(prev, b) {
					return nil, nil, fmt.Errorf("baselines/%s differs between %s and %s: the shards did not train the same weights (another build, BLAS or data?)", ent.Name(), other, s.dir)
				}
				continue
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return nil, nil, err
			}
			copied[ent.Name()] = s.dir
		}
	}
	SortRecords(e, all)
	var log bytes.Buffer
	for _, r := range all {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, nil, err
		}
		log.Write(b)
		log.WriteByte('\n')
	}
	m := Manifest{Experiment: shards[0].m.Experiment, SHA256: shards[0].m.SHA256}
	for _, s := range shards {
		m.Runs = append(m.Runs, s.m.Runs...)
	}
	cells := Expand(e, all)
	m.Complete = len(cells) == expectedCells(e)
	for name, b := range map[string][]byte{LogFile: log.Bytes(), CopyFile: e.Raw()} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return nil, nil, err
		}
	}
	if err := writeManifest(tmp, m); err != nil {
		return nil, nil, err
	}
	os.Remove(out) // an empty folder given as --out
	if err := os.Rename(tmp, out); err != nil {
		return nil, nil, fmt.Errorf("--out %s: %v", out, err)
	}
	return e, cells, nil
}

// expectedCells is the number of cells × seeds of e.
func expectedCells(e *Experiment) int {
	n := 0
	for _, s := range e.Sweeps {
		cells, _ := s.Cells()
		n += len(cells)
	}
	return n * len(e.Seeds)
}

// sameOutcome reports whether two records of one configuration agree on
// what they measured (timings aside).
func sameOutcome(a, b Record) bool {
	ta, tb := a.Total(), b.Total()
	if ta.CorrectAfter != tb.CorrectAfter || a.ValAccuracy != b.ValAccuracy {
		return false
	}
	return (a.Packed == nil) == (b.Packed == nil) && (a.Packed == nil || a.Packed.Bytes == b.Packed.Bytes)
}

// samePath reports whether a and b name the same folder (after cleaning,
// or the same file on disk).
func samePath(a, b string) (bool, error) {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true, nil
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
