package report

import (
	"math"
	"testing"
)

// TestDiffTie: a paired difference is a tie exactly when its 95 % t
// interval contains 0; with one seed there is no interval and no claim.
// Expected bounds: mean ± t(0.975, n−1)·s/√n with t from a Student t
// table (4.303 for 2 degrees of freedom, 12.706 for 1).
func TestDiffTie(t *testing.T) {
	for _, c := range []struct {
		name       string
		d          []float64 // per-seed differences, pp
		lo, hi     float64
		tie, below bool
		lossless   bool
	}{
		{"spread around 0", []float64{0.1, -0.1, 0.05}, 0.0167 - 4.303*0.1041/math.Sqrt(3), 0.0167 + 4.303*0.1041/math.Sqrt(3), true, false, true},
		{"1, 2, 3: wide enough to reach 0", []float64{1, 2, 3}, 2 - 4.303/math.Sqrt(3), 2 + 4.303/math.Sqrt(3), true, false, true},
		{"consistent gain", []float64{1.0, 1.1, 0.9}, 1 - 4.303*0.1/math.Sqrt(3), 1 + 4.303*0.1/math.Sqrt(3), false, false, true},
		{"consistent small loss", []float64{-0.3, -0.35, -0.25}, -0.3 - 4.303*0.05/math.Sqrt(3), -0.3 + 4.303*0.05/math.Sqrt(3), false, true, true},
		{"consistent large loss", []float64{-0.6, -0.5, -0.7}, -0.6 - 4.303*0.1/math.Sqrt(3), -0.6 + 4.303*0.1/math.Sqrt(3), false, true, false},
		{"identical seeds, no change", []float64{0, 0, 0}, 0, 0, true, false, true},
		{"identical seeds, a change", []float64{-2, -2, -2}, -2, -2, false, true, false},
		{"two seeds", []float64{0.5, 1.5}, 1 - 12.706*0.7071/math.Sqrt(2), 1 + 12.706*0.7071/math.Sqrt(2), true, false, false},
	} {
		d := diffOf(c.d)
		if !math.IsNaN(c.lo) && (math.Abs(d.Lo()-c.lo) > 1e-3 || math.Abs(d.Hi()-c.hi) > 1e-3) {
			t.Errorf("%s: interval [%.4f, %.4f], want [%.4f, %.4f]", c.name, d.Lo(), d.Hi(), c.lo, c.hi)
		}
		if d.Tie() != c.tie || d.Below() != c.below || d.Lossless() != c.lossless {
			t.Errorf("%s: %v: tie %v below %v lossless %v, want %v %v %v", c.name, d, d.Tie(), d.Below(), d.Lossless(), c.tie, c.below, c.lossless)
		}
		if d.Tie() && (d.Above() || d.Below()) {
			t.Errorf("%s: a tie is also called above or below", c.name)
		}
	}
	one := diffOf([]float64{5})
	if !one.Tie() || one.Above() || one.Known() {
		t.Errorf("one seed: %v tie %v above %v: want a tie with no interval", one, one.Tie(), one.Above())
	}
}

// TestTieBoundary: a difference whose interval ends exactly at 0 contains
// 0 and is a tie; moving it a hair away makes it a difference.
func TestTieBoundary(t *testing.T) {
	// mean m, std 1 over 3 seeds: half-width h = 4.303/√3; choose m = h
	h := 4.303 / math.Sqrt(3)
	at := Diff{Stat{Mean: h, Std: 1, N: 3}}
	if !at.Tie() {
		t.Errorf("interval [%g, %g] touches 0 but is not a tie", at.Lo(), at.Hi())
	}
	past := Diff{Stat{Mean: h + 1e-9, Std: 1, N: 3}}
	if past.Tie() || !past.Above() {
		t.Errorf("interval [%g, %g] excludes 0 but is a tie", past.Lo(), past.Hi())
	}
}

// TestLeaders: at a row where one method is significantly behind the
// others, the others are the leaders; where all tie, there are none.
func TestLeaders(t *testing.T) {
	mk := func(acc [3]float64) Cell {
		c := Cell{Seeds: []int64{1, 2, 3}, bySeed: map[int64]seedVals{}, Acc: stat(acc[:])}
		for i, a := range acc {
			c.bySeed[int64(i+1)] = seedVals{acc: a}
		}
		return c
	}
	g := Grid{RowKey: "bits", Rows: []string{"4", "8"}, Columns: []string{"a", "b", "c"}, At: map[[2]string]Cell{
		{"4", "a"}: mk([3]float64{0.970, 0.972, 0.971}),
		{"4", "b"}: mk([3]float64{0.9705, 0.9718, 0.9712}),
		{"4", "c"}: mk([3]float64{0.960, 0.962, 0.961}), // 1 pp behind on every seed
		{"8", "a"}: mk([3]float64{0.975, 0.973, 0.974}),
		{"8", "b"}: mk([3]float64{0.974, 0.974, 0.975}),
		{"8", "c"}: mk([3]float64{0.973, 0.975, 0.974}),
	}}
	if l := g.Leaders("4"); len(l) != 2 || !l["a"] || !l["b"] {
		t.Errorf("bits 4: leaders %v, want a and b", l)
	}
	if l := g.Leaders("8"); l != nil {
		t.Errorf("bits 8: leaders %v, want none (all tie)", l)
	}
}
