//go:build openblas

package training

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"

	"mnistc/model"
)

// TestOpenBLASAgreesWithPureGo: the OpenBLAS path and gonum's pure-Go BLAS
// give the same predictions on the test set, logits within float32
// rounding, and training on MNIST — which calls no BLAS routine — gives the
// same weights bit for bit on either.
func TestOpenBLASAgreesWithPureGo(t *testing.T) {
	res := smallTrained(t) // trained on OpenBLAS
	train, test := realMNIST(t)
	fast := model.Forward(res.Params, test.X, test.Len(), nil)
	blas32.Use(gonum.Implementation{})
	G.Use(gonum.Implementation{})
	defer func() {
		blas32.Use(netlib.Implementation{})
		G.Use(netlib.Implementation{})
	}()
	slow := model.Forward(res.Params, test.X, test.Len(), nil)
	for i := 0; i < test.Len(); i++ {
		a, b := fast[i*model.Classes:(i+1)*model.Classes], slow[i*model.Classes:(i+1)*model.Classes]
		if model.Argmax(a) != model.Argmax(b) {
			t.Fatalf("image %d: OpenBLAS predicts %d, pure Go %d", i, model.Argmax(a), model.Argmax(b))
		}
		for k := range a {
			if math.Abs(float64(a[k]-b[k])) > 1e-4*math.Max(1, math.Abs(float64(a[k]))) {
				t.Fatalf("image %d logit %d: %v vs %v", i, k, a[k], b[k])
			}
		}
	}
	cfg := model.DefaultTrainConfig()
	cfg.Epochs = 1
	tr, va := train.Slice(0, 6000), train.Slice(6000, 6500)
	pure, err := Train(cfg, tr, va, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for k, tn := range res.Params.Tensors() {
		got := pure.Params.Tensors()[k]
		for i := range tn.Data {
			if math.Float32bits(tn.Data[i]) != math.Float32bits(got.Data[i]) {
				t.Fatalf("%s[%d] after one epoch: OpenBLAS %v, pure Go %v", tn.Name, i, tn.Data[i], got.Data[i])
			}
		}
	}
}
