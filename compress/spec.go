package compress

import (
	"errors"
	"fmt"
	"math"
	"mnistc/internal/errkind"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of a pass parameter.
type Kind int

// Parameter kinds.
const (
	Float Kind = iota // a number in [Min, Max] (ends open where MinOpen/MaxOpen)
	Int               // a whole number in [Min, Max]
	Enum              // one of Choices
	// Tensors is a selection of tensors: one of the keywords in Choices
	// (resolved against the network when the pass is applied) or a
	// '/'-separated list of distinct names w<N>, b<N> (N ≥ 1).
	Tensors
)

// Keywords of a Tensors value, resolved against a network of N layers when
// a pass is applied: the default of a weight pass does not know the depth.
const (
	EveryWeight = "weights" // w1 … wN
	EveryTensor = "all"     // w1, b1, …, wN, bN
	EveryHidden = "hidden"  // w1 … w(N−1): the layers whose outputs are hidden units (prune method=neuron)
)

// ParamDef describes one parameter of a pass.
type ParamDef struct {
	Key              string
	Kind             Kind
	Default          string // "" means no default: the parameter is optional
	Min, Max         float64
	MinOpen, MaxOpen bool
	Choices          []string
	PerTensor        bool // the value may be given per tensor: w1:0.1/w3:0.3
	// Training marks a key that only training with the pass in the loop
	// reads (mnistc finetune, train --pass); post-training use refuses it.
	Training bool
	Doc      string
}

// Spec is a parsed, validated pass description with every default filled.
type Spec struct {
	Name string
	Args map[string]string
}

// String returns the canonical form: name:key=value,... with keys sorted,
// so equal specs have equal strings (the sweep runner hashes it).
func (s Spec) String() string {
	keys := make([]string, 0, len(s.Args))
	for k := range s.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s.Args[k]
	}
	return s.Name + ":" + strings.Join(parts, ",")
}

// ParseSpec parses "name:key=value,..." against the registry: unknown pass
// or key, malformed text and out-of-range values are errors that name them.
func ParseSpec(text string) (Spec, error) {
	s, err := parseSpec(text)
	return s, errkind.Wrap(ErrSpec, err)
}

// ErrSpec marks every error ParseSpec (and Build) gives for a pass spec
// that is not valid: errors.Is(err, compress.ErrSpec).
var ErrSpec = errors.New("invalid pass spec")

func parseSpec(text string) (Spec, error) {
	name, rest, _ := strings.Cut(strings.TrimSpace(text), ":")
	def, ok := lookup(name)
	if !ok {
		return Spec{}, fmt.Errorf("unknown pass %q (known: %s)", name, strings.Join(passNames(), ", "))
	}
	given := map[string]string{}
	if strings.TrimSpace(rest) != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				return Spec{}, fmt.Errorf("pass %s: malformed %q: want key=value", name, kv)
			}
			if _, dup := given[k]; dup {
				return Spec{}, fmt.Errorf("pass %s: %s given twice", name, k)
			}
			given[k] = v
		}
	}
	return def.spec(given)
}

// spec validates given against the definition and fills defaults.
func (d PassDef) spec(given map[string]string) (Spec, error) {
	s := Spec{Name: d.Name, Args: map[string]string{}}
	for k := range given {
		if _, ok := d.param(k); !ok {
			return Spec{}, fmt.Errorf("pass %s: unknown key %q (keys: %s)", d.Name, k, strings.Join(d.keys(), ", "))
		}
	}
	for _, p := range d.Params {
		v, ok := given[p.Key]
		if !ok {
			v = p.Default
		}
		if v == "" {
			continue
		}
		canon, err := p.check(v)
		if err != nil {
			return Spec{}, fmt.Errorf("pass %s: %w", d.Name, err)
		}
		s.Args[p.Key] = canon
	}
	if d.Check != nil {
		if err := d.Check(s, given); err != nil {
			return Spec{}, fmt.Errorf("pass %s: %w", d.Name, err)
		}
	}
	return s, nil
}

// check validates one value and returns it in canonical form.
func (p ParamDef) check(v string) (string, error) {
	if p.PerTensor && strings.Contains(v, ":") {
		var out []string
		seen := map[string]bool{}
		for _, item := range strings.Split(v, "/") {
			name, val, ok := strings.Cut(item, ":")
			if !ok || !isTensorName(name) {
				return "", fmt.Errorf("%s=%s: want tensor:value pairs like w1:0.1/w2:0.3 (tensors w1, b1, w2, b2, … wN, bN)", p.Key, v)
			}
			if seen[name] {
				return "", fmt.Errorf("%s=%s: %s given twice", p.Key, v, name)
			}
			seen[name] = true
			c, err := p.checkOne(val)
			if err != nil {
				return "", err
			}
			out = append(out, name+":"+c)
		}
		sortTensorNames(out)
		return strings.Join(out, "/"), nil
	}
	return p.checkOne(v)
}

func (p ParamDef) checkOne(v string) (string, error) {
	switch p.Kind {
	case Float, Int:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%s=%s: not a number", p.Key, v)
		}
		if p.Kind == Int && x != math.Trunc(x) {
			return "", fmt.Errorf("%s=%s: want a whole number", p.Key, v)
		}
		if x < p.Min || x > p.Max || (p.MinOpen && x == p.Min) || (p.MaxOpen && x == p.Max) {
			return "", fmt.Errorf("%s=%s out of range: want %s", p.Key, v, p.rangeText())
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case Enum:
		for _, c := range p.Choices {
			if v == c {
				return v, nil
			}
		}
		return "", fmt.Errorf("%s=%s: want one of %s", p.Key, v, strings.Join(p.Choices, ", "))
	default: // Tensors
		for _, c := range p.Choices {
			if v == c {
				return v, nil
			}
		}
		var out []string
		seen := map[string]bool{}
		for _, n := range strings.Split(v, "/") {
			if !isTensorName(n) || seen[n] {
				return "", fmt.Errorf("%s=%s: want %s or a '/'-separated list of distinct tensor names (w1, b1, w2, b2, … wN, bN)", p.Key, v, strings.Join(p.Choices, ", "))
			}
			seen[n] = true
			out = append(out, n)
		}
		sortTensorNames(out)
		return strings.Join(out, "/"), nil
	}
}

// rangeText describes the allowed values, as `mnistc passes` prints them.
func (p ParamDef) rangeText() string {
	switch p.Kind {
	case Enum:
		return strings.Join(p.Choices, "|")
	case Tensors:
		return strings.Join(p.Choices, "|") + "|w1/b1/…/wN/bN (any of)"
	}
	lo, hi := "[", "]"
	if p.MinOpen {
		lo = "("
	}
	if p.MaxOpen {
		hi = ")"
	}
	return fmt.Sprintf("%s%g, %g%s", lo, p.Min, p.Max, hi)
}

// maxLayer bounds the layer number a tensor name may carry: far beyond any
// network model allocates, small enough that no number overflows.
const maxLayer = 1 << 16

// tensorName splits a tensor name w<N> or b<N> (N ≥ 1, no leading zero)
// into its letter and layer number.
func tensorName(n string) (byte, int, bool) {
	if len(n) < 2 || (n[0] != 'w' && n[0] != 'b') || n[1] == '0' {
		return 0, 0, false
	}
	l, err := strconv.Atoi(n[1:])
	if err != nil || l < 1 || l > maxLayer || strconv.Itoa(l) != n[1:] {
		return 0, 0, false
	}
	return n[0], l, true
}

func isTensorName(n string) bool { _, _, ok := tensorName(n); return ok }

// isWeightName reports whether n names a weight matrix (w<N>).
func isWeightName(n string) bool { c, _, ok := tensorName(n); return ok && c == 'w' }

// sortTensorNames orders names (or name:value items) biases before weights,
// each by layer number: the order the two-layer names always had as strings
// (b1/b2/w1/w2), and w2 before w10.
func sortTensorNames(items []string) {
	key := func(item string) (byte, int) {
		n, _, _ := strings.Cut(item, ":")
		c, l, _ := tensorName(n)
		return c, l
	}
	sort.Slice(items, func(i, j int) bool {
		ci, li := key(items[i])
		cj, lj := key(items[j])
		if ci != cj {
			return ci < cj
		}
		return li < lj
	})
}

// Float returns a numeric argument as a number, and whether it is set and
// one number (not a per-tensor list): callers outside the package read
// settings through it instead of comparing strings.
func (s Spec) Float(k string) (float64, bool) {
	v, ok := s.Args[k]
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(v, 64)
	return x, err == nil
}

// Int is Float for whole-number arguments.
func (s Spec) Int(k string) (int, bool) {
	x, ok := s.Float(k)
	if !ok || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, false
	}
	return int(x), true
}

// floatArg returns a numeric argument (which must be present and global).
func (s Spec) floatArg(k string) float64 {
	x, _ := strconv.ParseFloat(s.Args[k], 64)
	return x
}

func (s Spec) intArg(k string) int { return int(s.floatArg(k)) }

// has reports whether the argument is set.
func (s Spec) has(k string) bool { _, ok := s.Args[k]; return ok }

// perTensor returns the value of a per-tensor argument for tensor name, and
// whether it applies to that tensor (a per-tensor list names it).
func (s Spec) perTensor(k, name string) (float64, bool) {
	v := s.Args[k]
	if !strings.Contains(v, ":") {
		x, _ := strconv.ParseFloat(v, 64)
		return x, true
	}
	for _, item := range strings.Split(v, "/") {
		n, val, _ := strings.Cut(item, ":")
		if n == name {
			x, _ := strconv.ParseFloat(val, 64)
			return x, true
		}
	}
	return 0, false
}

// list returns a '/'-separated argument as a slice.
func (s Spec) list(k string) []string {
	if s.Args[k] == "" {
		return nil
	}
	return strings.Split(s.Args[k], "/")
}
