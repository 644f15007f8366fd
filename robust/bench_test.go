package robust

import (
	"math/rand"
	"testing"
)

// The targets: FGSM over the 10,000 test images in at most 3× a
// clean evaluation, PGD-40 over 1,000 images in at most 2 s. Run side by
// side: go test -bench 'FGSM10k|PGD1k|CleanEval10k' -count 5 ./robust

// BenchmarkCleanEval10k is the reference: model.Forward over the test set
// and the accuracy.
func BenchmarkCleanEval10k(b *testing.B) {
	p := trainedNet(b)
	_, test := realMNIST(b)
	m := Model{Params: p}
	b.ResetTimer()
	for range b.N {
		accuracy(m, test.X, test.Y)
	}
}

// BenchmarkFGSM10k crafts the FGSM images of the test set at ε = 0.1 and
// scores them: the cost of one FGSM figure.
func BenchmarkFGSM10k(b *testing.B) {
	p := trainedNet(b)
	_, test := realMNIST(b)
	m := Model{Params: p}
	dst := make([]float32, len(test.X))
	a := newAttacker(p, nil, test.Len())
	b.ResetTimer()
	for range b.N {
		a.FGSM(dst, test.X, test.Y, test.Len(), 0.1)
		accuracy(m, dst, test.Y)
	}
}

// BenchmarkFGSM10kCraft is BenchmarkFGSM10k without the scoring.
func BenchmarkFGSM10kCraft(b *testing.B) {
	p := trainedNet(b)
	_, test := realMNIST(b)
	dst := make([]float32, len(test.X))
	a := newAttacker(p, nil, test.Len())
	b.ResetTimer()
	for range b.N {
		a.FGSM(dst, test.X, test.Y, test.Len(), 0.1)
	}
}

// BenchmarkPGD1k runs PGD-40 (step 0.01, ε = 0.3) on the first 1,000 test
// images and scores them.
func BenchmarkPGD1k(b *testing.B) {
	p := trainedNet(b)
	_, test := realMNIST(b)
	m := Model{Params: p}
	const n = 1000
	x, y := test.X[:n*test.Inputs()], test.Y[:n]
	dst := make([]float32, len(x))
	a := newAttacker(p, nil, n)
	b.ResetTimer()
	for range b.N {
		a.PGD(dst, x, y, n, 0.3, DefaultPGDStep, DefaultPGDSteps, rand.New(rand.NewSource(1)))
		accuracy(m, dst, y)
	}
}

// BenchmarkPGD1kLeNet is BenchmarkPGD1k on LeNet-300-100 (random weights:
// the cost does not depend on them).
func BenchmarkPGD1kLeNet(b *testing.B) {
	p := randomNet([]int{784, 300, 100, 10}, 1)
	_, test := realMNIST(b)
	m := Model{Params: p}
	const n = 1000
	x, y := test.X[:n*test.Inputs()], test.Y[:n]
	dst := make([]float32, len(x))
	a := newAttacker(p, nil, n)
	b.ResetTimer()
	for range b.N {
		a.PGD(dst, x, y, n, 0.3, DefaultPGDStep, DefaultPGDSteps, rand.New(rand.NewSource(1)))
		accuracy(m, dst, y)
	}
}

// BenchmarkFGSMBatch32 is one FGSM step of robust fine-tuning: a batch
// of 32 through a reused Attacker (no allocation).
func BenchmarkFGSMBatch32(b *testing.B) {
	p := trainedNet(b)
	_, test := realMNIST(b)
	const n = 32
	x, y := test.X[:n*test.Inputs()], test.Y[:n]
	dst := make([]float32, len(x))
	a := NewAttacker(p, nil, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a.FGSM(dst, x, y, n, 0.1)
	}
}
