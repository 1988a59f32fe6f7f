package reconcile

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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
