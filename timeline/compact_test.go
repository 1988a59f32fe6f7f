package timeline

import (
	"fmt"
	"strings"
	"testing"
)

// TestTextArena checks that strings come back as they went in: empty,
// short ones filling many chunks, long ones in chunks of their own.
func TestTextArena(t *testing.T) {
	var a textArena
	var want []string
	var got []text
	for i := range 20000 {
		s := fmt.Sprintf("s%d-", i) + strings.Repeat("x", i%300)
		switch i % 997 {
		case 0:
			s = ""
		case 1:
			s = strings.Repeat("long", 20000+i) // past 1/16 of a chunk
		}
		want = append(want, s)
		got = append(got, a.add(s))
	}
	for i, h := range got {
		if s := a.get(h); s != want[i] {
			t.Fatalf("string %d: got %d bytes %.20q, want %d bytes %.20q", i, len(s), s, len(want[i]), want[i])
		}
	}
	if a.get(0) != "" {
		t.Errorf("the zero text is %q", a.get(0))
	}
}

// TestTextMap checks lookups by string and tag, and that a lookup walks
// a chain of entries whose hashes are the same.
func TestTextMap(t *testing.T) {
	var a textArena
	m := newTextMap()
	for i := range 5000 {
		for tag := range uint64(3) {
			m.put(&a, a.add(fmt.Sprint("pi_", i)), tag, uint64(i)*10+tag)
		}
	}
	for i := range 5000 {
		for tag := range uint64(3) {
			if v, ok := m.get(&a, fmt.Sprint("pi_", i), tag); !ok || v != uint64(i)*10+tag {
				t.Fatalf("get(pi_%d, %d) = %d, %v", i, tag, v, ok)
			}
		}
		if _, ok := m.get(&a, fmt.Sprint("pi_", i), 3); ok {
			t.Fatalf("pi_%d found with a tag never put", i)
		}
	}
	if _, ok := m.get(&a, "pi_x", 0); ok {
		t.Fatal("a key never put was found")
	}
	// Another entry in front of pi_7's, as a hash collision would put it:
	// pi_7 is still found behind it, and the other not in its place.
	h := m.hash("pi_7", 0)
	m.heads[h] = int32(m.ents.add(textEntry{key: a.add("other"), val: 99, next: m.heads[h]})) + 1
	if v, ok := m.get(&a, "pi_7", 0); !ok || v != 70 {
		t.Errorf("behind a colliding entry: get(pi_7) = %d, %v; want 70", v, ok)
	}
}
