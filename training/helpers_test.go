package training

import (
	"math"
	"sync"
	"testing"

	"mnistc/data"
	"mnistc/model"
)

var (
	mnistOnce             sync.Once
	mnistTrain, mnistTest data.Set
	mnistErr              error
)

// realMNIST loads the MNIST files shipped with GoMNIST once per test binary.
func realMNIST(t testing.TB) (train, test data.Set) {
	t.Helper()
	mnistOnce.Do(func() {
		dir, err := data.DefaultDir()
		if err != nil {
			mnistErr = err
			return
		}
		mnistTrain, mnistTest, mnistErr = data.Load(dir)
	})
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnistTrain, mnistTest
}

var (
	smallOnce  sync.Once
	smallModel TrainResult
	smallErr   error
)

// smallTrained trains one epoch on the first 6,000 training images (seed 1)
// once per test binary and returns the result.
func smallTrained(t testing.TB) TrainResult {
	t.Helper()
	train, _ := realMNIST(t)
	smallOnce.Do(func() {
		cfg := model.DefaultTrainConfig()
		cfg.Epochs = 1
		tr, va, err := data.Split(train.Slice(0, 6500), 500)
		if err != nil {
			smallErr = err
			return
		}
		smallModel, smallErr = Train(cfg, tr, va, Hooks{})
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallModel
}

// sizesOf returns the sizes of an MNIST network with the given hidden widths.
func sizesOf(hidden ...int) []int {
	return append(append([]int{model.Inputs}, hidden...), model.Classes)
}

// logSoftmaxAt returns log softmax(v)[k], computed stably in float64.
func logSoftmaxAt(v []float32, k int) float64 {
	mx := float64(v[model.Argmax(v)])
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	return float64(v[k]) - mx - math.Log(s)
}
