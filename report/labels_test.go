package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsCoverEverySpec: for every experiment file of the repository
// and the synthetic one, each sweep's legend table gives every cell's full
// spec chain under its column's label, labels are unique within a sweep,
// and no label is longer than the column text it replaces.
func TestLabelsCoverEverySpec(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "experiments", "*.yaml"))
	texts := map[string]string{"synthetic": synthYAML}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(f)] = string(b)
	}
	if len(texts) < 2 {
		t.Fatal("no experiment files found in ../experiments")
	}
	for name, text := range texts {
		e, recs := recordsFor(t, text, 1)
		cells := Aggregate(recs)
		for _, s := range e.Sweeps {
			g := NewGrid(s, cells)
			legend := g.LegendTable()
			seen := map[string]string{}
			for _, col := range g.Columns {
				l := g.Labels[col]
				if l == "" || len(l) > len(col) && l != col {
					t.Errorf("%s %s: column %q has label %q", name, s.Name, col, l)
				}
				if other, dup := seen[l]; dup {
					t.Errorf("%s %s: columns %q and %q share the label %q", name, s.Name, other, col, l)
				}
				seen[l] = col
			}
			for k, c := range g.At {
				row := "| " + escape(g.Labels[k[1]]) + " | `" + escape(specTemplate(c, g.RowKey)) + "` |"
				if !strings.Contains(legend, row) {
					t.Errorf("%s %s: the legend lacks %s for %v", name, s.Name, row, c.Specs)
				}
				for _, spec := range c.Specs {
					// the template differs from the spec only at the row key
					tmpl := templateSpec(spec, g.RowKey, c.Point[g.RowKey])
					if strings.ReplaceAll(tmpl, "‹"+g.RowKey+"›", c.Point[g.RowKey]) != spec && !strings.Contains(tmpl, "‹") {
						t.Errorf("%s %s: template %q of %q", name, s.Name, tmpl, spec)
					}
				}
			}
		}
	}
}
