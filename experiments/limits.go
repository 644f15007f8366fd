package experiments

import (
	"fmt"
	"math"
	"regexp"

	"gopkg.in/yaml.v3"
)

// Names. An experiment's name becomes a folder (results/<name>, the
// default output of mnistc sweep) and a sweep's name part of file names
// (plots/01-<name>.png), so a name read from a file must never be a path:
// no separator, no "..", no leading dot (a hidden file, "." or "..").
const (
	// NameRule says in words what NamePattern accepts; errors quote it.
	NameRule = "letters, digits, '-', '_' and '.', not starting with '.', at most 100 characters"
	// NamePattern is the regular expression every experiment and sweep
	// name matches (with at most MaxNameLen bytes).
	NamePattern = `^[A-Za-z0-9_-][A-Za-z0-9._-]*$`
	// MaxNameLen keeps a name, with the prefixes the report adds, well
	// under the 255 bytes most file systems allow in a file name.
	MaxNameLen = 100
)

var nameRE = regexp.MustCompile(NamePattern)

// CheckName reports whether name may name an experiment or a sweep, that
// is, be used as one component of a path inside an output folder.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("missing")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%.20q… is %d characters long: want %s", name, len(name), NameRule)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%q: want %s (it names files and folders)", name, NameRule)
	}
	return nil
}

// MaxCells bounds the runs of one experiment: cells × seeds. It is checked
// from the grid sizes before any grid is expanded, so a file whose lists
// multiply to millions of cells is refused at once instead of filling
// memory while it is validated (and then running for years).
const MaxCells = 100_000

// CellCount returns how many cells the sweep expands to for one seed —
// the product of its steps' method and grid-list lengths, or two per
// student of a distillation sweep — computed from the sizes without
// expanding anything. It saturates at math.MaxInt.
func (s *Sweep) CellCount() int {
	if s.Distill != nil {
		return satMul(2, len(s.Distill.Students()))
	}
	if s.Search != nil {
		return max(1, len(s.Search.MaxDrop))
	}
	if len(s.Steps) == 0 {
		return 0
	}
	n := 1
	for _, st := range s.Steps {
		n = satMul(n, len(st.Methods))
		for _, v := range st.Grid {
			n = satMul(n, gridLen(v))
		}
	}
	return n
}

// CellCount returns the runs the experiment asks for: every sweep's cells
// for every seed (what Summary.Cells counts; cells shared by two sweeps
// are counted in each but run once). It saturates at math.MaxInt.
func (e *Experiment) CellCount() int {
	n := 0
	for _, s := range e.Sweeps {
		n = satAdd(n, s.CellCount())
	}
	return satMul(n, len(e.Seeds))
}

// checkCellCount refuses an experiment with more than MaxCells runs,
// naming its largest sweep.
func (e *Experiment) checkCellCount() error {
	n := e.CellCount()
	if n <= MaxCells {
		return nil
	}
	cells := 0
	var big *Sweep
	for _, s := range e.Sweeps {
		cells = satAdd(cells, s.CellCount())
		if big == nil || s.CellCount() > big.CellCount() {
			big = s
		}
	}
	return fmt.Errorf("%d: sweeps: %s cells × %s = %s runs, more than the %s an experiment may hold (experiments.MaxCells); the largest sweep, %s, has %s cells: shorten its grid lists or split the experiment",
		big.line, count(cells), plural(len(e.Seeds), "seed"), count(n), count(MaxCells), big.Name, count(big.CellCount()))
}

// gridLen is the number of values a grid entry lists.
func gridLen(n yaml.Node) int {
	if n.Kind == yaml.SequenceNode {
		return len(n.Content)
	}
	return 1
}

func satMul(a, b int) int {
	if a < 0 || b < 0 {
		return 0
	}
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// count writes n with thousands separators; math.MaxInt (a saturated
// product) reads as "more than 9.2e18".
func count(n int) string {
	if n == math.MaxInt {
		return "more than 9.2e18"
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
