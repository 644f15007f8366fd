package robust

import (
	"fmt"
	"math"
	"math/rand"
	"slices"

	"mnistc/data"
)

// Transfer holds the adversarial images of a source model (the float
// baseline): its FGSM gradient signs over the first Images test images and
// its PGD images at each ε over the first PGDImages. Evaluate scores other
// models on them, so a white-box accuracy that rises only because the
// target's gradients are masked (quantizers, dead units) shows up as such.
// Crafted once, a Transfer serves any number of targets, also from
// concurrent Evaluate calls (it is only read); it holds about
// Images×inputs bytes plus PGDImages×inputs×4 bytes per ε (8 + 13 MB for
// MNIST's defaults).
type Transfer struct {
	// Source names the source model in records (Result.TransferFrom).
	Source string

	eps               []float32
	images, pgdImages int
	steps             int
	step              float32
	seed              int64
	digest            uint64 // of the test images and labels used
	signs             []int8
	pgd               [][]float32 // per ε
}

// NewTransfer crafts the source model's FGSM and PGD images on the first
// images of test with the options Evaluate will be given (the same ε,
// image counts, PGD settings and seed). source names it in records.
func NewTransfer(src Model, source string, test data.Set, opt Options) (*Transfer, error) {
	o, err := opt.resolve(test.Len())
	if err != nil {
		return nil, err
	}
	if err := src.check(test); err != nil {
		return nil, err
	}
	in, nA, nP := test.Inputs(), o.Images, o.PGDImages
	t := &Transfer{Source: source, eps: slices.Clone(o.Eps), images: nA, pgdImages: nP,
		steps: o.PGDSteps, step: o.PGDStep, seed: o.Seed, digest: digest(test, max(nA, nP))}
	a := newAttacker(src.Params, src.ActQuant, max(nA, nP))
	t.signs = make([]int8, nA*in)
	a.signs(t.signs, test.X[:nA*in], test.Y[:nA], nA)
	for _, eps := range o.Eps {
		rng := rand.New(rand.NewSource(pgdSeed(o.Seed, eps)))
		adv := make([]float32, nP*in)
		a.PGD(adv, test.X[:nP*in], test.Y[:nP], nP, eps, o.PGDStep, o.PGDSteps, rng)
		t.pgd = append(t.pgd, adv)
	}
	return t, nil
}

// fits reports whether the transfer images were crafted with the options
// o on the same test images.
func (t *Transfer) fits(o Options, test data.Set) error {
	switch {
	case !slices.Equal(t.eps, o.Eps):
		return fmt.Errorf("transfer images crafted at eps %v, evaluation asks for %v", t.eps, o.Eps)
	case t.images != o.Images || t.pgdImages != o.PGDImages:
		return fmt.Errorf("transfer images crafted on %d (PGD %d) test images, evaluation uses %d (PGD %d)", t.images, t.pgdImages, o.Images, o.PGDImages)
	case t.steps != o.PGDSteps || t.step != o.PGDStep || t.seed != o.Seed:
		return fmt.Errorf("transfer images crafted with PGD %d steps of %v, seed %d; evaluation asks for %d steps of %v, seed %d", t.steps, t.step, t.seed, o.PGDSteps, o.PGDStep, o.Seed)
	case test.Inputs()*t.images != len(t.signs) || t.digest != digest(test, max(t.images, t.pgdImages)):
		return fmt.Errorf("transfer images crafted on another test set")
	}
	return nil
}

// score fills in the transfer figures of r for the target, using buf
// (room for max(images, pgdImages) images) for the FGSM images.
func (t *Transfer) score(r *Result, target Model, test data.Set, buf []float32) {
	in := test.Inputs()
	x, nA := test.X[:t.images*in], t.images
	r.TransferFGSM = byEps(t.eps, func(eps float32) float64 {
		withSigns(buf[:nA*in], x, t.signs, eps)
		return accuracy(target, buf[:nA*in], test.Y[:nA])
	})
	r.TransferPGD = map[string]float64{}
	for k, eps := range t.eps {
		r.TransferPGD[EpsKey(eps)] = accuracy(target, t.pgd[k], test.Y[:t.pgdImages])
	}
	r.TransferFrom = t.Source
	r.Images["transfer_fgsm"], r.Images["transfer_pgd"] = nA, t.pgdImages
}

// digest hashes the first n images and labels of s (FNV-1a over 32-bit
// words), to tell a Transfer's test set from another.
func digest(s data.Set, n int) uint64 {
	h := uint64(14695981039346656037)
	for _, v := range s.X[:n*s.Inputs()] {
		h = (h ^ uint64(math.Float32bits(v))) * 1099511628211
	}
	for _, y := range s.Y[:n] {
		h = (h ^ uint64(y)) * 1099511628211
	}
	return h
}
