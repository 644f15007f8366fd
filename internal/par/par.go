// Package par splits a range of rows over the available cores.
package par

import (
	"runtime"
	"sync"
)

// Rows calls f on contiguous parts of [0, m), one per core, in parallel,
// with at least grain rows in a part (grain ≤ 1: no minimum), and returns
// when all are done.
func Rows(m, grain int, f func(a, b int)) {
	p := min(runtime.GOMAXPROCS(0), m/max(1, grain))
	if p <= 1 {
		f(0, m)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		a, b := m*w/p, m*(w+1)/p
		wg.Add(1)
		go func() { defer wg.Done(); f(a, b) }()
	}
	wg.Wait()
}
