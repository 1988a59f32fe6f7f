package xlsx

import (
	"bytes"
	"context"
	"hash/maphash"
	"strings"
	"unsafe"

	"github.com/salvagehq/salvage/timeline"
)

// SheetTimeline is the sheet of the timeline's events and markers.
const SheetTimeline = "Timeline"

var timelineCols = []column{
	{header: "Time", width: 17},
	{header: "Type", width: 7},
	{header: "Source", width: 10},
	{header: "Actor", width: 9},
	{header: "Action", width: 20},
	{header: "Subject", width: 22},
	{header: "Booking", width: 14},
	{header: "Severity", width: 9},
	{header: "What happened", width: 70, wrap: true},
	{header: "How the time is known", width: 24, wrap: true},
	{header: "Evidence", width: 40, wrap: true},
	{header: "Seen through", width: 14},
}

// timelineSheet writes the timeline, one row per marker or event, in
// order (the rows of `salvage timeline --format csv`), each event of a
// rebuilt booking linking to it.
func (w *writer) timelineSheet(ctx context.Context, b TimelineBuilder) error {
	if b == nil {
		return nil
	}
	bar := w.bar("workbook: timeline", 0)
	defer bar.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	rows := b.Rows()
	ts := w.newStream(SheetTimeline, timelineCols, nil)
	byRef := make(map[string]int32, len(w.refs))
	for i, ref := range w.refs {
		byRef[ref] = int32(i)
	}
	limit := w.opt.MaxTextChars
	items := func(yield func(timeline.Row, error) bool) {
		for r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
	err := encodeRows(ctx, ts, items, func(_ int, r timeline.Row, row []cell) ([][]cell, error) {
		if !r.Local.IsZero() {
			t := r.Local
			row[0] = w.when(&t, false)
		}
		row[1], row[2], row[3], row[4] = textCell(r.Type), textCell(r.Source), textCell(r.Actor), textCell(r.Action)
		row[5] = text(redact(r.Subject), limit)
		if r.Booking != "" {
			if i, ok := byRef[r.Booking]; ok {
				sheet, at := w.bookingAt(i)
				row[6] = link(sheet, at, fit(redact(r.Booking), 200), w.styles.link)
			} else {
				row[6] = text(redact(r.Booking), limit)
			}
		}
		row[7] = text(r.Severity, limit)
		row[8] = w.excerptCell(r.Summary, limit)
		row[9] = w.wrapped(r.Basis)
		row[10] = w.wrapped(fit(strings.Join(r.Evidence, "\n"), limit))
		row[11] = text(strings.Join(r.Via, ", "), limit)
		return nil, nil
	}, nil, nil, bar)
	if err != nil {
		return err
	}
	w.stats.Timeline = ts.written
	return ts.close()
}

// bookingIndex finds the booking that uses a record: the used records,
// sorted by hash, as the first pass found them, and a hash table of their
// ids (the records come in the order the case stored them: a binary
// search each, of ids that share long prefixes, took 5 s of 1.57 million).
// The timeline builder keeps it until the Timeline sheet is written; the
// writer lets go of it once the Evidence sheet is.
type bookingIndex struct {
	used []used
	ids  []byte
	refs []string
	// slots is open addressing, linear probing from the slot the top
	// bits of an id's hash name: the high half of a slot is the low half
	// of its id's hash, the low 31 bits the id's first used record + 1
	// (0 is empty), the bit above them whether a row of it shows its
	// text (textBit).
	slots []uint64
	shift uint // of a hash, to its first slot
	seed  maphash.Seed
	next  int // what Find found last
}

// index is the writer's booking index, made once.
func (w *writer) index() *bookingIndex {
	if w.idx == nil {
		w.idx = newBookingIndex(w.evidence, w.ids, w.refs, w.seed, w.hashes, w.textOf)
		w.hashes = nil
	}
	return w.idx
}

// textBit marks the slot of a record a row shows the text of.
const textBit = 1 << 31

// newBookingIndex indexes used records u, whose ids are in ids, the uses
// of an id one after the other: sorted by hashes, each id's hash under
// seed (sortedByHash; nil works them out), they fill the table in order.
// text says whether a row of used record j (the first of its id) shows
// its text.
func newBookingIndex(u []used, ids []byte, refs []string, seed maphash.Seed, hashes []uint64, text func(j int) bool) *bookingIndex {
	x := &bookingIndex{used: u, ids: ids, refs: refs, seed: seed, shift: 64}
	// A load of at most three quarters.
	size := 1
	for size*3 < len(u)*4 {
		size *= 2
		x.shift--
	}
	x.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for j := range u {
		id := x.idAt(j)
		if j > 0 && bytes.Equal(id, x.idAt(j-1)) {
			continue // the first use of an id stands for every use
		}
		var h uint64
		if hashes != nil {
			h = hashes[j]
		} else {
			h = maphash.Bytes(x.seed, id)
		}
		i := x.first(h)
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = h<<32 | uint64(j+1)
		if text(j) {
			x.slots[i] |= textBit
		}
	}
	return x
}

// first is the slot an id of hash h is looked for from.
func (x *bookingIndex) first(h uint64) uint64 {
	if x.shift >= 64 {
		return 0
	}
	return h >> x.shift
}

// mayHave says whether a booking may use record id, and whether a row
// may show its text, without looking at the ids: a record whose id's
// hash has the same low 32 bits as a used one's, from the same first
// slot on, is taken for it. It may be called on any goroutine.
func (x *bookingIndex) mayHave(id string) (ok, text bool) {
	if len(x.slots) == 0 {
		return false, false
	}
	mask := uint64(len(x.slots) - 1)
	h := maphash.String(x.seed, id)
	for i := x.first(h); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return false, false
		}
		if s>>32 == h&0xffffffff {
			return true, s&textBit != 0
		}
	}
}

// find is the first used record of id. It may be called on any goroutine.
func (x *bookingIndex) find(id string) (int, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	h := maphash.String(x.seed, id)
	for i := x.first(h); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == h&0xffffffff {
			if j := int(s&(textBit-1)) - 1; string(x.idAt(j)) == id {
				return j, true
			}
		}
	}
}

// Find, ID and Booking make the index the timeline's timeline.Known: the
// timeline keeps a used record's number instead of a copy of its id.

// Find is the number of used record id: the first, if several bookings
// use it. The workbook asks twice for each record read, once for the
// timeline and once for the Evidence sheet: the last one found is
// looked at first (one goroutine only).
func (x *bookingIndex) Find(id string) (int, bool) {
	if x.next < len(x.used) && string(x.idAt(x.next)) == id {
		return x.next, true
	}
	j, ok := x.find(id)
	if ok {
		x.next = j
	}
	return j, ok
}

func (x *bookingIndex) idAt(j int) []byte {
	u := x.used[j]
	return x.ids[u.off:u.end]
}

// ID is the id of used record j, sharing the index's memory.
func (x *bookingIndex) ID(j int) string {
	u := x.used[j]
	return unsafe.String(&x.ids[u.off], int(u.end-u.off))
}

// Booking is the number and reference of the booking that uses record j.
func (x *bookingIndex) Booking(j int) (int, string) {
	n := x.used[j].booking
	return int(n), x.refs[n]
}
