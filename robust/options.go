package robust

import (
	"fmt"
	"math"
	"slices"
)

// The attacks Evaluate knows, as Options.Attacks names them.
const (
	AttackFGSM     = "fgsm"     // white-box FGSM at each ε
	AttackPGD      = "pgd"      // white-box PGD at each ε
	AttackTransfer = "transfer" // FGSM and PGD images crafted on another model (a Transfer)
	AttackCorrupt  = "corrupt"  // the common corruptions
)

// AttackNames lists the attacks in the order Evaluate runs them.
func AttackNames() []string {
	return []string{AttackFGSM, AttackPGD, AttackTransfer, AttackCorrupt}
}

// Options chooses what Evaluate (and NewTransfer) measure. The zero value
// is the setting: every attack (the transfer attack when a
// Transfer is given), ε ∈ DefaultEps, FGSM and corruptions over the whole
// test set, PGD-40 of step 0.01 over its first 1,000 images, severity 3,
// seed 0.
type Options struct {
	// Attacks lists what to measure (AttackNames); empty: all of them,
	// the transfer attack only when Evaluate is given a Transfer.
	Attacks []string
	// Eps lists the L∞ radii in pixel units, each in [0, 1]; empty:
	// DefaultEps. Results are keyed by ε as strconv formats a float32
	// ("0.05").
	Eps []float32
	// Images is how many test images, the first ones, the clean accuracy,
	// FGSM, transfer FGSM and the corruptions use; 0: all of them.
	Images int
	// PGDImages is how many test images, the first ones, PGD and transfer
	// PGD use; 0: DefaultPGDImages. Both counts are capped at the test
	// set's size, and the Result records the counts used.
	PGDImages int
	// PGDSteps and PGDStep are PGD's iterations and step size; 0:
	// DefaultPGDSteps, DefaultPGDStep.
	PGDSteps int
	PGDStep  float32
	// Corruptions lists the corruptions by name; empty: all of them.
	Corruptions []string
	// Severity is the corruption level, 1..Severities; 0: DefaultSeverity.
	Severity int
	// Seed seeds PGD's random starts and the corruptions.
	Seed int64
}

// resolve returns the options with defaults filled in and the image counts
// capped at n test images, or an error naming the field that is wrong.
func (o Options) resolve(n int) (Options, error) {
	for _, a := range o.Attacks {
		if !slices.Contains(AttackNames(), a) {
			return o, fmt.Errorf("attack %q unknown: want some of %v", a, AttackNames())
		}
	}
	if len(o.Attacks) == 0 {
		o.Attacks = AttackNames()
	}
	if len(o.Eps) == 0 {
		o.Eps = DefaultEps()
	}
	for _, e := range o.Eps {
		if !(e >= 0 && e <= 1) {
			return o, fmt.Errorf("eps %v out of range: want 0..1 (pixel units)", e)
		}
	}
	for i, e := range o.Eps {
		if slices.Contains(o.Eps[:i], e) {
			return o, fmt.Errorf("eps %v given twice", e)
		}
	}
	switch {
	case o.Images < 0:
		return o, fmt.Errorf("images %d out of range: want ≥ 0 (0: the whole test set)", o.Images)
	case o.PGDImages < 0:
		return o, fmt.Errorf("pgd images %d out of range: want ≥ 0 (0: %d)", o.PGDImages, DefaultPGDImages)
	case o.PGDSteps < 0:
		return o, fmt.Errorf("pgd steps %d out of range: want ≥ 0 (0: %d)", o.PGDSteps, DefaultPGDSteps)
	case !(o.PGDStep >= 0 && o.PGDStep <= 1):
		return o, fmt.Errorf("pgd step %v out of range: want 0..1 (0: %v)", o.PGDStep, DefaultPGDStep)
	case o.Severity < 0 || o.Severity > Severities:
		return o, fmt.Errorf("severity %d out of range: want 1..%d (0: %d)", o.Severity, Severities, DefaultSeverity)
	}
	for _, c := range o.Corruptions {
		if _, err := CorruptionByName(c); err != nil {
			return o, err
		}
	}
	if len(o.Corruptions) == 0 {
		o.Corruptions = CorruptionNames()
	}
	if o.Images == 0 || o.Images > n {
		o.Images = n
	}
	if o.PGDImages == 0 {
		o.PGDImages = DefaultPGDImages
	}
	o.PGDImages = min(o.PGDImages, n)
	if o.PGDSteps == 0 {
		o.PGDSteps = DefaultPGDSteps
	}
	if o.PGDStep == 0 {
		o.PGDStep = DefaultPGDStep
	}
	if o.Severity == 0 {
		o.Severity = DefaultSeverity
	}
	return o, nil
}

// runs reports whether the attack is among the options' attacks.
func (o Options) runs(attack string) bool { return slices.Contains(o.Attacks, attack) }

// pgdSeed is the seed of PGD's random start at radius eps: it depends on
// the options' seed and ε alone, so adding an ε or an attack leaves the
// other figures unchanged.
func pgdSeed(seed int64, eps float32) int64 {
	return seed*1_000_003 + int64(math.Float32bits(eps))
}

// Validate reports the first option out of range, naming it.
func (o Options) Validate() error {
	_, err := o.resolve(1)
	return err
}
