package timeline

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// TestOrderOfTies: events at the same time from the same source (many, as
// copies of one booking make) are ordered by their first witness's id and
// version, then action, then as they came: the order is the one a single
// comparison of all of that gives, whether a run of ties is sorted on its
// own or in place.
func TestOrderOfTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	b := newBuilder(Options{})
	for i := range 5000 {
		src := []evidence.Source{evidence.Stripe, evidence.Mail}[rng.IntN(2)]
		r := &evidence.Record{ID: fmt.Sprintf("%s:x%03d", src, rng.IntN(400)), Version: rng.IntN(3), Source: src, Kind: "charge"}
		var at time.Time // untimed: one run of its own
		if rng.IntN(10) > 0 {
			at = base.Add(time.Duration(rng.IntN(6)) * time.Minute)
		}
		b.push(r, Event{Time: at, Action: []Action{PaymentSucceeded, Recorded, PaymentRefunded}[rng.IntN(3)], Summary: fmt.Sprint(i)})
	}
	type ref struct {
		untimed bool
		t       time.Time
		src     int
		id      string
		version int32
		action  string
		i       int32
	}
	want := make([]ref, b.events.n)
	for i := range b.events.n {
		e := b.events.at(i)
		w := b.wits.at(int(e.first))
		want[i] = ref{e.nsec < 0, e.time(), sourceOrder(evidence.Source(b.atoms.name(e.source))), b.witID(w), w.version, b.atoms.name(e.action), int32(i)}
	}
	slices.SortFunc(want, func(x, y ref) int {
		if x.untimed != y.untimed {
			return cmp.Compare(b2i(x.untimed), b2i(y.untimed))
		}
		return cmp.Or(x.t.Compare(y.t), cmp.Compare(x.src, y.src), strings.Compare(x.id, y.id), cmp.Compare(x.version, y.version),
			strings.Compare(x.action, y.action), cmp.Compare(x.i, y.i))
	})
	for _, big := range []int{1 << 16, 100} {
		orderBigRun = big
		got := b.order(Filter{})
		if len(got) != len(want) {
			t.Fatalf("%d events ordered, want %d", len(got), len(want))
		}
		for k := range want {
			if got[k] != want[k].i {
				t.Fatalf("runs copied up to %d events: event %d at place %d, want %d (%+v)", big, got[k], k, want[k].i, want[k])
			}
		}
	}
	orderBigRun = 1 << 16
}
