package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"mnistc/data"
	"mnistc/model"
)

// errHelp is returned when --help was asked for and printed.
var errHelp = errors.New("help requested")

// cmdFlags is a subcommand's flag set with its synopsis, for --help.
type cmdFlags struct {
	*flag.FlagSet
	synopsis string
	stderr   io.Writer
}

// newFlags returns a flag set whose errors are returned (never printed
// twice, never followed by the whole usage) and whose --help prints the
// synopsis and the flags to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, synopsis: synopsis, stderr: stderr}
}

// parse parses args, turning flag errors into usage errors and --help into
// errHelp. Positional arguments are refused.
func (fs *cmdFlags) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(fs.stderr, "Usage: mnistc %s\n\nFlags:\n", fs.synopsis)
			fs.SetOutput(fs.stderr)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
			return errHelp
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
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
	train, val, err = data.Split(full, d.val)
	if err != nil {
		err = usagef("--val: %v", err)
	}
	return
}

// checkOut refuses an output path that cannot be written before any work.
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
	return nil
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
	fs.StringVar(&a.layers, "layers", joinInts(def, ","), what+": hidden layer widths, input side first (`W1,W2,…`: 128 is the article's 784-128-10, 300,100 LeNet-300-100)")
	fs.IntVar(&a.hidden, "hidden", 0, "shorthand for --layers `N` (one hidden layer)")
}

// value returns the hidden widths the flags give, or a usage error naming
// the flag. set reports whether either flag was given (fs.Visit).
func (a *archFlags) value(fs *cmdFlags) ([]int, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
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
