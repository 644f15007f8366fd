package model

import (
	"math/rand"
	"testing"

	"mnistc/data"
)

// randomSet returns n images of uniform random pixels with random labels:
// benchmarks use random data because gonum's GEMM skips zero entries, which
// would flatter it on MNIST's mostly blank pixels.
func randomSet(n int, seed int64) data.Set {
	rng := rand.New(rand.NewSource(seed))
	s := data.Set{X: make([]float32, n*Inputs), Y: make([]uint8, n)}
	for i := range s.X {
		s.X[i] = rng.Float32()
	}
	for i := range s.Y {
		s.Y[i] = uint8(rng.Intn(Classes))
	}
	return s
}

// benchSteps times training steps (forward, backward, Adam) at one batch
// size: b.N steps over random data, reported per step.
func benchSteps(b *testing.B, batch int) {
	s := randomSet(batch*64, 1)
	cfg := DefaultTrainConfig()
	cfg.Batch = batch
	cfg.Epochs = 1
	p := InitGlorot(cfg.Hidden, rand.New(rand.NewSource(1)))
	tr, err := newTrainer(&p, cfg, s.Len())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.close()
	idx := make([]int, batch)
	rng := rand.New(rand.NewSource(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range idx {
			idx[k] = rng.Intn(s.Len())
		}
		if _, _, err := tr.step(s, idx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/step")
}

func BenchmarkTrainStepBatch32(b *testing.B)  { benchSteps(b, 32) }
func BenchmarkTrainStepBatch128(b *testing.B) { benchSteps(b, 128) }

// BenchmarkEpochBatch32 times one full epoch of the article's recipe on
// 55,000 random images (the training split's size).
func BenchmarkEpochBatch32(b *testing.B) {
	s := randomSet(55000, 3)
	cfg := DefaultTrainConfig()
	cfg.Epochs = 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Train(cfg, s, data.Set{}, Hooks{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalTestSet times evaluating 10,000 random images.
func BenchmarkEvalTestSet(b *testing.B) {
	s := randomSet(10000, 4)
	p := InitGlorot(DefaultHidden, rand.New(rand.NewSource(5)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Evaluate(p, s, nil)
	}
}

// BenchmarkAdamStep times one fused Adam update of the 101,770 parameters.
func BenchmarkAdamStep(b *testing.B) {
	p := InitGlorot(DefaultHidden, rand.New(rand.NewSource(6)))
	w := [][]float32{p.W1.Data, p.B1.Data, p.W2.Data, p.B2.Data}
	src := InitGlorot(DefaultHidden, rand.New(rand.NewSource(7)))
	g := [][]float32{make([]float32, len(p.W1.Data)), make([]float32, len(p.B1.Data)), make([]float32, len(p.W2.Data)), make([]float32, len(p.B2.Data))}
	opt := NewAdam(1e-3, 0.9, 0.999, 1e-7, []int{len(w[0]), len(w[1]), len(w[2]), len(w[3])})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(g[0], src.W1.Data) // Step clears the gradients it reads
		copy(g[2], src.W2.Data)
		opt.Step(w, g)
	}
}
