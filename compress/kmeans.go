package compress

import (
	"math"
	"sort"
)

// maxKMeansIters bounds Lloyd's iterations; 1-D clustering of a few
// hundred thousand weights converges well before.
const maxKMeansIters = 100

// KMeans replaces the non-zero entries of v by the nearest of at most k
// shared values (Deep Compression's weight sharing) and returns how many
// centroids it used. Centroids start evenly spaced between the smallest and
// largest value (the linear initialisation Han et al. found best) and move
// by Lloyd's iterations; everything is deterministic. Zeros stay zero so a
// pruned tensor stays pruned.
func KMeans(v []float32, k int) int {
	var xs []float64
	for _, x := range v {
		if x != 0 {
			xs = append(xs, float64(x))
		}
	}
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	c := linearInit(xs, k)
	assign := make([]int, len(xs))
	for it := 0; it < maxKMeansIters; it++ {
		changed := assignSorted(xs, c, assign)
		updateMeans(xs, c, assign)
		if !changed && it > 0 {
			break
		}
	}
	for i, x := range v {
		if x != 0 {
			v[i] = float32(c[nearest(c, float64(x))])
		}
	}
	return len(c)
}

// linearInit spaces k centroids evenly over [xs[0], xs[n−1]]; when xs
// holds at most k distinct values they are the centroids, so a tensor that
// is already shared stays exactly as it is.
func linearInit(xs []float64, k int) []float64 {
	uniq := []float64{xs[0]}
	for i := 1; i < len(xs) && len(uniq) <= k; i++ {
		if xs[i] != xs[i-1] {
			uniq = append(uniq, xs[i])
		}
	}
	if len(uniq) <= k {
		return uniq
	}
	lo, hi := xs[0], xs[len(xs)-1]
	c := make([]float64, k)
	for j := range c {
		if k == 1 {
			c[j] = (lo + hi) / 2
		} else {
			c[j] = lo + (hi-lo)*float64(j)/float64(k-1)
		}
	}
	return c
}

// assignSorted assigns each sorted value to its nearest centroid, the
// lower on ties as nearest does (c is sorted, so assignments are monotone), and reports whether any changed.
func assignSorted(xs, c []float64, assign []int) bool {
	changed := false
	j := 0
	for i, x := range xs {
		for j+1 < len(c) && math.Abs(c[j+1]-x) < math.Abs(c[j]-x) {
			j++
		}
		if assign[i] != j {
			assign[i], changed = j, true
		}
	}
	return changed
}

// updateMeans moves each centroid to the mean of its values; an empty
// cluster keeps its centroid. Centroids stay sorted.
func updateMeans(xs, c []float64, assign []int) {
	sum := make([]float64, len(c))
	cnt := make([]int, len(c))
	for i, x := range xs {
		sum[assign[i]] += x
		cnt[assign[i]]++
	}
	for j := range c {
		if cnt[j] > 0 {
			c[j] = sum[j] / float64(cnt[j])
		}
	}
}

// nearest returns the index of the centroid closest to x (the lower on ties).
func nearest(c []float64, x float64) int {
	j := sort.SearchFloat64s(c, x)
	switch {
	case j == 0:
		return 0
	case j == len(c):
		return len(c) - 1
	case math.Abs(c[j]-x) < math.Abs(x-c[j-1]):
		return j
	default:
		return j - 1
	}
}
