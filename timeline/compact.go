package timeline

import (
	"hash/maphash"
	"strings"
	"time"
	"unsafe"
)

// The builder keeps up to a few million events while it reads a case,
// and keeps them without Go pointers: strings in a text arena (text
// handles), kinds, actors, actions and sources as small numbers (atoms),
// the witnesses of every event in one chunked list. The collector has
// nothing to scan in them (at 250,000 bookings, marking the events' half
// a gigabyte of strings and slices was most of the collector's work), and
// a string the evidence repeats (a booking reference) is kept once.
// Events become Events again, one at a time, as they are given out.

// text is a string kept in a textArena: its chunk, offset and length in
// one word. The zero text is "".
type text uint64

const (
	arenaChunkBits = 20 // small strings go to chunks of 1 MiB
	textLenBits    = 24
	// textBig is the length field of a string kept whole in arena.big
	// (16 MiB and more: no evidence string should be, but nothing
	// breaks if one is).
	textBig = 1<<textLenBits - 1
)

// textArena keeps strings in large byte chunks that are never moved or
// written again: a string it gives out shares their memory.
type textArena struct {
	chunks [][]byte
	cur    int // 1 + the chunk small strings are added to; 0: none yet
	big    []string
}

func packText(chunk, off, n int) text {
	return text(uint64(chunk)<<(arenaChunkBits+textLenBits) | uint64(off)<<textLenBits | uint64(n))
}

// add keeps a copy of s.
func (a *textArena) add(s string) text {
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n >= textBig:
		a.big = append(a.big, strings.Clone(s))
		return text(uint64(len(a.big)-1)<<(arenaChunkBits+textLenBits) | textBig)
	case n > 1<<arenaChunkBits/16:
		// A long string has a chunk of its own.
		a.chunks = append(a.chunks, []byte(s))
		return packText(len(a.chunks)-1, 0, n)
	}
	if a.cur == 0 || len(a.chunks[a.cur-1])+n > 1<<arenaChunkBits {
		a.chunks = append(a.chunks, make([]byte, 0, 1<<arenaChunkBits))
		a.cur = len(a.chunks)
	}
	c := &a.chunks[a.cur-1]
	off := len(*c)
	*c = append(*c, s...)
	return packText(a.cur-1, off, n)
}

// get is the string t holds, sharing the arena's memory.
func (a *textArena) get(t text) string {
	n := int(t & textBig)
	if n == 0 {
		return ""
	}
	c := int(t >> (arenaChunkBits + textLenBits))
	if n == textBig {
		return a.big[c]
	}
	off := int(t>>textLenBits) & (1<<arenaChunkBits - 1)
	b := a.chunks[c][off : off+n]
	return unsafe.String(&b[0], n)
}

// atoms numbers the few distinct strings of a kind (actors, actions,
// sources, record kinds, severities); 0 is "".
type atoms struct {
	names []string
	of    map[string]uint32
}

func newAtoms() atoms { return atoms{names: []string{""}, of: map[string]uint32{"": 0}} }

func (a *atoms) id(s string) uint32 {
	if i, ok := a.of[s]; ok {
		return i
	}
	s = strings.Clone(s)
	a.names = append(a.names, s)
	i := uint32(len(a.names) - 1)
	a.of[s] = i
	return i
}

func (a *atoms) name(i uint32) string { return a.names[i] }

// chunked is a list kept in chunks of a fixed size: a million items are
// not copied each time one slice outgrows its array.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

const chunkBits = 14

func (c *chunked[T]) add(v T) int {
	if c.n>>chunkBits == len(c.chunks) {
		c.chunks = append(c.chunks, make([]T, 0, 1<<chunkBits))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, v)
	c.n++
	return c.n - 1
}

func (c *chunked[T]) at(i int) *T { return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

// event is an Event as the builder keeps it: 56 bytes.
type event struct {
	sec  int64
	nsec int32 // -1: no time
	// first is its first witness in builder.wits, the one that gives its
	// time; the others follow it, linked by next.
	first                     int32
	subject, booking, summary text
	actor, action, source     uint32 // atoms
	rank                      int8
	// extra: it has an agent step, a detail or a severity, kept in
	// builder.extras (most events have none).
	extra bool
	// mail: it is an email's, and its summary is made from
	// builder.mails when needed.
	mail bool
}

// extra is what few events have.
type extra struct {
	agent, detail int32
	severity      string
}

func (e *event) time() time.Time {
	if e.nsec < 0 {
		return time.Time{}
	}
	return time.Unix(e.sec, int64(e.nsec)).UTC()
}

func (e *event) setTime(t time.Time) {
	if t.IsZero() {
		e.sec, e.nsec = 0, -1
		return
	}
	e.sec, e.nsec = t.Unix(), int32(t.Nanosecond())
}

// wit is a Witness as the builder keeps it.
type wit struct {
	// id is the record's id in the arena or, when kind has knownBit,
	// its number in Options.Known.
	id      text
	version int32
	next    int32  // the event's next witness; -1: none
	kind    uint32 // atom, and knownBit
	via     uint32 // index in builder.viaLists
}

const knownBit = 1 << 31

// witID is w's record id.
func (b *builder) witID(w *wit) string {
	if w.kind&knownBit != 0 {
		return b.opts.Known.ID(int(w.id))
	}
	return b.arena.get(w.id)
}

// witnessOf is w as a Witness.
func (b *builder) witnessOf(w *wit) Witness {
	return Witness{ID: b.witID(w), Version: int(w.version), Kind: b.atoms.name(w.kind &^ knownBit), Via: b.viaLists[w.via]}
}

// idText keeps a record id; the versions of one id, which come one after
// the other, share it.
func (b *builder) idText(id string) text {
	if b.lastID != 0 && b.arena.get(b.lastID) == id {
		return b.lastID
	}
	b.lastID = b.arena.add(id)
	return b.lastID
}

// ref keeps a booking reference once however many events name it.
func (b *builder) ref(s string) text {
	if s == "" {
		return 0
	}
	if t, ok := b.refs.get(&b.arena, s, 0); ok {
		return text(t)
	}
	t := b.arena.add(s)
	b.refs.put(&b.arena, t, 0, uint64(t))
	return t
}

// viaOne is the index of the list of one channel via.
func (b *builder) viaOne(via string) uint32 {
	if i, ok := b.viaOf[via]; ok {
		return i
	}
	return b.vias([]string{via})
}

// vias is the index of a list of channels in builder.viaLists.
func (b *builder) vias(list []string) uint32 {
	key := list[0]
	if len(list) > 1 {
		key = strings.Join(list, "\x00")
	}
	if i, ok := b.viaOf[key]; ok {
		return i
	}
	b.viaLists = append(b.viaLists, cloneStrings(list))
	i := uint32(len(b.viaLists) - 1)
	b.viaOf[strings.Clone(key)] = i
	return i
}

// cloneStrings copies list and its strings: a record's strings are not
// kept alive by the channels list it named.
func cloneStrings(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.Clone(s)
	}
	return out
}

// textMap maps a string (and a tag: the object and action of a merge
// key) to a number without Go pointers: a map of hashes to chains of
// entries whose keys are in the arena. The collector has nothing to scan
// in half a million merge keys.
type textMap struct {
	seed  maphash.Seed
	heads map[uint64]int32 // hash → 1 + the first entry of its chain
	ents  chunked[textEntry]
}

type textEntry struct {
	key  text
	tag  uint64
	val  uint64
	next int32 // 1 + the next entry of the same hash; 0: none
}

func newTextMap() textMap { return textMap{seed: maphash.MakeSeed(), heads: map[uint64]int32{}} }

func (m *textMap) hash(s string, tag uint64) uint64 {
	return maphash.String(m.seed, s) ^ tag*0x9E3779B97F4A7C15
}

// get is the value of (s, tag).
func (m *textMap) get(a *textArena, s string, tag uint64) (uint64, bool) {
	for i := m.heads[m.hash(s, tag)]; i > 0; {
		e := m.ents.at(int(i - 1))
		if e.tag == tag && a.get(e.key) == s {
			return e.val, true
		}
		i = e.next
	}
	return 0, false
}

// put sets the value of (s, tag), which the map does not have; key is s
// in the arena.
func (m *textMap) put(a *textArena, key text, tag uint64, val uint64) {
	h := m.hash(a.get(key), tag)
	m.heads[h] = int32(m.ents.add(textEntry{key: key, tag: tag, val: val, next: m.heads[h]})) + 1
}
