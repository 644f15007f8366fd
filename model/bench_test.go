package model

import (
	"fmt"
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
// size on random data (the first layer's BLAS path).
func benchSteps(b *testing.B, batch int) { benchStepsOn(b, randomSet(batch*64, 1), batch) }

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

// BenchmarkEvalMNIST times evaluating the 10,000 real test images: each
// image over its non-zero pixels (Forward's path for MNIST), against the
// same images through the BLAS GEMMs, in one run.
func BenchmarkEvalMNIST(b *testing.B) {
	_, test := realMNIST(b)
	p := InitGlorot(DefaultHidden, rand.New(rand.NewSource(5)))
	b.Run("nonzero-pixels", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Forward(p, test.X, test.Len(), nil)
		}
	})
	b.Run("blas-gemm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ForwardBLAS(p, test.X, test.Len(), nil)
		}
	})
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
		copy(g[0], src.W1.Data)
		copy(g[2], src.W2.Data)
		opt.Step(w, g)
	}
}

// BenchmarkEpochBatch128 times one epoch at batch 128 on 55,000 random images.
func BenchmarkEpochBatch128(b *testing.B) {
	s := randomSet(55000, 3)
	cfg := DefaultTrainConfig()
	cfg.Epochs, cfg.Batch = 1, 128
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Train(cfg, s, data.Set{}, Hooks{}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGEMM times C = A·B for m×k·k×n float32 random matrices with the BLAS
// evaluation and training use, and reports GFLOP/s: the machine's peak for
// the shapes training runs, measured in the same run as the training.
func benchGEMM(b *testing.B, m, k, n int) {
	rng := rand.New(rand.NewSource(8))
	mk := func(r, c int) []float32 {
		v := make([]float32, r*c)
		for i := range v {
			v[i] = rng.Float32() - 0.5
		}
		return v
	}
	a, w, c := mk(m, k), mk(k, n), make([]float32, m*n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		layer(a, m, k, w, make([]float32, n), n, c)
	}
	b.ReportMetric(2*float64(m)*float64(k)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkGEMM128x784x128(b *testing.B)    { benchGEMM(b, 128, 784, 128) }
func BenchmarkGEMM32x784x128(b *testing.B)     { benchGEMM(b, 32, 784, 128) }
func BenchmarkGEMM1024x1024x1024(b *testing.B) { benchGEMM(b, 1024, 1024, 1024) }

// benchStepsOn times b.N training steps (forward, backward, Adam) at one
// batch size on random batches of s, reported per step.
func benchStepsOn(b *testing.B, s data.Set, batch int) {
	cfg := DefaultTrainConfig()
	cfg.Batch = batch
	p := InitGlorot(cfg.Hidden, rand.New(rand.NewSource(1)))
	tr, err := newTrainer(&p, cfg, s.Len())
	if err != nil {
		b.Fatal(err)
	}
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

// BenchmarkTrainStepMNIST times training steps on real MNIST training
// images, where every layer runs over non-zero inputs (the random-data
// benchmarks above take the first layer's BLAS path).
func BenchmarkTrainStepMNIST(b *testing.B) {
	train, _ := realMNIST(b)
	b.Run("batch32", func(b *testing.B) { benchStepsOn(b, train, 32) })
	b.Run("batch128", func(b *testing.B) { benchStepsOn(b, train, 128) })
}

// BenchmarkEpochMNIST times one epoch of the article's recipe on the
// 55,000 real training images, at batch 32 and 128.
func BenchmarkEpochMNIST(b *testing.B) {
	train, _ := realMNIST(b)
	train = train.Slice(0, 55000)
	for _, batch := range []int{32, 128} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			cfg := DefaultTrainConfig()
			cfg.Epochs, cfg.Batch = 1, batch
			for i := 0; i < b.N; i++ {
				if _, err := Train(cfg, train, data.Set{}, Hooks{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
