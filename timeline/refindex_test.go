package timeline

import (
	"strconv"
	"testing"
)

func TestRefIndex(t *testing.T) {
	x := newRefIndex()
	if _, ok := x.lookup("a"); ok {
		t.Fatal("an empty index found an id")
	}
	want := map[string]string{}
	for b := range 3000 {
		ref := "ACH-" + strconv.Itoa(b)
		x.addBooking(ref)
		for k := range b % 7 {
			id := "email:" + strconv.Itoa(b*10+k) + "@example.test"
			x.add(id)
			want[id] = ref
		}
	}
	x.addBooking("ACH-dup")
	x.add("email:10@example.test") // held by ACH-1 first: it keeps that
	x.add("")
	want[""] = "ACH-dup"
	x.build()
	for id, ref := range want {
		if got, ok := x.lookup(id); !ok || got != ref {
			t.Errorf("lookup(%q) = %q, %v; want %q", id, got, ok, ref)
		}
	}
	for _, id := range []string{"email:9@example.test", "email:1", "x"} {
		if got, ok := x.lookup(id); ok {
			t.Errorf("lookup(%q) = %q, found; want none", id, got)
		}
	}
}
