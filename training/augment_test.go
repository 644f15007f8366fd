package training

import (
	"math"
	"math/rand"
	"testing"

	"mnistc/data"
	"mnistc/model"
)

// TestShiftImage: a 4×4 image moved one pixel right and one up, worked by
// hand; zeros move in.
func TestShiftImage(t *testing.T) {
	src := []float32{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
		13, 14, 15, 16,
	}
	want := []float32{
		0, 5, 6, 7,
		0, 9, 10, 11,
		0, 13, 14, 15,
		0, 0, 0, 0,
	}
	dst := make([]float32, 16)
	shiftImage(dst, src, 4, 1, -1)
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("shifted (1, −1):\n%v\nwant\n%v", dst, want)
		}
	}
	shiftImage(dst, src, 4, 0, 0)
	for i := range src {
		if dst[i] != src[i] {
			t.Fatalf("shift (0, 0) changed the image: %v", dst)
		}
	}
}

// TestJitter: the shifts are reproducible from the seed, move an MNIST
// digit by at most the bound, and keep (nearly all) its ink.
func TestJitter(t *testing.T) {
	train, _ := realMNIST(t)
	const n = 64
	x := append([]float32(nil), train.X[:n*model.Inputs]...)
	a, b := append([]float32(nil), x...), append([]float32(nil), x...)
	newJitterer(2, model.Inputs, 7).apply(a, n)
	newJitterer(2, model.Inputs, 7).apply(b, n)
	moved := 0
	for r := 0; r < n; r++ {
		img, got := x[r*784:(r+1)*784], a[r*784:(r+1)*784]
		var inkBefore, inkAfter float64
		for i := range img {
			inkBefore += float64(img[i])
			inkAfter += float64(got[i])
			if a[r*784+i] != b[r*784+i] {
				t.Fatalf("image %d: the same seed gave different shifts", r)
			}
		}
		// find the shift: the one in [−2, 2]² that maps img onto got
		found := false
		buf := make([]float32, 784)
		for dy := -2; dy <= 2 && !found; dy++ {
			for dx := -2; dx <= 2 && !found; dx++ {
				shiftImage(buf, img, 28, dx, dy)
				same := true
				for i := range buf {
					same = same && buf[i] == got[i]
				}
				if same {
					found = true
					if dx != 0 || dy != 0 {
						moved++
					}
				}
			}
		}
		if !found {
			t.Fatalf("image %d is not a shift of at most 2 pixels of the original", r)
		}
		// MNIST digits sit in the central 20×20 box, a few a little
		// beyond it: a shift of 2 loses little ink and adds none
		if inkAfter > inkBefore+1e-3 || inkAfter < 0.9*inkBefore {
			t.Errorf("image %d: ink %v → %v", r, inkBefore, inkAfter)
		}
	}
	if moved < n/2 {
		t.Errorf("%d of %d images moved; with 25 shifts about 96%% should", moved, n)
	}
}

func TestCosineSchedule(t *testing.T) {
	for _, c := range []struct {
		sched       string
		step, total int
		want        float64
	}{{"cosine", 0, 100, 1}, {"cosine", 50, 100, 0.5}, {"cosine", 100, 100, 0}, {"cosine", 25, 100, 0.5 + 0.5*math.Sqrt(0.5)}, {"", 50, 100, 1}, {"constant", 99, 100, 1}} {
		if got := lrFactor(c.sched, c.step, c.total); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("lrFactor(%q, %d, %d) = %v, want %v", c.sched, c.step, c.total, got, c.want)
		}
	}
	bad := model.DefaultTrainConfig()
	bad.Schedule = "linear"
	if bad.Validate() == nil {
		t.Error("schedule linear accepted")
	}
}

// TestAdversarialHook: with cfg.Adversarial the attack sees mix of each
// batch — the images as loaded, with their labels — and its images are
// what the step trains on; without an attack the recipe is refused.
func TestAdversarialHook(t *testing.T) {
	train, _ := realMNIST(t)
	tr := train.Slice(0, 320)
	cfg := model.DefaultTrainConfig()
	cfg.Epochs, cfg.Layers = 1, []int{16}
	cfg.Adversarial = &model.Adversarial{Attack: "fgsm", Eps: 0.1, Mix: 0.25}
	calls := 0
	attack := func(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int) []float32 {
		calls++
		if n != 8 || len(x) != n*model.Inputs || len(y) != n {
			t.Fatalf("attack got %d images (%d values, %d labels), want 8 of a batch of 32", n, len(x), len(y))
		}
		for r := 0; r < n; r++ { // the labels are the images' own
			found := false
			for i := 0; i < tr.Len() && !found; i++ {
				if tr.Y[i] == y[r] && tr.X[i*784+300] == x[r*784+300] && tr.X[i*784+400] == x[r*784+400] && tr.X[i*784+500] == x[r*784+500] {
					found = true
				}
			}
			if !found {
				t.Fatalf("attack image %d with label %d is not a training image with that label", r, y[r])
			}
		}
		out := make([]float32, len(x))
		for i, v := range x {
			out[i] = float32(math.Min(1, float64(v)+0.1))
		}
		return out
	}
	if _, err := Train(cfg, tr, data.Set{}, Hooks{Attack: attack}); err != nil {
		t.Fatal(err)
	}
	if calls != 10 {
		t.Errorf("attack called %d times, want once per batch (10)", calls)
	}
	if _, err := Train(cfg, tr, data.Set{}, Hooks{}); err == nil {
		t.Error("adversarial recipe without an attack accepted")
	}
}

// TestTeacherTargetsPerBatch: the per-batch soft targets (distilling on
// jittered images) are SoftTargets' for the same images.
func TestTeacherTargetsPerBatch(t *testing.T) {
	teacher := model.InitGlorot(sizesOf(16), rand.New(rand.NewSource(8)))
	s := randomSet(5, 9)
	want, negEnt := SoftTargets(teacher, nil, s, 3)
	tn := &teacherNet{p: teacher, T: 3}
	got := make([]float32, len(want))
	tn.targets(got, s.X, 5)
	var h float64
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Fatalf("soft target %d: per batch %v, SoftTargets %v", i, got[i], want[i])
		}
	}
	for _, e := range negEnt {
		h += e
	}
	if math.Abs(h-tn.negEnt) > 1e-9 {
		t.Errorf("Σ q log q per batch %v, SoftTargets %v", tn.negEnt, h)
	}
}
