package reconcile

import (
	"runtime"
	"slices"
	"sync"
)

// parallelMin is the size below which work is not split between cores.
const parallelMin = 1 << 12

// sortOnAll sorts s by cmp on two cores: each half sorted side by side,
// then merged. cmp must be a total order (no two elements equal), so that
// the result is the one slices.SortFunc gives.
func sortOnAll[T any](s []T, cmp func(a, b T) int) {
	if runtime.GOMAXPROCS(0) < 2 || len(s) < parallelMin {
		slices.SortFunc(s, cmp)
		return
	}
	mid := len(s) / 2
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(s[:mid], cmp) })
	slices.SortFunc(s[mid:], cmp)
	wg.Wait()
	merged := make([]T, 0, len(s))
	a, b := s[:mid], s[mid:]
	for len(a) > 0 && len(b) > 0 {
		if cmp(b[0], a[0]) < 0 {
			merged = append(merged, b[0])
			b = b[1:]
		} else {
			merged = append(merged, a[0])
			a = a[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	copy(s, merged)
}

// parts is how many parts splitWork cuts n items into.
func parts(n int) int {
	if n < parallelMin {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}

// splitWork runs f on the parts(n) parts of [0, n) side by side and
// waits; part numbers the parts in order.
func splitWork(n int, f func(part, from, to int)) {
	w := parts(n)
	var wg sync.WaitGroup
	for p := range w {
		from, to := n*p/w, n*(p+1)/w
		wg.Go(func() { f(p, from, to) })
	}
	wg.Wait()
}
