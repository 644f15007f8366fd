package robust

import (
	"sync"
	"testing"

	"mnistc/data"
	"mnistc/model"
	"mnistc/training"
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
	trainedOnce sync.Once
	trained     model.Params
	trainedErr  error
)

// trainedNet trains the article's 784-128-10 network for one epoch on the
// first 6,000 training images (seed 1, about 95 % test accuracy) once per
// test binary.
func trainedNet(t testing.TB) model.Params {
	t.Helper()
	train, _ := realMNIST(t)
	trainedOnce.Do(func() {
		cfg := model.DefaultTrainConfig()
		cfg.Epochs = 1
		var tr training.TrainResult
		tr, trainedErr = training.Train(cfg, train.Slice(0, 6000), data.Set{}, training.Hooks{})
		trained = tr.Params
	})
	if trainedErr != nil {
		t.Fatal(trainedErr)
	}
	return trained
}
