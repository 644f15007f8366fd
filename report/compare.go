package report

import (
	"fmt"
	"strings"
)

// Comparisons of fine-tuned cells: with the control of the same budget,
// with the same passes without retraining, and distilled students with
// the same students trained alone. All are paired by seed.

// VsControl compares a fine-tuning grid's cells with the control of the
// same budget, per column: the rows where it is above, level with (tie)
// or below the control. It says so when the experiment has no control
// with the grid's budget; it is empty for a post-training grid.
func (s Study) VsControl(g Grid) string {
	var ctrl Cell
	found, ft := false, false
	for _, c := range g.At {
		ft = ft || c.Budget != "" && c.Kind == ""
		if !found {
			ctrl, found = s.controlFor(c)
		}
	}
	switch {
	case g.isControlGrid() || !ft:
		return ""
	case !found:
		return "no fine-tuning without compression with this budget in the experiment, so what the compression-aware training adds over extra training is not measured"
	}
	var parts []string
	for _, col := range g.plainColumns() {
		var above, tie, below []string
		for _, r := range g.Rows {
			c, ok := g.At[[2]string{r, col}]
			if !ok || c.Budget != ctrl.Budget {
				continue
			}
			switch d := Paired(c, ctrl, testAcc); {
			case d.Above():
				above = append(above, r)
			case d.Below():
				below = append(below, r)
			default:
				tie = append(tie, r)
			}
		}
		var p []string
		for _, x := range []struct {
			word string
			rows []string
		}{{"above", above}, {"level (tie)", tie}, {"below", below}} {
			if len(x.rows) > 0 {
				p = append(p, x.word+" at "+g.rowsText(x.rows))
			}
		}
		who := ""
		if len(g.Columns) > 1 {
			who = g.Labels[col] + " "
		}
		parts = append(parts, who+strings.Join(p, ", "))
	}
	return fmt.Sprintf("against fine-tuning without compression (%s): %s", ctrl.Budget, strings.Join(parts, "; "))
}

// controlsText states what each control's fine-tuning alone did.
func (s Study) controlsText() string {
	if len(s.Controls) == 0 {
		return ""
	}
	var p []string
	for _, c := range s.Controls {
		p = append(p, fmt.Sprintf("%s: %s %%, %s pp", c.Budget, pct(c.Acc), c.VsBaseline().short()))
	}
	return "Fine-tuning alone, without compression, moves accuracy — " + strings.Join(p, "; ") +
		" against the baseline: the bar each fine-tuned cell of the same budget is compared with."
}

// ControlDetail lists each fine-tuning cell's paired difference from its
// control, row by row, for the section.
func (s Study) ControlDetail(g Grid) string {
	var ctrl Cell
	found := false
	for _, c := range g.At {
		if ctrl, found = s.controlFor(c); found {
			break
		}
	}
	if !found || g.isControlGrid() {
		return ""
	}
	var p []string
	for _, r := range g.Rows {
		for _, col := range g.plainColumns() {
			if c, ok := g.At[[2]string{r, col}]; ok {
				p = append(p, fmt.Sprintf("%s %s", strings.TrimPrefix(g.CellLabel(r, col), g.Sweep.Name+": "), Paired(c, ctrl, testAcc).short()))
			}
		}
	}
	return "Paired difference from that control (pp, 95 % interval): " + strings.Join(p, "; ")
}

// RetrainGain states, at the grid's most compressed row, what retraining
// added over the same passes without it.
func (g Grid) RetrainGain() string {
	if len(g.Rows) == 0 || g.isControlGrid() {
		return ""
	}
	r := g.Rows[len(g.Rows)-1]
	var p []string
	for _, col := range g.plainColumns() {
		c, ok := g.At[[2]string{r, col}]
		if !ok || c.Budget == "" || c.Kind != "" {
			continue
		}
		who := ""
		if len(g.Columns) > 1 {
			who = g.Labels[col] + " "
		}
		p = append(p, fmt.Sprintf("%s%s %% against %s %%: %s pp", who, pct(c.Acc), pct(c.NoRetrain), c.VsNoRetrain().short()))
	}
	if len(p) == 0 {
		return ""
	}
	return fmt.Sprintf("At %s, retraining against the same passes without it: %s", rowText(g.RowKey, r), strings.Join(p, "; "))
}

// Distillation compares each distilled student with the same student
// trained alone, paired by seed.
func (g Grid) Distillation() string {
	if g.Sweep.Distill == nil {
		return ""
	}
	var tie, above, below []string
	var p []string
	for _, r := range g.Rows {
		d, okD := g.At[[2]string{r, "distilled"}]
		a, okA := g.At[[2]string{r, "alone"}]
		if !okD || !okA {
			continue
		}
		diff := Paired(d, a, testAcc)
		p = append(p, fmt.Sprintf("%s %s", r, diff.short()))
		switch {
		case diff.Above():
			above = append(above, r)
		case diff.Below():
			below = append(below, r)
		default:
			tie = append(tie, r)
		}
	}
	if len(p) == 0 {
		return ""
	}
	var v []string
	if len(above) > 0 {
		v = append(v, "ahead at "+g.rowsText(above))
	}
	if len(tie) > 0 {
		v = append(v, "level (tie) at "+g.rowsText(tie))
	}
	if len(below) > 0 {
		v = append(v, "behind at "+g.rowsText(below))
	}
	set := g.Sweep.Distill.Settings()
	return fmt.Sprintf("distilled (T = %g, α = %g) against the same student alone: %s (paired pp: %s)",
		set.Temperature, set.Alpha, strings.Join(v, ", "), strings.Join(p, "; "))
}
