package experiments

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"mnistc/compress"
	"mnistc/model"
	"mnistc/retrain"
)

// Experiment is a parsed, validated experiment file.
type Experiment struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Train       Recipe   `yaml:"train" json:"train"`
	Seeds       []int64  `yaml:"seeds" json:"seeds"`
	Sweeps      []*Sweep `yaml:"sweeps" json:"sweeps"`

	path string
	raw  []byte
}

// Recipe is the training recipe of every baseline (the seed comes from
// Seeds). Zero fields take the article's defaults.
type Recipe struct {
	Epochs int     `yaml:"epochs" json:"epochs"`
	Batch  int     `yaml:"batch" json:"batch"`
	LR     float64 `yaml:"lr" json:"lr"`
	// Layers are the hidden widths ([300, 100] is LeNet-300-100); Hidden
	// is the shorthand for one hidden layer. Neither: the article's [128].
	Layers []int `yaml:"layers" json:"layers,omitempty"`
	Hidden int   `yaml:"hidden" json:"hidden,omitempty"`
	// Val is the validation split (the calibration images), Limit the
	// number of training images read before the split (0: all).
	Val   *int `yaml:"val" json:"val"`
	Limit int  `yaml:"limit" json:"limit,omitempty"`
}

// Sweep is a named grid of cells. Each cell chains one choice from every
// step: a step pairs each of its methods (base pass specs) with each point
// of its grid (a value for every grid key).
type Sweep struct {
	Name string `yaml:"name" json:"name"`
	// Rows names the grid key that indexes the rows of this sweep's table
	// (bits, keep, threshold…); the other varying parts make the columns.
	Rows  string  `yaml:"rows" json:"rows"`
	Title string  `yaml:"title" json:"title,omitempty"`
	LogX  bool    `yaml:"logx" json:"logx,omitempty"`
	Steps []*Step `yaml:"steps" json:"steps"`
	// Finetune, when set, makes each cell a fine-tuning run from the seed's
	// baseline with the cell's passes held in the loop (mnistc finetune),
	// instead of the passes applied after training.
	Finetune *Budget `yaml:"finetune" json:"finetune,omitempty"`
	// Distill, when set, makes the sweep a distillation study instead of a
	// grid of passes (it has no steps): for each student width, a student
	// trained from the seed's baseline (the teacher) and the same student
	// trained alone with the same seed and budget.
	Distill *DistillPlan `yaml:"distill" json:"distill,omitempty"`
	line    int
}

// DistillPlan is a distillation sweep: the students (Hidden: one hidden
// layer of each width; Layers: any depth, e.g. [[300, 100], [64]]), the
// soft-target temperature and weight (Hinton et al.), and the budget.
type DistillPlan struct {
	Hidden      []int   `yaml:"hidden" json:"hidden,omitempty"`
	Layers      [][]int `yaml:"layers" json:"layers,omitempty"`
	Temperature float64 `yaml:"temperature" json:"temperature,omitempty"` // default 4
	Alpha       float64 `yaml:"alpha" json:"alpha,omitempty"`             // default 0.9
	Epochs      int     `yaml:"epochs" json:"epochs,omitempty"`           // default: the recipe's
}

// Students returns every student's hidden widths: Hidden's one-layer
// students, then Layers'.
func (d DistillPlan) Students() [][]int {
	var out [][]int
	for _, k := range d.Hidden {
		out = append(out, []int{k})
	}
	return append(out, d.Layers...)
}

// StudentName is a student's point value and spec argument: its hidden
// widths joined by dashes ("32", "300-100").
func StudentName(layers []int) string {
	s := make([]string, len(layers))
	for i, k := range layers {
		s[i] = fmt.Sprint(k)
	}
	return strings.Join(s, "-")
}

// ParseStudent reads a StudentName back.
func ParseStudent(name string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(name, "-") {
		var k int
		if _, err := fmt.Sscan(f, &k); err != nil {
			return nil, fmt.Errorf("student %q: want widths joined by '-'", name)
		}
		out = append(out, k)
	}
	return out, nil
}

// Settings returns the plan's temperature and weight with their defaults.
func (d DistillPlan) Settings() model.Distill {
	m := model.Distill{Temperature: 4, Alpha: 0.9}
	if d.Temperature != 0 {
		m.Temperature = d.Temperature
	}
	if d.Alpha != 0 {
		m.Alpha = d.Alpha
	}
	return m
}

// Budget is a fine-tuning budget; zero fields take mnistc finetune's
// defaults (5 epochs, batch 32, lr by pass kind).
type Budget struct {
	Epochs int     `yaml:"epochs" json:"epochs,omitempty"`
	Batch  int     `yaml:"batch" json:"batch,omitempty"`
	LR     float64 `yaml:"lr" json:"lr,omitempty"`
	// From is where training starts: "baseline" (the default: fine-tune
	// the seed's trained network) or "scratch" (a fresh network with the
	// passes in the loop from the first step — the article's §4 flow; the
	// budget then defaults to the recipe's epochs and learning rate).
	From string `yaml:"from" json:"from,omitempty"`
}

// Budget starting points.
const (
	FromBaseline = "baseline"
	FromScratch  = "scratch"
)

// Step is one position in a sweep's chains.
type Step struct {
	Methods []string             `yaml:"methods" json:"methods"`
	Grid    map[string]yaml.Node `yaml:"grid" json:"-"`
	line    int
	keys    []string
	values  [][]string
}

// TrainConfig returns the model recipe for one seed.
func (r Recipe) TrainConfig(seed int64) model.TrainConfig {
	c := model.DefaultTrainConfig()
	if r.Epochs > 0 {
		c.Epochs = r.Epochs
	}
	if r.Batch > 0 {
		c.Batch = r.Batch
	}
	if r.LR > 0 {
		c.LR = r.LR
	}
	if len(r.Layers) > 0 {
		c.Layers = append([]int(nil), r.Layers...)
	} else if r.Hidden > 0 {
		c.Layers = []int{r.Hidden}
	}
	c.Seed = seed
	return c
}

// ValImages returns the validation split size (default 5000).
func (r Recipe) ValImages() int {
	if r.Val == nil {
		return 5000
	}
	return *r.Val
}

// Load reads, parses and validates an experiment file: unknown keys,
// wrong types and out-of-range values are errors with the file, line and
// field, found before any work.
func Load(path string) (*Experiment, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", path, err)
	}
	return Parse(path, raw)
}

// Parse parses experiment text; path is used in messages.
func Parse(path string, raw []byte) (*Experiment, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: the experiment file is empty", path)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s:%v", path, cleanYAML(err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	e := &Experiment{path: path, raw: raw}
	if err := dec.Decode(e); err != nil {
		return nil, fmt.Errorf("%s:%v", path, cleanYAML(err))
	}
	lines := sweepLines(&root)
	for i, s := range e.Sweeps {
		if i < len(lines) {
			s.line = lines[i]
		}
	}
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return e, nil
}

// yamlLine matches yaml's "line N: " so messages read file:N: field.
var yamlLine = regexp.MustCompile(`^line (\d+): `)

// cleanYAML turns yaml's messages into "N: what" lines joined by "; ".
func cleanYAML(err error) string {
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "yaml: "), "unmarshal errors:\n")
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, yamlLine.ReplaceAllString(l, "$1: "))
		}
	}
	return strings.Join(parts, "; ")
}

// sweepLines returns the line of each entry of the top-level sweeps list.
func sweepLines(root *yaml.Node) []int {
	if len(root.Content) == 0 {
		return nil
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "sweeps" {
			var out []int
			for _, n := range doc.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

func (e *Experiment) validate() error {
	if e.Name == "" {
		return fmt.Errorf("1: name: missing")
	}
	t := e.Train.TrainConfig(1)
	if err := t.Validate(); err != nil {
		return fmt.Errorf(" train: %v", err)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"epochs", float64(e.Train.Epochs)}, {"batch", float64(e.Train.Batch)}, {"lr", e.Train.LR}, {"hidden", float64(e.Train.Hidden)}, {"limit", float64(e.Train.Limit)}} {
		if f.v < 0 {
			return fmt.Errorf(" train: %s %v must not be negative", f.name, f.v)
		}
	}
	if e.Train.Hidden != 0 && len(e.Train.Layers) > 0 {
		return fmt.Errorf(" train: give layers or hidden (the one-layer shorthand), not both")
	}
	if v := e.Train.ValImages(); v < 0 || (e.Train.Limit > 0 && v >= e.Train.Limit) {
		return fmt.Errorf(" train: val %d out of range: want 0 ≤ val < limit", v)
	}
	if len(e.Seeds) == 0 {
		return fmt.Errorf(" seeds: at least one seed is needed")
	}
	seen := map[int64]bool{}
	for _, s := range e.Seeds {
		if seen[s] {
			return fmt.Errorf(" seeds: %d is listed twice", s)
		}
		seen[s] = true
	}
	if len(e.Sweeps) == 0 {
		return fmt.Errorf(" sweeps: at least one sweep is needed")
	}
	names := map[string]bool{}
	for i, s := range e.Sweeps {
		where := fmt.Sprintf("%d: sweeps[%d] (%s)", s.line, i, s.Name)
		if s.Name == "" || names[s.Name] {
			return fmt.Errorf("%s: name: missing or repeated", where)
		}
		names[s.Name] = true
		if s.Distill != nil {
			if err := s.checkDistill(); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			continue
		}
		if len(s.Steps) == 0 {
			return fmt.Errorf("%s: steps: at least one step is needed", where)
		}
		for j, st := range s.Steps {
			if err := st.resolve(); err != nil {
				return fmt.Errorf("%d: sweeps[%d].steps[%d]: %v", st.lineOr(s.line), i, j, err)
			}
			for _, m := range st.Methods {
				for _, pt := range st.points() {
					if _, err := compress.ParseSpec(withArgs(m, pt)); err != nil {
						return fmt.Errorf("%d: sweeps[%d].steps[%d]: method %q with grid %v: %v", st.lineOr(s.line), i, j, m, pt, err)
					}
				}
			}
		}
		cells, err := s.Cells()
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if err := s.checkCells(cells); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if s.Rows != "" && !s.varies(s.Rows) {
			return fmt.Errorf("%s: rows: %q is not a grid key of any step", where, s.Rows)
		}
	}
	return nil
}

func (st *Step) lineOr(def int) int {
	if st.line > 0 {
		return st.line
	}
	return def
}

// resolve reads the grid's value lists (scalars or lists of scalars).
func (st *Step) resolve() error {
	if len(st.Methods) == 0 {
		return fmt.Errorf("methods: at least one pass spec is needed")
	}
	st.keys, st.values = nil, nil
	for k := range st.Grid {
		st.keys = append(st.keys, k)
	}
	sort.Strings(st.keys)
	for _, k := range st.keys {
		n := st.Grid[k]
		if st.line == 0 || n.Line < st.line {
			st.line = n.Line
		}
		var vals []string
		switch n.Kind {
		case yaml.ScalarNode:
			vals = []string{n.Value}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: grid.%s: want a value or a list of values", c.Line, k)
				}
				vals = append(vals, c.Value)
			}
		default:
			return fmt.Errorf("line %d: grid.%s: want a value or a list of values", n.Line, k)
		}
		if len(vals) == 0 {
			return fmt.Errorf("line %d: grid.%s: empty list", n.Line, k)
		}
		st.values = append(st.values, vals)
	}
	return nil
}

func (s *Sweep) varies(key string) bool {
	for _, st := range s.Steps {
		if _, ok := st.Grid[key]; ok {
			return true
		}
	}
	return false
}

// Cell is one chain of passes of a sweep.
type Cell struct {
	Sweep string   `json:"sweep"`
	Specs []string `json:"specs"` // canonical pass specs, in order
	// Point holds the grid values that chose this cell, by key.
	Point map[string]string `json:"point"`
	// Methods holds the base spec each step's cell came from.
	Methods []string `json:"methods"`
}

// Cells expands the sweep: every method × grid point of each step, chained
// across steps. Every spec is validated with the compress registry.
func (s *Sweep) Cells() ([]Cell, error) {
	if d := s.Distill; d != nil {
		var cells []Cell
		set := d.Settings()
		for _, st := range d.Students() {
			k := StudentName(st)
			pt := map[string]string{"hidden": k}
			cells = append(cells,
				Cell{Sweep: s.Name, Specs: []string{fmt.Sprintf("distill:hidden=%s,temperature=%g,alpha=%g", k, set.Temperature, set.Alpha)},
					Methods: []string{"distilled"}, Point: pt},
				Cell{Sweep: s.Name, Specs: []string{fmt.Sprintf("student:hidden=%s", k)}, Methods: []string{"alone"}, Point: pt})
		}
		return cells, nil
	}
	cells := []Cell{{Sweep: s.Name, Point: map[string]string{}}}
	for j, st := range s.Steps {
		var next []Cell
		for _, m := range st.Methods {
			for _, pt := range st.points() {
				spec, err := compress.ParseSpec(withArgs(m, pt))
				if err != nil {
					return nil, fmt.Errorf("steps[%d]: method %q with %v: %v", j, m, pt, err)
				}
				for _, c := range cells {
					nc := Cell{Sweep: s.Name, Specs: append(append([]string(nil), c.Specs...), spec.String()),
						Methods: append(append([]string(nil), c.Methods...), m), Point: map[string]string{}}
					for k, v := range c.Point {
						nc.Point[k] = v
					}
					for k, v := range pt {
						nc.Point[k] = v
					}
					next = append(next, nc)
				}
			}
		}
		cells = next
	}
	return cells, nil
}

// points lists the grid's cartesian product as key → value maps.
func (st *Step) points() []map[string]string {
	pts := []map[string]string{{}}
	for i, k := range st.keys {
		var next []map[string]string
		for _, p := range pts {
			for _, v := range st.values[i] {
				q := map[string]string{k: v}
				for kk, vv := range p {
					q[kk] = vv
				}
				next = append(next, q)
			}
		}
		pts = next
	}
	return pts
}

// withArgs appends the grid's key=value pairs to a base spec.
func withArgs(base string, pt map[string]string) string {
	keys := make([]string, 0, len(pt))
	for k := range pt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := base
	sep := ","
	if !strings.Contains(base, ":") {
		sep = ":"
	} else if strings.HasSuffix(base, ":") {
		sep = ""
	}
	for _, k := range keys {
		s += sep + k + "=" + pt[k]
		sep = ","
	}
	return s
}

// Raw returns the file's bytes (hashed to detect a results folder made by
// another experiment).
func (e *Experiment) Raw() []byte { return e.raw }

// Path returns the file the experiment was read from.
func (e *Experiment) Path() string { return e.path }

// checkDistill validates a distillation sweep.
func (s *Sweep) checkDistill() error {
	d := s.Distill
	if len(s.Steps) > 0 || s.Finetune != nil {
		return fmt.Errorf("distill: a distillation sweep has no steps and no finetune budget")
	}
	if len(d.Students()) == 0 {
		return fmt.Errorf("distill: hidden or layers: at least one student is needed")
	}
	seen := map[string]bool{}
	for _, st := range d.Students() {
		k := StudentName(st)
		if len(st) == 0 || seen[k] {
			return fmt.Errorf("distill: student %q empty or repeated", k)
		}
		for _, w := range st {
			if w < 1 || w > 4096 {
				return fmt.Errorf("distill: student %s: width %d out of range: want 1–4096", k, w)
			}
		}
		seen[k] = true
	}
	if d.Epochs < 0 {
		return fmt.Errorf("distill: epochs must not be negative")
	}
	if err := d.Settings().Validate(); err != nil {
		return fmt.Errorf("distill: %v", err)
	}
	if s.Rows != "" && s.Rows != "hidden" {
		return fmt.Errorf("rows: a distillation sweep's rows are hidden, not %q", s.Rows)
	}
	s.Rows = "hidden"
	return nil
}

// checkCells validates every cell for how it will run: passes applied to a
// trained checkpoint, or held in the loop when the sweep fine-tunes.
func (s *Sweep) checkCells(cells []Cell) error {
	if f := s.Finetune; f != nil && (f.Epochs < 0 || f.Batch < 0 || f.LR < 0) {
		return fmt.Errorf("finetune: epochs, batch and lr must not be negative")
	}
	if f := s.Finetune; f != nil && f.From != "" && f.From != FromBaseline && f.From != FromScratch {
		return fmt.Errorf("finetune: from %q: want %s or %s", f.From, FromBaseline, FromScratch)
	}
	for _, c := range cells {
		var err error
		if s.Finetune != nil {
			err = retrain.Check(c.Specs)
			if err == nil && s.Finetune.From == FromScratch {
				for _, spec := range c.Specs {
					if strings.HasPrefix(spec, "actquant") {
						err = fmt.Errorf("actquant cannot be trained from scratch: a fresh network has no activation ranges to calibrate (fine-tune from the baseline instead)")
					}
				}
			}
		} else {
			_, err = compress.Build(c.Specs)
		}
		if err != nil {
			return fmt.Errorf("cell %v: %v", c.Specs, err)
		}
	}
	return nil
}
