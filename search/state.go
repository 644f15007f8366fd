package search

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
)

// stateVersion names the state layout and the search's definition (its
// ladders and rules): a state of another version is not resumed.
const stateVersion = "mnistc-search/2"

// state is what makes a search resumable: every trial so far and the bytes
// each step was estimated to save, written atomically to
// DIR/state.json after each trial, and the accepted model in
// DIR/model-HASH.npz. A rerun replays the same decisions from it (the
// search is deterministic) and continues where it stopped.
type state struct {
	dir     string
	Version string  `json:"version"`
	Key     string  `json:"key"` // the input model, data and options
	Trials  []Trial `json:"trials"`
	// Saved holds the bytes each step was estimated to save, by
	// "accepted recipe | step recipe".
	Saved   map[string]int `json:"saved"`
	Done    bool           `json:"done"`
	resumed int            // trials found on opening
}

const stateFile = "state.json"

// ErrOtherState is returned when the state folder holds another search's
// state: resuming it would mix two searches.
var ErrOtherState = errors.New("holds another search")

// openState reads dir's state when it is the same search (key), starts an
// empty one when dir holds none, and refuses another search's state. An
// empty dir keeps the state in memory only.
func openState(dir, key string) (*state, error) {
	st := &state{dir: dir, Version: stateVersion, Key: key, Saved: map[string]int{}}
	if dir == "" {
		return st, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	var old state
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("state %s: %s is not a search state: %v", dir, stateFile, err)
	}
	if old.Version != stateVersion || old.Key != key {
		return nil, fmt.Errorf("state %s: %w (other model, data, options or version): remove it or give another state folder", dir, ErrOtherState)
	}
	for i, t := range old.Trials {
		if t.N != i+1 || t.Key == "" {
			return nil, fmt.Errorf("state %s: trial %d is damaged: remove the folder to start afresh", dir, i+1)
		}
	}
	old.dir, old.resumed = dir, len(old.Trials)
	if old.Saved == nil {
		old.Saved = map[string]int{}
	}
	return &old, nil
}

// save writes the state atomically.
func (st *state) save() error {
	if st.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	return model.WriteFileAtomic(filepath.Join(st.dir, stateFile), append(b, '\n'))
}

func (st *state) resumeNote() string {
	if st.resumed == 0 {
		return ""
	}
	return fmt.Sprintf(" (resuming: %d trials recorded in %s)", st.resumed, st.dir)
}

// trial returns the recorded trial of the recipe key.
func (st *state) trial(key string) (Trial, bool) {
	for _, t := range st.Trials {
		if t.Key == key {
			return t, true
		}
	}
	return Trial{}, false
}

func (st *state) modelPath(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(st.dir, "model-"+hex.EncodeToString(h[:8])+".npz")
}

// saveModel keeps the accepted model of recipe key.
func (st *state) saveModel(key string, ck model.Checkpoint) error {
	if st.dir == "" {
		return nil
	}
	return ck.Save(st.modelPath(key))
}

// loadModel returns the kept model of recipe key, if there is one.
func (st *state) loadModel(key string) (model.Checkpoint, bool) {
	if st.dir == "" {
		return model.Checkpoint{}, false
	}
	ck, err := model.Load(st.modelPath(key))
	return ck, err == nil
}

// dropModels removes the kept models other than recipe key's.
func (st *state) dropModels(key string) {
	if st.dir == "" {
		return
	}
	keep := filepath.Base(st.modelPath(key))
	names, _ := filepath.Glob(filepath.Join(st.dir, "model-*.npz"))
	for _, n := range names {
		if filepath.Base(n) != keep {
			os.Remove(n)
		}
	}
}

// stateKey hashes what determines a search: the input model (weights and
// the metadata a packed file keeps), the training and validation images,
// and the options that change decisions. Trials is left out, so a rerun
// with more trials continues the same search.
func stateKey(ck model.Checkpoint, train, val data.Set, opt Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", stateVersion)
	for _, t := range ck.Params.Tensors() {
		fmt.Fprintf(h, "%s %v\n", t.Name, t.Shape)
		binary.Write(h, binary.LittleEndian, t.Data)
	}
	meta, _ := json.Marshal(mnc.Lean(ck.Meta))
	h.Write(meta)
	for _, s := range []data.Set{train, val} {
		fmt.Fprintf(h, "\n%d %d %d\n", s.Len(), s.Dim, s.NumClasses)
		h.Write(s.Y)
	}
	binary.Write(h, binary.LittleEndian, val.X)
	fmt.Fprintf(h, "\n%v %d %d %v %q %d %v\n", math.Float64bits(opt.MaxDrop), opt.Seed, opt.Epochs, math.Float64bits(opt.LR), opt.Schedule, opt.Batch, math.Float64bits(opt.Guard))
	fmt.Fprintf(h, "%v %v %v %v\n", keepLadder, bitsLadder, unitsLadder, biasLadder)
	if d := opt.Distill; d != nil {
		fmt.Fprintf(h, "distill %v %v %v\n", math.Float64bits(d.Temperature), math.Float64bits(d.Alpha), d.Shifted)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
