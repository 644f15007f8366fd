package compress

import (
	"fmt"
	"math"
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
	Names             // a '/'-separated list drawn from Choices
)

// ParamDef describes one parameter of a pass.
type ParamDef struct {
	Key              string
	Kind             Kind
	Default          string // "" means no default: the parameter is optional
	Min, Max         float64
	MinOpen, MaxOpen bool
	Choices          []string
	PerTensor        bool // the value may be given per tensor: w1:0.1/w2:0.3
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
				return "", fmt.Errorf("%s=%s: want tensor:value pairs like w1:0.1/w2:0.3 (tensors w1, b1, w2, b2)", p.Key, v)
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
		sort.Strings(out)
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
	default: // Names
		var out []string
		seen := map[string]bool{}
		for _, n := range strings.Split(v, "/") {
			ok := false
			for _, c := range p.Choices {
				ok = ok || n == c
			}
			if !ok || seen[n] {
				return "", fmt.Errorf("%s=%s: want a '/'-separated list of distinct names from %s", p.Key, v, strings.Join(p.Choices, ", "))
			}
			seen[n] = true
			out = append(out, n)
		}
		sort.Strings(out)
		return strings.Join(out, "/"), nil
	}
}

// rangeText describes the allowed values, as `mnistc passes` prints them.
func (p ParamDef) rangeText() string {
	switch p.Kind {
	case Enum:
		return strings.Join(p.Choices, "|")
	case Names:
		return strings.Join(p.Choices, "/") + " (any of)"
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

func isTensorName(n string) bool { return n == "w1" || n == "b1" || n == "w2" || n == "b2" }

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
