package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mnistc/robust"
)

// Robustness. When an experiment has a robust: section, every record
// carries the cell's accuracy under attack and corruption (package robust)
// and its seed's float baseline's. The report sets them side by side: one
// table (the baseline and every configuration), each change paired with
// the seed's own baseline and called a tie when its 95 % interval holds 0,
// the configurations whose white-box accuracy rises only because their
// gradients mislead the attack, and plots against bits and keep rate.

// RobustInfo is how a cell's robust figures were measured (from its
// records).
type RobustInfo struct {
	// Images is how many test images each figure used (robust.Result's).
	Images   map[string]int
	PGDSteps int
	PGDStep  float32
	Severity int
	// STE is set when some seed's white-box gradients went through
	// activation quantizers by the straight-through estimator.
	STE bool
}

// add folds one record's result into the info (nil: none yet).
func (ri *RobustInfo) add(r robust.Result) *RobustInfo {
	if ri == nil {
		ri = &RobustInfo{Images: r.Images, PGDSteps: r.PGDSteps, PGDStep: r.PGDStep, Severity: r.Severity}
	}
	ri.STE = ri.STE || r.STE
	return ri
}

// robustFigures flattens a result into name → accuracy, appending each
// value to acc and each new name to order (when not nil).
func robustFigures(r robust.Result, order *[]string, acc map[string][]float64) map[string]float64 {
	m := map[string]float64{}
	for _, c := range r.Columns() {
		m[c.Name] = c.Accuracy
		acc[c.Name] = append(acc[c.Name], c.Accuracy)
		if order != nil && !slices.Contains(*order, c.Name) {
			*order = append(*order, c.Name)
		}
	}
	return m
}

// stats summarises each name's values (nil when there are none).
func stats(m map[string][]float64) map[string]Stat {
	if len(m) == 0 {
		return nil
	}
	out := map[string]Stat{}
	for k, v := range m {
		out[k] = stat(v)
	}
	return out
}

// RobustVsBaseline is the paired change of a robust figure against each
// seed's own float baseline under the same attack, pp.
func (c Cell) RobustVsBaseline(name string) Diff {
	var d []float64
	for _, s := range c.Seeds {
		v := c.bySeed[s]
		a, okA := v.robust[name]
		b, okB := v.baseRobust[name]
		if okA && okB {
			d = append(d, 100*(a-b))
		}
	}
	return diffOf(d)
}

// robustGap is the paired difference a − b of two of the cell's own
// robust figures, pp.
func (c Cell) robustGap(a, b string) Diff {
	var d []float64
	for _, s := range c.Seeds {
		v := c.bySeed[s]
		x, okA := v.robust[a]
		y, okB := v.robust[b]
		if okA && okB {
			d = append(d, 100*(x-y))
		}
	}
	return diffOf(d)
}

// robustView is the experiment's robust figures laid out for the report.
type robustView struct {
	st    Study
	cells []Cell          // with figures, in the report's section order
	base  map[string]Stat // the seeds' float baselines
	names []string        // every figure's name, in robust.Result.Columns order
	eps   []string        // the white-box attacks' ε keys, ascending
	ref   string          // the ε the findings and plots use ("" when none)
	info  RobustInfo
	seeds int
}

// newRobustView gathers the cells that have robust figures; ok is false
// when none has.
func newRobustView(st Study) (v robustView, ok bool) {
	v.st = st
	baseBySeed := map[int64]map[string]float64{}
	var seeds []int64
	for _, g := range st.Grids {
		for _, r := range g.Rows {
			for _, col := range g.Columns {
				c, ok := g.At[[2]string{r, col}]
				if !ok || len(c.Robust) == 0 {
					continue
				}
				v.cells = append(v.cells, c)
				for _, n := range c.robustOrder {
					if !slices.Contains(v.names, n) {
						v.names = append(v.names, n)
					}
				}
				if c.RobustInfo != nil {
					if v.info.Images == nil {
						v.info = *c.RobustInfo
					}
					v.info.STE = v.info.STE || c.RobustInfo.STE
				}
				for _, s := range c.Seeds {
					if b := c.bySeed[s].baseRobust; b != nil && baseBySeed[s] == nil {
						baseBySeed[s] = b
						seeds = append(seeds, s)
					}
				}
			}
		}
	}
	if len(v.cells) == 0 {
		return v, false
	}
	v.seeds = len(seeds)
	acc := map[string][]float64{}
	for _, s := range seeds {
		for k, x := range baseBySeed[s] {
			acc[k] = append(acc[k], x)
		}
	}
	v.base = stats(acc)
	seen := map[string]bool{}
	for _, n := range v.names {
		if a, e, ok := attackEps(n); ok && (a == "fgsm" || a == "pgd") && !seen[e] {
			seen[e] = true
			v.eps = append(v.eps, e)
		}
	}
	sort.Slice(v.eps, func(i, j int) bool { return epsValue(v.eps[i]) < epsValue(v.eps[j]) })
	for _, e := range v.eps {
		if math.Abs(epsValue(e)-0.1) < 1e-6 {
			v.ref = e
		}
	}
	if v.ref == "" && len(v.eps) > 0 {
		v.ref = v.eps[len(v.eps)/2]
	}
	return v, true
}

// attackEps splits a figure name "transfer_pgd_0.1" into its attack and
// ε; ok is false for the clean and corruption figures.
func attackEps(name string) (attack, eps string, ok bool) {
	if strings.HasPrefix(name, "corrupt_") || strings.HasPrefix(name, "clean") {
		return "", "", false
	}
	i := strings.LastIndex(name, "_")
	if i < 0 {
		return "", "", false
	}
	if _, err := strconv.ParseFloat(name[i+1:], 64); err != nil {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func epsValue(e string) float64 {
	x, _ := strconv.ParseFloat(e, 64)
	return x
}

// has reports whether some cell has the figure.
func (v robustView) has(name string) bool { return slices.Contains(v.names, name) }

// transfer is the transfer figure the main table and findings use: PGD
// at the reference ε, else FGSM ("" when there is none).
func (v robustView) transfer() string {
	for _, a := range []string{"transfer_pgd_", "transfer_fgsm_"} {
		if v.has(a + v.ref) {
			return a + v.ref
		}
	}
	return ""
}

// corruptions are the per-corruption figures, in Columns order.
func (v robustView) corruptions() []string {
	var out []string
	for _, n := range v.names {
		if strings.HasPrefix(n, "corrupt_") && n != "corrupt_mean" {
			out = append(out, n)
		}
	}
	return out
}

// mainFigures are the main table's columns: clean, FGSM and PGD at every
// ε, one transfer figure and the corruptions' mean.
func (v robustView) mainFigures() []string {
	var out []string
	if v.has("clean") {
		out = append(out, "clean")
	}
	for _, a := range []string{"fgsm_", "pgd_"} {
		for _, e := range v.eps {
			if v.has(a + e) {
				out = append(out, a+e)
			}
		}
	}
	if t := v.transfer(); t != "" {
		out = append(out, t)
	}
	if v.has("corrupt_mean") {
		out = append(out, "corrupt_mean")
	}
	return out
}

// pgdName is "PGD-40" (the steps the records used).
func (v robustView) pgdName() string {
	if v.info.PGDSteps > 0 {
		return fmt.Sprintf("PGD-%d", v.info.PGDSteps)
	}
	return "PGD"
}

// figureLabel names a figure for a table header: "FGSM ε=0.1",
// "corruptions (mean)", "gaussian noise".
func (v robustView) figureLabel(name string) string {
	switch {
	case name == "clean":
		return "clean"
	case name == "clean_pgd":
		return "clean (PGD images)"
	case name == "corrupt_mean":
		return "corruptions (mean)"
	case strings.HasPrefix(name, "corrupt_"):
		return strings.ReplaceAll(strings.TrimPrefix(name, "corrupt_"), "_", " ")
	}
	a, e, _ := attackEps(name)
	return v.attackName(a) + " ε=" + e
}

// attackName spells an attack: "FGSM", "PGD-40", "transfer PGD-40".
func (v robustView) attackName(a string) string {
	switch a {
	case "fgsm":
		return "FGSM"
	case "pgd":
		return v.pgdName()
	case "transfer_fgsm":
		return "transfer FGSM"
	case "transfer_pgd":
		return "transfer " + v.pgdName()
	}
	return a
}

// figurePhrase names a figure in a sentence: "PGD-40 at ε = 0.1",
// "the corruptions' mean".
func (v robustView) figurePhrase(name string) string {
	switch {
	case name == "corrupt_mean":
		return fmt.Sprintf("the corruptions (mean of %d)", len(v.corruptions()))
	case strings.HasPrefix(name, "corrupt_") || strings.HasPrefix(name, "clean"):
		return v.figureLabel(name)
	}
	a, e, _ := attackEps(name)
	s := v.attackName(a) + " at ε = " + e
	if strings.HasPrefix(a, "transfer_") {
		s += " (crafted on the float baseline)"
	}
	return s
}

// robustRow is one row of a robust table: a label, the figures' stats and
// (for a cell) the paired change of each against the baseline.
type robustRow struct {
	label string
	stat  map[string]Stat
	cell  *Cell
}

func (v robustView) rows() []robustRow {
	out := []robustRow{{label: "float baseline", stat: v.base}}
	for i := range v.cells {
		c := &v.cells[i]
		out = append(out, robustRow{label: v.st.Label(*c), stat: c.Robust, cell: c})
	}
	return out
}

// table renders rows × figures with f.
func robustTable(rows []robustRow, heads []string, names []string, f func(robustRow, string) string) string {
	var b strings.Builder
	b.WriteString("| configuration |")
	for _, h := range heads {
		b.WriteString(" " + escape(h) + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(heads)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + escape(r.label) + " |")
		for _, n := range names {
			b.WriteString(" " + f(r, n) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// meanAndDelta is a main-table cell: accuracy % (mean ± std) and, for a
// configuration, the paired change against its baselines (* where the
// 95 % interval excludes 0).
func meanAndDelta(r robustRow, name string) string {
	s, ok := r.stat[name]
	if !ok || s.N == 0 {
		return "—"
	}
	out := pct(s)
	if r.cell != nil {
		d := r.cell.RobustVsBaseline(name)
		mark := ""
		if d.Known() && !d.Tie() {
			mark = "*"
		}
		if d.N > 0 {
			out += "<br>" + signed(d.Mean) + mark
		}
	}
	return out
}

func (v robustView) heads(names []string) []string {
	h := make([]string, len(names))
	for i, n := range names {
		h[i] = v.figureLabel(n)
	}
	return h
}

// Section is REPORT.md's robustness section: the settings, the main
// table, the findings under it, the per-corruption table and the plots'
// figures (figs, already numbered from firstFig).
func (v robustView) Section(figs []Figure, firstFig int) string {
	var b strings.Builder
	b.WriteString("## Robustness\n\n")
	b.WriteString(v.settings() + "\n\n")
	main := v.mainFigures()
	fmt.Fprintf(&b, "%s\n\n%s\n", v.mainCaption(), robustTable(v.rows(), v.heads(main), main, meanAndDelta))
	b.WriteString("Labels are the sections' (sweep: method, row); each section's legend gives the full spec.\n\n")
	for _, f := range v.findings() {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	b.WriteString("\n")
	if cs := v.corruptions(); len(cs) > 0 {
		names := append(cs, "corrupt_mean")
		fmt.Fprintf(&b, "Under each corruption (severity %d), accuracy %% (mean ± std over %s) and the paired change against each seed's baseline, pp (* where its 95 %% interval excludes 0):\n\n%s\n",
			v.info.Severity, plural(v.seeds, "seed"), robustTable(v.rows(), v.heads(names), names, meanAndDelta))
		if t := v.corruptionText(); t != "" {
			b.WriteString("- " + t + "\n\n")
		}
	}
	for i, f := range figs {
		fmt.Fprintf(&b, "![%s](%s/%s.png)\n\n%s\n\n", f.Name, PlotsDir, f.Name, v.figureCaption(firstFig+i, f))
	}
	return b.String()
}

// settings says how the figures were measured.
func (v robustView) settings() string {
	var p []string
	if len(v.eps) > 0 {
		p = append(p, fmt.Sprintf("Every configuration and each seed's float baseline is attacked as it is evaluated (pruned and quantized weights as stored): "+
			"white-box FGSM and %s (step %g, from a seeded random start), L∞ on pixels in [0, 1], at ε = %s; the transfer columns are the same attacks crafted on the seed's float baseline",
			v.pgdName(), v.info.PGDStep, strings.Join(v.eps, ", ")))
	}
	if cs := v.corruptions(); len(cs) > 0 {
		p = append(p, fmt.Sprintf("%d common corruptions at severity %d (in the spirit of MNIST-C, generated in code from a seed)", len(cs), v.info.Severity))
	}
	var img []string
	var counts []int
	byCount := map[int][]string{}
	for _, k := range []struct{ key, what string }{{"fgsm", "FGSM (white-box and transfer)"}, {"corrupt", "the corruptions"}, {"pgd", "PGD (white-box and transfer)"}} {
		if n := v.info.Images[k.key]; n > 0 {
			if byCount[n] == nil {
				counts = append(counts, n)
			}
			byCount[n] = append(byCount[n], k.what)
		}
	}
	for _, n := range counts {
		w := byCount[n]
		who := strings.Join(w, " and ")
		if len(w) > 2 {
			who = strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
		}
		img = append(img, fmt.Sprintf("%s use the first %d test images", who, n))
	}
	s := strings.Join(p, "; ") + "."
	if len(img) > 0 {
		s += " " + upperFirst(strings.Join(img, ", ")) + "."
	}
	if b, ok := v.base["clean_pgd"]; ok && v.info.Images["pgd"] > 0 && v.info.Images["pgd"] != v.info.Images["clean"] {
		s += fmt.Sprintf(" On the PGD images the baseline's clean accuracy is %s %%.", pct(b))
	}
	if ste := v.steLabels(); len(ste) > 0 {
		s += fmt.Sprintf(" Activation-quantized configurations (%s) were attacked through the straight-through estimator: each quantizer's gradient passes unchanged inside its calibrated range and is zero outside, "+
			"so their white-box figures may overstate robustness; the transfer figures do not depend on their gradients.", strings.Join(ste, "; "))
	}
	return s
}

// steLabels names the configurations attacked through the STE.
func (v robustView) steLabels() []string {
	var out []string
	for _, c := range v.cells {
		if c.RobustInfo != nil && c.RobustInfo.STE {
			out = append(out, v.st.Label(c))
		}
	}
	return out
}

func (v robustView) mainCaption() string {
	s := fmt.Sprintf("Each cell: accuracy %% (mean ± std over %s); second line, the change against each seed's own float baseline under the same attack, pp "+
		"(* where its paired 95 %% t interval excludes 0).", plural(v.seeds, "seed"))
	if t := v.transfer(); t != "" {
		s += " " + upperFirst(v.figureLabel(t)) + ": the adversarial images crafted on each seed's float baseline, scored on the configuration."
	}
	return s
}

// robustItem is one configuration's paired change in a finding; masked
// is set when a white-box rise is contradicted by the transfer attack.
type robustItem struct {
	label  string
	d      Diff
	masked bool
}

// item is c's paired change of figure name, labelled.
func (v robustView) item(c Cell, label, name string) robustItem {
	return robustItem{label, c.RobustVsBaseline(name), c.maskedAt(name)}
}

// maskedAt reports whether a white-box figure rises significantly above
// the baseline's while the same attack crafted on the float baseline
// leaves the configuration no better off than its own gradients do (the
// transfer figure is not significantly above the white-box one).
func (c Cell) maskedAt(name string) bool {
	a, _, ok := attackEps(name)
	if !ok || strings.HasPrefix(a, "transfer_") {
		return false
	}
	if _, ok := c.Robust["transfer_"+name]; !ok {
		return false
	}
	return c.RobustVsBaseline(name).Above() && !c.robustGap("transfer_"+name, name).Above()
}

// verdictText sorts items into more robust, level and less robust:
// "more robust at A (+1.20 [+0.40, +2.00]); level (tie) at B (…); less
// robust at C (…)". Ties are listed with their numbers when ties is set,
// else counted.
func verdictText(items []robustItem, ties bool) string {
	var more, tie, less, mask []robustItem
	for _, it := range items {
		switch {
		case it.masked:
			mask = append(mask, it)
		case it.d.Above():
			more = append(more, it)
		case it.d.Below():
			less = append(less, it)
		default:
			tie = append(tie, it)
		}
	}
	sort.SliceStable(more, func(i, j int) bool { return more[i].d.Mean > more[j].d.Mean })
	sort.SliceStable(less, func(i, j int) bool { return less[i].d.Mean < less[j].d.Mean })
	list := func(its []robustItem) string {
		p := make([]string, len(its))
		for i, it := range its {
			p[i] = fmt.Sprintf("%s (%s)", it.label, it.d.short())
		}
		return strings.Join(p, ", ")
	}
	var p []string
	if len(more) > 0 {
		p = append(p, "more robust: "+list(more))
	}
	if len(less) > 0 {
		p = append(p, "less robust: "+list(less))
	}
	if len(mask) > 0 {
		p = append(p, "higher, but from masked gradients (the transfer attack does as much damage): "+list(mask))
	}
	if len(tie) > 0 {
		if ties {
			p = append(p, "level (tie): "+list(tie))
		} else {
			p = append(p, fmt.Sprintf("level (tie) in the other %d of %d", len(tie), len(items)))
		}
	}
	return strings.Join(p, "; ")
}

// judged reports whether a cell's robust figures can be read as
// robustness: a model near chance is as accurate under attack as clean,
// which says nothing.
func judged(c Cell) bool { return !nearChance(c) }

// keyFigures are the figures the findings judge: PGD and FGSM at the
// reference ε, the corruptions' mean and the transfer figure.
func (v robustView) keyFigures() []string {
	var out []string
	for _, n := range []string{"pgd_" + v.ref, "fgsm_" + v.ref, "corrupt_mean", v.transfer()} {
		if n != "" && v.has(n) {
			out = append(out, n)
		}
	}
	return out
}

// findings are the sentences under the main table: per sweep, each key
// figure's changes against the baseline (ties with their numbers), then
// the configurations whose gains look like masked gradients, and those
// near chance that are not judged.
func (v robustView) findings() []string {
	var out []string
	for i, g := range v.st.Grids {
		var parts []string
		for _, n := range v.keyFigures() {
			var items []robustItem
			for _, r := range g.Rows {
				for _, col := range g.Columns {
					c, ok := g.At[[2]string{r, col}]
					if !ok || len(c.Robust) == 0 || !judged(c) {
						continue
					}
					if it := v.item(c, strings.TrimPrefix(g.CellLabel(r, col), g.Sweep.Name+": "), n); it.d.N > 0 {
						items = append(items, it)
					}
				}
			}
			if len(items) > 0 {
				parts = append(parts, upperFirst(prep(n))+" "+v.figurePhrase(n)+" — "+verdictText(items, true)+".")
			}
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("**%s** (§%d):\n  - %s", g.Sweep.Name, i+1, strings.Join(parts, "\n  - ")))
		}
	}
	out = append(out, v.maskingText()...)
	var chance []string
	for _, c := range v.cells {
		if !judged(c) {
			chance = append(chance, fmt.Sprintf("%s (%s %% clean)", v.st.Label(c), pct(c.Acc)))
		}
	}
	if len(chance) > 0 {
		out = append(out, "Not judged: "+strings.Join(chance, ", ")+" — near chance, a model is about as accurate under attack as clean, which says nothing about robustness.")
	}
	return out
}

// masked is a configuration whose white-box accuracy at some ε rises
// above the baseline's while the attack crafted on the float baseline
// hurts it at least as much as its own gradients do.
type masked struct {
	c          Cell
	attack, e  string
	white, gap Diff // white-box change against the baseline; transfer − white-box
}

// maskedCells finds, per judged configuration, the first (attack, ε) of
// maskChecks whose white-box accuracy rises significantly above the
// baseline's while its transfer accuracy is not significantly above its
// own white-box one.
func (v robustView) maskedCells() []masked {
	var out []masked
	for _, c := range v.cells {
		if !judged(c) {
			continue
		}
		for _, ae := range v.maskChecks() {
			w, t := ae[0]+"_"+ae[1], "transfer_"+ae[0]+"_"+ae[1]
			if _, ok := c.Robust[t]; !ok {
				continue
			}
			if wd, gap := c.RobustVsBaseline(w), c.robustGap(t, w); wd.Above() && !gap.Above() {
				out = append(out, masked{c, ae[0], ae[1], wd, gap})
				break
			}
		}
	}
	return out
}

// maskChecks are the (attack, ε) pairs the masking check tries, in
// order: PGD then FGSM at the reference ε, then at the others.
func (v robustView) maskChecks() [][2]string {
	var out [][2]string
	for _, a := range []string{"pgd", "fgsm"} {
		out = append(out, [2]string{a, v.ref})
	}
	for _, a := range []string{"pgd", "fgsm"} {
		for _, e := range v.eps {
			if e != v.ref {
				out = append(out, [2]string{a, e})
			}
		}
	}
	return out
}

// maskingText states the masked configurations, or that the white-box
// gains hold up under transfer.
func (v robustView) maskingText() []string {
	ms := v.maskedCells()
	if len(ms) == 0 {
		if v.transfer() == "" {
			return nil
		}
		return []string{"No configuration's white-box gain is contradicted by the transfer attack: wherever white-box accuracy rises significantly, the images crafted on the float baseline hurt the configuration less than its own gradients do."}
	}
	var p []string
	steOnly := true
	for _, m := range ms {
		ste := m.c.RobustInfo != nil && m.c.RobustInfo.STE
		steOnly = steOnly && ste
		s := fmt.Sprintf("%s (%s at ε = %s: %s pp against the baseline, yet the transfer attack leaves it %s pp against its own white-box figure", v.st.Label(m.c),
			v.attackName(m.attack), m.e, m.white.short(), m.gap.short())
		if ste {
			s += "; attacked through the straight-through estimator"
		}
		p = append(p, s+")")
	}
	why := "masked gradients rather than robustness: the attack's own gradients find adversarial images less well than a transfer from another model does"
	if steOnly {
		why += " — here through the quantizers' straight-through estimator, whose gradient is zero wherever an activation is clamped"
	}
	return []string{fmt.Sprintf("Gradient masking: white-box accuracy rises but transfer accuracy does not in %s; %s.", strings.Join(p, "; "), why)}
}

// corruptionText names the corruptions where configurations differ most
// from the baseline (significantly), one sentence.
func (v robustView) corruptionText() string {
	type worst struct {
		name string
		it   robustItem
	}
	var w []worst
	for _, n := range v.corruptions() {
		var best robustItem
		found := false
		for _, c := range v.cells {
			if !judged(c) {
				continue
			}
			if d := c.RobustVsBaseline(n); !d.Tie() && (!found || math.Abs(d.Mean) > math.Abs(best.d.Mean)) {
				best, found = robustItem{label: v.st.Label(c), d: d}, true
			}
		}
		if found {
			w = append(w, worst{n, best})
		}
	}
	if len(w) == 0 {
		return "No configuration differs from the baseline under any single corruption beyond the noise."
	}
	sort.SliceStable(w, func(i, j int) bool { return math.Abs(w[i].it.d.Mean) > math.Abs(w[j].it.d.Mean) })
	var p []string
	for _, x := range w[:min(3, len(w))] {
		p = append(p, fmt.Sprintf("%s: %s %s pp", v.figureLabel(x.name), x.it.label, x.it.d.short()))
	}
	return "The largest significant changes under single corruptions — " + strings.Join(p, "; ") + "."
}

// Headline is the robustness findings that open the report: whether
// compression makes the network more or less robust against the
// reference white-box attack and under corruptions, and where, with the
// masked configurations.
func (v robustView) Headline() []string {
	var out []string
	var p []string
	for _, n := range []string{"pgd_" + v.ref, "corrupt_mean"} {
		if !v.has(n) {
			continue
		}
		var items []robustItem
		for _, c := range v.cells {
			if it := v.item(c, v.st.Label(c), n); judged(c) && it.d.N > 0 {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			continue
		}
		phrase := v.figurePhrase(n)
		if b, ok := v.base[n]; ok {
			if strings.HasSuffix(phrase, ")") {
				phrase = strings.TrimSuffix(phrase, ")") + fmt.Sprintf("; baseline %s %%)", pct(b))
			} else {
				phrase += fmt.Sprintf(" (baseline %s %%)", pct(b))
			}
		}
		p = append(p, fmt.Sprintf("%s %s, %s — %s", upperFirst(prep(n)), phrase, robustAnswer(items), verdictText(items, false)))
	}
	if len(p) > 0 {
		out = append(out, "**Robustness**, each configuration against its seed's own float baseline (pp, 95 % interval). "+strings.Join(p, ". ")+".")
	}
	if ms := v.maskedCells(); len(ms) > 0 {
		var l []string
		for _, m := range ms {
			l = append(l, v.st.Label(m.c))
		}
		out = append(out, fmt.Sprintf("Signs of gradient masking in %s: white-box accuracy rises above the baseline's, but the attack crafted on the float baseline does as much damage as the configuration's own gradients, so the gain is not robustness (Robustness section).", strings.Join(l, ", ")))
	}
	if ste := v.steLabels(); len(ste) > 0 {
		out = append(out, fmt.Sprintf("Activation-quantized models (%s) were attacked through the straight-through estimator; their white-box figures are read beside the transfer attack.", strings.Join(ste, ", ")))
	}
	return out
}

// prep is the preposition a figure takes: under corruptions, against an
// attack.
func prep(name string) string {
	if strings.HasPrefix(name, "corrupt_") {
		return "under"
	}
	return "against"
}

// robustAnswer words the overall direction: "compression makes it more
// robust in some places and never less".
func robustAnswer(items []robustItem) string {
	more, less := 0, 0
	for _, it := range items {
		if it.masked {
			continue
		}
		if it.d.Above() {
			more++
		} else if it.d.Below() {
			less++
		}
	}
	switch {
	case more > 0 && less > 0:
		return "compression makes the network more robust in some configurations and less in others"
	case more > 0:
		return "compression makes the network more robust in some configurations and never less"
	case less > 0:
		return "compression makes the network less robust in some configurations and never more"
	}
	return "no configuration differs from the baseline beyond the noise"
}

// Tables is tables.md's robustness section: every figure, one table per
// attack (ε across) and one for the corruptions, each as mean ± std and
// as the paired change with its 95 % interval.
func (v robustView) Tables() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Robustness\n\n%s\n\n", v.settings())
	rows := v.rows()
	ms := func(r robustRow, n string) string {
		if s, ok := r.stat[n]; ok && s.N > 0 {
			return pct(s)
		}
		return "—"
	}
	delta := func(r robustRow, n string) string {
		if r.cell == nil {
			return ""
		}
		if d := r.cell.RobustVsBaseline(n); d.N > 0 {
			return d.short()
		}
		return "—"
	}
	group := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s, accuracy %% (mean ± std over %s).\n\n%s\n", title, plural(v.seeds, "seed"), robustTable(rows, v.heads(names), names, ms))
		fmt.Fprintf(&b, "%s, change against each seed's baseline, pp, with its paired 95 %% t interval.\n\n%s\n", title, robustTable(rows[1:], v.heads(names), names, delta))
	}
	var clean []string
	for _, n := range []string{"clean", "clean_pgd"} {
		if v.has(n) {
			clean = append(clean, n)
		}
	}
	group("Clean", clean)
	for _, a := range []string{"fgsm", "pgd", "transfer_fgsm", "transfer_pgd"} {
		var names []string
		for _, e := range v.eps {
			if v.has(a + "_" + e) {
				names = append(names, a+"_"+e)
			}
		}
		group(upperFirst(v.attackName(a)), names)
	}
	if cs := v.corruptions(); len(cs) > 0 {
		group(fmt.Sprintf("Corruptions (severity %d)", v.info.Severity), append(cs, "corrupt_mean"))
	}
	return b.String()
}
