package experiments

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"mnistc/model"
)

// Manifest is a results folder's manifest.json: which experiment file made
// the folder (name and hash), whether every cell has its record, and the
// provenance of each invocation that added records (a run resumed after a
// stop, or the shards a merge gathered, each add one).
type Manifest struct {
	Experiment string `json:"experiment"`
	SHA256     string `json:"sha256"`
	Complete   bool   `json:"complete"` // every cell of every seed (of this shard) has its record
	// Shard is "I/N" for a folder that holds one shard's share of the
	// cells (mnistc sweep --shard); empty for a whole run or a merge.
	Shard string       `json:"shard,omitempty"`
	Runs  []Provenance `json:"runs,omitempty"`
}

// Provenance says where and how records were made: the code (commit and
// whether the tree had uncommitted changes, from the binary's build
// information), the toolchain, the machine, the command line and the
// wall-clock time.
type Provenance struct {
	Commit      string   `json:"commit"`
	Dirty       bool     `json:"dirty"`
	Go          string   `json:"go"`
	OS          string   `json:"os"`
	Arch        string   `json:"arch"`
	CPU         string   `json:"cpu"`
	Cores       int      `json:"cores"`
	BLAS        string   `json:"blas"`
	Started     string   `json:"started"` // UTC, RFC 3339
	Finished    string   `json:"finished,omitempty"`
	Command     []string `json:"command,omitempty"`
	WallSeconds float64  `json:"wall_seconds"`
	Shard       string   `json:"shard,omitempty"`
	Ran         int      `json:"cells_run"`
}

// ReadManifest reads dir's manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

func writeManifest(dir string, m Manifest) error {
	b, _ := json.MarshalIndent(m, "", "  ")
	return model.WriteFileAtomic(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// newProvenance describes this process, started at start.
func newProvenance(start time.Time, command []string) Provenance {
	p := Provenance{Commit: "unknown", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPU: cpuModel(), Cores: runtime.NumCPU(), BLAS: model.Backend(), Started: start.UTC().Format(time.RFC3339),
		Command: command}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.Commit = s.Value
			case "vcs.modified":
				p.Dirty = s.Value == "true"
			}
		}
	}
	if p.Commit == "unknown" {
		// built without VCS stamping (go run, go test, -buildvcs=false):
		// ask git about the working directory, when there is one
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			p.Commit = strings.TrimSpace(string(out)) + " (from git, not the build)"
			st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
			p.Dirty = err == nil && len(strings.TrimSpace(string(st))) > 0
		}
	}
	return p
}

// cpuModel is the processor's name from /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
