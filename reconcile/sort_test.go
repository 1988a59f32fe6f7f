package reconcile

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/internal/scenariotest"
)

// sortBookings gives the order a plain sort of the bookings gives.
func TestSortBookings(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 7, 100, 2000} {
		bs := make([]Booking, n)
		for i := range bs {
			bs[i].Ref = "ACH-" + strconv.Itoa(rng.IntN(n+1)) + "-" + strconv.Itoa(i)
			if rng.IntN(5) > 0 {
				s := time.Date(2026, 9, 1+rng.IntN(3), rng.IntN(3), 0, 0, 0, time.UTC)
				bs[i].Start = &s
			}
		}
		want := slices.Clone(bs)
		slices.SortFunc(want, func(a, b Booking) int {
			var ta, tb time.Time
			if a.Start != nil {
				ta = *a.Start
			}
			if b.Start != nil {
				tb = *b.Start
			}
			if c := ta.Compare(tb); c != 0 {
				return c
			}
			return strings.Compare(a.Ref, b.Ref)
		})
		sortBookings(bs)
		for i := range bs {
			if bs[i].Ref != want[i].Ref {
				t.Fatalf("%d bookings: at %d %s, want %s", n, i, bs[i].Ref, want[i].Ref)
			}
		}
	}
}

// sortOnAll gives what slices.SortFunc gives, above and below the size it
// splits at.
func TestSortOnAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 10, parallelMin - 1, parallelMin, 3*parallelMin + 7} {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
		want := slices.Clone(s)
		slices.Sort(want)
		sortOnAll(s, func(a, b int) int { return a - b })
		if !slices.Equal(s, want) {
			t.Fatalf("%d: not sorted", n)
		}
	}
}

// splitWork covers [0, n) once, in parts numbered in order.
func TestSplitWork(t *testing.T) {
	for _, n := range []int{0, 5, parallelMin, 5*parallelMin + 3} {
		seen := make([]int32, n)
		firsts := make([]int, parts(n))
		splitWork(n, func(part, from, to int) {
			firsts[part] = from
			for i := from; i < to; i++ {
				seen[i]++
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%d: item %d done %d times", n, i, c)
			}
		}
		if !slices.IsSorted(firsts) {
			t.Fatalf("%d: parts out of order: %v", n, firsts)
		}
	}
}

// Reconcile gives the same bookings on one core as on two: items, sets
// and bookings are made on every core past parallelMin items.
func TestReconcileSameOnEveryCore(t *testing.T) {
	base, cfg := scenariotest.Records(t, filepath.Join("..", "fixtures", "scenario"))
	recs := scaled(base, 3*parallelMin)
	run := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res := Reconcile(slices.Clone(recs), Options{Config: cfg})
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, two := run(1), run(2)
	if !bytes.Equal(one, two) {
		t.Errorf("bookings differ between one core (%d bytes of JSON) and two (%d)", len(one), len(two))
	}
}
