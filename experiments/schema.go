package experiments

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mnistc/internal/errkind"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"mnistc/compress"
	"mnistc/model"
	"mnistc/retrain"
	"mnistc/search"
)

// Experiment is a parsed, validated experiment file.
type Experiment struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Train       Recipe   `yaml:"train" json:"train"`
	Seeds       []int64  `yaml:"seeds" json:"seeds"`
	Sweeps      []*Sweep `yaml:"sweeps" json:"sweeps"`
	// Literature holds published results the report sets beside this
	// experiment's own: citations typed into the file, never computed.
	Literature []Reference `yaml:"literature" json:"literature,omitempty"`
	// Robust, when set, also measures every cell's and baseline's accuracy
	// under adversarial attack and common corruptions.
	Robust *RobustPlan `yaml:"robust" json:"robust,omitempty"`

	path string
	raw  []byte
	// lines of name, train, train.val, seeds and sweeps, for messages
	nameLine, trainLine, valLine, seedsLine, sweepsLine int
}

// Reference is one published result: its source, the test error of the
// uncompressed and the compressed network (%), the share of weights kept
// and the bits per kept weight of each layer (w1 first), the compression
// ratio it reports, and the sweep of this experiment to set beside it.
type Reference struct {
	Source      string    `yaml:"source" json:"source"`
	Method      string    `yaml:"method" json:"method"`
	ErrorBefore float64   `yaml:"error_before" json:"error_before"`
	ErrorAfter  float64   `yaml:"error_after" json:"error_after"`
	Kept        []float64 `yaml:"kept" json:"kept,omitempty"`
	Bits        []float64 `yaml:"bits" json:"bits,omitempty"`
	Ratio       float64   `yaml:"ratio" json:"ratio"`
	Compare     string    `yaml:"compare" json:"compare"`
}

// checkReference validates a literature entry against the sweeps.
func (e *Experiment) checkReference(i int, r Reference) error {
	where := fmt.Sprintf("literature[%d]", i)
	if strings.TrimSpace(r.Source) == "" {
		return fmt.Errorf("%s: source: missing", where)
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{"error_before", r.ErrorBefore}, {"error_after", r.ErrorAfter}} {
		if !(v.x >= 0 && v.x <= 100) {
			return fmt.Errorf("%s: %s %v: want a test error in %% (0–100)", where, v.name, v.x)
		}
	}
	for _, k := range r.Kept {
		if !(k > 0 && k <= 100) {
			return fmt.Errorf("%s: kept %v: want percentages in (0, 100]", where, r.Kept)
		}
	}
	for _, b := range r.Bits {
		if !(b > 0 && b <= 32) {
			return fmt.Errorf("%s: bits %v: want bits per weight in (0, 32]", where, r.Bits)
		}
	}
	if !(r.Ratio >= 1) {
		return fmt.Errorf("%s: ratio %v: want ≥ 1", where, r.Ratio)
	}
	for _, s := range e.Sweeps {
		if s != nil && s.Name == r.Compare {
			return nil
		}
	}
	return fmt.Errorf("%s: compare %q: not a sweep of this experiment", where, r.Compare)
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
	// Search, when set, makes the sweep run mnistc search from each
	// seed's baseline (it has no steps): one cell per budget.
	Search *SearchPlan `yaml:"search" json:"search,omitempty"`
	// Sensitivity, when set, makes the sweep a per-layer sensitivity
	// analysis (search.Sensitivity's passes, each layer alone, the rest
	// untouched): its steps are generated, one method per weight layer.
	Sensitivity *SensitivityPlan `yaml:"sensitivity" json:"sensitivity,omitempty"`
	line        int
}

// SearchPlan is a search sweep: mnistc search at each budget, from every
// seed's baseline, with the seed as the search's seed. Zero fields take
// search.DefaultOptions (guard 1, 10 epochs per trial, 30 trials,
// distillation from the baseline at T 2, α 0.5).
type SearchPlan struct {
	MaxDrop []float64 `yaml:"max_drop" json:"max_drop"`
	Guard   *float64  `yaml:"guard" json:"guard,omitempty"`
	Epochs  int       `yaml:"epochs" json:"epochs,omitempty"`
	Trials  int       `yaml:"trials" json:"trials,omitempty"`
	// Distill false fine-tunes the trials on the labels alone.
	Distill *bool `yaml:"distill" json:"distill,omitempty"`
}

// Options returns the search options of the plan at one budget and seed.
func (p SearchPlan) Options(maxDrop float64, seed int64) search.Options {
	o := search.DefaultOptions()
	o.MaxDrop, o.Seed = maxDrop, seed
	if p.Guard != nil {
		o.Guard = *p.Guard
	}
	if p.Epochs > 0 {
		o.Epochs = p.Epochs
	}
	if p.Trials > 0 {
		o.Trials = p.Trials
	}
	if p.Distill != nil && !*p.Distill {
		o.Distill = nil
	}
	return o
}

// SearchSpec is the cell spec of a search at one budget: every option
// that changes its result, so the cell's key changes with any of them.
func SearchSpec(o search.Options) string {
	kd := "none"
	if o.Distill != nil {
		kd = fmt.Sprintf("%g/%g", o.Distill.Temperature, o.Distill.Alpha)
	}
	return fmt.Sprintf("search:max_drop=%g,guard=%g,epochs=%d,trials=%d,distill=%s", o.MaxDrop, o.Guard, o.Epochs, o.Trials, kd)
}

// SensitivityPlan is a sensitivity sweep: Kind keep (magnitude pruning),
// bits (symmetric per-channel quantization) or units (neuron pruning of a
// hidden layer), over Values (default: search.DefaultSensitivity's).
type SensitivityPlan struct {
	Kind   string    `yaml:"kind" json:"kind"`
	Values []float64 `yaml:"values" json:"values,omitempty"`
}

// DistillPlan is a distillation sweep: the students (Hidden: one hidden
// layer of each width; Layers: any depth, e.g. [[300, 100], [64]]), the
// soft-target temperature and weight (Hinton et al.), and the budget.
type DistillPlan struct {
	Hidden      []int    `yaml:"hidden" json:"hidden,omitempty"`
	Layers      [][]int  `yaml:"layers" json:"layers,omitempty"`
	Temperature float64  `yaml:"temperature" json:"temperature,omitempty"` // default 4
	Alpha       *float64 `yaml:"alpha" json:"alpha,omitempty"`             // default 0.9; 0 is the labels alone
	Epochs      int      `yaml:"epochs" json:"epochs,omitempty"`           // default: the recipe's
	// Jitter and Schedule apply to both students (distilled and alone):
	// random whole-pixel shifts of the training images up to Jitter
	// pixels, and the learning-rate schedule ("constant" or "cosine").
	Jitter   int    `yaml:"jitter" json:"jitter,omitempty"`
	Schedule string `yaml:"schedule" json:"schedule,omitempty"`
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
	if d.Alpha != nil {
		m.Alpha = *d.Alpha
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
	// Adversarial, when set, fine-tunes on adversarial examples too
	// (a fraction mix of each batch replaced by FGSM or PGD images at ε).
	Adversarial *model.Adversarial `yaml:"adversarial" json:"adversarial,omitempty"`
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
	line    int                  // the first grid key's
	at      int                  // the step's
	// methodsNode is the methods list as parsed: its items' lines, and
	// whether it was a [flow, list] (which splits an unquoted spec at commas)
	methodsNode *yaml.Node
	keys        []string
	values      [][]string
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
	e, err := parse(path, raw)
	return e, errkind.Wrap(ErrExperiment, err)
}

// ErrExperiment marks every error Parse (and Load) gives for an experiment
// file that cannot run: errors.Is(err, experiments.ErrExperiment).
var ErrExperiment = errors.New("invalid experiment file")

func parse(path string, raw []byte) (*Experiment, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: the experiment file is empty", path)
	}
	var root yaml.Node
	docs := yaml.NewDecoder(bytes.NewReader(raw))
	if err := docs.Decode(&root); errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the experiment file holds no YAML (only comments?)", path)
	} else if err != nil {
		return nil, yamlError(path, err)
	}
	var next yaml.Node
	if err := docs.Decode(&next); err == nil {
		return nil, fmt.Errorf("%s:%d: a second YAML document (after ---): an experiment file holds one", path, max(next.Line, firstLine(&next)))
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	if errs := checkShape(&root, reflect.TypeOf(Experiment{})); len(errs) > 0 {
		return nil, fmt.Errorf("%s:%s", path, strings.Join(errs, "\n"+path+":"))
	}
	// the shape is right, so the decoder's own messages are a last resort
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	e := &Experiment{path: path, raw: raw}
	if err := dec.Decode(e); err != nil {
		return nil, yamlError(path, err)
	}
	e.locate(&root)
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return e, nil
}

// yamlError is a decoder error as "file:N: what" (or "file: what" when
// the decoder names no line).
func yamlError(path string, err error) error {
	msg := cleanYAML(err)
	if msg != "" && msg[0] >= '0' && msg[0] <= '9' {
		return fmt.Errorf("%s:%s", path, msg)
	}
	return fmt.Errorf("%s: %s", path, msg)
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

// firstLine is the line of a document's first node (0 if empty).
func firstLine(n *yaml.Node) int {
	if len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return 0
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	n = deref(n)
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = deref(n.Content[0])
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// items returns the entries of sequence n (nil if n is not one).
func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

// locate records the lines of the name, of train.val, of each sweep and
// step, and each step's methods node, for messages.
func (e *Experiment) locate(root *yaml.Node) {
	if n := child(root, "name"); n != nil {
		e.nameLine = n.Line
	}
	if n := child(child(root, "train"), "val"); n != nil {
		e.valLine = n.Line
	}
	for _, f := range []struct {
		key  string
		line *int
	}{{"train", &e.trainLine}, {"seeds", &e.seedsLine}, {"sweeps", &e.sweepsLine}} {
		if n := child(root, f.key); n != nil {
			*f.line = n.Line
		}
	}
	sweeps := items(child(root, "sweeps"))
	for i, s := range e.Sweeps {
		if i >= len(sweeps) {
			break
		}
		s.line = sweeps[i].Line
		steps := items(child(sweeps[i], "steps"))
		for j, st := range s.Steps {
			if j < len(steps) {
				st.at = steps[j].Line
				st.methodsNode = child(steps[j], "methods")
			}
		}
	}
}

func (e *Experiment) validate() error {
	if err := CheckName(e.Name); err != nil {
		return fmt.Errorf("%d: name: %v", max(1, e.nameLine), err)
	}
	t := e.Train.TrainConfig(1)
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%d: train: %v", max(1, e.trainLine), err)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"epochs", float64(e.Train.Epochs)}, {"batch", float64(e.Train.Batch)}, {"lr", e.Train.LR}, {"hidden", float64(e.Train.Hidden)}, {"limit", float64(e.Train.Limit)}} {
		if f.v < 0 {
			return fmt.Errorf("%d: train: %s %v must not be negative", max(1, e.trainLine), f.name, f.v)
		}
	}
	if e.Train.Hidden != 0 && len(e.Train.Layers) > 0 {
		return fmt.Errorf("%d: train: give layers or hidden (the one-layer shorthand), not both", max(1, e.trainLine))
	}
	if v := e.Train.ValImages(); v < 0 || (e.Train.Limit > 0 && v >= e.Train.Limit) {
		return fmt.Errorf("%d: train: val %d out of range: want 0 ≤ val < limit", max(1, e.trainLine), v)
	}
	if len(e.Seeds) == 0 {
		return fmt.Errorf("%d: seeds: at least one seed is needed", max(1, e.seedsLine))
	}
	seen := map[int64]bool{}
	for _, s := range e.Seeds {
		if seen[s] {
			return fmt.Errorf("%d: seeds: %d is listed twice", max(1, e.seedsLine), s)
		}
		seen[s] = true
	}
	if len(e.Sweeps) == 0 {
		return fmt.Errorf("%d: sweeps: at least one sweep is needed", max(1, e.sweepsLine))
	}
	// First what is cheap: names, the shape of every step and the grid
	// sizes, so a grid of millions of cells is refused before it is expanded.
	names := map[string]bool{}
	for i, s := range e.Sweeps {
		where := fmt.Sprintf("%d: sweeps[%d] (%s)", s.line, i, s.Name)
		if err := CheckName(s.Name); err != nil {
			return fmt.Errorf("%d: sweeps[%d]: name: %v", s.line, i, err)
		}
		if names[s.Name] {
			return fmt.Errorf("%s: name: %q names an earlier sweep too", where, s.Name)
		}
		names[s.Name] = true
		if s.Distill != nil {
			if err := s.checkDistill(); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			continue
		}
		if s.Search != nil {
			if err := s.checkSearch(); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			continue
		}
		if s.Sensitivity != nil {
			if err := s.expandSensitivity(len(t.Layers) + 1); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
		}
		if len(s.Steps) == 0 {
			return fmt.Errorf("%s: steps: at least one step is needed", where)
		}
		for j, st := range s.Steps {
			if err := st.resolve(); err != nil {
				return fmt.Errorf("%d: sweeps[%d].steps[%d]: %v", st.lineOr(s.line), i, j, err)
			}
			if line, err := st.checkMethods(); err != nil {
				if line == 0 {
					line = st.lineOr(s.line)
				}
				return fmt.Errorf("%d: sweeps[%d].steps[%d]: %v", line, i, j, err)
			}
		}
	}
	if err := e.checkCellCount(); err != nil {
		return err
	}
	net := shapeOnly(t.Sizes(model.Inputs, model.Classes))
	for i, s := range e.Sweeps {
		if s.Distill != nil || s.Search != nil {
			continue
		}
		where := fmt.Sprintf("%d: sweeps[%d] (%s)", s.line, i, s.Name)
		for j, st := range s.Steps {
			for _, m := range st.Methods {
				for _, pt := range st.points() {
					spec, err := compress.ParseSpec(withArgs(m, pt))
					if err == nil {
						// a tensor the network lacks fails only when the pass
						// is applied: find it now, not in the middle of the run
						_, err = spec.Layers(&net)
					}
					if err != nil {
						return fmt.Errorf("%d: sweeps[%d].steps[%d]: method %q with grid %s: %v", st.lineOr(s.line), i, j, m, pointText(pt), err)
					}
					if spec.Name == "actquant" && e.Train.ValImages() == 0 {
						return fmt.Errorf("%d: sweeps[%d].steps[%d]: method %q calibrates activation ranges on the validation split, but train.val is 0 (line %d): give val ≥ 1 (the article holds out 5000)",
							st.lineOr(s.line), i, j, m, max(1, e.valLine))
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
	for i, r := range e.Literature {
		if err := e.checkReference(i, r); err != nil {
			return fmt.Errorf(" %v", err)
		}
	}
	if e.Robust != nil {
		if err := e.Robust.check(); err != nil {
			return err
		}
	}
	return nil
}

// shapeOnly is a network of the given sizes without weights: enough to
// resolve which tensors a pass selects, without allocating a large net.
func shapeOnly(sizes []int) model.Params {
	p := model.Params{Layers: make([]model.Dense, len(sizes)-1)}
	for l := range p.Layers {
		p.Layers[l] = model.Dense{
			W: model.Tensor{Name: model.WeightName(l + 1), Shape: []int{sizes[l], sizes[l+1]}},
			B: model.Tensor{Name: model.BiasName(l + 1), Shape: []int{sizes[l+1]}},
		}
	}
	return p
}

// checkMethods refuses a method given twice and a method without a pass
// name. The latter is what YAML makes of an unquoted spec in a flow list:
// in [prune:keep=0.5,schedule=gradual] a comma separates items, so the
// list holds "prune:keep=0.5" and "schedule=gradual". It returns the line
// of the offending item when known.
func (st *Step) checkMethods() (int, error) {
	nodes := items(st.methodsNode)
	lineOf := func(k int) int {
		if k < len(nodes) {
			return nodes[k].Line
		}
		return 0
	}
	seen := map[string]bool{}
	for k, m := range st.Methods {
		name, _, _ := strings.Cut(strings.TrimSpace(m), ":")
		if strings.Contains(name, "=") || name == "" {
			msg := fmt.Sprintf("methods[%d]: %q has no pass name (want name:key=value,…)", k, m)
			if st.methodsNode != nil && st.methodsNode.Style&yaml.FlowStyle != 0 && k > 0 {
				joined := st.Methods[k-1] + "," + m
				msg += fmt.Sprintf(": in a [flow, list] YAML splits at every comma, so %q was probably cut in two — quote it: [%q]", joined, joined)
			} else {
				msg += ": quote a spec that holds commas"
			}
			return lineOf(k), errors.New(msg)
		}
		if seen[m] {
			return lineOf(k), fmt.Errorf("methods[%d]: %q is listed twice", k, m)
		}
		seen[m] = true
	}
	return 0, nil
}

func (st *Step) lineOr(def int) int {
	if st.line > 0 {
		return st.line
	}
	if st.at > 0 {
		return st.at
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
		seen := map[string]bool{}
		for _, v := range vals {
			switch {
			case strings.TrimSpace(v) == "":
				return fmt.Errorf("line %d: grid.%s: empty value", n.Line, k)
			case seen[v]:
				return fmt.Errorf("line %d: grid.%s: %s is listed twice", n.Line, k, v)
			}
			seen[v] = true
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
	if p := s.Search; p != nil {
		var cells []Cell
		for _, b := range p.MaxDrop {
			cells = append(cells, Cell{Sweep: s.Name, Specs: []string{SearchSpec(p.Options(b, 0))}, Methods: []string{"search"},
				Point: map[string]string{"max_drop": fmt.Sprintf("%g", b)}})
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
					return nil, fmt.Errorf("steps[%d]: method %q with %s: %v", j, m, pointText(pt), err)
				}
				canon := spec.String()
				for _, c := range cells {
					nc := Cell{Sweep: s.Name, Specs: append(append(make([]string, 0, len(c.Specs)+1), c.Specs...), canon),
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

// checkSearch validates a search sweep (MaxDrop empty: [0.5]).
func (s *Sweep) checkSearch() error {
	p := s.Search
	if len(s.Steps) > 0 || s.Finetune != nil || s.Distill != nil || s.Sensitivity != nil {
		return fmt.Errorf("search: a search sweep has no steps, finetune budget, distill or sensitivity")
	}
	if len(p.MaxDrop) == 0 {
		p.MaxDrop = []float64{search.DefaultOptions().MaxDrop}
	}
	seen := map[float64]bool{}
	for _, b := range p.MaxDrop {
		if seen[b] {
			return fmt.Errorf("search: max_drop %g repeated", b)
		}
		seen[b] = true
		if err := p.Options(b, 0).Check(); err != nil { // Check names flags: max-drop is max_drop here
			return fmt.Errorf("search: %s", strings.Replace(err.Error(), "max-drop", "max_drop", 1))
		}
	}
	if p.Epochs < 0 || p.Trials < 0 {
		return fmt.Errorf("search: epochs and trials must not be negative (0: the default)")
	}
	if s.Rows != "" && s.Rows != "max_drop" {
		return fmt.Errorf("rows: a search sweep's rows are max_drop, not %q", s.Rows)
	}
	s.Rows = "max_drop"
	return nil
}

// expandSensitivity writes a sensitivity sweep's one step: a method per
// weight layer of a network of depth layers (per hidden layer for units),
// over the plan's values.
func (s *Sweep) expandSensitivity(depth int) error {
	p := s.Sensitivity
	if len(s.Steps) > 0 || s.Finetune != nil {
		return fmt.Errorf("sensitivity: a sensitivity sweep has no steps and no finetune budget: they are generated")
	}
	def := search.DefaultSensitivity()
	var vals []float64
	switch p.Kind {
	case "keep":
		vals = def.Keeps
	case "bits":
		for _, b := range def.Bits {
			vals = append(vals, float64(b))
		}
	case "units":
		vals, depth = def.Units, depth-1
	default:
		return fmt.Errorf("sensitivity: kind %q unknown: want keep, bits or units", p.Kind)
	}
	if p.Values != nil && len(p.Values) == 0 {
		return fmt.Errorf("sensitivity: values: empty list (leave it out for the defaults)")
	}
	if len(p.Values) > 0 {
		vals = p.Values
	}
	if depth < 1 {
		return fmt.Errorf("sensitivity: kind units needs a hidden layer")
	}
	key := search.SensitivityKey(p.Kind)
	seq := &yaml.Node{Kind: yaml.SequenceNode, Line: s.line}
	for _, v := range vals {
		if p.Kind == "bits" && (v != math.Trunc(v) || v < 1 || v > 16) {
			return fmt.Errorf("sensitivity: bits %g: want whole bits 1–16", v)
		}
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatFloat(v, 'g', -1, 64), Line: s.line})
	}
	st := &Step{Grid: map[string]yaml.Node{key: *seq}, at: s.line}
	for l := 1; l <= depth; l++ {
		st.Methods = append(st.Methods, search.SensitivityMethod(p.Kind, model.WeightName(l)))
	}
	s.Steps = []*Step{st}
	if s.Rows == "" {
		s.Rows = key
	}
	return nil
}

// checkDistill validates a distillation sweep.
func (s *Sweep) checkDistill() error {
	d := s.Distill
	if len(s.Steps) > 0 || s.Finetune != nil || s.Search != nil || s.Sensitivity != nil {
		return fmt.Errorf("distill: a distillation sweep has no steps, finetune budget, search or sensitivity")
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
	if d.Jitter < 0 || d.Jitter > 8 {
		return fmt.Errorf("distill: jitter %d out of range: want 0–8 pixels", d.Jitter)
	}
	if d.Schedule != "" && d.Schedule != "constant" && d.Schedule != "cosine" {
		return fmt.Errorf("distill: schedule %q unknown: want constant or cosine", d.Schedule)
	}
	if s.Rows != "" && s.Rows != "hidden" {
		return fmt.Errorf("rows: a distillation sweep's rows are hidden, not %q", s.Rows)
	}
	s.Rows = "hidden"
	return nil
}

// checkCells validates every cell for how it will run: passes applied to a
// trained checkpoint, or held in the loop when the sweep fine-tunes. Both
// compress.Build and retrain.Check judge each spec on its own, so each
// distinct spec is checked once, not once per cell (a 100,000-cell grid
// has a few hundred distinct specs); one chain per combination of methods
// is still checked whole, for any rule about which pass may follow which.
// Two cells that are the same chain (a value repeated in another
// spelling: 0.5 and 0.50) are refused.
func (s *Sweep) checkCells(cells []Cell) error {
	if f := s.Finetune; f != nil && (f.Epochs < 0 || f.Batch < 0 || f.LR < 0) {
		return fmt.Errorf("finetune: epochs, batch and lr must not be negative")
	}
	if f := s.Finetune; f != nil && f.From != "" && f.From != FromBaseline && f.From != FromScratch {
		return fmt.Errorf("finetune: from %q: want %s or %s", f.From, FromBaseline, FromScratch)
	}
	if f := s.Finetune; f != nil && f.Adversarial != nil {
		if err := f.Adversarial.Validate(); err != nil {
			return fmt.Errorf("finetune: %v", err)
		}
	}
	check := func(specs []string) error {
		if s.Finetune == nil {
			_, err := compress.Build(specs)
			return err
		}
		if s.Finetune.From == FromScratch {
			return retrain.CheckScratch(specs)
		}
		return retrain.Check(specs)
	}
	checked := map[string]error{}
	wholes := map[string]bool{}
	same := map[string]int{}
	for i, c := range cells {
		for _, spec := range c.Specs {
			err, ok := checked[spec]
			if !ok {
				err = check([]string{spec})
				checked[spec] = err
			}
			if err != nil {
				return fmt.Errorf("cell %v: %v", c.Specs, err)
			}
		}
		if k := strings.Join(c.Methods, "\x00"); !wholes[k] {
			wholes[k] = true
			if err := check(c.Specs); err != nil {
				return fmt.Errorf("cell %v: %v", c.Specs, err)
			}
		}
		k := strings.Join(c.Specs, " → ")
		if j, dup := same[k]; dup {
			return fmt.Errorf("cells %d and %d are the same chain %s: a method or grid value is repeated, perhaps in another spelling", j+1, i+1, k)
		}
		same[k] = i
	}
	return nil
}

// pointText writes a grid point as key=value pairs, as a spec does.
func pointText(pt map[string]string) string {
	if len(pt) == 0 {
		return "(no grid)"
	}
	keys := make([]string, 0, len(pt))
	for k := range pt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + pt[k]
	}
	return strings.Join(keys, ",")
}
