package compress

import (
	"encoding/json"
	"fmt"
	"time"

	"mnistc/data"
	"mnistc/model"
)

// Record is the evaluation of one pass against the state before it (or,
// with Pass "total", of a whole chain against the original).
type Record struct {
	Step         int               `json:"step"` // 1-based position in the chain; 0 for the total
	Pass         string            `json:"pass"`
	Spec         string            `json:"spec"`
	Params       map[string]string `json:"params"`
	AccBefore    float64           `json:"acc_before"`
	AccAfter     float64           `json:"acc_after"`
	DeltaPP      float64           `json:"delta_pp"`
	LossBefore   float64           `json:"loss_before"`
	LossAfter    float64           `json:"loss_after"`
	CorrectAfter int               `json:"correct_after"`
	// Sizes are the network's widths after the step, [inputs, hidden…,
	// classes] (a neuron-pruned net is smaller); Arch prints them.
	Sizes   []int         `json:"sizes"`
	Tensors []TensorStats `json:"tensors"`
	// DenseBytes is the float32 size of the parameters after the step;
	// SizeBytes what the representation needs (see Measure); Ratio is the
	// original float32 size over SizeBytes.
	DenseBytes    int             `json:"dense_bytes"`
	SizeBytes     int             `json:"size_bytes"`
	Ratio         float64         `json:"ratio"`
	BitsPerWeight float64         `json:"bits_per_weight"`
	ActQuant      *model.ActQuant `json:"actquant,omitempty"`
	EvalMS        float64         `json:"eval_ms"`
}

// Arch names the network's architecture after the step, as "784-128-10".
func (r Record) Arch() string { return model.ArchName(r.Sizes) }

// UnmarshalJSON reads a record, giving those written before networks had
// depth (which held "hidden": H instead of sizes) the sizes their tensors'
// shapes say, or, without tensors, those of the one network they could
// describe: 784-H-10.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var v struct {
		plain
		Hidden int `json:"hidden"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Record(v.plain)
	if r.Sizes == nil && v.Hidden > 0 {
		if r.Sizes = SizesOf(r.Tensors); r.Sizes == nil {
			r.Sizes = []int{model.Inputs, v.Hidden, model.Classes}
		}
	}
	return nil
}

// SizesOf returns the widths [inputs, hidden…, classes] the weight shapes
// of tensor stats w1, w2, … give, or nil when they do not chain.
func SizesOf(ts []TensorStats) []int {
	var sizes []int
	for l := 1; ; l++ {
		var w *TensorStats
		for i := range ts {
			if ts[i].Name == model.WeightName(l) {
				w = &ts[i]
			}
		}
		if w == nil {
			break
		}
		if len(w.Shape) != 2 || (sizes != nil && sizes[len(sizes)-1] != w.Shape[0]) {
			return nil
		}
		if sizes == nil {
			sizes = []int{w.Shape[0]}
		}
		sizes = append(sizes, w.Shape[1])
	}
	return sizes
}

// Result is a chain's outcome: the final state and one record per pass
// plus the total.
type Result struct {
	State   State
	Records []Record
}

// Run applies the passes in order to the checkpoint, evaluating on test
// before and after each; calibration reads only env.Calib.
func Run(c model.Checkpoint, passes []Pass, env Env, test data.Set) (Result, error) {
	cur := NewState(c)
	var before model.Result
	if env.Before != nil {
		before = *env.Before
	} else {
		before, _ = evaluate(cur, test)
	}
	first := before
	origDense := 4 * c.Params.Count()
	var res Result
	for i, p := range passes {
		next, err := p.Apply(cur, env)
		if err != nil {
			return Result{}, fmt.Errorf("pass %d (%s): %w", i+1, p.Spec(), err)
		}
		after, ms := evaluate(next, test)
		res.Records = append(res.Records, record(i+1, p.Spec(), before, after, next, origDense, ms))
		cur, before = next, after
	}
	total := record(0, Spec{Name: "total", Args: map[string]string{}}, first, before, cur, origDense, 0)
	total.Spec = chainText(passes)
	res.Records = append(res.Records, total)
	res.State = cur
	return res, nil
}

func chainText(passes []Pass) string {
	s := ""
	for i, p := range passes {
		if i > 0 {
			s += " → "
		}
		s += p.Spec().String()
	}
	return s
}

func evaluate(s State, test data.Set) (model.Result, float64) {
	start := time.Now()
	r := model.Evaluate(s.Params, test, s.ActQuant)
	return r, float64(time.Since(start).Microseconds()) / 1000
}

func record(step int, s Spec, before, after model.Result, st State, origDense int, ms float64) Record {
	ts := Measure(st)
	size, dense, bpw := Totals(ts)
	return Record{
		Step: step, Pass: s.Name, Spec: s.String(), Params: s.Args,
		AccBefore: before.Accuracy, AccAfter: after.Accuracy, DeltaPP: 100 * (after.Accuracy - before.Accuracy),
		LossBefore: before.Loss, LossAfter: after.Loss, CorrectAfter: after.Correct, Sizes: st.Params.Sizes(),
		Tensors: ts, DenseBytes: dense, SizeBytes: size, Ratio: float64(origDense) / float64(max(1, size)),
		BitsPerWeight: bpw, ActQuant: st.ActQuant, EvalMS: ms,
	}
}
