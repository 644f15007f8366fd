package experiments

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one share of an experiment's cells when a sweep is spread over
// several machines: shard Index of Count (1-based). The zero Shard is the
// whole experiment.
//
// The cells are dealt round-robin, in the experiment's order, over the
// distinct configurations (a configuration that appears in two sweeps is
// one cell and goes to one shard), so shards get near-equal shares of every
// sweep and every seed. Each shard trains the baselines its cells start
// from; training is deterministic, so two shards that need the same seed's
// baseline train the same weights (mnistc merge checks they did).
type Shard struct{ Index, Count int }

// MaxShards bounds --shard's N.
const MaxShards = 10000

// ParseShard reads "I/N" (1 ≤ I ≤ N).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%q: want I/N, this shard's number and the number of shards (e.g. 2/4)", s)
	}
	if n < 1 || n > MaxShards || i < 1 || i > n {
		return Shard{}, fmt.Errorf("%q: want 1 ≤ I ≤ N ≤ %d", s, MaxShards)
	}
	return Shard{Index: i, Count: n}, nil
}

// String is "I/N", or "" for the whole experiment.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// shardText names a manifest's shard for people.
func shardText(s string) string {
	if s == "" {
		return "a whole run"
	}
	return "shard " + s
}

// take returns the jobs of shard s: the k-th distinct configuration (in
// order) belongs to shard k mod Count + 1, with every job that shares it.
func (s Shard) take(jobs []job) []job {
	if s.Count == 0 {
		return jobs
	}
	owner := map[string]int{}
	var out []job
	for _, j := range jobs {
		o, ok := owner[j.rec.Key]
		if !ok {
			o = len(owner)%s.Count + 1
			owner[j.rec.Key] = o
		}
		if o == s.Index {
			out = append(out, j)
		}
	}
	return out
}
