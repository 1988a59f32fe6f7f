package timeline

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// calVersion is what the timeline needs of one version of a calendar
// entry.
type calVersion struct {
	seen     seen
	t        time.Time
	version  int
	state    calState
	sequence string
	person   string
}

// calendarVersion keeps a calendar version until every version of its
// entry is known: only then can versions be told apart as happenings.
func (b *builder) calendarVersion(r *evidence.Record) {
	v := calVersion{seen: b.seen(r), t: r.OccurredAt, version: r.Version,
		state: stateOf(&r.Facts), sequence: r.Facts.Attrs["sequence"], person: person(&r.Facts)}
	if b.opts.GroupedByID {
		// Every version of an entry comes together: the entry before is
		// complete.
		if r.ID != b.calID && len(b.calVersions) > 0 {
			b.calendarEntry(b.calID, b.calVersions)
			clear(b.calVersions)
			b.calVersions = b.calVersions[:0]
		}
		b.calID = r.ID
		b.calVersions = append(b.calVersions, v)
		return
	}
	if b.opts.Newest != nil && r.Version >= b.opts.Newest[r.ID] {
		// The entry's last version (a record Newest does not name has
		// one): the entry is complete.
		vs := append(b.cal[r.ID], v)
		delete(b.cal, r.ID)
		b.calendarEntry(r.ID, vs)
		return
	}
	b.cal[r.ID] = append(b.cal[r.ID], v)
}

// calState is what a calendar version says of a booking: a version that
// says the same as the one before is the same happening seen again (the
// ICS export and the API, an invitation mailed with it).
type calState struct {
	start, end time.Time
	allDay     bool
	status     evidence.Status
	item       string
}

func stateOf(f *evidence.Facts) calState {
	s := calState{allDay: f.AllDay, status: f.Status, item: f.Item}
	if f.Start != nil {
		s.start = f.Start.UTC()
	}
	if f.End != nil {
		s.end = f.End.UTC()
	}
	return s
}

func (s calState) same(o calState) bool {
	return s.sameTimes(o) && s.status == o.status && s.item == o.item
}

func (s calState) sameTimes(o calState) bool {
	return s.start.Equal(o.start) && s.end.Equal(o.end) && s.allDay == o.allDay
}

// finishCalendar turns each entry's versions, in time order, into events:
// the first is the entry created (or changed, or cancelled, when the
// first version known already is); each later one that says something
// new is a move, a change or the cancellation.
func (b *builder) finishCalendar() {
	if len(b.calVersions) > 0 {
		b.calendarEntry(b.calID, b.calVersions)
	}
	b.calVersions = nil
	for _, id := range slices.Sorted(maps.Keys(b.cal)) {
		b.calendarEntry(id, b.cal[id])
	}
	b.cal = nil
}

// calendarEntry makes the events of the versions vs of calendar entry id.
func (b *builder) calendarEntry(id string, vs []calVersion) {
	slices.SortFunc(vs, func(x, y calVersion) int {
		if xz, yz := x.t.IsZero(), y.t.IsZero(); xz != yz {
			if xz {
				return 1
			}
			return -1
		}
		return cmp.Or(x.t.Compare(y.t), cmp.Compare(x.version, y.version))
	})
	last := -1
	var prev calState
	for k := range vs {
		v := &vs[k]
		st := v.state
		if last >= 0 && st.same(prev) {
			b.join(last, v.seen, v.t, 0, "")
			continue
		}
		var action Action
		var what string
		switch {
		case last < 0 && st.status == evidence.Cancelled:
			action, what = CalendarCancelled, "Calendar entry cancelled"
		case last < 0 && v.sequence != "" && v.sequence != "0":
			action, what = CalendarChanged, "Calendar entry changed (revision "+v.sequence+"; the earlier one is not in the evidence)"
		case last < 0:
			action, what = CalendarCreated, "Calendar entry created"
			if st.status == evidence.Requested {
				what += " (tentative)"
			}
		case st.status == evidence.Cancelled && prev.status != evidence.Cancelled:
			action, what = CalendarCancelled, "Calendar entry cancelled"
		case !st.sameTimes(prev):
			action, what = CalendarMoved, "Calendar entry moved from "+b.span(prev)+" to"
		default:
			action, what = CalendarChanged, "Calendar entry changed"
			var changes []string
			if st.status != prev.status {
				changes = append(changes, string(orStatus(prev.status))+" → "+string(orStatus(st.status)))
			}
			if st.item != prev.item {
				changes = append(changes, orDash(prev.item)+" → "+orDash(st.item))
			}
			if len(changes) > 0 {
				what += ": " + strings.Join(changes, ", ")
			}
		}
		subject := b.arena.get(v.seen.booking)
		if subject == "" {
			subject = first2(st.item, strings.TrimPrefix(id, "ics:"))
		}
		last = b.pushSeen(v.seen, Event{Time: v.t, Actor: Staff, Action: action, Subject: subject,
			Summary: joinNonEmpty(" · ", what+" "+b.span(st), st.item, v.person)})
		prev = st
	}
}

// span shows a booking's times in the case's zone: dates only for an
// all-day entry (whose end is exclusive).
func (b *builder) span(s calState) string {
	if s.start.IsZero() && s.end.IsZero() {
		return "(no dates)"
	}
	if s.allDay {
		end := s.end
		if !end.IsZero() {
			end = end.Add(-time.Second)
		}
		return dateOr(s.start, b.loc) + " – " + dateOr(end, b.loc)
	}
	return minuteOr(s.start, b.loc) + " – " + minuteOr(s.end, b.loc)
}

func dateOr(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "?"
	}
	return t.In(loc).Format("2006-01-02")
}

func minuteOr(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "?"
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

func orStatus(s evidence.Status) evidence.Status {
	if s == "" {
		return "no status"
	}
	return s
}

func first2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
