package experiments

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const checkBase = `name: x
seeds: [1]
train: {epochs: 1}
sweeps:
  - name: q
    rows: bits
    logx: false
    steps:
      - methods: [quantize]
        grid:
          bits: [2, 4]
`

// TestEveryExperimentFileParses: the shipped experiment files pass every
// check, and CellCount (from the grid sizes) equals what expanding gives.
func TestEveryExperimentFileParses(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 3 {
		t.Fatalf("experiment files %v", files)
	}
	for _, f := range files {
		e, err := Load(f)
		if err != nil {
			t.Error(err)
			continue
		}
		n := 0
		for _, s := range e.Sweeps {
			cells, _ := s.Cells()
			if s.CellCount() != len(cells) {
				t.Errorf("%s: sweep %s: CellCount %d, %d cells", f, s.Name, s.CellCount(), len(cells))
			}
			n += len(cells)
		}
		if e.CellCount() != n*len(e.Seeds) {
			t.Errorf("%s: CellCount %d, want %d cells × %d seeds", f, e.CellCount(), n, len(e.Seeds))
		}
	}
}

// TestYAMLMessages: a wrong type or an unknown key is reported with the
// file, the line, the field as the file names it and what it wants — never
// with the decoder's Go type names.
func TestYAMLMessages(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"word for a number", strings.Replace(checkBase, "epochs: 1", "epochs: one", 1), `x.yaml:3: train.epochs: want a whole number, not "one"`},
		{"misspelt key", strings.Replace(checkBase, "epochs: 1", "epoch: 1", 1),
			`x.yaml:3: unknown field "epoch" in train (known: epochs, batch, lr, layers, hidden, val, limit); did you mean "epochs"?`},
		{"word for a rate", strings.Replace(checkBase, "epochs: 1", "lr: fast", 1), `x.yaml:3: train.lr: want a number, not "fast"`},
		{"number for a list", strings.Replace(checkBase, "seeds: [1]", "seeds: 1", 1), `x.yaml:2: seeds: want a list`},
		{"word in a list", strings.Replace(checkBase, "seeds: [1]", "seeds: [1, two]", 1), `x.yaml:2: seeds[1]: want a whole number, not "two"`},
		{"not a bool", strings.Replace(checkBase, "logx: false", "logx: maybe", 1), `x.yaml:7: sweeps[0].logx: want true or false, not "maybe"`},
		{"method not in a list", strings.Replace(checkBase, "methods: [quantize]", "methods: quantize", 1), `x.yaml:9: sweeps[0].steps[0].methods: want a list`},
		{"spec with ': '", strings.Replace(checkBase, "methods: [quantize]", "methods: [quantize: bits=4]", 1),
			`x.yaml:9: sweeps[0].steps[0].methods[0]: want text, not a mapping (a ": " inside a value starts one: quote the value`},
		{"section not a mapping", strings.Replace(checkBase, "train: {epochs: 1}", "train: 5", 1), `x.yaml:3: train: want a mapping`},
		{"budget key", strings.Replace(checkBase, "    logx: false\n", "    finetune: {epoch: 2}\n", 1), `x.yaml:7: unknown field "epoch" in sweeps[0].finetune (known: epochs, batch, lr, from, adversarial)`},
		{"key twice", strings.Replace(checkBase, "seeds: [1]", "seeds: [1]\nseeds: [2]", 1), `x.yaml:3: seeds: given twice (lines 2 and 3)`},
		{"grid key twice", strings.Replace(checkBase, "          bits: [2, 4]\n", "          bits: [2, 4]\n          bits: 8\n", 1), `x.yaml:12: sweeps[0].steps[0].grid.bits: given twice (lines 11 and 12)`},
		{"two documents", checkBase + "---\nname: y\n", `x.yaml:13: a second YAML document (after ---)`},
		{"every mistake, in line order", strings.Replace(strings.Replace(checkBase, "epochs: 1", "epochs: one", 1), "logx: false", "logx: maybe\n    colour: red", 1),
			"x.yaml:3: train.epochs: want a whole number, not \"one\"\nx.yaml:7: sweeps[0].logx: want true or false, not \"maybe\"\nx.yaml:8: unknown field \"colour\" in sweeps[0]"},
	}
	for _, c := range cases {
		_, err := Parse("x.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
			continue
		}
		for _, goName := range []string{"experiments.", "!!", "unmarshal", "int64", "[]"} {
			if strings.Contains(err.Error(), goName) {
				t.Errorf("%s: %q speaks Go (%s)", c.name, err, goName)
			}
		}
	}
}

// TestFlowListSplit: an unquoted spec with a comma in a [flow, list] is
// two items to YAML; the message says so and how to quote it. The same
// spec in a block list, or quoted, is one method.
func TestFlowListSplit(t *testing.T) {
	ft := strings.Replace(strings.Replace(checkBase, "rows: bits", "rows: keep\n    finetune: {epochs: 1}", 1), "bits: [2, 4]", "keep: [0.5, 0.2]", 1)
	split := strings.Replace(ft, "methods: [quantize]", "methods: [prune:scope=global,schedule=gradual]", 1)
	_, err := Parse("x.yaml", []byte(split))
	want := `x.yaml:10: sweeps[0].steps[0]: methods[1]: "schedule=gradual" has no pass name`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `quote it: ["prune:scope=global,schedule=gradual"]`) {
		t.Errorf("split flow list: %v, want %q and how to quote it", err, want)
	}
	var specs [][]string
	for _, ok := range []string{
		strings.Replace(ft, "methods: [quantize]", `methods: ["prune:scope=global,schedule=gradual"]`, 1),
		strings.Replace(ft, "methods: [quantize]", "methods:\n          - prune:scope=global,schedule=gradual", 1),
	} {
		e, err := Parse("x.yaml", []byte(ok))
		if err != nil {
			t.Fatalf("%v in\n%s", err, ok)
		}
		cells, _ := e.Sweeps[0].Cells()
		specs = append(specs, cells[0].Specs)
	}
	if fmt.Sprint(specs[0]) != fmt.Sprint(specs[1]) || !strings.Contains(specs[0][0], "schedule=gradual") {
		t.Errorf("quoted and block-list methods differ: %v", specs)
	}
	// a method without a pass name in a block list gets the plain message
	_, err = Parse("x.yaml", []byte(strings.Replace(checkBase, "methods: [quantize]", "methods:\n          - bits=4", 1)))
	if err == nil || !strings.Contains(err.Error(), `"bits=4" has no pass name`) {
		t.Errorf("method without a pass name: %v", err)
	}
}

// TestNamesNeverPaths: experiment and sweep names that would make a path
// leave the output folder are refused where they are written; any name
// CheckName accepts is one plain path component.
func TestNamesNeverPaths(t *testing.T) {
	for _, bad := range []string{"../escaped", "x/../../../../pwned", "..", ".", ".hidden", "a/b", `a\b`, "a b", "", "c:", "é", strings.Repeat("a", MaxNameLen+1)} {
		text := strings.Replace(checkBase, "name: x", fmt.Sprintf("name: %q", bad), 1)
		if _, err := Parse("x.yaml", []byte(text)); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:1: name: ") {
			t.Errorf("experiment name %q: %v", bad, err)
		}
		text = strings.Replace(checkBase, "name: q", fmt.Sprintf("name: %q", bad), 1)
		if _, err := Parse("x.yaml", []byte(text)); err == nil || !strings.HasPrefix(err.Error(), "x.yaml:5: sweeps[0]: name: ") {
			t.Errorf("sweep name %q: %v", bad, err)
		}
	}
	for _, good := range []string{"article", "lenet300", "clip-std", "a_b.c", "v1.2", "-x", "X9"} {
		if err := CheckName(good); err != nil {
			t.Errorf("name %q refused: %v", good, err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("aZ09-_./\\: ~*?é\x00")
	accepted := 0
	for i := 0; i < 100000; i++ {
		r := make([]rune, rng.Intn(8))
		for j := range r {
			r[j] = alphabet[rng.Intn(len(alphabet))]
		}
		n := string(r)
		if CheckName(n) != nil {
			continue
		}
		accepted++
		out := filepath.Join("results", n)
		if !filepath.IsLocal(n) || filepath.Base(n) != n || filepath.Dir(out) != "results" || strings.HasPrefix(n, ".") || strings.ContainsAny(n, `/\:*?`) {
			t.Fatalf("CheckName accepts %q, which is not one plain path component", n)
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d generated names accepted: the property was hardly tested", accepted)
	}
}

// values lists n distinct keep rates as a YAML flow list.
func keepValues(n int) string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprint(float64(i+1) / float64(n))
	}
	return "[" + strings.Join(v, ", ") + "]"
}

// TestCellCap: a grid of a billion cells is refused from its sizes, before
// anything is expanded (memory stays small); the cap counts cells × seeds.
func TestCellCap(t *testing.T) {
	huge := fmt.Sprintf(`name: huge
seeds: [1]
sweeps:
  - name: big
    rows: keep
    steps:
      - methods: [prune]
        grid: {keep: %s}
      - methods: [clip]
        grid: {threshold: %s}
      - methods: [quantize]
        grid: {delta: %s}
`, keepValues(1000), keepValues(1000), keepValues(1000))
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	_, err := Parse("x.yaml", []byte(huge))
	runtime.ReadMemStats(&m1)
	if err == nil || !strings.Contains(err.Error(), "x.yaml:4: sweeps: 1,000,000,000 cells × 1 seed") || !strings.Contains(err.Error(), "MaxCells") {
		t.Errorf("a billion cells: %v", err)
	}
	if mb := (m1.TotalAlloc - m0.TotalAlloc) >> 20; mb > 64 {
		t.Errorf("refusing a billion cells allocated %d MB: the grid was expanded", mb)
	}
	seeds := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprint(i + 1)
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	grid := fmt.Sprintf("name: cap\nseeds: %%s\nsweeps:\n  - name: p\n    rows: keep\n    steps:\n      - methods: [prune]\n        grid: {keep: %s}\n", keepValues(1000))
	e, err := Parse("x.yaml", []byte(fmt.Sprintf(grid, seeds(MaxCells/1000))))
	if err != nil || e.CellCount() != MaxCells {
		t.Errorf("exactly %d runs: %v, CellCount %d", MaxCells, err, e.CellCount())
	}
	if _, err := Parse("x.yaml", []byte(fmt.Sprintf(grid, seeds(MaxCells/1000+1)))); err == nil || !strings.Contains(err.Error(), "1,000 cells × 101 seeds = 101,000 runs") {
		t.Errorf("one seed over the cap: %v", err)
	}
}

// TestCrossFieldRules: settings that are each valid but fail together
// once the run reaches them are refused when the file is read.
func TestCrossFieldRules(t *testing.T) {
	aq := strings.Replace(strings.Replace(checkBase, "methods: [quantize]", "methods: [actquant]", 1), "train: {epochs: 1}", "train: {epochs: 1, val: 0}", 1)
	ftAQ := strings.Replace(aq, "    logx: false\n", "    finetune: {epochs: 1}\n", 1)
	refused := []struct{ name, text, want string }{
		{"actquant without a validation split", aq, "x.yaml:11: sweeps[0].steps[0]: method \"actquant\" calibrates activation ranges on the validation split, but train.val is 0 (line 3)"},
		{"actquant in the loop without one", ftAQ, "train.val is 0"},
		{"val not below limit", strings.Replace(checkBase, "train: {epochs: 1}", "train: {epochs: 1, limit: 500, val: 500}", 1), "val 500 out of range"},
		{"a layer the network lacks", strings.Replace(checkBase, "methods: [quantize]", `methods: ["quantize:layers=w3"]`, 1), "layers names w3, but the network 784-128-10 has"},
		{"neuron pruning of the output layer", strings.Replace(strings.Replace(checkBase, "methods: [quantize]", `methods: ["prune:method=neuron,layers=w2"]`, 1), "bits: [2, 4]", "keep: [0.5]", 1), "outputs the 10 classes"},
		{"a value twice", strings.Replace(checkBase, "bits: [2, 4]", "bits: [2, 4, 2]", 1), "grid.bits: 2 is listed twice"},
		{"a value twice in another spelling", strings.Replace(checkBase, "bits: [2, 4]", "bits: [2, 4, 2.0]", 1), "are the same chain"},
		{"a method twice", strings.Replace(checkBase, "methods: [quantize]", "methods: [quantize, quantize]", 1), `methods[1]: "quantize" is listed twice`},
		{"an empty grid value", strings.Replace(checkBase, "bits: [2, 4]", "bits:", 1), "grid.bits: empty value"},
	}
	for _, c := range refused {
		if c.name == "neuron pruning of the output layer" {
			c.text = strings.Replace(c.text, "rows: bits", "rows: keep", 1)
		}
		if _, err := Parse("x.yaml", []byte(c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	for _, ok := range []string{
		strings.Replace(checkBase, "train: {epochs: 1}", "train: {epochs: 1, val: 0}", 1), // no activation quantization
		strings.Replace(aq, "val: 0", "val: 1", 1),
		strings.Replace(strings.Replace(checkBase, "methods: [quantize]", `methods: ["quantize:layers=w3"]`, 1), "epochs: 1", "epochs: 1, layers: [300, 100]", 1),
	} {
		if _, err := Parse("x.yaml", []byte(ok)); err != nil {
			t.Errorf("refused: %v\n%s", err, ok)
		}
	}
}

// FuzzParse: no text makes Parse panic, and whatever it accepts can be
// expanded, counted and keyed within the cap.
func FuzzParse(f *testing.F) {
	f.Add([]byte(checkBase))
	for _, name := range []string{"article.yaml", "quick.yaml", "recovery.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("sweeps: [~]\nname: x\nseeds: [1]\n"))
	f.Add([]byte("name: x\nseeds: [1]\nsweeps:\n  - name: q\n    steps: [~]\n"))
	f.Add([]byte("name: &a x\nseeds: [1]\ntrain: {<<: {epochs: 1}}\nsweeps:\n  - name: *a\n    finetune:\n    steps:\n      - methods: [prune]\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Parse("f.yaml", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if n := e.CellCount(); n > MaxCells || n < 1 {
			t.Fatalf("accepted %d runs", n)
		}
		for _, s := range e.Sweeps {
			if _, err := s.Cells(); err != nil {
				t.Fatalf("accepted sweep %s does not expand: %v", s.Name, err)
			}
		}
	})
}

// TestEmptyEntries: an empty sweep, step or optional section is refused
// (a nil entry once crashed validation; finetune: with nothing would
// silently not fine-tune).
func TestEmptyEntries(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{strings.Replace(checkBase, "sweeps:\n", "sweeps:\n  - ~\n", 1), "x.yaml:5: sweeps[0]: empty entry"},
		{strings.Replace(checkBase, "    steps:\n", "    steps:\n      - \n", 1), "x.yaml:9: sweeps[0].steps[0]: empty entry"},
		{strings.Replace(checkBase, "    logx: false\n", "    finetune:\n", 1), "x.yaml:7: sweeps[0].finetune: empty: write finetune: {} for the defaults"},
	} {
		if _, err := Parse("x.yaml", []byte(c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q in\n%s", err, c.want, c.text)
		}
	}
}

// TestAliasBomb: aliases of aliases that expand to a million values are
// refused, not walked.
func TestAliasBomb(t *testing.T) {
	rep := func(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ") }
	bomb := "name: x\nseeds: [1]\nsweeps: [&s {name: a, steps: [&u {methods: [" + rep("q", 100) + "]}, " + rep("*u", 99) + "]}, " + rep("*s", 99) + "]\n"
	_, err := Parse("x.yaml", []byte(bomb))
	if err == nil || !strings.HasPrefix(err.Error(), "x.yaml: ") {
		t.Errorf("alias bomb: %v", err)
	}
}

// TestParseErrorKind: a bad experiment file is an ErrExperiment.
func TestParseErrorKind(t *testing.T) {
	if _, err := Parse("x.yaml", []byte("name: ../escape\n")); !errors.Is(err, ErrExperiment) {
		t.Errorf("%v is not an ErrExperiment", err)
	}
}

// TestYAMLValuesNotSilentlyChanged: a fraction where a whole number goes,
// an empty list entry and a 0 that would silently become the default are
// refused with the field; alpha: 0 is a setting and is kept.
func TestYAMLValuesNotSilentlyChanged(t *testing.T) {
	base := "name: y\ntrain: {epochs: 1, limit: 2000, val: 500}\nseeds: [1]\nsweeps:\n  - name: s\n    steps:\n      - methods: [\"prune:keep=0.5\"]\n"
	for _, c := range []struct{ edit, want string }{
		{"epochs: 1.9", "train.epochs: want a whole number, not 1.9"},
		{"epochs: 0", "train.epochs: 0 is not a setting here"},
		{"epochs: 1, layers: [null, 8]", "train.layers[0]: empty entry"},
		{"epochs: 1, layers: [16.5]", "train.layers[0]: want a whole number, not 16.5"},
		{"epochs: 1, lr: 0", "train.lr: 0 is not a setting here"},
	} {
		text := strings.Replace(base, "epochs: 1", c.edit, 1)
		if _, err := Parse("y.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.edit, err, c.want)
		}
	}
	d := "name: d\ntrain: {epochs: 1, limit: 2000, val: 500}\nseeds: [1]\nsweeps:\n  - name: s\n    distill: {hidden: [4], alpha: 0, temperature: 2}\n"
	e, err := Parse("d.yaml", []byte(d))
	if err != nil {
		t.Fatal(err)
	}
	if set := e.Sweeps[0].Distill.Settings(); set.Alpha != 0 || set.Temperature != 2 {
		t.Errorf("distill settings %+v, want alpha 0 (labels alone), T 2", set)
	}
	if _, err := Parse("d.yaml", []byte(strings.Replace(d, "temperature: 2", "temperature: 0", 1))); err == nil || !strings.Contains(err.Error(), "distill.temperature: 0 is not a setting") {
		t.Errorf("temperature 0: %v", err)
	}
}
