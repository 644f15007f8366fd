package retrain

import (
	"fmt"
	"sort"

	"mnistc/compress"
	"mnistc/model"
)

// share holds Deep Compression's weight sharing through training (Han et
// al. 2016, §3.1): each selected tensor's non-zero weights are clustered by
// k-means (linear initialisation, compress.KMeans) into at most 2^bits
// shared values, and the forward pass sees every weight replaced by its
// cluster's value. The shared values are retrained: the shadow weights are
// set to them after every projection, so one optimizer step moves each
// member by its own update and the next projection makes each shared value
// the mean of its members — it moves by the mean of their updates (the
// paper sums the members' gradients into the centroid: the same direction,
// the step scaled by the cluster size; Adam normalises per weight anyway).
// Without that write-back the members would drift apart for good, and a
// later clustering would quantize the drifted values afresh. The
// assignments stay fixed while the tensor's zeros do; when the zeros
// change (a pruning schedule ahead of it in the chain prunes more), the
// tensor is clustered again — cheaply, as its values are already shared —
// so chained after gradual pruning the clusters settle at the end of the
// ramp and train from there.
type share struct {
	spec compress.Spec
	k    int
	// start is the first step it shares at: after a pruning schedule
	// ahead of it in the chain has reached its final sparsity (Deep
	// Compression prunes and retrains first, then shares); before, the
	// weights pass through unshared, so pruning ranks real magnitudes
	// rather than a few shared values.
	start  int
	assign map[string][]int32 // per tensor: cluster of each entry, −1 for a zero
	zeros  map[string]int     // per tensor: zeros when last clustered
	sum    []float64
	count  []int
}

func newShare(s compress.Spec) (*share, error) {
	if s.Args["granularity"] == "channel" {
		return nil, fmt.Errorf("quantize: scheme=kmeans in the loop shares values per tensor (Deep Compression's per-layer codebook); granularity=channel is post-training only")
	}
	var bits int
	if _, err := fmt.Sscan(s.Args["bits"], &bits); err != nil || bits < 1 || bits > 8 {
		return nil, fmt.Errorf("quantize: scheme=kmeans in the loop takes bits 1–8, got %q", s.Args["bits"])
	}
	return &share{spec: s, k: 1 << bits, assign: map[string][]int32{}, zeros: map[string]int{}}, nil
}

// Project writes into dst the shared values of src, and writes them back
// into src (the shadow weights) when src is not dst; in a chain, src is
// the previous member's output and the chain writes back (writeBack).
func (c *share) Project(src, dst *model.Params, step int) {
	if step < c.start {
		if src != dst {
			for k, t := range src.Tensors() {
				copy(dst.Tensors()[k].Data, t.Data)
			}
		}
		return
	}
	if src != dst {
		for k, t := range src.Tensors() {
			copy(dst.Tensors()[k].Data, t.Data)
		}
		defer c.writeBack(dst, src, step)
	}
	names, err := c.spec.Layers(dst)
	if err != nil {
		panic("retrain: " + err.Error()) // checked against the network before training
	}
	for _, name := range names {
		d := dst.Get(name).Data
		zeros := 0
		for _, x := range d {
			if x == 0 {
				zeros++
			}
		}
		a, ok := c.assign[name]
		if !ok || zeros != c.zeros[name] || len(a) != len(d) {
			a = cluster(d, c.k)
			c.assign[name], c.zeros[name] = a, zeros
		}
		c.shareMeans(d, a)
	}
}

// shareMeans replaces every assigned entry of d by its cluster's mean.
func (c *share) shareMeans(d []float32, a []int32) {
	if len(c.sum) < c.k {
		c.sum, c.count = make([]float64, c.k), make([]int, c.k)
	}
	sum, count := c.sum[:c.k], c.count[:c.k]
	clear(sum)
	clear(count)
	for i, j := range a {
		if j >= 0 {
			sum[j] += float64(d[i])
			count[j]++
		}
	}
	mean := make([]float32, c.k)
	for j := range mean {
		if count[j] > 0 {
			mean[j] = float32(sum[j] / float64(count[j]))
		}
	}
	for i, j := range a {
		if j >= 0 {
			d[i] = mean[j]
		} else {
			d[i] = 0
		}
	}
}

// cluster runs k-means on d's non-zero entries and returns each entry's
// cluster (index into the sorted shared values), −1 for zeros.
func cluster(d []float32, k int) []int32 {
	shared := append([]float32(nil), d...)
	compress.KMeans(shared, k)
	var vals []float32
	seen := map[float32]bool{}
	for _, x := range shared {
		if x != 0 && !seen[x] {
			seen[x] = true
			vals = append(vals, x)
		}
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	index := make(map[float32]int32, len(vals))
	for i, v := range vals {
		index[v] = int32(i)
	}
	a := make([]int32, len(d))
	for i, x := range shared {
		a[i] = -1
		if j, ok := index[x]; ok && d[i] != 0 && x != 0 {
			a[i] = j
		}
	}
	return a
}

// Held is nil: sharing holds no entry at zero (a pruning pass does).
func (c *share) Held() [][]bool { return nil }

// writeBack copies the shared tensors of from into to (the shadow), once
// sharing has started.
func (c *share) writeBack(from, to *model.Params, step int) {
	if step < c.start {
		return
	}
	names, err := c.spec.Layers(from)
	if err != nil {
		panic("retrain: " + err.Error()) // checked against the network before training
	}
	for _, name := range names {
		copy(to.Get(name).Data, from.Get(name).Data)
	}
}
