package psort

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// Sorted sorts as one sort of it all, at every length around the one
// where it starts to use two cores, and leaves the input's elements be.
func TestSorted(t *testing.T) {
	type pair struct{ key, i int }
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, minParallel - 1, minParallel, minParallel + 1, 3*minParallel + 5, 100_000} {
		in := make([]pair, n)
		for i := range in {
			in[i] = pair{rng.IntN(n/3 + 1), i} // many equal keys, told apart by i
		}
		byKey := func(a, b pair) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.i, b.i)) }
		want := slices.Clone(in)
		slices.SortFunc(want, byKey)
		got := Sorted(in, byKey)
		if !slices.Equal(got, want) {
			t.Fatalf("%d elements: not sorted", n)
		}
		slices.SortFunc(in, byKey)
		if !slices.Equal(in, want) {
			t.Fatalf("%d elements: the input lost or gained elements", n)
		}
	}
}

func BenchmarkSorted(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]int, 1_000_000)
	for i := range in {
		in[i] = rng.Int()
	}
	work := make([]int, len(in))
	for b.Loop() {
		copy(work, in)
		Sorted(work, cmp.Compare[int])
	}
}
