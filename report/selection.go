package report

import (
	"fmt"
	"math"
)

// Smallest returns the smallest cell (real packed bytes when every cell
// has them) whose mean change against its baseline is at least -tol pp,
// chosen on the validation split when every record has it (else on test),
// leaving out the controls.
func (s Study) Smallest(tol float64) (Cell, bool) {
	var best Cell
	found := false
	for _, c := range s.Cells {
		if isControl(c) {
			continue
		}
		d := c.Delta.Mean
		if s.UseVal {
			d = c.ValDelta.Mean
		}
		if d < -tol {
			continue
		}
		b, _, _ := c.Bytes()
		bb, _, _ := best.Bytes()
		if !found || b < bb || b == bb && s.selAcc(c) > s.selAcc(best) {
			best, found = c, true
		}
	}
	return best, found
}

// selAcc is the accuracy selections use.
func (s Study) selAcc(c Cell) float64 {
	if s.UseVal {
		return c.Val.Mean
	}
	return c.Acc.Mean
}

// SelectionNote says which split selections were made on.
func (s Study) SelectionNote() string {
	if s.UseVal {
		return "chosen on the validation split, reported on the test set"
	}
	return "chosen on test accuracy: these records hold no validation accuracy (written before it was kept), so choice and report share the test set and the pick is optimistic"
}

// smallestTexts states the smallest cells within 0.5 and 1 pp, once
// when they are the same cell.
func (s Study) smallestTexts() []string {
	a, okA := s.Smallest(0.5)
	b, okB := s.Smallest(1)
	if okA && okB && cellKey(a) == cellKey(b) {
		return []string{s.smallestText(0.5, " (and within 1.0 pp)")}
	}
	return []string{s.smallestText(0.5, ""), s.smallestText(1, "")}
}

// smallestText states the smallest cell whose mean change is within tol pp.
func (s Study) smallestText(tol float64, also string) string {
	c, ok := s.Smallest(tol)
	if !ok {
		return fmt.Sprintf("No configuration stays within %.1f pp of its baseline.", tol)
	}
	b, r, real := c.Bytes()
	what := "packed"
	if !real {
		what = "by the size model"
	}
	return fmt.Sprintf("Smallest with a mean change within %.1f pp of the baseline%s: %s — %s %s (%s), %s %% test, %s pp against the baseline.",
		tol, also, s.Label(c), bytesText(b), what, ratioText(r, c), pct(c.Acc), c.VsBaseline().short())
}

// bytesText prints a size with three significant digits: "7.37 kB".
func bytesText(b float64) string {
	switch {
	case b < 1000:
		return fmt.Sprintf("%.0f B", b)
	case b < 1e6:
		return fmt.Sprintf("%.3g kB", b/1000)
	default:
		return fmt.Sprintf("%.3g MB", b/1e6)
	}
}

// ratioText prints a compression ratio, or says why it means nothing.
func ratioText(r float64, c Cell) string {
	switch {
	case c.AllZero:
		return "all-zero model: no meaningful ratio"
	case math.IsInf(r, 0) || math.IsNaN(r) || r > 1e5:
		return "ratio undefined"
	default:
		return fmt.Sprintf("%.1f×", r)
	}
}
