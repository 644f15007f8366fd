package mnc

import (
	"math"
	"sort"
)

// maxK bounds |k| of a grid level: codes are at most MaxBits wide.
const maxK = 1<<(MaxBits-1) - 1

// gridScale returns a float32 scale s such that every value of vals (the
// distinct non-zero values of one group) equals s·float32(k) in float32
// arithmetic for an integer k with |k| ≤ maxK, preferring the largest such s
// (the fewest levels); ok is false when no candidate reproduces them all.
//
// Candidates: the largest |v| over k levels, with k from the smallest gap
// between neighbouring levels (0 included) and the usual ranges 2^b−1,
// 2^(b−1)−1, 2^(b−1); each tried at the rounded quotient and ±2 ulps.
func gridScale(vals []float32) (float32, bool) {
	if len(vals) == 0 {
		return 1, true
	}
	if len(vals) > 2*maxK {
		return 0, false
	}
	sorted := make([]float64, 0, len(vals)+1)
	m := 0.0
	for _, v := range vals {
		sorted = append(sorted, float64(v))
		m = math.Max(m, math.Abs(float64(v)))
	}
	sorted = append(sorted, 0)
	sort.Float64s(sorted)
	d := math.Inf(1)
	for i := 1; i < len(sorted); i++ {
		if g := sorted[i] - sorted[i-1]; g > 0 {
			d = math.Min(d, g)
		}
	}
	seen := map[int]bool{}
	var cands []int
	add := func(k int) {
		if k >= 1 && k <= maxK && !seen[k] {
			seen[k] = true
			cands = append(cands, k)
		}
	}
	for j := 1; j <= 4; j++ {
		add(int(math.Round(m * float64(j) / d)))
	}
	for b := 1; b <= MaxBits; b++ {
		add(1<<b - 1)
		add(1<<(b-1) - 1)
		add(1 << (b - 1))
	}
	sort.Ints(cands)
	for _, k := range cands {
		s0 := float32(m / float64(k))
		for _, u := range []int{0, -1, 1, -2, 2} {
			s := nudge(s0, u)
			if s > 0 && !math.IsInf(float64(s), 0) && onGrid(vals, s) {
				return s, true
			}
		}
	}
	return 0, false
}

// nudge moves f by u ulps.
func nudge(f float32, u int) float32 {
	b := int64(math.Float32bits(f)) + int64(u)
	if b < 0 || b > math.MaxUint32 {
		return 0
	}
	return math.Float32frombits(uint32(b))
}

func onGrid(vals []float32, s float32) bool {
	for _, v := range vals {
		k, ok := gridLevel(v, s)
		if !ok {
			return false
		}
		_ = k
	}
	return true
}

// gridLevel returns k with s·float32(k) == v bit for bit.
func gridLevel(v, s float32) (int32, bool) {
	k := math.Round(float64(v) / float64(s))
	if math.Abs(k) > maxK {
		return 0, false
	}
	if math.Float32bits(s*float32(int32(k))) != math.Float32bits(v) {
		return 0, false
	}
	return int32(k), true
}
