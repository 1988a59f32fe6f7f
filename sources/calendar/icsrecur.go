package calendar

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// icsWindow bounds the expansion of recurring events: instances that
// overlap [since, until), at most max per event.
type icsWindow struct {
	since, until time.Time
	max          int
}

// maxRuleSteps bounds the occurrences a recurrence rule may produce before
// and inside the window, so that a rule like FREQ=SECONDLY from 1990 cannot
// keep the import busy.
const maxRuleSteps = 1_000_000

// icsOccurrence is one instance of a recurring event: its start in the
// event's zone, and its own length when an RDATE gave a period.
type icsOccurrence struct {
	start  time.Time
	period time.Duration
}

// occurrences returns the instances of a recurring event that overlap the
// window, in order: DTSTART (always the first instance), the RRULE's and
// the RDATEs', without the EXDATEs'. truncated says the window held more
// than w.max or the rule ran longer than maxRuleSteps.
func (v *icsVEvent) occurrences(w icsWindow) (occ []icsOccurrence, truncated string, err error) {
	defer func() {
		// rrule-go is outside code reading outside input: a panic in it
		// costs this event, not the import.
		if r := recover(); r != nil {
			occ, truncated, err = nil, "", fmt.Errorf("RRULE %q: cannot be expanded (%v)", v.rrule, r)
		}
	}()
	longest := v.endOf(v.start).Sub(v.start)
	for _, r := range v.rdates {
		longest = max(longest, r.period)
	}
	inWindow := func(t time.Time, length time.Duration) bool {
		return t.Before(w.until) && (t.Add(length).After(w.since) || !t.Before(w.since))
	}
	var cands []icsOccurrence
	add := func(t time.Time, period time.Duration) {
		length := period
		if length == 0 {
			length = v.endOf(t).Sub(t)
		}
		if inWindow(t, length) {
			cands = append(cands, icsOccurrence{start: t, period: period})
		}
	}
	add(v.start, 0)
	for _, r := range v.rdates {
		t := r.t.In(v.loc)
		if r.date && !v.ev.AllDay { // a date in a timed series: at the series' time of day
			y, m, d := r.t.Date()
			h, mi, s := v.start.Clock()
			t = wallTime(y, m, d, h, mi, s, v.loc)
		}
		if v.ev.AllDay && !r.date {
			y, m, d := r.t.In(v.loc).Date()
			t = time.Date(y, m, d, 0, 0, 0, 0, v.loc)
		}
		add(t, r.period)
	}
	if v.rrule != "" {
		rule, err := cleanRRule(v.rrule)
		if err != nil {
			return nil, "", fmt.Errorf("RRULE %q: %v", v.rrule, err)
		}
		opt, err := rrule.StrToROptionInLocation(rule, v.loc)
		if err != nil {
			return nil, "", fmt.Errorf("RRULE %q: %v", v.rrule, err)
		}
		if u := opt.Until; !u.IsZero() && !v.ev.AllDay && icsUntilIsDate(rule) {
			// UNTIL as a date in a timed series: through that day.
			opt.Until = time.Date(u.Year(), u.Month(), u.Day(), 23, 59, 59, 0, v.loc)
		}
		opt.Dtstart = v.start
		fastForward(opt, w.since.Add(-longest), v.loc)
		if opt.Until.IsZero() || opt.Until.After(w.until) {
			// Nothing after the window is kept. (Without an UNTIL, rrule-go
			// also stops 292 years after DTSTART, a time.Duration's reach.)
			opt.Until = w.until
		}
		if err := checkRRule(opt); err != nil {
			return nil, "", fmt.Errorf("RRULE %q: %v", v.rrule, err)
		}
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, "", fmt.Errorf("RRULE %q: %v", v.rrule, err)
		}
		next := r.Iterator()
		for steps := 0; ; steps++ {
			if steps == maxRuleSteps {
				truncated = fmt.Sprintf("stopped after %d occurrences of its RRULE", maxRuleSteps)
				break
			}
			t, ok := next()
			if !ok || !t.Before(w.until) {
				break
			}
			// rrule-go makes local times with time.Date; read them as RFC
			// 5545 does (the first of a repeated hour).
			y, m, d := t.Date()
			h, mi, s := t.Clock()
			add(wallTime(y, m, d, h, mi, s, v.loc), 0)
			if len(cands) > 4*w.max+16 {
				break // more than can be kept, whatever the EXDATEs
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b icsOccurrence) int { return a.start.Compare(b.start) })
	cands = slices.CompactFunc(cands, func(a, b icsOccurrence) bool { return a.start.Equal(b.start) })
	for _, c := range cands {
		if v.excluded(c.start) {
			continue
		}
		if len(occ) == w.max {
			truncated = fmt.Sprintf("more than %d instances in the window (--max-instances); the first %d kept", w.max, w.max)
			break
		}
		occ = append(occ, c)
	}
	return occ, truncated, nil
}

// excluded reports whether an EXDATE removes the instance starting at t:
// the same instant, or for a date, the same day.
func (v *icsVEvent) excluded(t time.Time) bool {
	for _, x := range v.exdates {
		switch {
		case x.date || v.ev.AllDay:
			y1, m1, d1 := x.t.In(v.loc).Date()
			if x.date {
				y1, m1, d1 = x.t.Date()
			}
			y2, m2, d2 := t.Date()
			if y1 == y2 && m1 == m2 && d1 == d2 {
				return true
			}
		case x.t.Equal(t):
			return true
		}
	}
	return false
}

// instance is the Event of one occurrence of a recurring event.
func (v *icsVEvent) instance(o icsOccurrence) Event {
	e := v.ev
	e.Start = o.start.UTC()
	if o.period > 0 {
		e.End = o.start.Add(o.period).UTC()
	} else {
		e.End = v.endOf(o.start).UTC()
	}
	e.RecurrenceID = icsRecurrenceID(o.start, e.AllDay)
	e.Zone = v.zone(o.start)
	if v.googleID != "" {
		e.GoogleID = v.googleID + "_" + recurrenceKey(e.RecurrenceID, e.AllDay)
		e.RecurringEventID = v.googleID
	}
	return e
}

// icsRRuleParts are the rule parts RFC 5545 defines, the ones rrule-go reads.
var icsRRuleParts = []string{"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}

// cleanRRule keeps the parts of a rule rrule-go can read: upper case, no
// empty parts, no extensions (X-…, RSCALE, SKIP).
func cleanRRule(s string) (string, error) {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "RRULE:")
	var parts []string
	freq := false
	for _, part := range strings.Split(s, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || val == "" || strings.Contains(val, "=") || !slices.Contains(icsRRuleParts, k) {
			continue
		}
		freq = freq || k == "FREQ"
		parts = append(parts, k+"="+val)
	}
	if !freq {
		return "", fmt.Errorf("no FREQ")
	}
	return strings.Join(parts, ";"), nil
}

func icsUntilIsDate(rule string) bool {
	for _, part := range strings.Split(rule, ";") {
		if v, ok := strings.CutPrefix(part, "UNTIL="); ok {
			return len(v) == 8
		}
	}
	return false
}

// fastForward moves a rule's DTSTART close to from when the instances
// before it do not change which come after (no COUNT; a frequency that
// counts days or less, so that whole steps of INTERVAL keep every BY part
// in phase). A daily event started years ago is then not walked day by day.
func fastForward(opt *rrule.ROption, from time.Time, loc *time.Location) {
	if opt.Count != 0 || opt.Dtstart.IsZero() {
		return
	}
	interval := int64(max(opt.Interval, 1))
	var unit int64
	switch opt.Freq {
	case rrule.SECONDLY:
		unit = 1
	case rrule.MINUTELY:
		unit = 60
	case rrule.HOURLY:
		unit = 3600
	case rrule.DAILY:
		unit = 86400
	case rrule.WEEKLY:
		unit = 7 * 86400
	default:
		return
	}
	naive := func(t time.Time) int64 {
		y, m, d := t.Date()
		h, mi, s := t.Clock()
		return time.Date(y, m, d, h, mi, s, 0, time.UTC).Unix()
	}
	start := naive(opt.Dtstart)
	target := naive(from.In(loc)) - 8*86400 // a week and a day of margin
	step := unit * interval
	if target-start < 2*step {
		return
	}
	k := (target - start) / step
	for ; k > 0; k-- {
		n := time.Unix(start+k*step, 0).UTC()
		t := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), 0, loc)
		if naive(t) == start+k*step { // not in a skipped hour
			opt.Dtstart = t
			return
		}
	}
}

// checkRRule refuses rules rrule-go would loop on for ever: an hourly,
// minutely or secondly rule whose interval never reaches an allowed time
// of day (FREQ=HOURLY;INTERVAL=24;BYHOUR=3 from 09:00), and days that
// cannot exist (BYMONTH=2;BYMONTHDAY=30), which it searches for until the
// year 9999.
func checkRRule(opt *rrule.ROption) error {
	if opt.Interval < 0 {
		return fmt.Errorf("INTERVAL must be positive")
	}
	in := func(list []int, v int) bool { return len(list) == 0 || slices.Contains(list, v) }
	var period, unit int
	switch opt.Freq {
	case rrule.HOURLY:
		period, unit = 24, 3600
	case rrule.MINUTELY:
		period, unit = 1440, 60
	case rrule.SECONDLY:
		period, unit = 86400, 1
	}
	if period > 0 {
		h, m, s := opt.Dtstart.Clock()
		t0 := (h*3600 + m*60 + s) / unit
		g := gcd(max(opt.Interval, 1), period)
		ok := false
		for t := t0 % g; t < period && !ok; t += g {
			sec := t * unit
			ok = in(opt.Byhour, sec/3600) &&
				(opt.Freq == rrule.HOURLY || in(opt.Byminute, sec/60%60)) &&
				(opt.Freq != rrule.SECONDLY || in(opt.Bysecond, sec%60))
		}
		if !ok {
			return fmt.Errorf("its INTERVAL never reaches the BYHOUR/BYMINUTE/BYSECOND it asks for")
		}
	}
	if len(opt.Bymonthday) > 0 {
		longest := 31
		if len(opt.Bymonth) > 0 {
			longest = 0
			for _, m := range opt.Bymonth {
				if m >= 1 && m <= 12 {
					longest = max(longest, []int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1])
				}
			}
		}
		possible := false
		for _, d := range opt.Bymonthday {
			possible = possible || (d > 0 && d <= longest) || (d < 0 && -d <= longest)
		}
		if !possible {
			return fmt.Errorf("no month has the BYMONTHDAY it asks for")
		}
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// icsOut is one record to put: an event, its bytes, where it is.
type icsOut struct {
	ev      Event
	raw     []byte
	locator string
}

// icsSet gathers the VEVENTs of every file of an import, so that versions
// of the same event are told apart however they are spread over files.
type icsSet struct {
	groups map[string]*icsGroup
	uids   []string // in order of first appearance
}

// icsGroup is every VEVENT with one UID.
type icsGroup struct {
	masters   []*icsVEvent // without RECURRENCE-ID
	overrides []*icsVEvent // with
}

func newICSSet() *icsSet { return &icsSet{groups: map[string]*icsGroup{}} }

func (s *icsSet) add(vs []*icsVEvent) {
	for _, v := range vs {
		g := s.groups[v.ev.UID]
		if g == nil {
			g = &icsGroup{}
			s.groups[v.ev.UID] = g
			s.uids = append(s.uids, v.ev.UID)
		}
		if v.override {
			g.overrides = append(g.overrides, v)
		} else {
			g.masters = append(g.masters, v)
		}
	}
}

// olderFirst orders versions of one event: by SEQUENCE, then LAST-MODIFIED,
// then DTSTAMP, then the order they were read in.
func olderFirst(a, b *icsVEvent) int {
	return cmp.Or(
		cmp.Compare(a.ev.Sequence, b.ev.Sequence),
		a.ev.Updated.Compare(b.ev.Updated),
		a.dtstamp.Compare(b.dtstamp),
		cmp.Compare(a.order, b.order),
	)
}

// icsResolved is what an import stores, in order, and what it leaves out.
type icsResolved struct {
	outs    []icsOut
	ignored []string // one reason per VEVENT left out
	rejects []icsRejectedEvent
	notes   []icsNote
}

type icsRejectedEvent struct {
	v      *icsVEvent
	reason string
}

// resolve decides what is stored:
//
//   - a recurring event is expanded within the window, from its newest
//     version only (older versions of it are ignored: their instances are
//     superseded);
//   - an instance that has an override (a VEVENT with its RECURRENCE-ID) is
//     the override, never the generated instance;
//   - versions of one event (same UID and RECURRENCE-ID, in one file or
//     several) are all stored, oldest first, so the newest SEQUENCE (then
//     LAST-MODIFIED, then DTSTAMP) is the latest version; the store keeps
//     the others as earlier versions.
//
// Single events and overrides are stored whatever their dates: the window
// only bounds expansion.
func (s *icsSet) resolve(w icsWindow) icsResolved {
	var res icsResolved
	type slot struct {
		id       string
		at       time.Time
		versions []icsOut
	}
	for _, uid := range s.uids {
		g := s.groups[uid]
		slots := map[string]*slot{}
		var order []*slot
		put := func(v *icsVEvent, e Event) {
			id := e.ID()
			sl := slots[id]
			if sl == nil {
				at := e.RecurrenceID
				if at.IsZero() {
					at = e.Start
				}
				sl = &slot{id: id, at: at}
				slots[id] = sl
				order = append(order, sl)
			}
			sl.versions = append(sl.versions, icsOut{ev: e, raw: v.raw, locator: v.locator(&e)})
		}
		slices.SortStableFunc(g.masters, olderFirst)
		slices.SortStableFunc(g.overrides, olderFirst)
		overridden := map[string]bool{}
		for _, o := range g.overrides {
			overridden[o.ev.ID()] = true
		}
		if n := len(g.masters); n > 0 {
			newest := g.masters[n-1]
			for _, m := range g.masters[:n-1] {
				if m.recurring() || newest.recurring() {
					res.ignored = append(res.ignored, "older version of a recurring event (a newer SEQUENCE or LAST-MODIFIED was imported)")
					continue
				}
				put(m, m.ev)
			}
			if newest.recurring() {
				occ, truncated, err := newest.occurrences(w)
				if err != nil {
					res.rejects = append(res.rejects, icsRejectedEvent{v: newest, reason: err.Error()})
				}
				if truncated != "" {
					res.notes = append(res.notes, icsNote{at: newest.locator(&newest.ev), what: truncated})
					res.ignored = append(res.ignored, "instances of a recurring event beyond --max-instances")
				}
				for _, o := range occ {
					e := newest.instance(o)
					if !overridden[e.ID()] {
						put(newest, e)
					}
				}
			} else {
				put(newest, newest.ev)
			}
		}
		for _, o := range g.overrides {
			put(o, o.ev)
		}
		slices.SortStableFunc(order, func(a, b *slot) int {
			return cmp.Or(a.at.Compare(b.at), strings.Compare(a.id, b.id))
		})
		for _, sl := range order {
			res.outs = append(res.outs, sl.versions...)
		}
	}
	return res
}
