package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/model"
)

// errHelp is returned when --help was asked for and printed.
var errHelp = errors.New("help requested")

// cmdFlags is a subcommand's flag set with its synopsis, for --help.
type cmdFlags struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

// newFlags returns a flag set whose errors are returned (never printed
// twice, never followed by the whole usage) and whose --help prints the
// synopsis and the flags on stdout (help that was asked for is output,
// not an error).
func newFlags(name, synopsis string, stdout io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

// parse parses args, turning flag errors into usage errors and --help into
// errHelp. Positional arguments are refused.
func (fs *cmdFlags) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(fs.stdout, "Usage: mnistc %s\n\nFlags:\n", fs.synopsis)
			fs.SetOutput(fs.stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
			return errHelp
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errPositional)}
	}
	return nil
}

// errPositional marks parse's refusal of a positional argument.
var errPositional = errors.New("this command takes flags only")

// parseMixed parses args whose positional arguments may come before,
// between or after the flags (mnistc merge --out D A B, mnistc merge A B
// --out D) and returns the positional ones in order.
func (fs *cmdFlags) parseMixed(args []string) ([]string, error) {
	var pos []string
	for {
		for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			pos, args = append(pos, args[0]), args[1:]
		}
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		if err := fs.parse(args); err != nil && !errors.Is(err, errPositional) {
			return nil, err // a flag error, or --help
		}
		args = fs.Args() // stopped at a positional argument
	}
}

// dataFlags are the flags every command that reads MNIST shares.
type dataFlags struct {
	dir   string
	val   int
	limit int
}

func (d *dataFlags) register(fs *cmdFlags, withSplit bool) {
	fs.StringVar(&d.dir, "data", "", "folder with the four MNIST IDX .gz files (default: the copy shipped in the GoMNIST module)")
	if withSplit {
		fs.IntVar(&d.val, "val", 5000, "hold out the last `N` training images as the validation split (0 allowed)")
		fs.IntVar(&d.limit, "limit", 0, "use only the first `N` training images before the split (0: all); for quick runs")
	}
}

// check validates the flags without touching the disk beyond a stat.
func (d *dataFlags) check() error {
	if d.val < 0 {
		return usagef("--val %d out of range: want ≥ 0", d.val)
	}
	if d.limit < 0 {
		return usagef("--limit %d out of range: want ≥ 0", d.limit)
	}
	if d.limit > 0 && d.val >= d.limit {
		return usagef("--val %d must be smaller than --limit %d", d.val, d.limit)
	}
	if d.dir == "" {
		dir, err := data.DefaultDir()
		if err != nil {
			return err
		}
		d.dir = dir
		return nil
	}
	return data.CheckDir(d.dir)
}

// load reads the data and cuts the training, validation and test sets.
func (d *dataFlags) load() (train, val, test data.Set, err error) {
	full, test, err := data.Load(d.dir)
	if err != nil {
		return
	}
	debug.FreeOSMemory() // hand back the decompression buffers (~60 MB) now
	if d.limit > 0 && d.limit < full.Len() {
		full = full.Slice(0, d.limit)
	}
	if test.Len() == 0 || full.Len() == 0 {
		err = fmt.Errorf("%s: the training or the test set holds no images", d.dir)
		return
	}
	train, val, err = data.Split(full, d.val)
	if err != nil {
		err = usagef("--val: %v", err)
	}
	return
}

// checkOut refuses, before any work, an output path that cannot be
// written: missing, of the wrong kind, a folder, or in a folder where no
// file can be created (tried with a temporary file, removed at once).
func checkOut(flagName, path, ext string) error {
	if path == "" {
		return usagef("--%s is required", flagName)
	}
	if ext != "" && !strings.HasSuffix(path, ext) {
		return usagef("--%s %s: want a %s file", flagName, path, ext)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("--%s %s is a folder", flagName, path)
	}
	// the nearest folder that exists: WriteFileAtomic creates the rest
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil && !st.IsDir() {
			return usagef("--%s %s: %s is not a folder", flagName, path, dir)
		}
		if err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	f, err := os.CreateTemp(dir, ".mnistc-write-test-*")
	if err != nil {
		return usagef("--%s %s: cannot write in %s: %v", flagName, path, dir, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkNotInput refuses an output that is one of the inputs (the same
// file, under any name): writing it would destroy what is being read.
func checkNotInput(outFlag, out string, inputs map[string]string) error {
	ost, err := os.Stat(out)
	for flagName, in := range inputs {
		if in == "" {
			continue
		}
		ia, _ := filepath.Abs(in)
		oa, _ := filepath.Abs(out)
		same := ia == oa
		if ist, ierr := os.Stat(in); err == nil && ierr == nil && os.SameFile(ost, ist) {
			same = true
		}
		if same {
			return usagef("--%s %s is the input given by --%s: write the result to another file", outFlag, out, flagName)
		}
	}
	return nil
}

// passError is a pass spec's error as a usage error naming the flag
// (the spec's own errors start with "pass NAME:").
func passError(err error) error {
	return usagef("--pass %s", strings.TrimPrefix(err.Error(), "pass "))
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// archFlags are --layers W1,W2,… and its one-layer shorthand --hidden N.
type archFlags struct {
	layers string
	hidden int
}

func (a *archFlags) register(fs *cmdFlags, what string, def []int) {
	fs.StringVar(&a.layers, "layers", joinInts(def, ","), fmt.Sprintf("%s: hidden layer widths, input side first (`W1,W2,…`: 128 is the article's 784-128-10, 300,100 LeNet-300-100); each 1–%d, at most %d layers and %d parameters in all",
		what, model.MaxWidth, model.MaxDepth-1, model.MaxWeights))
	fs.IntVar(&a.hidden, "hidden", 0, "shorthand for --layers `N` (one hidden layer)")
}

// given returns the names of the flags set on the command line.
func (fs *cmdFlags) given() map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// distillFlags registers --temperature and --alpha, the settings of
// distillation into d (its values the defaults); help names the flag that
// turns distillation on ("" when it is always on).
func (fs *cmdFlags) distillFlags(d *model.Distill, help string) {
	fs.Float64Var(&d.Temperature, "temperature", d.Temperature, help+"softmax temperature T of the soft targets (0 < T ≤ 100)")
	fs.Float64Var(&d.Alpha, "alpha", d.Alpha, help+"weight α of the soft-target term (0 ≤ α ≤ 1)")
}

// distillGiven reports whether --temperature or --alpha was given.
func (fs *cmdFlags) distillGiven() bool {
	g := fs.given()
	return g["temperature"] || g["alpha"]
}

// value returns the hidden widths the flags give, or a usage error naming
// the flag. set reports whether either flag was given (fs.Visit).
func (a *archFlags) value(fs *cmdFlags) ([]int, error) {
	given := fs.given()
	if given["layers"] && given["hidden"] {
		return nil, usagef("--layers and --hidden both given: --hidden N is the shorthand for --layers N")
	}
	if given["hidden"] {
		if a.hidden < 1 || a.hidden > model.MaxWidth {
			return nil, usagef("--hidden %d out of range: want 1..%d", a.hidden, model.MaxWidth)
		}
		return []int{a.hidden}, nil
	}
	var out []int
	for _, f := range strings.Split(a.layers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > model.MaxWidth {
			return nil, usagef("--layers %q: want widths 1..%d separated by commas, like 300,100", a.layers, model.MaxWidth)
		}
		out = append(out, n)
	}
	if len(out) > model.MaxDepth-1 {
		return nil, usagef("--layers %q: at most %d hidden layers", a.layers, model.MaxDepth-1)
	}
	return out, nil
}

// joinInts joins v with sep.
func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

// checkPassesFit refuses, as a usage error, pass specs that name tensors
// the network lacks (layers=w9 on three layers, neuron pruning of the
// output layer): found before any data is read or any training starts.
func checkPassesFit(passes []string, p model.Params) error {
	for _, text := range passes {
		spec, err := compress.ParseSpec(text)
		if err != nil {
			return passError(err)
		}
		if _, err := spec.Layers(&p); err != nil {
			return usagef("--pass %s: %v", text, err)
		}
	}
	return nil
}
