package experiments

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestShardsMergeEqualsOneRun: the small experiment run as two shards in
// two folders, then merged, gives exactly the records of one run on one
// machine (timings aside); each shard ran a disjoint, non-empty share; the
// merged manifest is complete and keeps both shards' provenance.
func TestShardsMergeEqualsOneRun(t *testing.T) {
	e := smallExp(t)
	root := t.TempDir()
	whole, err := Run(context.Background(), e, options(t, filepath.Join(root, "whole")))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	ran := 0
	for i := 1; i <= 2; i++ {
		dir := filepath.Join(root, "shard", string(rune('0'+i)))
		opt := options(t, dir)
		opt.Shard = Shard{Index: i, Count: 2}
		opt.Command = []string{"mnistc", "sweep", "small.yaml", "--shard", opt.Shard.String()}
		sum, err := Run(context.Background(), e, opt)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Ran == 0 || sum.Ran == whole.Cells {
			t.Errorf("shard %d ran %d of %d cells: not a share", i, sum.Ran, whole.Cells)
		}
		ran += sum.Ran
		dirs = append(dirs, dir)
	}
	if ran != whole.Cells {
		t.Errorf("the shards ran %d cells together; the whole experiment has %d", ran, whole.Cells)
	}
	merged := filepath.Join(root, "merged")
	me, recs, err := Merge(merged, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if me.Name != e.Name {
		t.Errorf("merged experiment %q", me.Name)
	}
	SortRecords(e, recs)
	SortRecords(e, whole.Records)
	if !reflect.DeepEqual(comparable(recs), comparable(whole.Records)) {
		t.Errorf("merged shards: %d records differ from one run's %d", len(recs), len(whole.Records))
	}
	logged, _, _ := ReadLog(filepath.Join(merged, LogFile))
	if got := Expand(e, logged); len(got) != len(whole.Records) {
		t.Errorf("merged log expands to %d records, want %d", len(got), len(whole.Records))
	}
	m, err := ReadManifest(merged)
	if err != nil || !m.Complete || m.Shard != "" || len(m.Runs) != 2 {
		t.Fatalf("merged manifest %+v (%v): want complete, no shard, two runs", m, err)
	}
	for _, p := range m.Runs {
		if p.Go == "" || p.CPU == "" || p.Started == "" || p.Finished == "" || p.WallSeconds <= 0 || p.Shard == "" || len(p.Command) == 0 {
			t.Errorf("provenance incomplete: %+v", p)
		}
	}
	bl, _ := filepath.Glob(filepath.Join(merged, "baselines", "*.npz"))
	if len(bl) != len(e.Seeds) {
		t.Errorf("merged baselines %v, want one per seed", bl)
	}
	for _, r := range recs {
		if r.ValAccuracy <= 0 || r.Baseline.ValAccuracy <= 0 || r.Seconds <= 0 {
			t.Errorf("%s seed %d: val accuracy %v, baseline %v, seconds %v", r.Sweep, r.Seed, r.ValAccuracy, r.Baseline.ValAccuracy, r.Seconds)
		}
	}

	// refusals, each naming what is wrong; nothing is written
	other, _ := Parse("other.yaml", []byte(strings.Replace(smallExperiment, "seeds: [1, 2]", "seeds: [1]", 1)))
	otherDir := filepath.Join(root, "other")
	opt := options(t, otherDir)
	opt.Shard = Shard{Index: 2, Count: 2}
	if _, err := Run(context.Background(), other, opt); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		out  string
		dirs []string
		want string
	}{
		{"missing shard", filepath.Join(root, "m1"), dirs[:1], "shard 2/2 missing"},
		{"repeated shard", filepath.Join(root, "m2"), []string{dirs[0], dirs[0]}, "are both shard 1/2"},
		{"other experiment", filepath.Join(root, "m3"), []string{dirs[0], otherDir}, "another experiment file"},
		{"whole run", filepath.Join(root, "m4"), []string{filepath.Join(root, "whole")}, "holds a whole run"},
		{"out not empty", merged, dirs, "exists and is not empty"},
		{"out is a shard", dirs[0], dirs, "is one of the shards"},
		{"not a results folder", filepath.Join(root, "m5"), []string{root}, "not a results folder"},
	} {
		_, _, err := Merge(c.out, c.dirs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
		if c.out != merged && c.out != dirs[0] {
			if _, err := os.Stat(c.out); err == nil {
				t.Errorf("%s: a refused merge left %s", c.name, c.out)
			}
		}
	}
	// a shard folder resumed as another shard is refused
	opt = options(t, dirs[0])
	opt.Shard = Shard{Index: 2, Count: 2}
	if _, err := Run(context.Background(), e, opt); err == nil || !strings.Contains(err.Error(), "holds shard 1/2") {
		t.Errorf("shard 2/2 run in shard 1/2's folder: %v", err)
	}
}

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"1/1", "2/4", " 3 / 3"} {
		if _, err := ParseShard(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0/2", "3/2", "1", "a/b", "1/0", "-1/2", "1/100001"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
