package training

import (
	"math"
	"math/rand"

	"mnistc/model"
)

// Perturb returns adversarial versions of the n images x (n×inputs, in
// [0, 1]) with labels y against the network p evaluated with activation
// quantizer aq (nil: none), as an attack such as FGSM or PGD crafts them.
// It must not modify x.
type Perturb func(p model.Params, aq *model.ActQuant, x []float32, y []uint8, n int) []float32

// jitterer shifts each loaded image by a random whole number of pixels in
// [−max, max] along each axis, filling with zeros (Hinton et al.'s MNIST
// jitter). The shifts come from their own stream, seeded from the
// recipe's seed, so two runs that differ only in their loss (a distilled
// student and its control) see the same shuffles and the same shifts.
type jitterer struct {
	max, side int
	rng       *rand.Rand
	buf       []float32
}

func newJitterer(max, inputs int, seed int64) *jitterer {
	side := int(math.Sqrt(float64(inputs)))
	return &jitterer{max: max, side: side, rng: rand.New(rand.NewSource(seed ^ 0x5eed717e)), buf: make([]float32, inputs)}
}

// apply shifts each of the n images in x in place.
func (j *jitterer) apply(x []float32, n int) {
	k := j.side * j.side
	for r := 0; r < n; r++ {
		dx := j.rng.Intn(2*j.max+1) - j.max
		dy := j.rng.Intn(2*j.max+1) - j.max
		if dx == 0 && dy == 0 {
			continue
		}
		img := x[r*k : (r+1)*k]
		shiftImage(j.buf, img, j.side, dx, dy)
		copy(img, j.buf)
	}
}

// shiftImage writes src (side×side, row-major) moved dx pixels right and
// dy down into dst, zeros where nothing moves in.
func shiftImage(dst, src []float32, side, dx, dy int) {
	clear(dst)
	for yy := 0; yy < side; yy++ {
		sy := yy - dy
		if sy < 0 || sy >= side {
			continue
		}
		lo, hi := max(0, dx), min(side, side+dx) // destination columns
		copy(dst[yy*side+lo:yy*side+hi], src[sy*side+lo-dx:sy*side+hi-dx])
	}
}

// perturber replaces the first round(mix·n) images of each batch (the
// batch is shuffled, so a random part) by adversarial ones.
type perturber struct {
	f   Perturb
	mix float64
	y   []uint8
}

func newPerturber(f Perturb, mix float64, batch int) *perturber {
	return &perturber{f: f, mix: mix, y: make([]uint8, batch)}
}

// teacherNet computes distillation's soft targets per batch, from the
// images as the student sees them (shifted), with the teacher evaluated
// as it is (its activation quantizer). negEnt is the batch's Σ q log q
// from the last call, for the reported loss.
type teacherNet struct {
	p      model.Params
	aq     *model.ActQuant
	T      float64
	negEnt float64
	e      []float64
}

// targets writes softmax(teacher(x)/T) of the n images x into q (n×C).
func (t *teacherNet) targets(q, x []float32, n int) {
	logits := model.Forward(t.p, x, n, t.aq)
	C := t.p.Classes()
	if len(t.e) != C {
		t.e = make([]float64, C)
	}
	t.negEnt = 0
	for i := 0; i < n; i++ {
		row := logits[i*C : (i+1)*C]
		mx := float64(row[model.Argmax(row)]) / t.T
		var sum float64
		for k, z := range row {
			t.e[k] = math.Exp(float64(z)/t.T - mx)
			sum += t.e[k]
		}
		for k := range t.e {
			p := t.e[k] / sum
			q[i*C+k] = float32(p)
			if p > 0 {
				t.negEnt += p * math.Log(p)
			}
		}
	}
}

// reload changes the loaded float images of the batch: shifts them, then
// perturbs part of them against the current weights, then (distilling
// with a teacher) computes their soft targets.
func (t *trainer) reload(tg *trainGraph, idx []int) {
	n, K := len(idx), tg.in
	x := tg.xd[:n*K]
	if t.jitter != nil {
		t.jitter.apply(x, n)
	}
	if pt := t.perturb; pt != nil {
		m := int(math.Round(pt.mix * float64(n)))
		if m > 0 {
			y := pt.y[:m]
			for r := range y {
				y[r] = uint8(model.Argmax(tg.yd[r*tg.cls : (r+1)*tg.cls]))
			}
			adv := pt.f(*t.p, t.evalAQ(), x[:m*K], y, m)
			copy(x[:m*K], adv)
		}
	}
	if t.teacher != nil {
		t.teacher.targets(tg.qd, x, n)
	}
}

// evalAQ is the activation quantizer the network is evaluated with now:
// the learned ranges when they are learned.
func (t *trainer) evalAQ() *model.ActQuant {
	if t.act != nil {
		return t.act.aq
	}
	return t.cfg.ActQuant
}
