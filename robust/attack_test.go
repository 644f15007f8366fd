package robust

import (
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"

	"mnistc/model"
)

// quantized returns a random network with 4-bit activations over ranges
// that clamp some values, and its quantizer.
func quantized(sizes []int) (model.Params, *model.ActQuant) {
	p := randomNet(sizes, 5)
	aq := &model.ActQuant{Bits: 4, Calib: "minmax", Ranges: []model.Range{{Lo: 0, Hi: 1}}}
	for range sizes[1 : len(sizes)-1] {
		aq.Ranges = append(aq.Ranges, model.Range{Lo: 0, Hi: 1.5})
	}
	return p, aq
}

// checkBall fails unless every adv pixel lies in [0, 1] and within eps of
// x (up to the float32 rounding of x ± eps), and returns the largest move.
func checkBall(t *testing.T, what string, adv, x []float32, eps float32) float64 {
	t.Helper()
	var most float64
	for i, v := range adv {
		d := math.Abs(float64(v) - float64(x[i]))
		if !(v >= 0 && v <= 1) || d > float64(eps)+1e-7 {
			t.Fatalf("%s: pixel %d = %v from %v: outside [0, 1] or moved %g > ε = %v", what, i, v, x[i], d, eps)
		}
		most = math.Max(most, d)
	}
	return most
}

// Every FGSM and PGD image stays within ε of its original and in [0, 1],
// on a float and a quantized network, and the attacks use their budget:
// FGSM moves every pixel whose gradient is non-zero and which is not
// clipped by exactly ε.
func TestAdversarialImagesInBall(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	const n = 40
	x, y := testImages(n, 784, rng)
	fp := randomNet(archs[1], 3)
	qp, qaq := quantized(archs[2])
	for _, c := range []struct {
		name string
		p    model.Params
		aq   *model.ActQuant
	}{{"float", fp, nil}, {"4-bit activations", qp, qaq}} {
		for _, eps := range DefaultEps() {
			f := FGSM(c.p, c.aq, x, y, n, eps)
			if most := checkBall(t, c.name+" FGSM", f, x, eps); most < float64(eps)*0.999 {
				t.Errorf("%s FGSM ε=%v: largest move %g, want ε", c.name, eps, most)
			}
			g := InputGrad(c.p, c.aq, x, y, n)
			for i, v := range f {
				free := x[i]-eps >= 0 && x[i]+eps <= 1
				if d := math.Abs(float64(v - x[i])); free && g[i] != 0 && math.Abs(d-float64(eps)) > 1e-7 {
					t.Fatalf("%s FGSM ε=%v: pixel %d moved %g, want ε", c.name, eps, i, d)
				}
			}
			pg := PGD(c.p, c.aq, x, y, n, eps, DefaultPGDStep, 10, rand.New(rand.NewSource(1)))
			if most := checkBall(t, c.name+" PGD", pg, x, eps); most < float64(eps)*0.9 {
				t.Errorf("%s PGD ε=%v: largest move %g, want about ε", c.name, eps, most)
			}
		}
	}
}

// At ε = 0 both attacks return the images unchanged, bit for bit.
func TestZeroEpsIsIdentity(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	const n = 20
	x, y := testImages(n, 784, rng)
	p, aq := quantized(archs[0])
	for _, q := range []*model.ActQuant{nil, aq} {
		if f := FGSM(p, q, x, y, n, 0); !slices.Equal(f, x) {
			t.Errorf("FGSM at ε = 0 (aq %v) changed the images", q != nil)
		}
		if g := PGD(p, q, x, y, n, 0, DefaultPGDStep, 5, rand.New(rand.NewSource(1))); !slices.Equal(g, x) {
			t.Errorf("PGD at ε = 0 (aq %v) changed the images", q != nil)
		}
	}
}

// PGD's random start is drawn in image order, so it does not depend on the
// Attacker's batch: with no steps, PGD returns the same start for batches
// of 3 and of 64.
func TestPGDStartIndependentOfBatch(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	const n = 10
	x, y := testImages(n, 784, rng)
	p := randomNet(archs[0], 1)
	a, b := make([]float32, len(x)), make([]float32, len(x))
	NewAttacker(p, nil, 3).PGD(a, x, y, n, 0.1, 0.01, 0, rand.New(rand.NewSource(9)))
	NewAttacker(p, nil, 64).PGD(b, x, y, n, 0.1, 0.01, 0, rand.New(rand.NewSource(9)))
	if !slices.Equal(a, b) {
		t.Fatal("PGD's random start differs between batches of 3 and 64")
	}
	if slices.Equal(a, x) {
		t.Fatal("PGD's random start left the images unchanged")
	}
}

// FGSM in place (dst = x) gives the images FGSM into a new slice gives.
func TestFGSMInPlace(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	const n = 9
	x, y := testImages(n, 784, rng)
	p := randomNet(archs[1], 2)
	want := FGSM(p, nil, x, y, n, 0.1)
	NewAttacker(p, nil, 4).FGSM(x, x, y, n, 0.1)
	if !slices.Equal(x, want) {
		t.Fatal("FGSM in place differs from FGSM into a new slice")
	}
}

// A reused Attacker allocates no buffers per call: a robust fine-tuning
// step on a batch of 32 costs at most a few goroutines' worth of memory.
func TestAttackerReuseAllocatesLittle(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const n = 32
	x, y := testImages(n, 784, rng)
	p := randomNet([]int{784, 300, 100, 10}, 1)
	a := NewAttacker(p, nil, n)
	dst := make([]float32, len(x))
	pgdRng := rand.New(rand.NewSource(1))
	a.PGD(dst, x, y, n, 0.1, 0.01, 2, pgdRng) // allocates the PGD iterate once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 20
	for range calls {
		a.FGSM(dst, x, y, n, 0.1)
		a.PGD(dst, x, y, n, 0.1, 0.01, 2, pgdRng)
	}
	runtime.ReadMemStats(&after)
	// A batch's images alone are 100 KB and the buffers over 300 KB;
	// gonum's parallel GEMM (the pure-Go build) allocates its work queue,
	// about 15 KB a call.
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > 64<<10 {
		t.Errorf("an FGSM and a PGD call on a reused Attacker allocated %d bytes", per)
	}
}

// On a trained float network, at each ε, on the same 300 test images:
// PGD accuracy ≤ FGSM accuracy ≤ clean accuracy, and the attacks do harm.
func TestAttackStrengthOrder(t *testing.T) {
	p := trainedNet(t)
	_, test := realMNIST(t)
	r, err := Evaluate(Model{Params: p}, nil, test, Options{Attacks: []string{AttackFGSM, AttackPGD}, Images: 300, PGDImages: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean != r.CleanPGD || r.Clean < 0.85 {
		t.Fatalf("clean accuracy %v (PGD images %v): want one figure, of a trained network", r.Clean, r.CleanPGD)
	}
	for _, eps := range DefaultEps() {
		k := EpsKey(eps)
		f, g := r.FGSM[k], r.PGD[k]
		t.Logf("ε=%s: clean %.3f FGSM %.3f PGD %.3f", k, r.Clean, f, g)
		if !(g <= f && f <= r.Clean) {
			t.Errorf("ε=%s: PGD %.3f ≤ FGSM %.3f ≤ clean %.3f does not hold", k, g, f, r.Clean)
		}
	}
	if r.FGSM["0.1"] > r.Clean-0.2 {
		t.Errorf("FGSM at ε = 0.1 left accuracy at %.3f of %.3f: the attack does not work", r.FGSM["0.1"], r.Clean)
	}
}

// SetModel re-reads weights changed in place: after it, the gradient is
// that of a new Attacker for the changed weights.
func TestSetModelRereadsWeights(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	const n = 5
	x, y := testImages(n, 784, rng)
	p := randomNet(archs[1], 6)
	a := NewAttacker(p, nil, n)
	for _, l := range p.Layers {
		for i := range l.W.Data {
			l.W.Data[i] *= -1.5
		}
	}
	a.SetModel(p, nil)
	got := make([]float32, len(x))
	a.InputGrad(got, x, y, n)
	if want := InputGrad(p, nil, x, y, n); !slices.Equal(got, want) {
		t.Fatal("after SetModel the gradient is not that of the changed weights")
	}
}
