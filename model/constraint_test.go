package model

import (
	"math/rand"
	"testing"
)

// fixedMask holds the first half of w1's entries at zero.
type fixedMask struct{ held [][]bool }

func (f fixedMask) Project(shadow, p *Params, _ int) {
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
	p := InitGlorot(16, rand.New(rand.NewSource(3)))
	held := make([]bool, len(p.W1.Data))
	for i := range held[:len(held)/2] {
		held[i] = true
	}
	c := fixedMask{held: [][]bool{held, nil, nil, nil}}
	s := randomSet(256, 4)
	cfg := DefaultTrainConfig()
	cfg.Hidden = 16
	shadow := p.Clone()
	tr, err := newTrainer(&p, cfg, s.Len())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	tr.constrain(&shadow, c)
	c.Project(&shadow, &p, 0)
	before := append([]float32(nil), p.W1.Data...)
	idx := make([]int, 32)
	for step := 0; step < 20; step++ {
		for i := range idx {
			idx[i] = (step*32 + i) % s.Len()
		}
		if _, _, err := tr.step(s, idx); err != nil {
			t.Fatal(err)
		}
		for i, h := range held {
			if h && (p.W1.Data[i] != 0 || shadow.W1.Data[i] != 0 || tr.opt.m[0][i] != 0 || tr.opt.v[0][i] != 0) {
				t.Fatalf("step %d: held w1[%d] = %v (shadow %v, m %v, v %v), want all 0", step, i, p.W1.Data[i], shadow.W1.Data[i], tr.opt.m[0][i], tr.opt.v[0][i])
			}
		}
	}
	moved := 0
	for i, h := range held {
		if !h && p.W1.Data[i] != before[i] {
			moved++
		}
	}
	if moved == 0 {
		t.Error("the free weights did not train")
	}
}
