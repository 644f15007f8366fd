package training

import (
	"math/rand"
	"testing"

	"mnistc/data"
	"mnistc/model"
)

// fixedMask holds the first half of w1's entries at zero.
type fixedMask struct{ held [][]bool }

func (f fixedMask) Project(shadow, p *model.Params, _ int) {
	for k, t := range shadow.Tensors() {
		copy(p.Tensors()[k].Data, t.Data)
		if f.held[k] != nil {
			zeroWhere(p.Tensors()[k].Data, f.held[k])
		}
	}
}

func (f fixedMask) Held() [][]bool { return f.held }

// TestHeldEntriesStayZero: after every step the held weights, their shadow
// values and their Adam moments are exactly zero, and the others train.
func TestHeldEntriesStayZero(t *testing.T) {
	p := model.InitGlorot(sizesOf(16), rand.New(rand.NewSource(3)))
	held := make([]bool, len(p.Layers[0].W.Data))
	for i := range held[:len(held)/2] {
		held[i] = true
	}
	c := fixedMask{held: [][]bool{held, nil, nil, nil}}
	s := randomSet(256, 4)
	cfg := model.DefaultTrainConfig()
	cfg.Layers = []int{16}
	shadow := p.Clone()
	tr, err := newTrainer(&p, cfg, s.Len())
	if err != nil {
		t.Fatal(err)
	}
	tr.constrain(&shadow, c)
	c.Project(&shadow, &p, 0)
	before := append([]float32(nil), p.Layers[0].W.Data...)
	idx := make([]int, 32)
	for step := 0; step < 20; step++ {
		for i := range idx {
			idx[i] = (step*32 + i) % s.Len()
		}
		if _, _, err := tr.step(s, idx); err != nil {
			t.Fatal(err)
		}
		for i, h := range held {
			if h && (p.Layers[0].W.Data[i] != 0 || shadow.Layers[0].W.Data[i] != 0 || tr.opt.m[0][i] != 0 || tr.opt.v[0][i] != 0) {
				t.Fatalf("step %d: held w1[%d] = %v (shadow %v, m %v, v %v), want all 0", step, i, p.Layers[0].W.Data[i], shadow.Layers[0].W.Data[i], tr.opt.m[0][i], tr.opt.v[0][i])
			}
		}
	}
	moved := 0
	for i, h := range held {
		if !h && p.Layers[0].W.Data[i] != before[i] {
			moved++
		}
	}
	if moved == 0 {
		t.Error("the free weights did not train")
	}
}

// saturateW2 projects shadow unchanged and reports every entry of W2 as
// saturated.
type saturateW2 struct{ sat [][]bool }

func (s *saturateW2) Project(shadow, p *model.Params, _ int) {
	for k, t := range shadow.Tensors() {
		copy(p.Tensors()[k].Data, t.Data)
	}
	if s.sat == nil {
		s.sat = make([][]bool, 4)
		s.sat[2] = make([]bool, len(shadow.Layers[1].W.Data))
		for i := range s.sat[2] {
			s.sat[2][i] = true
		}
	}
}
func (s *saturateW2) Held() [][]bool      { return nil }
func (s *saturateW2) Saturated() [][]bool { return s.sat }

// TestSaturatedGetNoGradient: entries a Saturater reports get a zero
// gradient (the STE outside a quantizer's range): from fresh Adam moments,
// W2 does not move while W1 does.
func TestSaturatedGetNoGradient(t *testing.T) {
	train, _ := realMNIST(t)
	start := model.InitGlorot(sizesOf(16), rand.New(rand.NewSource(2)))
	cfg := model.DefaultTrainConfig()
	cfg.Epochs = 1
	res, err := FineTune(start, cfg, &saturateW2{}, train.Slice(0, 640), data.Set{}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range res.Params.Layers[1].W.Data {
		if w != start.Layers[1].W.Data[i] {
			t.Fatalf("saturated W2[%d] moved: %v → %v", i, start.Layers[1].W.Data[i], w)
		}
	}
	moved := 0
	for i, w := range res.Params.Layers[0].W.Data {
		if w != start.Layers[0].W.Data[i] {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("W1 did not train")
	}
}
