package training

import (
	"math/rand"
	"testing"

	"mnistc/data"
	"mnistc/internal/dense"
	"mnistc/model"
)

// randomSet returns n images of uniform random pixels with random labels:
// benchmarks use random data because gonum's GEMM skips zero entries, which
// would flatter it on MNIST's mostly blank pixels.
func randomSet(n int, seed int64) data.Set {
	rng := rand.New(rand.NewSource(seed))
	s := data.Set{X: make([]float32, n*model.Inputs), Y: make([]uint8, n)}
	for i := range s.X {
		s.X[i] = rng.Float32()
	}
	for i := range s.Y {
		s.Y[i] = uint8(rng.Intn(model.Classes))
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
	cfg := model.DefaultTrainConfig()
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
	p := model.InitGlorot(sizesOf(model.DefaultHidden), rand.New(rand.NewSource(5)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		model.Evaluate(p, s, nil)
	}
}

// BenchmarkEvalMNIST times evaluating the 10,000 real test images: each
// image over its non-zero pixels (model.Forward's path for MNIST), against the
// same images through the BLAS GEMMs, in one run.
func BenchmarkEvalMNIST(b *testing.B) {
	_, test := realMNIST(b)
	p := model.InitGlorot(sizesOf(model.DefaultHidden), rand.New(rand.NewSource(5)))
	b.Run("nonzero-pixels", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.Forward(p, test.X, test.Len(), nil)
		}
	})
	b.Run("blas-gemm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.ForwardBLAS(p, test.X, test.Len(), nil)
		}
	})
	lenet := model.InitGlorot(sizesOf(300, 100), rand.New(rand.NewSource(5)))
	b.Run("lenet300/nonzero-pixels", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.Forward(lenet, test.X, test.Len(), nil)
		}
	})
	b.Run("lenet300/blas-gemm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			model.ForwardBLAS(lenet, test.X, test.Len(), nil)
		}
	})
}

// BenchmarkAdamStep times one fused Adam update of the 101,770 parameters.
func BenchmarkAdamStep(b *testing.B) {
	p := model.InitGlorot(sizesOf(model.DefaultHidden), rand.New(rand.NewSource(6)))
	w := p.Data()
	src := model.InitGlorot(sizesOf(model.DefaultHidden), rand.New(rand.NewSource(7)))
	g := [][]float32{make([]float32, len(p.Layers[0].W.Data)), make([]float32, len(p.Layers[0].B.Data)), make([]float32, len(p.Layers[1].W.Data)), make([]float32, len(p.Layers[1].B.Data))}
	opt := NewAdam(1e-3, 0.9, 0.999, 1e-7, []int{len(w[0]), len(w[1]), len(w[2]), len(w[3])})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(g[0], src.Layers[0].W.Data)
		copy(g[2], src.Layers[1].W.Data)
		opt.Step(w, g)
	}
}

// BenchmarkEpochBatch128 times one epoch at batch 128 on 55,000 random images.
func BenchmarkEpochBatch128(b *testing.B) {
	s := randomSet(55000, 3)
	cfg := model.DefaultTrainConfig()
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
		dense.Layer(a, m, k, w, make([]float32, n), n, c)
	}
	b.ReportMetric(2*float64(m)*float64(k)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkGEMM128x784x128(b *testing.B)    { benchGEMM(b, 128, 784, 128) }
func BenchmarkGEMM32x784x128(b *testing.B)     { benchGEMM(b, 32, 784, 128) }
func BenchmarkGEMM1024x1024x1024(b *testing.B) { benchGEMM(b, 1024, 1024, 1024) }

// benchStepsOn times b.N training steps (forward, backward, Adam) at one
// batch size on random batches of s, reported per step.
func benchStepsOn(b *testing.B, s data.Set, batch int, layers ...int) {
	cfg := model.DefaultTrainConfig()
	cfg.Batch = batch
	if len(layers) > 0 {
		cfg.Layers = layers
	}
	p := model.InitGlorot(sizesOf(cfg.Layers...), rand.New(rand.NewSource(1)))
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
	b.Run("lenet300/batch32", func(b *testing.B) { benchStepsOn(b, train, 32, 300, 100) })
}

// BenchmarkEpochMNIST times one epoch of the article's recipe on the
// 55,000 real training images, at batch 32 and 128.
func BenchmarkEpochMNIST(b *testing.B) {
	train, _ := realMNIST(b)
	train = train.Slice(0, 55000)
	for _, c := range []struct {
		name   string
		batch  int
		layers []int
	}{{"batch32", 32, []int{128}}, {"batch128", 128, []int{128}}, {"lenet300/batch32", 32, []int{300, 100}}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := model.DefaultTrainConfig()
			cfg.Epochs, cfg.Batch, cfg.Layers = 1, c.batch, c.layers
			for i := 0; i < b.N; i++ {
				if _, err := Train(cfg, train, data.Set{}, Hooks{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
