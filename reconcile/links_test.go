package reconcile

import (
	"strconv"
	"testing"

	"github.com/salvagehq/salvage/evidence"
)

// A set's links, and whether a weak link joined it, belong to the booking
// even when a later link gives the set a root that comes first: links
// were kept by the root a set had when they were made, and a set joined
// later to one with a smaller root lost them (and its weak-link flag).
func TestLinksFollowTheFinalRoot(t *testing.T) {
	m := &matcher{reason: map[string]int32{}}
	for i := range 6 {
		r := &evidence.Record{ID: "r" + strconv.Itoa(i)}
		m.items = append(m.items, item{r: r})
	}
	m.u = newUF(len(m.items))
	m.link(4, 5, "stripe_charge", 1) // set {4, 5}, root 4
	if !m.link(3, 4, "scored: same email", 9) {
		t.Fatal("link refused")
	}
	m.linked[len(m.linked)-1].weak = true // set {3, 4, 5}, root 3
	m.link(1, 5, "same reference", 1)     // set {1, 3, 4, 5}, root 1
	m.link(0, 2, "in_reply_to", 1)        // another set
	m.groupLinks()

	got := m.linksOf(1)
	want := []Link{
		{A: "r1", B: "r5", Reason: "same reference", Weight: 1},
		{A: "r3", B: "r4", Reason: "scored: same email", Weight: 9},
		{A: "r4", B: "r5", Reason: "stripe_charge", Weight: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("links of root 1: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("link %d: %v, want %v", i, got[i], want[i])
		}
	}
	if !m.weakLink(1) {
		t.Error("the weak link that joined item 3 is not counted once the set's root is item 1")
	}
	if m.weakLink(0) || len(m.linksOf(0)) != 1 {
		t.Errorf("set {0, 2}: weak %v, links %v", m.weakLink(0), m.linksOf(0))
	}
	for _, root := range []int{3, 4, 5} {
		if ls := m.linksOf(root); ls != nil {
			t.Errorf("links left under %d, no longer a root: %v", root, ls)
		}
	}
}
