package report

import (
	"sort"
	"strconv"
	"strings"

	"mnistc/compress"
)

// Short labels. A sweep's columns differ in a few arguments of their
// methods and grid values (scheme=kmeans, granularity=channel); a column's
// label is those differing values alone ("k-means per-channel"), and the
// section's legend table maps each label back to its full spec.

// stepKey is an argument's key within one step of a chain.
type stepKey struct {
	step int
	key  string
}

// labelPart is one argument of a column: which step of the chain it
// belongs to, its key and its value ("" when the column lacks it).
type labelPart struct {
	step       int
	key, value string
	point      bool // a grid value rather than a method argument
}

// words spells common argument values the way a reader says them.
var words = map[string]string{
	"tensor": "per-tensor", "channel": "per-channel", "kmeans": "k-means", "mse": "MSE", "minmax": "min-max",
	"layer": "per-layer", "oneshot": "one-shot", "nearest": "RTN", "adaround": "AdaRound",
}

// hiddenKeys are arguments that never tell columns apart for a reader.
var hiddenKeys = map[string]bool{"seed": true, "layers": true}

// columnParts lists a column's arguments: each step's pass name (key
// "pass") and method arguments, then its grid values other than rowKey.
func columnParts(c Cell, rowKey string) []labelPart {
	var out []labelPart
	for j, m := range c.Methods {
		name, args, _ := strings.Cut(m, ":")
		out = append(out, labelPart{step: j, key: "pass", value: name})
		if args == "" {
			continue
		}
		for _, kv := range strings.Split(args, ",") {
			k, v, _ := strings.Cut(kv, "=")
			out = append(out, labelPart{step: j, key: k, value: v})
		}
	}
	for _, k := range sortedKeys(c.Point) {
		if k != rowKey {
			out = append(out, labelPart{step: len(c.Methods), key: k, value: c.Point[k], point: true})
		}
	}
	return out
}

// renderPart spells one argument: a number with its key ("4-bit",
// "keep=0.5"), a word alone ("k-means").
func renderPart(p labelPart) string {
	if p.key == "correct" { // correct=none says nothing; correct=bias is bias correction
		return map[string]string{"none": "", "bias": "bias-corr."}[p.value]
	}
	if _, err := strconv.ParseFloat(p.value, 64); err == nil || strings.ContainsAny(p.value, ":/") {
		if p.key == "bits" {
			return p.value + "-bit"
		}
		return p.key + "=" + p.value
	}
	if w, ok := words[p.value]; ok {
		return w
	}
	return p.value
}

// implied are values left out of a label when their step says something
// else: symmetric quantization is the default scheme that "min-max" and
// "MSE" ranges imply.
var implied = map[string]bool{"symmetric": true}

// columnLabels gives each column of a grid a short label: the arguments
// whose values differ between its columns. A sweep of one column is
// labelled by its passes ("prune+quantize"). Labels are unique; where the
// rule cannot make them so, the column's full text is kept.
func columnLabels(g Grid) map[string]string {
	parts := map[string][]labelPart{}
	for _, col := range g.Columns {
		for _, r := range g.Rows {
			if c, ok := g.At[[2]string{r, col}]; ok {
				parts[col] = columnParts(c, g.RowKey)
				break
			}
		}
	}
	// which (step, key) pairs differ between columns
	type sk = stepKey
	values := map[sk]map[string]bool{}
	var order []sk
	for _, col := range g.Columns {
		for _, p := range parts[col] {
			k := sk{p.step, p.key}
			if values[k] == nil {
				values[k] = map[string]bool{}
				order = append(order, k)
			}
			values[k][p.value] = true
		}
	}
	varies := map[sk]bool{}
	for _, k := range order {
		n := 0
		for _, col := range g.Columns {
			found := false
			for _, p := range parts[col] {
				found = found || (p.step == k.step && p.key == k.key)
			}
			if !found {
				n++ // absent in this column: a value of its own
			}
		}
		varies[k] = len(values[k])+min(n, 1) > 1 && !hiddenKeys[k.key]
	}
	label := func(col string, drop bool) string {
		var words []string
		ps := withDefaults(parts[col], varies)
		for _, p := range ps {
			if !varies[sk{p.step, p.key}] || drop && implied[p.value] && stepSays(ps, p, varies) {
				continue
			}
			if w := renderPart(p); w != "" {
				words = append(words, w)
			}
		}
		return strings.Join(words, " ")
	}
	out := map[string]string{}
	for _, drop := range []bool{true, false} {
		seen := map[string]bool{}
		unique := true
		for _, col := range g.Columns {
			l := label(col, drop)
			if l == "" {
				l = passNames(parts[col])
			}
			unique = unique && !seen[l]
			seen[l] = true
			out[col] = l
		}
		if unique {
			return out
		}
	}
	for _, col := range g.Columns {
		out[col] = col
	}
	return out
}

// withDefaults gives a step of a column that has none of the differing
// arguments the defaults of those it lacks, when they are words (a column
// of plain "quantize" beside "quantize:scheme=literal" is the default
// scheme, symmetric). A step that says something already is left alone:
// what it lacks does not apply to it (k-means has no range). Numeric
// defaults are left out: they would name a value the pass may not use.
func withDefaults(ps []labelPart, varies map[stepKey]bool) []labelPart {
	out := append([]labelPart(nil), ps...)
	says := map[int]bool{}
	for _, p := range ps {
		says[p.step] = says[p.step] || p.key != "pass" && varies[stepKey{p.step, p.key}]
	}
	keys := make([]stepKey, 0, len(varies))
	for k := range varies {
		keys = append(keys, k)
	}
	// in a fixed order: labels must not depend on map iteration
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].step != keys[j].step {
			return keys[i].step < keys[j].step
		}
		return keys[i].key < keys[j].key
	})
	for _, k := range keys {
		v := varies[k]
		if !v || says[k.step] {
			continue
		}
		has, pass := false, ""
		for _, p := range ps {
			has = has || p.step == k.step && p.key == k.key
			if p.step == k.step && p.key == "pass" {
				pass = p.value
			}
		}
		d, ok := passDefaults[pass+"."+k.key]
		if _, err := strconv.ParseFloat(d, 64); has || !ok || d == "" || err == nil {
			continue
		}
		out = append(out, labelPart{step: k.step, key: k.key, value: d})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].step < out[j].step })
	return out
}

// passDefaults holds each pass argument's default, from the registry.
var passDefaults = func() map[string]string {
	m := map[string]string{}
	for _, d := range compress.Registry() {
		for _, p := range d.Params {
			m[d.Name+"."+p.Key] = p.Default
		}
	}
	return m
}()

// stepSays reports whether p's step has another argument that tells the
// columns apart.
func stepSays(ps []labelPart, p labelPart, varies map[stepKey]bool) bool {
	for _, q := range ps {
		if q.step == p.step && q.key != p.key && q.key != "pass" && varies[stepKey{q.step, q.key}] {
			return true
		}
	}
	return false
}

// passNames joins a column's pass names: "prune+quantize".
func passNames(ps []labelPart) string {
	var n []string
	for _, p := range ps {
		if p.key == "pass" {
			n = append(n, p.value)
		}
	}
	return strings.Join(n, "+")
}

// rowText spells a row of a grid: "4-bit", "keep=0.05".
func rowText(rowKey, row string) string {
	return renderPart(labelPart{key: rowKey, value: row, point: true})
}

// CellLabel names a cell across the report: its sweep, its column's label
// (left out when the sweep has one column) and its row: "quantize: k-means
// per-tensor, 4-bit".
func (g Grid) CellLabel(row, col string) string {
	var parts []string
	if len(g.Columns) > 1 {
		parts = append(parts, g.Labels[col])
	}
	if g.RowKey != "" {
		parts = append(parts, rowText(g.RowKey, row))
	}
	if len(parts) == 0 {
		return g.Sweep.Name
	}
	return g.Sweep.Name + ": " + strings.Join(parts, ", ")
}

// specTemplate is a column's chain of canonical specs with the row key's
// value replaced by ‹key›: the full definition behind a short label.
func specTemplate(c Cell, rowKey string) string {
	var out []string
	for j, s := range c.Specs {
		// a step whose method sets the key itself keeps it: the grid's
		// value went to another step
		if j < len(c.Methods) {
			if _, ok := specArg(c.Methods[j], strings.SplitN(c.Methods[j], ":", 2)[0], rowKey); ok {
				out = append(out, s)
				continue
			}
		}
		out = append(out, templateSpec(s, rowKey, c.Point[rowKey]))
	}
	return strings.Join(out, " → ")
}

// templateSpec replaces key=value in one spec by key=‹key›, whether the
// canonical spec spells the value as the grid did or not.
func templateSpec(spec, key, value string) string {
	if key == "" {
		return spec
	}
	name, args, ok := strings.Cut(spec, ":")
	if !ok {
		return spec
	}
	kvs := strings.Split(args, ",")
	for i, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == key && (v == value || sameNumber(v, value)) {
			kvs[i] = k + "=‹" + key + "›"
		}
	}
	return name + ":" + strings.Join(kvs, ",")
}

func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

// LegendTable maps each column's short label to its full spec chain.
func (g Grid) LegendTable() string {
	var b strings.Builder
	key := "the row's value"
	if g.RowKey != "" {
		key = "‹" + g.RowKey + "› is the row's value"
	}
	b.WriteString("| label | full spec (" + key + ") |\n|---|---|\n")
	for _, col := range g.Columns {
		for _, r := range g.Rows {
			if c, ok := g.At[[2]string{r, col}]; ok {
				b.WriteString("| " + escape(g.Labels[col]) + " | `" + escape(specTemplate(c, g.RowKey)) + "` |\n")
				break
			}
		}
	}
	return b.String()
}
