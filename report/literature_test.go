package report

import (
	"strings"
	"testing"
)

// TestLiteratureRows: a reference with one bit width is set beside the
// sweep's row at that width alone; one with a kept share beside the
// nearest keep row, saying it is the nearest; one with per-layer shares
// beside every row; references matching the same rows share one table.
func TestLiteratureRows(t *testing.T) {
	text := twoSweeps + `literature:
  - {source: A, method: 8-bit, error_before: 1, error_after: 1.5, bits: [8], ratio: 4, compare: quantize}
  - {source: B, method: 8-bit too, error_before: 2, error_after: 2.5, bits: [8], ratio: 4, compare: quantize}
  - {source: C, method: 12.5 % kept, error_before: 1, error_after: 2, kept: [12.5], ratio: 8, compare: prune}
  - {source: D, method: per layer, error_before: 1, error_after: 2, kept: [8, 9], ratio: 12, compare: prune}
`
	e, recs := recordsFor(t, text, 1)
	st := NewStudy(e, Aggregate(recs))
	lit := Literature(e, st.Cells, st)
	tables := strings.Split(lit, "| | error before %")[1:]
	if len(tables) != 3 {
		t.Fatalf("%d tables, want 3 (A and B together, C, D):\n%s", len(tables), lit)
	}
	rows := func(tab string) []string {
		var out []string
		for _, l := range strings.Split(tab, "\n") {
			if strings.HasPrefix(l, "| ") && !strings.Contains(l, "published") {
				out = append(out, strings.TrimSpace(strings.Split(l, "|")[1]))
			}
		}
		return out
	}
	for i, want := range [][]string{
		{"quantize: symmetric, 8-bit", "quantize: affine, 8-bit"},
		{"prune: keep=0.1"},
		{"prune: keep=0.5", "prune: keep=0.1"},
	} {
		if got := rows(tables[i]); strings.Join(got, ";") != strings.Join(want, ";") {
			t.Errorf("table %d: our rows %q, want %q", i+1, got, want)
		}
	}
	if !strings.Contains(tables[0], "[1] published") || !strings.Contains(tables[0], "[2] published") {
		t.Error("A and B (same sweep, same row) are not in one table")
	}
	if !strings.Contains(tables[1], "[3] The sweep has no row at the source's 12.5 % kept; ours beside it are its nearest, keep=0.1.") {
		t.Errorf("the nearest-row note is missing:\n%s", tables[1])
	}
	if strings.Contains(tables[0], "nearest") || strings.Contains(tables[2], "nearest") {
		t.Error("a note of a nearest row where the row matches or every row is shown")
	}
}
