// Package psort sorts big slices on two cores: each half sorted at once,
// then the halves merged. A workbook sorts a million and a half record ids
// and a timeline a million events while the other core would wait.
package psort

import (
	"runtime"
	"slices"
	"sync"
)

// minParallel is the length below which a slice is sorted on one core.
const minParallel = 1 << 12

// Sorted returns the elements of s in the order cmp gives, in a new slice;
// s is left in no particular order. Elements cmp finds equal keep no
// particular order either: cmp should tell every two apart.
func Sorted[T any](s []T, cmp func(a, b T) int) []T {
	out := make([]T, len(s))
	if len(s) < minParallel || runtime.GOMAXPROCS(0) < 2 {
		copy(out, s)
		slices.SortFunc(out, cmp)
		return out
	}
	left, right := s[:len(s)/2], s[len(s)/2:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(left, cmp) })
	slices.SortFunc(right, cmp)
	wg.Wait()
	k := 0
	for len(left) > 0 && len(right) > 0 {
		if cmp(left[0], right[0]) <= 0 {
			out[k], left = left[0], left[1:]
		} else {
			out[k], right = right[0], right[1:]
		}
		k++
	}
	k += copy(out[k:], left)
	copy(out[k:], right)
	return out
}
