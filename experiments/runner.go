package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"mnistc/compress"
	"mnistc/data"
	"mnistc/mnc"
	"mnistc/model"
	"mnistc/retrain"
	"mnistc/robust"
	"mnistc/search"
	"mnistc/training"
)

// Record is one cell evaluated for one seed, with the full config that
// produced it.
type Record struct {
	Key        string            `json:"key"`
	Experiment string            `json:"experiment"`
	Sweep      string            `json:"sweep"`
	Seed       int64             `json:"seed"`
	Cell       Cell              `json:"cell"`
	Train      model.TrainConfig `json:"train"`
	Data       string            `json:"data"`
	Baseline   Baseline          `json:"baseline"`
	Steps      []compress.Record `json:"steps"` // one per pass, then the chain total
	// Finetune is set for a fine-tuning cell: its budget and what it did.
	Finetune *FinetuneResult `json:"finetune,omitempty"`
	// Packed is the real size: the cell's weights written as a .mnc file.
	Packed *Packed `json:"packed,omitempty"`
	// ValAccuracy is the cell's model (compressed, fine-tuned or student)
	// on the validation split: what selections ("smallest within X pp",
	// Pareto picks) are made on, so the test set is only reported.
	ValAccuracy float64 `json:"val_accuracy"`
	// Seconds is the cell's wall-clock time (evaluation or training).
	Seconds float64 `json:"seconds"`
	// Robust is the cell's model under attack and corruption, when the
	// experiment asks for it (robust:).
	Robust *robust.Result `json:"robust,omitempty"`
	// Search is what a search cell found (search:).
	Search *SearchOutcome `json:"search,omitempty"`
}

// SearchOutcome is a search cell's recipe and how it got there; the
// cell's total step holds the test accuracy, Packed the file.
type SearchOutcome struct {
	Recipe    string   `json:"recipe"`
	Specs     []string `json:"specs"`
	MaxDropPP float64  `json:"max_drop_pp"`
	Guard     float64  `json:"guard"`
	ValDropPP float64  `json:"val_drop_pp"` // positive: a loss
	ValSEPP   float64  `json:"val_se_pp"`
	Trials    int      `json:"trials"`
	Accepted  int      `json:"accepted"`
	Seconds   float64  `json:"seconds"` // the search's wall time
}

// Packed is the length of the cell's packed model file (package mnc, with
// the lean metadata a deployed model carries: activation ranges, recipe,
// source) against the float32 parameters of the baseline.
type Packed struct {
	Bytes     int     `json:"bytes"`
	MetaBytes int     `json:"meta_bytes"`
	Ratio     float64 `json:"ratio"`
	// Tensors is the file's per-tensor table (kept weights, code and index
	// bits before and after Huffman coding, bytes): Deep Compression's
	// per-layer breakdown.
	Tensors []mnc.TensorSummary `json:"tensors,omitempty"`
}

// pack measures the packed size of a cell's result.
func pack(p model.Params, aq *model.ActQuant, train model.TrainConfig, specs []string, floatBytes int) (*Packed, error) {
	meta := mnc.Lean(model.Meta{Train: &train, ActQuant: aq, Source: "mnistc sweep: " + strings.Join(specs, " → ")})
	b, f, err := mnc.Pack(model.Checkpoint{Params: p, Meta: meta})
	if err != nil {
		return nil, err
	}
	return &Packed{Bytes: len(b), MetaBytes: f.MetaBytes, Ratio: float64(floatBytes) / float64(len(b)), Tensors: f.Summary()}, nil
}

// FinetuneResult is a fine-tuning cell's budget and outcome. The cell's
// total step record holds the accuracy and size after fine-tuning.
type FinetuneResult struct {
	// Kind is how the cell trains: "" (fine-tunes the baseline), "scratch"
	// (a fresh network with the passes in the loop: the article's §4 flow),
	// "distilled" or "alone" (a student of a distillation sweep).
	Kind         string              `json:"kind,omitempty"`
	Train        model.TrainConfig   `json:"train"`
	AccNoRetrain float64             `json:"acc_no_retrain"` // the same passes after training, no fine-tuning
	Schedules    []map[string]string `json:"schedules"`
	Seconds      float64             `json:"train_seconds"`
}

// Total returns the chain total (the last step record).
func (r Record) Total() compress.Record { return r.Steps[len(r.Steps)-1] }

// Baseline identifies the trained checkpoint a record started from.
type Baseline struct {
	Key          string  `json:"key"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestCorrect  int     `json:"test_correct"`
	ValAccuracy  float64 `json:"val_accuracy"` // on the validation split
	// Robust is the baseline under attack and corruption (robust:).
	Robust *robust.Result `json:"robust,omitempty"`
}

// Options are the runner's settings.
type Options struct {
	Out   string // results folder
	Data  string // MNIST folder
	Jobs  int    // parallel cells; 0 means one per core
	Force bool   // reuse a folder made by another experiment file
	// Fresh starts over when the folder holds a completed run: its records
	// and baselines move into previous-<UTC time>/ (nothing is deleted). An
	// incomplete run is resumed either way.
	Fresh bool
	// Progress, if set, is called after each finished cell.
	Progress func(done, total int, elapsed time.Duration)
	// Log, if set, receives one line per notable event (baseline trained…).
	Log func(format string, a ...any)
	// Shard, if set (Count > 0), runs only this shard's share of the cells
	// (and the baselines they need); mnistc merge gathers the shards.
	Shard Shard
	// Command is the command line recorded in the manifest's provenance.
	Command []string
}

// Summary is what a run did.
type Summary struct {
	Cells, Skipped, Ran int
	Seconds             float64 // the whole run
	CellSeconds         float64 // evaluating the cells that ran (after the baselines)
	Records             []Record
}

// Files a results folder holds.
const (
	LogFile      = "results.jsonl"
	ManifestFile = "manifest.json"
	CopyFile     = "experiment.yaml"
)

// Run runs experiment e into opt.Out, resuming from any records there.
// Cancelling ctx stops it between cells; what finished is kept.
func Run(ctx context.Context, e *Experiment, opt Options) (Summary, error) {
	start := time.Now()
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	unlock, err := lockFolder(opt.Out)
	if err != nil {
		return Summary{}, err
	}
	defer unlock()
	if err := claimFolder(e, opt); err != nil {
		return Summary{}, err
	}
	if err := setComplete(opt.Out, false); err != nil {
		return Summary{}, err
	}
	logPath := filepath.Join(opt.Out, LogFile)
	old, torn, err := ReadLog(logPath)
	if err != nil {
		return Summary{}, err
	}
	if torn {
		logf("repairing %s: dropping a torn last line from an interrupted run", logPath)
		if err := repairLog(logPath, old); err != nil {
			return Summary{}, err
		}
	}
	done := map[string]Record{}
	for _, r := range old {
		done[r.Key] = r
	}
	full, test, err := data.Load(opt.Data)
	if err != nil {
		return Summary{}, err
	}
	if e.Train.Limit > 0 && e.Train.Limit < full.Len() {
		full = full.Slice(0, e.Train.Limit)
	}
	train, val, err := data.Split(full, e.Train.ValImages())
	if err != nil {
		return Summary{}, fmt.Errorf("train.val: %v", err)
	}
	fp := fingerprint(train, val)
	// every cell of every seed, then this shard's share of them
	var jobs []job
	for _, seed := range e.Seeds {
		cfg := e.Train.TrainConfig(seed)
		cfg.TrainImages, cfg.ValImages = train.Len(), val.Len()
		for _, s := range e.Sweeps {
			cells, _ := s.Cells()
			for _, c := range cells {
				jobs = append(jobs, job{rec: jobRecord(e, s, c, cfg, fp, Baseline{}), search: s.Search})
			}
		}
	}
	jobs = opt.Shard.take(jobs)
	// the baselines the shard's cells start from
	type base struct {
		bl Baseline
		ck *model.Checkpoint
		re *robustEval
	}
	bases := map[int64]base{}
	for i := range jobs {
		seed := jobs[i].rec.Seed
		b, ok := bases[seed]
		if !ok {
			bl, ck, err := baseline(opt.Out, e.Train.TrainConfig(seed), fp, train, val, test, logf)
			if err != nil {
				return Summary{}, err
			}
			b = base{bl: bl, ck: ck}
			if e.Robust != nil && !allDone(jobs, seed, done) {
				if b.re, b.bl.Robust, err = newRobustEval(*e.Robust, seed, ck, test); err != nil {
					return Summary{}, err
				}
			}
			bases[seed] = b
		}
		jobs[i].rec.Baseline, jobs[i].ck, jobs[i].re = b.bl, b.ck, b.re
		jobs[i].state = filepath.Join(opt.Out, searchStateDir, jobs[i].rec.Key)
	}
	sum := Summary{Cells: len(jobs)}
	var todo []job
	queued := map[string]bool{}
	for _, j := range jobs {
		if _, ok := done[j.rec.Key]; ok || queued[j.rec.Key] {
			sum.Skipped++ // done already, or the same configuration queued by another sweep
		} else {
			queued[j.rec.Key] = true
			todo = append(todo, j)
		}
	}
	cellStart := time.Now()
	recs, err := runJobs(ctx, todo, logPath, train, val, test, opt, sum.Skipped, len(jobs))
	os.Remove(filepath.Join(opt.Out, searchStateDir)) // gone when no search is left unfinished
	sum.CellSeconds = time.Since(cellStart).Seconds()
	sum.Ran = len(recs)
	for _, r := range recs {
		done[r.Key] = r
	}
	for _, j := range jobs {
		if r, ok := done[j.rec.Key]; ok {
			// the same configuration may appear in several sweeps (a shared
			// control): each gets the record under its own sweep and cell
			r.Sweep, r.Cell = j.rec.Sweep, j.rec.Cell
			sum.Records = append(sum.Records, r)
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	prov := newProvenance(start, opt.Command)
	prov.Finished, prov.WallSeconds, prov.Ran, prov.Shard = time.Now().UTC().Format(time.RFC3339), sum.Seconds, sum.Ran, opt.Shard.String()
	if merr := finishManifest(opt.Out, prov, err == nil && len(sum.Records) == sum.Cells); err == nil {
		err = merr
	}
	return sum, err
}

type job struct {
	rec Record
	ck  *model.Checkpoint
	re  *robustEval // nil unless the experiment measures robustness
	// state is where a search cell keeps its resumable state (removed once
	// the cell is done)
	state  string
	search *SearchPlan // a search cell's plan
}

// allDone reports whether every job of the seed has its record already.
func allDone(jobs []job, seed int64, done map[string]Record) bool {
	for _, j := range jobs {
		if _, ok := done[j.rec.Key]; j.rec.Seed == seed && !ok {
			return false
		}
	}
	return true
}

// runJobs evaluates the jobs on opt.Jobs workers; a single writer appends
// each finished record to the log before the next is taken as done.
func runJobs(ctx context.Context, todo []job, logPath string, train, val, test data.Set, opt Options, already, total int) ([]Record, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	app, err := openAppender(logPath)
	if err != nil {
		return nil, err
	}
	defer app.close()
	workers := opt.Jobs
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if workers > 1 {
		model.SetBLASThreads(1) // parallel cells, not parallel GEMMs
		defer model.SetBLASThreads(0)
	}
	befores := map[*model.Checkpoint]model.Result{}
	for _, j := range todo {
		if _, ok := befores[j.ck]; !ok {
			befores[j.ck] = model.Evaluate(j.ck.Params, test, j.ck.Meta.ActQuant)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan job)
	out := make(chan Record)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range in {
				t0 := time.Now()
				r, err := evalCell(j, train, val, test, befores[j.ck])
				r.Seconds = time.Since(t0).Seconds()
				if err != nil {
					errc <- err
					cancel() // stop feeding; the other workers finish their cell
					return
				}
				out <- r
			}
		}()
	}
	go func() {
		defer close(in)
		for _, j := range todo {
			select {
			case in <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()
	start := time.Now()
	var recs []Record
	var firstErr error
	for r := range out {
		if firstErr != nil {
			continue
		}
		if err := app.add(r); err != nil {
			firstErr = fmt.Errorf("append %s: %w", logPath, err)
			continue
		}
		if r.Search != nil { // logged: a rerun will not need the search's state
			if err := os.RemoveAll(filepath.Join(filepath.Dir(logPath), searchStateDir, r.Key)); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		recs = append(recs, r)
		if opt.Progress != nil {
			opt.Progress(already+len(recs), total, time.Since(start))
		}
	}
	select {
	case err := <-errc:
		if firstErr == nil {
			firstErr = err
		}
	default:
	}
	if firstErr == nil && len(recs) < len(todo) {
		firstErr = context.Canceled
	}
	return recs, firstErr
}

func evalCell(j job, train, val, test data.Set, before model.Result) (Record, error) {
	if f := j.rec.Finetune; f != nil {
		switch f.Kind {
		case "distilled", "alone":
			return studentCell(j, train, val, test, before)
		case "search":
			return searchCell(j, train, val, test, before)
		}
		return finetuneCell(j, train, val, test)
	}
	passes, err := compress.Build(j.rec.Cell.Specs)
	if err != nil {
		return Record{}, err
	}
	res, err := compress.Run(*j.ck, passes, compress.Env{Calib: val, Before: &before}, test)
	if err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: %w", j.rec.Seed, j.rec.Cell.Specs, err)
	}
	r := j.rec
	r.Steps = res.Records
	r.ValAccuracy = model.Evaluate(res.State.Params, val, res.State.ActQuant).Accuracy
	if r.Robust, err = j.re.eval(res.State.Params, res.State.ActQuant, test); err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: robust: %w", r.Seed, r.Cell.Specs, err)
	}
	if r.Packed, err = pack(res.State.Params, res.State.ActQuant, r.Train, r.Cell.Specs, 4*j.ck.Params.Count()); err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: %w", r.Seed, r.Cell.Specs, err)
	}
	return r, nil
}

// finetuneConfig is the training recipe of a fine-tuning cell.
func finetuneConfig(b Budget, specs []string, base model.TrainConfig) model.TrainConfig {
	c := retrain.DefaultTrain()
	// the network fine-tuned is the baseline's (records say which)
	c.LR, c.Seed, c.Layers = retrain.DefaultLR(specs), base.Seed, append([]int(nil), base.Layers...)
	c.Schedule = retrain.DefaultSchedule(specs)
	return b.apply(c)
}

// apply overrides c's epochs, batch and learning rate with the budget's
// non-zero ones.
func (b Budget) apply(c model.TrainConfig) model.TrainConfig {
	if b.Epochs > 0 {
		c.Epochs = b.Epochs
	}
	if b.Batch > 0 {
		c.Batch = b.Batch
	}
	if b.LR > 0 {
		c.LR = b.LR
	}
	if b.Adversarial != nil {
		a := *b.Adversarial
		c.Adversarial = &a
	}
	return c
}

// finetuneCell fine-tunes the seed's baseline with the cell's passes held
// in the loop and records the result as the cell's total.
func finetuneCell(j job, train, val, test data.Set) (Record, error) {
	r := j.rec
	ft := *r.Finetune
	var out model.Checkpoint
	var rec retrain.Record
	var err error
	if ft.Kind == FromScratch {
		out, rec, err = retrain.Train(retrain.Config{Train: ft.Train, Passes: r.Cell.Specs, Reference: j.ck}, train, val, test, training.Hooks{})
	} else {
		out, rec, err = retrain.Run(*j.ck, retrain.Config{Train: ft.Train, Passes: r.Cell.Specs}, train, val, test, training.Hooks{})
	}
	if err != nil {
		return Record{}, fmt.Errorf("seed %d, fine-tune %v: %w", r.Seed, r.Cell.Specs, err)
	}
	r.ValAccuracy = model.Evaluate(out.Params, val, out.Meta.ActQuant).Accuracy
	if r.Robust, err = j.re.eval(out.Params, out.Meta.ActQuant, test); err != nil {
		return Record{}, fmt.Errorf("seed %d, fine-tune %v: robust: %w", r.Seed, r.Cell.Specs, err)
	}
	if r.Packed, err = pack(out.Params, out.Meta.ActQuant, ft.Train, r.Cell.Specs, 4*j.ck.Params.Count()); err != nil {
		return Record{}, fmt.Errorf("seed %d, fine-tune %v: %w", r.Seed, r.Cell.Specs, err)
	}
	_, _, bpw := compress.Totals(rec.Tensors)
	total := compress.Record{Pass: "total", Spec: rec.Spec, Params: map[string]string{}, AccBefore: rec.AccBefore,
		AccAfter: rec.AccAfter, DeltaPP: rec.DeltaPP, LossAfter: rec.LossAfter, CorrectAfter: rec.CorrectAfter,
		Sizes: rec.Sizes, Tensors: rec.Tensors, SizeBytes: rec.SizeBytes, Ratio: rec.Ratio, BitsPerWeight: bpw}
	r.Steps = []compress.Record{total}
	ft.AccNoRetrain, ft.Schedules, ft.Seconds = rec.AccNoRetrain, rec.Schedules, rec.Seconds
	r.Finetune = &ft
	return r, nil
}

// jobRecord is the record a cell starts from for one seed (cfg carries
// the seed and the split sizes): its config, training plan and key.
func jobRecord(e *Experiment, s *Sweep, c Cell, cfg model.TrainConfig, fp string, bl Baseline) Record {
	r := Record{Experiment: e.Name, Sweep: s.Name, Seed: cfg.Seed, Cell: c, Train: cfg, Data: fp, Baseline: bl}
	switch {
	case s.Distill != nil:
		r.Finetune = studentPlan(*s.Distill, c, cfg)
	case s.Search != nil:
		r.Finetune = &FinetuneResult{Kind: "search"}
	case s.Finetune != nil && s.Finetune.From == FromScratch:
		r.Finetune = &FinetuneResult{Kind: FromScratch, Train: scratchConfig(*s.Finetune, cfg)}
	case s.Finetune != nil:
		r.Finetune = &FinetuneResult{Train: finetuneConfig(*s.Finetune, c.Specs, cfg)}
	}
	r.Key = cellKey(r, e.Robust)
	return r
}

// Expand lays the logged records out as the experiment's cells: each
// cell of each sweep, for each seed the log holds, gets the record of its
// configuration under its own sweep and cell (a configuration that appears
// in two sweeps, such as a shared control, is run once and shown in both).
// Cells without a record are left out.
func Expand(e *Experiment, log []Record) []Record {
	byKey := map[string]Record{}
	seeds := map[int64]Record{}
	for _, r := range log {
		byKey[r.Key] = r
		if _, ok := seeds[r.Seed]; !ok {
			seeds[r.Seed] = r
		}
	}
	var out []Record
	for _, seed := range e.Seeds {
		ref, ok := seeds[seed]
		if !ok {
			continue
		}
		for _, s := range e.Sweeps {
			cells, _ := s.Cells()
			for _, c := range cells {
				j := jobRecord(e, s, c, ref.Train, ref.Data, ref.Baseline)
				if r, ok := byKey[j.Key]; ok {
					r.Sweep, r.Cell = j.Sweep, j.Cell
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// scratchConfig is the recipe of a §4-flow cell: the baseline's recipe
// (same seed), with the budget's overrides.
func scratchConfig(b Budget, base model.TrainConfig) model.TrainConfig {
	c := base
	c.TrainImages, c.ValImages = 0, 0
	return b.apply(c)
}

// studentPlan is the recipe of a distillation sweep's student: the
// baseline's recipe (same seed) at the student's width, with the soft
// targets for the distilled one.
func studentPlan(d DistillPlan, c Cell, base model.TrainConfig) *FinetuneResult {
	t := base
	t.TrainImages, t.ValImages = 0, 0
	t.Layers, _ = ParseStudent(c.Point["hidden"]) // checked when the file was read
	if d.Epochs > 0 {
		t.Epochs = d.Epochs
	}
	t.Jitter, t.Schedule = d.Jitter, d.Schedule
	kind := c.Methods[0]
	if kind == "distilled" {
		set := d.Settings()
		t.Distill = &set
	}
	return &FinetuneResult{Kind: kind, Train: t}
}

// studentCell trains a distillation sweep's student — from the seed's
// baseline as teacher, or alone — and records it against the teacher.
func studentCell(j job, train, val, test data.Set, teacher model.Result) (Record, error) {
	r := j.rec
	ft := *r.Finetune
	var res training.TrainResult
	var err error
	if ft.Kind == "distilled" {
		res, err = training.TrainDistilled(ft.Train, j.ck.Params, j.ck.Meta.ActQuant, train, val, training.Hooks{})
	} else {
		res, err = training.Train(ft.Train, train, val, training.Hooks{})
	}
	if err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: %w", r.Seed, r.Cell.Specs, err)
	}
	after := model.Evaluate(res.Params, test, nil)
	r.ValAccuracy = model.Evaluate(res.Params, val, nil).Accuracy
	if r.Robust, err = j.re.eval(res.Params, nil, test); err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: robust: %w", r.Seed, r.Cell.Specs, err)
	}
	size := 4 * res.Params.Count()
	ts := compress.Measure(compress.State{Params: res.Params})
	total := compress.Record{Pass: "total", Spec: r.Cell.Specs[0], Params: map[string]string{}, AccBefore: teacher.Accuracy,
		AccAfter: after.Accuracy, DeltaPP: 100 * (after.Accuracy - teacher.Accuracy), LossAfter: after.Loss,
		CorrectAfter: after.Correct, Sizes: res.Params.Sizes(), Tensors: ts, DenseBytes: size, SizeBytes: size,
		Ratio: float64(4*j.ck.Params.Count()) / float64(size), BitsPerWeight: 32}
	r.Steps = []compress.Record{total}
	for _, s := range res.Seconds {
		ft.Seconds += s
	}
	r.Finetune = &ft
	if r.Packed, err = pack(res.Params, nil, ft.Train, r.Cell.Specs, 4*j.ck.Params.Count()); err != nil {
		return Record{}, err
	}
	return r, nil
}

// nothingFits records a search that found no recipe within its budget:
// its answer is the baseline itself, uncompressed (packed as it is), so
// the sweep completes and the report shows it rather than failing on
// every rerun.
func nothingFits(j job, test data.Set, before model.Result, opt search.Options) (Record, error) {
	r := j.rec
	ck := *j.ck
	var err error
	train := r.Train
	if ck.Meta.Train != nil {
		train = *ck.Meta.Train
	}
	if r.Packed, err = pack(ck.Params, ck.Meta.ActQuant, train, nil, 4*ck.Params.Count()); err != nil {
		return Record{}, err
	}
	r.Steps = []compress.Record{searchTotal("none", ck.Params, before, before, ck.Params.Count())}
	r.ValAccuracy = r.Baseline.ValAccuracy
	if r.Robust, err = j.re.eval(ck.Params, ck.Meta.ActQuant, test); err != nil {
		return Record{}, err
	}
	r.Finetune = &FinetuneResult{Kind: "search", Train: train}
	r.Search = &SearchOutcome{Recipe: "nothing fits the budget: the baseline as it is", MaxDropPP: opt.MaxDrop, Guard: opt.Guard}
	return r, nil
}

// searchTotal is a search cell's total step: p (the search's model, or
// the baseline when nothing fitted) on the test set against the baseline,
// and its size model against floatParams float32 parameters.
func searchTotal(spec string, p model.Params, before, after model.Result, floatParams int) compress.Record {
	ts := compress.Measure(compress.State{Params: p})
	_, size, bpw := compress.Totals(ts)
	return compress.Record{Pass: "total", Spec: spec, Params: map[string]string{}, AccBefore: before.Accuracy,
		AccAfter: after.Accuracy, DeltaPP: 100 * (after.Accuracy - before.Accuracy), LossAfter: after.Loss, CorrectAfter: after.Correct,
		Sizes: p.Sizes(), Tensors: ts, SizeBytes: size, Ratio: float64(4*floatParams) / float64(max(size, 1)), BitsPerWeight: bpw}
}

// searchStateDir is the folder, inside the results folder, that holds
// unfinished search cells' states: a killed sweep resumes them.
const searchStateDir = ".search"

// searchCell runs mnistc search from the seed's baseline at the cell's
// budget, with the seed as the search's seed, and records the result: the
// test set is read once, at the end.
func searchCell(j job, train, val, test data.Set, before model.Result) (Record, error) {
	r := j.rec
	var maxDrop float64
	if _, err := fmt.Sscanf(r.Cell.Point["max_drop"], "%g", &maxDrop); err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: max_drop: %v", r.Seed, r.Cell.Specs, err)
	}
	opt := j.search.Options(maxDrop, r.Seed)
	opt.StateDir = j.state
	res, err := search.Run(*j.ck, train, val, opt)
	if errors.Is(err, search.ErrNothingFits) {
		return nothingFits(j, test, before, opt)
	}
	if err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: %w", r.Seed, r.Cell.Specs, err)
	}
	ck := res.Checkpoint
	after := model.Evaluate(ck.Params, test, ck.Meta.ActQuant)
	r.ValAccuracy = res.ValAccuracy
	if r.Robust, err = j.re.eval(ck.Params, ck.Meta.ActQuant, test); err != nil {
		return Record{}, fmt.Errorf("seed %d, %v: robust: %w", r.Seed, r.Cell.Specs, err)
	}
	f, err := mnc.Decode(res.Packed)
	if err != nil {
		return Record{}, err
	}
	r.Packed = &Packed{Bytes: res.Bytes, MetaBytes: f.MetaBytes, Ratio: res.Ratio, Tensors: f.Summary()}
	r.Steps = []compress.Record{searchTotal(strings.Join(res.Specs, " → "), ck.Params, before, after, j.ck.Params.Count())}
	r.Finetune = &FinetuneResult{Kind: "search", Train: res.Train, Seconds: res.TrialSeconds}
	r.Search = &SearchOutcome{Recipe: res.Recipe.String(), Specs: res.Specs, MaxDropPP: res.MaxDropPP, Guard: res.Guard,
		ValDropPP: res.ValDropPP, ValSEPP: res.ValSEPP, Trials: len(res.Trials), Accepted: res.Accepted(), Seconds: res.Seconds}
	return r, nil // its state goes once the record is logged (runJobs)
}

// cellKey hashes everything that determines a cell's numbers. A kind is
// hashed only when set, so fine-tuning cells keep their earlier keys.
func cellKey(r Record, rp *RobustPlan) string {
	var ft *model.TrainConfig
	kind := ""
	if r.Finetune != nil {
		ft, kind = &r.Finetune.Train, r.Finetune.Kind
	}
	b, _ := json.Marshal(struct {
		Train    model.TrainConfig
		Data     string
		Specs    []string
		Finetune *model.TrainConfig `json:",omitempty"`
		Kind     string             `json:",omitempty"`
		Robust   *RobustPlan        `json:",omitempty"`
	}{r.Train, r.Data, r.Cell.Specs, ft, kind, rp})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// fingerprint identifies the training and validation images and labels.
func fingerprint(sets ...data.Set) string {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	n := 0
	for _, s := range sets {
		if len(s.X) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&s.X[0])), 4*len(s.X)))
		}
		h.Write(s.Y)
		n += s.Len()
	}
	return fmt.Sprintf("%d:%08x", n, h.Sum32())
}

// baseline loads the seed's trained checkpoint from the cache or trains it.
func baseline(out string, cfg model.TrainConfig, fp string, train, val, test data.Set, logf func(string, ...any)) (Baseline, *model.Checkpoint, error) {
	c := cfg
	c.TrainImages, c.ValImages = train.Len(), val.Len()
	b, _ := json.Marshal(struct {
		Train model.TrainConfig
		Data  string
	}{c, fp})
	h := sha256.Sum256(b)
	key := hex.EncodeToString(h[:8])
	path := filepath.Join(out, "baselines", fmt.Sprintf("seed%d-%s.npz", cfg.Seed, key))
	if ck, err := model.Load(path); err == nil && ck.Meta.Test != nil {
		logf("seed %d: baseline %s from cache (test accuracy %.4f)", cfg.Seed, path, ck.Meta.Test.Accuracy)
		return Baseline{Key: key, TestAccuracy: ck.Meta.Test.Accuracy, TestCorrect: ck.Meta.Test.Correct,
			ValAccuracy: model.Evaluate(ck.Params, val, ck.Meta.ActQuant).Accuracy}, &ck, nil
	} else if !errors.Is(err, os.ErrNotExist) && err != nil {
		logf("seed %d: cached baseline unreadable (%v); training again", cfg.Seed, err)
	}
	logf("seed %d: training baseline (%d epochs, batch %d, %d images)", cfg.Seed, cfg.Epochs, cfg.Batch, train.Len())
	res, err := training.Train(cfg, train, val, training.Hooks{})
	if err != nil {
		return Baseline{}, nil, fmt.Errorf("train seed %d: %w", cfg.Seed, err)
	}
	r := model.Evaluate(res.Params, test, nil)
	ck := model.Checkpoint{Params: res.Params, Meta: model.Meta{Train: &res.Config, History: res.History, Test: &r,
		Backend: model.Backend(), Source: "mnistc sweep"}}
	if err := ck.Save(path); err != nil {
		return Baseline{}, nil, err
	}
	var secs float64
	for _, s := range res.Seconds {
		secs += s
	}
	logf("seed %d: test accuracy %.4f, %.1f s", cfg.Seed, r.Accuracy, secs)
	return Baseline{Key: key, TestAccuracy: r.Accuracy, TestCorrect: r.Correct,
		ValAccuracy: model.Evaluate(res.Params, val, nil).Accuracy}, &ck, nil
}

// claimFolder creates the results folder, or checks that it was made by
// this same experiment file (refusing another unless opt.Force), and saves
// a copy of the file and its hash.
func claimFolder(e *Experiment, opt Options) error {
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return err
	}
	sum := sha256.Sum256(e.Raw())
	m := Manifest{Experiment: e.Name, SHA256: hex.EncodeToString(sum[:]), Shard: opt.Shard.String()}
	if prev, err := ReadManifest(opt.Out); err == nil {
		// A completed run is set aside by --fresh whichever file made it
		// (an edited experiment file starts over); an unfinished run of
		// another file or another shard is refused, since resuming would
		// mix the two.
		switch {
		case prev.Complete && opt.Fresh:
			if err := setAside(opt.Out, logf(opt)); err != nil {
				return err
			}
		case prev.SHA256 != m.SHA256 && !opt.Force:
			return fmt.Errorf("%s was made by another experiment file (%s, sha256 %.12s…, this one %.12s…); use --force to run this one there (records whose config matches are reused, none are deleted), --fresh to set a completed run aside, or another --out",
				opt.Out, prev.Experiment, prev.SHA256, m.SHA256)
		case prev.Shard != m.Shard:
			return fmt.Errorf("%s holds %s; this run is %s: give each shard its own --out (mnistc merge gathers them)",
				opt.Out, shardText(prev.Shard), shardText(m.Shard))
		default:
			m.Runs = prev.Runs // resumed: the earlier invocations' provenance stays
		}
	}
	if err := writeManifest(opt.Out, m); err != nil {
		return err
	}
	return model.WriteFileAtomic(filepath.Join(opt.Out, CopyFile), e.Raw())
}

func logf(opt Options) func(string, ...any) {
	if opt.Log != nil {
		return opt.Log
	}
	return func(string, ...any) {}
}

// setComplete records in the manifest whether the run has every record.
func setComplete(dir string, complete bool) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	m.Complete = complete
	return writeManifest(dir, m)
}

// finishManifest adds this invocation's provenance to the manifest and
// records whether the run has every record.
func finishManifest(dir string, p Provenance, complete bool) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	m.Complete = complete
	m.Runs = append(m.Runs, p)
	return writeManifest(dir, m)
}

// setAside moves a completed run's records and baselines into
// previous-<UTC time>/ so a fresh run starts empty and nothing is lost.
func setAside(dir string, logf func(string, ...any)) error {
	dst, err := newAsideDir(dir, time.Now())
	if err != nil {
		return err
	}
	for _, name := range []string{LogFile, "baselines"} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dst, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	logf("starting afresh: the completed run's records and baselines are now in %s", dst)
	return nil
}

// newAsideDir creates and returns a folder previous-<UTC time>[-N] in dir
// that did not exist before: os.Mkdir fails on an existing name, so two
// runs set aside within the same second never share (and overwrite) one.
func newAsideDir(dir string, now time.Time) (string, error) {
	base := filepath.Join(dir, "previous-"+now.UTC().Format("20060102T150405Z"))
	for n := 1; ; n++ {
		dst := base
		if n > 1 {
			dst = fmt.Sprintf("%s-%d", base, n)
		}
		err := os.Mkdir(dst, 0o755)
		if err == nil {
			return dst, nil
		}
		if !errors.Is(err, os.ErrExist) || n >= 1000 {
			return "", err
		}
	}
}

// SortRecords orders records by sweep order, cell order and seed — the
// order of the experiment file — for stable outputs.
func SortRecords(e *Experiment, recs []Record) {
	pos := map[string]int{}
	i := 0
	for _, s := range e.Sweeps {
		cells, _ := s.Cells()
		for _, c := range cells {
			b, _ := json.Marshal(c.Specs)
			pos[s.Name+string(b)] = i
			i++
		}
	}
	key := func(r Record) int {
		b, _ := json.Marshal(r.Cell.Specs)
		return pos[r.Sweep+string(b)]
	}
	sort.SliceStable(recs, func(a, b int) bool {
		ka, kb := key(recs[a]), key(recs[b])
		if ka != kb {
			return ka < kb
		}
		return recs[a].Seed < recs[b].Seed
	})
}
