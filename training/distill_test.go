package training

import (
	"math"
	"math/rand"
	"testing"

	"mnistc/model"
)

// TestDistillLossByHand: the distillation graph's cost plus the teacher's
// Σ q log q term equals α·T²·KL(q‖softmax(z/T)) + (1−α)·CE(y, softmax(z)),
// computed here in float64; and its b2 gradient equals the analytic
// Σ_i [α·T·(softmax(z_i/T) − q_i) + (1−α)(softmax(z_i) − y_i)]/B.
func TestDistillLossByHand(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	student, teacher := model.InitGlorot(sizesOf(8), rng), model.InitGlorot(sizesOf(16), rng)
	for i := range teacher.Layers[1].B.Data {
		teacher.Layers[1].B.Data[i] = float32(rng.NormFloat64())
	}
	const B = 5
	s := randomSet(B, 22)
	d := &model.Distill{Temperature: 4, Alpha: 0.7}
	q, negEnt := SoftTargets(teacher, nil, s, d.Temperature)
	tg, err := newTrainGraph(&student, B, d, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4}
	tg.load(s.X, s.Y, q, idx)
	cost, _, err := tg.run(s.Y, idx)
	if err != nil {
		t.Fatal(err)
	}
	var h float64
	for _, e := range negEnt {
		h += e
	}
	got := cost + d.Alpha*d.Temperature*d.Temperature*h/B
	z := model.Forward(student, s.X, B, nil)
	var want float64
	db2 := make([]float64, model.Classes)
	for i := 0; i < B; i++ {
		row := z[i*model.Classes : (i+1)*model.Classes]
		zT := make([]float32, model.Classes)
		for k, v := range row {
			zT[k] = v / float32(d.Temperature)
		}
		var kl float64
		for k := 0; k < model.Classes; k++ {
			qk := float64(q[i*model.Classes+k])
			kl += qk * (math.Log(qk) - logSoftmaxAt(zT, k))
			pT, p := math.Exp(logSoftmaxAt(zT, k)), math.Exp(logSoftmaxAt(row, k))
			y := 0.0
			if k == int(s.Y[i]) {
				y = 1
			}
			db2[k] += (d.Alpha*d.Temperature*(pT-qk) + (1-d.Alpha)*(p-y)) / B
		}
		want += (d.Alpha*d.Temperature*d.Temperature*kl - (1-d.Alpha)*logSoftmaxAt(row, int(s.Y[i]))) / B
	}
	if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("distillation loss %v, by hand %v", got, want)
	}
	g, _ := tg.grads()
	for k := range db2 {
		if math.Abs(float64(g[3][k])-db2[k]) > 1e-5 {
			t.Fatalf("∂L/∂b2[%d] = %v, analytic %v", k, g[3][k], db2[k])
		}
	}
}

// TestDistilledStudentLearns: a 784-16-10 student distilled for one epoch
// from the small trained teacher (89 %) learns: ≥ 70 % where chance is 10 %.
// (Whether distillation beats training the student alone is measured on
// full budgets, not asserted on one epoch.)
func TestDistilledStudentLearns(t *testing.T) {
	teacher := smallTrained(t)
	train, test := realMNIST(t)
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Layers = 1, []int{16}
	cfg.Distill = &model.Distill{Temperature: 4, Alpha: 0.9}
	res, err := TrainDistilled(cfg, teacher.Params, nil, train.Slice(0, 6000), train.Slice(6000, 6500), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	r := model.Evaluate(res.Params, test, nil)
	if r.Accuracy < 0.70 || res.Params.Hidden()[0] != 16 {
		t.Errorf("distilled 784-16-10: %.4f (hidden %d); want ≥ 0.70", r.Accuracy, res.Params.Hidden())
	}
	cfg.Distill = nil
	alone, err := Train(cfg, train.Slice(0, 6000), train.Slice(6000, 6500), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("784-16-10, one epoch on 6,000 images: distilled %.4f, alone %.4f", r.Accuracy, model.Evaluate(alone.Params, test, nil).Accuracy)
}

// TestFineTuneDistilled: self-distillation in the loop with α = 0 is plain
// fine-tuning, weight for weight (the soft-target term weighs nothing);
// with α > 0 it trains another network; the starting network is never
// changed (it is the teacher); settings without a teacher are refused.
func TestFineTuneDistilled(t *testing.T) {
	start := smallTrained(t).Params
	keep := start.Clone()
	train, _ := realMNIST(t)
	tr, va := train.Slice(0, 2000), train.Slice(2000, 2300)
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Seed = 1, 3
	plain, err := FineTune(start, cfg, nil, tr, va, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Distill = &model.Distill{Temperature: 2, Alpha: 0}
	zero, err := FineTuneDistilled(start, nil, cfg, nil, tr, va, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Distill = &model.Distill{Temperature: 2, Alpha: 0.5}
	half, err := FineTuneDistilled(start, nil, cfg, nil, tr, va, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	same, differ := true, false
	for k, w := range plain.Params.Tensors() {
		for i, x := range w.Data {
			same = same && zero.Params.Tensors()[k].Data[i] == x
			differ = differ || half.Params.Tensors()[k].Data[i] != x
		}
	}
	if !same {
		t.Error("α = 0: the weights differ from plain fine-tuning")
	}
	if !differ {
		t.Error("α = 0.5: the weights equal plain fine-tuning's: the soft targets did nothing")
	}
	for k, w := range keep.Tensors() {
		for i, x := range w.Data {
			if start.Tensors()[k].Data[i] != x {
				t.Fatalf("the starting network (the teacher) was changed: %s[%d]", w.Name, i)
			}
		}
	}
	if _, err := FineTune(start, cfg, nil, tr, va, Hooks{}); err == nil {
		t.Error("FineTune with distillation settings and no teacher: no error")
	}
}
