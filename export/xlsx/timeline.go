package xlsx

import (
	"context"
	"slices"
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
// sorted by id, as the first pass found them. The timeline builder keeps
// it until the Timeline sheet is written; the writer lets go of it once
// the Evidence sheet is.
type bookingIndex struct {
	used []used
	ids  []byte
	refs []string
	next int // where Find found the last id
}

// index is the writer's booking index.
func (w *writer) index() *bookingIndex {
	return &bookingIndex{used: w.evidence, ids: w.ids, refs: w.refs}
}

func (x *bookingIndex) find(id string) (int, bool) {
	return slices.BinarySearchFunc(x.used, id, func(u used, id string) int { return compareID(x.ids[u.off:u.end], id) })
}

// Find, ID and Booking make the index the timeline's timeline.Known: the
// timeline keeps a used record's number instead of a copy of its id.

// Find is the number of used record id. The timeline asks in id order,
// so it looks first just after the last one found (one goroutine only).
func (x *bookingIndex) Find(id string) (int, bool) {
	// The last one found again (another version), or the one after it:
	// an equality each, not a search. (x.next is the first of its id, so
	// the one after it, if it is id, is the first of id.)
	if x.next < len(x.used) && string(x.idAt(x.next)) == id {
		return x.next, true
	}
	if j := x.next + 1; j < len(x.used) && string(x.idAt(j)) == id {
		x.next = j
		return j, true
	}
	from := x.next
	if from >= len(x.used) || compareID(x.idAt(from), id) > 0 {
		from = 0 // before the last one found: search it all
	}
	// Steps of 1, 2, 4, … until past id, then a binary search of the last.
	lo, step := from, 1
	for lo+step < len(x.used) && compareID(x.idAt(lo+step), id) <= 0 {
		lo += step
		step *= 2
	}
	hi := min(lo+step+1, len(x.used))
	j, ok := slices.BinarySearchFunc(x.used[lo:hi], id, func(u used, id string) int { return compareID(x.ids[u.off:u.end], id) })
	j += lo
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

// has says whether a booking uses record id.
func (x *bookingIndex) has(id string) bool {
	_, ok := x.find(id)
	return ok
}
