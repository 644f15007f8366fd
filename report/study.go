package report

import (
	"strings"

	"mnistc/experiments"
)

// Study is an experiment's cells laid out for findings: every sweep's
// grid (numbered as the report's sections), the no-compression controls,
// and whether selections can use the validation split.
type Study struct {
	Grids []Grid
	Cells []Cell
	// Controls are fine-tuning cells that compress nothing (their passes
	// leave every seed's baseline as it was): the same training budget
	// without compression, which a fine-tuned cell must beat to show the
	// compression-aware training did anything.
	Controls []Cell
	// UseVal is set when every cell has validation accuracy: selections
	// are then made on it and reported on the test set.
	UseVal bool
	labels map[string]string
}

// NewStudy lays out cells by the experiment's sweeps.
func NewStudy(e *experiments.Experiment, cells []Cell) Study {
	s := Study{Cells: cells, UseVal: len(cells) > 0, labels: map[string]string{}}
	for _, c := range cells {
		s.UseVal = s.UseVal && c.Val.N > 0
		if isControl(c) {
			s.Controls = append(s.Controls, c)
		}
	}
	for _, sw := range e.Sweeps {
		g := NewGrid(sw, cells)
		if len(g.Rows) == 0 {
			continue
		}
		for k, c := range g.At {
			s.labels[cellKey(c)] = g.CellLabel(k[0], k[1])
		}
		s.Grids = append(s.Grids, g)
	}
	return s
}

func cellKey(c Cell) string { return c.Sweep + "\x00" + strings.Join(c.Specs, "\x00") }

// Label is a cell's report-wide label.
func (s Study) Label(c Cell) string {
	if l, ok := s.labels[cellKey(c)]; ok {
		return l
	}
	return c.Label()
}

// isControl reports whether a fine-tuning cell compresses nothing: for
// every seed, its passes without retraining give the baseline's accuracy,
// and the size model counts every float32 parameter.
func isControl(c Cell) bool {
	if c.Budget == "" || c.Kind != "" || c.Ratio.Mean != 1 || len(c.bySeed) == 0 {
		return false
	}
	for _, v := range c.bySeed {
		if v.noRetrain != v.baseAcc {
			return false
		}
	}
	return true
}

// controlFor returns the control trained with the same budget as c.
func (s Study) controlFor(c Cell) (Cell, bool) {
	for _, k := range s.Controls {
		if k.Budget == c.Budget && cellKey(k) != cellKey(c) {
			return k, true
		}
	}
	return Cell{}, false
}

// isControlGrid reports whether every cell of g is a control.
func (g Grid) isControlGrid() bool {
	for _, c := range g.At {
		if !isControl(c) {
			return false
		}
	}
	return len(g.At) > 0
}

// plainColumns are the grid's columns that do not apply an article
// formula as printed (those are judged on their own).
func (g Grid) plainColumns() []string {
	var out []string
	for _, col := range g.Columns {
		if !g.isFormulaColumn(col) {
			out = append(out, col)
		}
	}
	return out
}
