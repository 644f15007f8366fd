package experiments

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The YAML decoder names Go types in its errors ("cannot unmarshal !!str
// `one` into int", "field epoch not found in type experiments.Recipe"),
// which a person editing an experiment file should not have to read. So
// before decoding, the parsed tree is walked against the types the file
// decodes into, and every node of the wrong shape is reported as
// "line: field: what" in the file's own words (train.epochs, sweeps[1]…).

// shapeError is one problem found by checkShape.
type shapeError struct {
	line int
	msg  string
}

// maxShapeErrors bounds how many problems one message lists.
const maxShapeErrors = 10

// checkShape walks root (a parsed document) against type t and returns
// its problems as "line: what" lines in line order.
func checkShape(root *yaml.Node, t reflect.Type) []string {
	var c shapeChecker
	c.check(root, t, "")
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].line < c.errs[j].line })
	var out []string
	for i, e := range c.errs {
		if i == maxShapeErrors {
			out = append(out, fmt.Sprintf("%d: … and %d more", e.line, len(c.errs)-i))
			break
		}
		out = append(out, fmt.Sprintf("%d: %s", e.line, e.msg))
	}
	return out
}

type shapeChecker struct {
	errs   []shapeError
	visits int
}

// maxVisits bounds the nodes checkShape visits: aliases (*name) can make a
// small file a tree of billions of nodes, which the decoder refuses as
// excessive aliasing but a walk would follow.
const maxVisits = 1 << 20

func (c *shapeChecker) add(line int, format string, a ...any) {
	c.errs = append(c.errs, shapeError{line, fmt.Sprintf(format, a...)})
}

var nodeType = reflect.TypeOf(yaml.Node{})

// zeroMeansDefault matches the fields whose zero value stands for "not
// given, take the default": a 0 written there would silently become the
// default (10 epochs, batch 32…), so it is refused instead.
var zeroMeansDefault = regexp.MustCompile(`^(train\.(epochs|batch|lr|hidden)|sweeps\[\d+\]\.(finetune\.(epochs|batch|lr)|distill\.(temperature|epochs)))$`)

func (c *shapeChecker) check(n *yaml.Node, t reflect.Type, path string) {
	if c.visits++; c.visits == maxVisits {
		c.add(n.Line, "%s: the file expands to more than %d values (aliases of aliases?)", label(path), maxVisits)
	}
	if c.visits >= maxVisits {
		return
	}
	n = deref(n)
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = deref(n.Content[0])
	}
	pointer := false
	for t.Kind() == reflect.Pointer {
		t, pointer = t.Elem(), true
	}
	// a node kept raw (a grid's values) takes any shape; an empty value
	// (key: with nothing, or null) leaves the zero value, as the decoder
	// does — except where that would be a nil entry of a list (a sweep or
	// step that is not there) or an optional section that silently does
	// not apply (finetune: with nothing would not fine-tune)
	if t == nodeType {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if strings.HasSuffix(path, "]") && t.Kind() != reflect.Struct {
			c.add(n.Line, "%s: empty entry", label(path))
			return
		}
		if pointer && t.Kind() == reflect.Struct {
			if strings.HasSuffix(path, "]") {
				c.add(n.Line, "%s: empty entry", label(path))
			} else {
				c.add(n.Line, "%s: empty: write %s: {} for the defaults, or leave the key out", label(path), path[strings.LastIndex(path, ".")+1:])
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n.Line, "%s: want a mapping (key: value lines, or {key: value}), not %s", label(path), describe(n))
			return
		}
		names, types := yamlFields(t)
		seen := map[string]int{}
		pairs(n, func(k, v *yaml.Node, merged bool) {
			ft, ok := types[k.Value]
			if !ok {
				c.add(k.Line, "unknown field %q %s (known: %s)%s", k.Value, where(path), strings.Join(names, ", "), suggest(k.Value, names))
				return
			}
			if !c.firstTime(seen, k, merged, path) {
				return
			}
			c.check(v, ft, join(path, k.Value))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n.Line, "%s: want a mapping (key: value lines, or {key: value}), not %s", label(path), describe(n))
			return
		}
		seen := map[string]int{}
		pairs(n, func(k, v *yaml.Node, merged bool) {
			if k.Kind != yaml.ScalarNode {
				c.add(k.Line, "%s: want names as keys, not %s", label(path), describe(k))
				return
			}
			if !c.firstTime(seen, k, merged, path) {
				return
			}
			c.check(v, t.Elem(), join(path, k.Value))
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n.Line, "%s: want a list ([a, b], or one \"- item\" per line), not %s", label(path), describe(n))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if n.Kind == yaml.MappingNode && t.Kind() == reflect.String {
			c.add(n.Line, "%s: want text, not a mapping (a \": \" inside a value starts one: quote the value, e.g. \"prune:keep=0.5\")", label(path))
			return
		}
		if n.Kind != yaml.ScalarNode {
			c.add(n.Line, "%s: want %s, not %s", label(path), want(t), describe(n))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.add(n.Line, "%s: want %s, not %s", label(path), want(t), describe(n))
			return
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			// the decoder truncates 1.9 to 1 without a word
			if n.ShortTag() == "!!float" {
				c.add(n.Line, "%s: want a whole number, not %s", label(path), n.Value)
				return
			}
		}
		if zeroMeansDefault.MatchString(path) {
			if x, err := strconv.ParseFloat(n.Value, 64); err == nil && x == 0 {
				c.add(n.Line, "%s: 0 is not a setting here (an absent key takes the default): leave it out, or give a value", label(path))
			}
		}
	}
}

// firstTime records key k of the mapping at path in seen and reports
// whether it is its first appearance; a key written twice in the mapping
// itself is a problem (one brought in by a merge key is overridden).
func (c *shapeChecker) firstTime(seen map[string]int, k *yaml.Node, merged bool, path string) bool {
	if l, dup := seen[k.Value]; dup && !merged {
		c.add(k.Line, "%s: given twice (lines %d and %d)", join(path, k.Value), l, k.Line)
		return false
	}
	if !merged {
		seen[k.Value] = k.Line
	}
	return true
}

// pairs calls fn on each key and value of mapping n, expanding merge keys
// (<<: *anchor); merged marks the pairs a merge brought in, which a key
// written in the mapping itself overrides.
func pairs(n *yaml.Node, fn func(k, v *yaml.Node, merged bool)) {
	var walk func(m *yaml.Node, merged bool)
	walk = func(m *yaml.Node, merged bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.ShortTag() == "!!merge" {
				v = deref(v)
				if v.Kind == yaml.SequenceNode {
					for _, x := range v.Content {
						if x = deref(x); x.Kind == yaml.MappingNode {
							walk(x, true)
						}
					}
				} else if v.Kind == yaml.MappingNode {
					walk(v, true)
				}
				continue
			}
			fn(k, v, merged)
		}
	}
	walk(n, false)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// yamlFields lists the YAML keys of struct type t in declaration order,
// with their types.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// suggest names a known field one edit (or a plural 's') away from got.
func suggest(got string, known []string) string {
	for _, k := range known {
		if near(got, k) {
			return fmt.Sprintf("; did you mean %q?", k)
		}
	}
	return ""
}

// near reports whether a and b differ by one inserted, deleted or changed
// character.
func near(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+min(1, len(a)-i):] == b[i+min(1, len(b)-i):]
	}
	return a[i:] == b[i+1:]
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number ≥ 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "one value (text)"
	}
	return "a value"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := []rune(n.Value)
	if len(v) > 40 {
		v = append(v[:37], '…')
	}
	return fmt.Sprintf("%q", string(v))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func label(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}
