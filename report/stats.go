package report

import (
	"fmt"
	"math"
)

// tCrit95 holds the two-sided 95 % quantiles of Student's t for 1–30
// degrees of freedom (index = df); beyond, the normal 1.96.
var tCrit95 = []float64{math.NaN(), 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// CI95 is the half-width of the 95 % confidence interval of the mean (t
// interval over the seeds); NaN with fewer than two seeds.
func (s Stat) CI95() float64 {
	if s.N < 2 {
		return math.NaN()
	}
	t := 1.96
	if s.N-1 < len(tCrit95) {
		t = tCrit95[s.N-1]
	}
	return t * s.Std / math.Sqrt(float64(s.N))
}

// Diff is a paired difference in percentage points: the mean over the
// seeds two measurements share of their per-seed differences, and the 95 %
// t interval of that mean. Pairing by seed removes what the seeds share
// (the same baseline, the same initial weights), so a paired interval is
// much narrower than the two accuracies' standard deviations suggest.
type Diff struct {
	Stat // of the per-seed differences, pp
}

// diffOf makes a Diff from per-seed differences in pp.
func diffOf(d []float64) Diff { return Diff{stat(d)} }

// Lo and Hi are the ends of the 95 % interval (NaN with fewer than two
// seeds).
func (d Diff) Lo() float64 { return d.Mean - d.CI95() }
func (d Diff) Hi() float64 { return d.Mean + d.CI95() }

// Known reports whether the difference has an interval (two seeds or more).
func (d Diff) Known() bool { return d.N >= 2 }

// Tie reports whether the difference is inside the noise: its 95 %
// interval contains 0. With fewer than two seeds there is no interval and
// no difference can be claimed, so that is a tie too.
func (d Diff) Tie() bool { return !d.Known() || (d.Lo() <= 0 && d.Hi() >= 0) }

// Below reports whether the difference is significantly negative (the
// whole interval below 0); Above, significantly positive.
func (d Diff) Below() bool { return !d.Tie() && d.Mean < 0 }
func (d Diff) Above() bool { return !d.Tie() && d.Mean > 0 }

// LossTolerance is the loss, in pp, that counts as none: a change is
// lossless when its whole 95 % interval lies above -LossTolerance. (A tie
// alone is not enough: a wide interval that contains 0 also contains
// large losses.)
const LossTolerance = 0.5

// Lossless reports whether any loss is smaller than LossTolerance at 95 %
// confidence; with one seed, whether the change itself is.
func (d Diff) Lossless() bool {
	if !d.Known() {
		return d.Mean >= -LossTolerance
	}
	return d.Lo() >= -LossTolerance
}

// String prints the mean with its interval: "-0.31 pp [-0.61, -0.01]", or
// the mean alone with one seed.
func (d Diff) String() string {
	if !d.Known() {
		return signed(d.Mean) + " pp (one seed, no interval)"
	}
	return fmt.Sprintf("%s pp [%s, %s]", signed(d.Mean), signed(d.Lo()), signed(d.Hi()))
}

// signed prints a change in pp with its sign and two decimals, never
// "-0.00".
func signed(x float64) string {
	if math.Abs(x) < 0.005 {
		x = 0
	}
	return fmt.Sprintf("%+.2f", x)
}

// seedVals is what one seed's record says about a cell: its test
// accuracy (0–1), the seed's baseline's, and the accuracy of the same
// passes without retraining.
type seedVals struct {
	acc, baseAcc, noRetrain float64
	// robust and baseRobust are the seed's figures under attack and
	// corruption (nil when its record has none), by robust column name.
	robust, baseRobust map[string]float64
}

// Paired is the paired difference a − b in pp of f over the seeds both
// cells have.
func Paired(a, b Cell, f func(seedVals) float64) Diff {
	var d []float64
	for _, s := range a.Seeds {
		va, okA := a.bySeed[s]
		vb, okB := b.bySeed[s]
		if okA && okB {
			d = append(d, 100*(f(va)-f(vb)))
		}
	}
	return diffOf(d)
}

// testAcc selects a seed's test accuracy.
func testAcc(v seedVals) float64 { return v.acc }

// VsBaseline is the cell's paired change of test accuracy against each
// seed's own baseline, pp.
func (c Cell) VsBaseline() Diff { return c.Delta.asDiff() }

// VsNoRetrain is a fine-tuning cell's paired gain over the same passes
// applied without retraining, pp.
func (c Cell) VsNoRetrain() Diff {
	var d []float64
	for _, s := range c.Seeds {
		v := c.bySeed[s]
		d = append(d, 100*(v.acc-v.noRetrain))
	}
	return diffOf(d)
}

// asDiff reads a Stat of per-seed differences in pp as a Diff.
func (s Stat) asDiff() Diff { return Diff{s} }
