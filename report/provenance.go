package report

import (
	"fmt"
	"sort"
	"strings"

	"mnistc/experiments"
)

// ProvenanceSection says where the records come from: the manifest's
// experiment hash and, for each invocation that added records, the commit,
// toolchain, machine, command line and wall-clock time; then the
// wall-clock time of the cells by sweep. A folder without a manifest, or
// with one written before provenance was kept, says so.
func ProvenanceSection(m *experiments.Manifest, recs []experiments.Record, e *experiments.Experiment) string {
	var b strings.Builder
	b.WriteString("## Provenance\n\n")
	switch {
	case m == nil:
		b.WriteString("No manifest.json was found beside the records: where and when they were made is not known.\n\n")
	default:
		state := "complete"
		if !m.Complete {
			state = "incomplete (some cells have no record yet)"
		}
		fmt.Fprintf(&b, "Experiment `%s`, experiment file SHA-256 `%s`, %s.", m.Experiment, m.SHA256, state)
		if m.Shard != "" {
			fmt.Fprintf(&b, " This folder holds shard %s only.", m.Shard)
		}
		b.WriteString("\n\n")
		if len(m.Runs) == 0 {
			b.WriteString("The manifest holds no runs: it was written before provenance was recorded (commit, toolchain, machine, command, time unknown).\n\n")
			break
		}
		b.WriteString("| run | started (UTC) | wall | cells run | commit | Go | OS/arch | CPU (cores) | BLAS | command |\n|---:|---|---:|---:|---|---|---|---|---|---|\n")
		for i, p := range m.Runs {
			commit := p.Commit
			if len(commit) > 12 {
				commit = commit[:12]
			}
			if p.Dirty {
				commit += " (uncommitted changes)"
			}
			shard := ""
			if p.Shard != "" {
				shard = " (shard " + p.Shard + ")"
			}
			fmt.Fprintf(&b, "| %d%s | %s | %s | %d | `%s` | %s | %s/%s | %s (%d) | %s | `%s` |\n", i+1, shard, p.Started,
				duration(p.WallSeconds), p.Ran, commit, p.Go, p.OS, p.Arch, escape(p.CPU), p.Cores, escape(p.BLAS), escape(strings.Join(p.Command, " ")))
		}
		b.WriteString("\n")
	}
	b.WriteString(cellTimes(recs, e))
	return b.String()
}

// cellTimes tabulates the recorded wall-clock time of the cells by sweep:
// their sum and median. Records without a time are counted as such.
func cellTimes(recs []experiments.Record, e *experiments.Experiment) string {
	by := map[string][]float64{}
	missing := 0
	for _, r := range recs {
		if r.Seconds > 0 {
			by[r.Sweep] = append(by[r.Sweep], r.Seconds)
		} else {
			missing++
		}
	}
	if len(by) == 0 {
		return "The records hold no per-cell wall-clock time (written before it was kept).\n\n"
	}
	var b strings.Builder
	b.WriteString("Wall-clock time of the cells (each record's own evaluation or training, cells running side by side):\n\n| sweep | records | total | median per record |\n|---|---:|---:|---:|\n")
	for _, s := range e.Sweeps {
		v := by[s.Name]
		if len(v) == 0 {
			continue
		}
		var t float64
		for _, x := range v {
			t += x
		}
		sort.Float64s(v)
		fmt.Fprintf(&b, "| %s | %d | %s | %.2f s |\n", s.Name, len(v), duration(t), v[len(v)/2])
	}
	if missing > 0 {
		fmt.Fprintf(&b, "\n%s hold no time (written before it was kept).\n", plural(missing, "record"))
	}
	return b.String() + "\n"
}

// duration prints seconds as "41.6 s", "3 min 12 s" or "1 h 02 min".
func duration(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.1f s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %02d s", int(s)/60, int(s)%60)
	default:
		return fmt.Sprintf("%d h %02d min", int(s)/3600, int(s)%3600/60)
	}
}
