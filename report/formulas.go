package report

import (
	"fmt"
	"math"
	"strings"
)

// The article's formulas as printed. The formulas and the article's own
// clipping threshold are quotations of the article; every verdict is
// computed from the records.

// articleFormula is one formula of the article and the spec arguments that
// apply it as printed.
type articleFormula struct {
	what, section, formula string
	pass, key, value       string // the spec pass:…key=value… that applies it
	weights                bool   // a weight pass: zero weights say what it did
}

var articleFormulas = []articleFormula{
	{"weight quantization", "§3.2", "w̃ = round(w / 2^(b−1)) · 2^(b−1)", "quantize", "scheme", "literal", true},
	{"pruning", "§3.3", "Θ̃ = (1 − r) · Θ (the sweep's keep value is r)", "prune", "method", "literal", true},
	{"weight clipping", "§3.1", "w̃ = t if |w| > T, else w (t = 0 here)", "clip", "mode", "constant", true},
	{"activation quantization", "§3.4", "ã = round(a / 2^(b−1)) · 2^(b−1)", "actquant", "calib", "literal", false},
}

// articleClipT is the threshold the article's own code uses for clipping.
const articleClipT = 0.5

// specArg returns the value of key in a spec "pass:k=v,…" of pass name.
func specArg(spec, pass, key string) (string, bool) {
	name, args, _ := strings.Cut(spec, ":")
	if name != pass {
		return "", false
	}
	for _, kv := range strings.Split(args, ",") {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v, true
		}
	}
	return "", false
}

// formulaOf returns the article formula a cell applies as printed, if any.
func formulaOf(c Cell) (articleFormula, bool) {
	for _, f := range articleFormulas {
		for _, s := range c.Specs {
			if v, ok := specArg(s, f.pass, f.key); ok && v == f.value {
				return f, true
			}
		}
	}
	return articleFormula{}, false
}

// isFormulaColumn reports whether a grid column applies an article formula.
func (g Grid) isFormulaColumn(col string) bool {
	for _, r := range g.Rows {
		if c, ok := g.At[[2]string{r, col}]; ok {
			_, is := formulaOf(c)
			return is
		}
	}
	return false
}

// nearChance is the accuracy below which a model is called collapsed:
// twice chance (20 % for ten classes).
func nearChance(c Cell) bool {
	k := c.Classes
	if k < 2 {
		k = 10
	}
	return c.Acc.Mean <= 2/float64(k)
}

// FormulaVerdict is the judgement of one article formula on one sweep
// column: what it did to accuracy, row by row, and to the weights.
type FormulaVerdict struct {
	Formula articleFormula
	Where   string // "quantize: literal per-tensor", and the columns identical to it
	Label   string // the first column alone
	Verdict string
	Short   string // a clause for the headline
}

// FormulaVerdicts judges every column of every grid that applies an
// article formula as printed. Columns of one sweep that coincide at every
// row are judged once.
func FormulaVerdicts(grids []Grid) []FormulaVerdict {
	var out []FormulaVerdict
	for _, g := range grids {
		var done []string
		for _, col := range g.Columns {
			if !g.isFormulaColumn(col) {
				continue
			}
			var same []string
			for _, d := range done {
				if g.coincide(col, d) {
					same = append(same, d)
				}
			}
			if len(same) > 0 {
				out[len(out)-1].Where += " = " + g.Labels[col] + " (identical at every " + g.RowKey + ")"
				continue
			}
			done = append(done, col)
			out = append(out, g.formulaVerdict(col))
		}
	}
	return out
}

// coincide reports whether two columns have the same mean accuracy (to
// 0.005 pp) at every row.
func (g Grid) coincide(a, b string) bool {
	for _, r := range g.Rows {
		ca, okA := g.At[[2]string{r, a}]
		cb, okB := g.At[[2]string{r, b}]
		if okA != okB || okA && math.Abs(ca.Acc.Mean-cb.Acc.Mean) > 5e-5 {
			return false
		}
	}
	return true
}

// formulaVerdict judges one column: rows grouped by outcome (near chance,
// within noise of the baseline, significantly below or above it), the
// zeros it leaves in the largest weight tensor, and for clipping with an
// absolute threshold the article's own T against saturation.
func (g Grid) formulaVerdict(col string) FormulaVerdict {
	var f articleFormula
	var chance, lossless, unclear, below, above []string
	var chanceAcc, losslessD []float64
	var belowText, unclearText []string
	for _, r := range g.Rows {
		c, ok := g.At[[2]string{r, col}]
		if !ok {
			continue
		}
		f, _ = formulaOf(c)
		d := c.VsBaseline()
		switch {
		case nearChance(c):
			chance = append(chance, r)
			chanceAcc = append(chanceAcc, 100*c.Acc.Mean)
		case d.Lossless():
			lossless = append(lossless, r)
			losslessD = append(losslessD, d.Mean)
		case d.Tie():
			unclear = append(unclear, r)
			unclearText = append(unclearText, fmt.Sprintf("%s %s", rowText(g.RowKey, r), d))
		case d.Below():
			below = append(below, r)
			belowText = append(belowText, fmt.Sprintf("%s %s %% (%s)", rowText(g.RowKey, r), pct(c.Acc), d))
		default:
			above = append(above, r)
		}
	}
	var parts []string
	if len(chance) > 0 {
		parts = append(parts, fmt.Sprintf("near chance (%s %%) at %s", spanText(chanceAcc, "%.2f"), g.rowsText(chance)))
	}
	if len(lossless) > 0 {
		parts = append(parts, fmt.Sprintf("lossless at %s (Δ %s pp)", g.rowsText(lossless), spanText(losslessD, "%+.2f")))
	}
	if len(unclear) > 0 {
		parts = append(parts, "a tie whose interval still holds losses over 0.5 pp at "+strings.Join(unclearText, ", "))
	}
	if len(below) > 0 {
		if len(below) <= 3 {
			parts = append(parts, "below the baseline at "+strings.Join(belowText, ", "))
		} else {
			parts = append(parts, "below the baseline at "+g.rowsText(below))
		}
	}
	if len(above) > 0 {
		parts = append(parts, "above the baseline at "+g.rowsText(above))
	}
	v := FormulaVerdict{Formula: f, Where: g.Sweep.Name + ": " + g.Labels[col], Label: g.Sweep.Name + ": " + g.Labels[col]}
	v.Verdict = upperFirst(strings.Join(parts, "; ")) + "."
	if f.weights {
		if z := g.zerosText(col); z != "" {
			v.Verdict += " " + z + "."
		}
	}
	v.Short = strings.Join(parts, "; ")
	if f.pass == "clip" && g.RowKey == "threshold" {
		if s := g.ownThreshold(col); s != "" {
			v.Verdict += " " + upperFirst(s) + "."
			v.Short = s
		}
	}
	return v
}

// zerosText says what share of the largest weight tensor a column's
// cells leave zero, grouping consecutive rows with the same share.
func (g Grid) zerosText(col string) string {
	type run struct {
		share float64
		rows  []string
	}
	var runs []run
	name := ""
	for _, r := range g.Rows {
		c, ok := g.At[[2]string{r, col}]
		if !ok || len(c.Sparsity) == 0 {
			continue
		}
		i := largestWeight(c)
		name = c.Weights[i]
		s := math.Round(1000*c.Sparsity[i]) / 10
		if n := len(runs); n > 0 && runs[n-1].share == s {
			runs[n-1].rows = append(runs[n-1].rows, r)
			continue
		}
		runs = append(runs, run{share: s, rows: []string{r}})
	}
	if len(runs) == 0 {
		return ""
	}
	if len(runs) == 1 {
		return fmt.Sprintf("%s is %.1f %% zeros at every %s", name, runs[0].share, g.RowKey)
	}
	var p []string
	for _, r := range runs {
		p = append(p, fmt.Sprintf("%.1f %% at %s", r.share, g.rowsText(r.rows)))
	}
	return fmt.Sprintf("Zeros in %s: %s", name, strings.Join(p, ", "))
}

// largestWeight is the index of the cell's weight tensor with the most
// entries (by its shape in the packed file, else the first).
func largestWeight(c Cell) int {
	best, n := 0, 0
	for i, w := range c.Weights {
		for _, l := range c.Layers {
			if l.Name == w && len(l.Shape) > 0 {
				m := 1
				for _, d := range l.Shape {
					m *= d
				}
				if m > n {
					best, n = i, m
				}
			}
		}
	}
	return best
}

// ownThreshold compares the article's own clipping threshold in a column
// with saturation at the same threshold, when the sweep has both.
func (g Grid) ownThreshold(col string) string {
	row := ""
	for _, r := range g.Rows {
		if sameNumber(r, fmt.Sprint(articleClipT)) {
			row = r
		}
	}
	c, ok := g.At[[2]string{row, col}]
	if row == "" || !ok {
		return ""
	}
	s := fmt.Sprintf("at the article's own T = %g: %s %% (%s against the baseline)", articleClipT, pct(c.Acc), c.VsBaseline())
	for _, other := range g.Columns {
		o, ok := g.At[[2]string{row, other}]
		if other == col || !ok || g.isFormulaColumn(other) {
			continue
		}
		s += fmt.Sprintf("; %s at the same T: %s %% (%s)", g.Labels[other], pct(o.Acc), Paired(o, c, testAcc))
	}
	return s
}

// spanText prints the range of v: "9.74" or "9.74–13.47".
func spanText(v []float64, format string) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	f := func(x float64) string {
		if format == "%+.2f" {
			return signed(x)
		}
		return fmt.Sprintf(format, x)
	}
	a, b := f(lo), f(hi)
	if a == b {
		return a
	}
	if strings.ContainsAny(a+b, "+-") {
		return a + " to " + b
	}
	return a + "–" + b
}

// rowsText names rows of a grid: "bits = 16, 8, 6" or, for four or more
// rows that follow each other in the grid, "bits = 16 … 2".
func (g Grid) rowsText(rows []string) string {
	if len(rows) == 0 {
		return ""
	}
	key := g.RowKey
	if len(rows) >= 4 && g.consecutive(rows) {
		return fmt.Sprintf("%s = %s … %s", key, rows[0], rows[len(rows)-1])
	}
	return fmt.Sprintf("%s = %s", key, strings.Join(rows, ", "))
}

// consecutive reports whether rows are a run of the grid's rows in order.
func (g Grid) consecutive(rows []string) bool {
	start := -1
	for i, r := range g.Rows {
		if r == rows[0] {
			start = i
		}
	}
	if start < 0 || start+len(rows) > len(g.Rows) {
		return false
	}
	for i, r := range rows {
		if g.Rows[start+i] != r {
			return false
		}
	}
	return true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// FormulaTable renders the verdicts: the formula as the article prints
// it, the sweep column that applies it, and what the records show.
func FormulaTable(vs []FormulaVerdict) string {
	if len(vs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| the article's formula, as printed | applied in | verdict from the records |\n|---|---|---|\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "| %s (%s): %s | %s | %s |\n", v.Formula.what, v.Formula.section, escape(v.Formula.formula), escape(v.Where), escape(v.Verdict))
	}
	return b.String()
}
