package calendar

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/salvagehq/salvage/evidence"
)

// icsVEvent is one VEVENT read: the Event it describes (for a recurring
// event, its first instance) and how it recurs.
type icsVEvent struct {
	ev      Event
	raw     []byte // the VEVENT's bytes as they are in the file
	src     string // the file's path or the URL (without secrets)
	line    int    // of BEGIN:VEVENT
	order   int    // arrival in the import, the last tiebreak between versions
	dtstamp time.Time
	repairs []string

	// override: the VEVENT has a RECURRENCE-ID.
	override bool
	// How it recurs (for a VEVENT without RECURRENCE-ID).
	rrule   string
	rdates  []icsTime
	exdates []icsTime
	// start is DTSTART in its own zone (loc); zone names it on Events.
	start time.Time
	loc   *time.Location
	zone  func(time.Time) string
	// The length of each instance: exact (from DTEND, or DURATION's hours)
	// plus days (nominal: DURATION's days, all-day events).
	exact time.Duration
	days  int
	// googleID is the Google event id when the UID is Google's.
	googleID string
}

func (v *icsVEvent) recurring() bool { return !v.override && (v.rrule != "" || len(v.rdates) > 0) }

// locator says where the event (or one of its instances) is.
func (v *icsVEvent) locator(e *Event) string {
	s := v.src + "#" + e.UID
	if !e.RecurrenceID.IsZero() {
		s += ";recurrence=" + recurrenceKey(e.RecurrenceID, e.AllDay)
	}
	return s + ";line=" + strconv.Itoa(v.line)
}

// icsReadOptions is what reading events needs from the import.
type icsReadOptions struct {
	caseLoc  *time.Location
	caseZone string // its name
	calendar string // --calendar: names the calendar instead of X-WR-CALNAME
}

// icsRead is what one file gave.
type icsRead struct {
	events  []*icsVEvent
	rejects []evidence.Rejected
	notes   []icsNote // for the log
}

// icsNote is something the user should know about input that was read
// anyway: a repair, a truncated file, an expansion cut short.
type icsNote struct {
	at, what string
}

// readICS reads the events of one file. order numbers the events across
// the import; done reports bytes read, for the progress bar.
func readICS(ctx context.Context, data []byte, src string, o icsReadOptions, order *int, done func(int)) (icsRead, error) {
	var out icsRead
	reject := func(reason string, raw []byte, loc string) {
		out.rejects = append(out.rejects, evidence.Rejected{Source: evidence.Calendar, Via: "ics", Locator: loc, Reason: reason, Raw: raw})
	}
	split := icsSplit(data)
	if split.notICS != "" {
		reject(split.notICS, data, src)
		done(len(data))
		return out, nil
	}
	for _, p := range split.problems {
		out.notes = append(out.notes, icsNote{at: src, what: p})
	}
	zones := map[*icsCalendar]*icsZones{}
	for _, c := range split.comps {
		if c.kind == "VEVENT" && c.broken == "" && zones[c.cal] == nil {
			zones[c.cal] = newICSZones(c.cal.timezones, split.timezones)
		}
	}
	// Parse the VEVENTs on every core; the results are taken in file order.
	parsed := make([]*icsVEvent, len(split.comps))
	errs := make([]error, len(split.comps))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(split.comps) || ctx.Err() != nil {
					return
				}
				c := split.comps[i]
				if c.kind != "VEVENT" || c.broken != "" {
					continue
				}
				parsed[i], errs[i] = parseVEvent(c, &icsTimeParser{zones: zones[c.cal], caseLoc: o.caseLoc}, o)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	for i, c := range split.comps {
		done(len(c.raw))
		where := fmt.Sprintf("%s#line=%d", src, c.line)
		if c.kind != "VEVENT" {
			if c.broken != "" {
				out.notes = append(out.notes, icsNote{at: where, what: c.kind + " " + c.broken})
			}
			continue
		}
		if c.broken != "" {
			if uid := icsUID(c.raw); uid != "" {
				where = fmt.Sprintf("%s#%s;line=%d", src, uid, c.line)
			}
			reject(c.broken, c.raw, where)
			continue
		}
		v, err := parsed[i], errs[i]
		if err != nil {
			if uid := icsUID(c.raw); uid != "" {
				where = fmt.Sprintf("%s#%s;line=%d", src, uid, c.line)
			}
			reject(err.Error(), c.raw, where)
			continue
		}
		v.src = src
		v.order = *order
		*order++
		for _, r := range v.repairs {
			out.notes = append(out.notes, icsNote{at: fmt.Sprintf("%s#%s;line=%d", src, v.ev.UID, v.line), what: r})
		}
		out.events = append(out.events, v)
	}
	return out, nil
}

// icsUID finds a VEVENT's UID for a locator, even when it cannot be read.
func icsUID(raw []byte) string {
	u, err := icsUnfold(raw, 1, func(name string) bool { return name == "UID" })
	if err != nil {
		return ""
	}
	for _, p := range u.lines {
		if p.name == "UID" {
			if uid := strings.TrimSpace(p.value); uid != "" && len(uid) < 256 && !strings.ContainsAny(uid, " \t") {
				return uid
			}
		}
	}
	return ""
}

// icsVEventProperty says which properties of a VEVENT are read: the ones
// an Event holds, and every X- property.
func icsVEventProperty(name string) bool {
	switch name {
	case "UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "SEQUENCE",
		"CREATED", "LAST-MODIFIED", "DTSTAMP", "ORGANIZER", "ATTENDEE", "RRULE", "RDATE", "EXDATE", "EXRULE":
		return true
	}
	return strings.HasPrefix(name, "X-")
}

// icsEssential are the properties without which an event cannot be read
// right: a line naming one that cannot be parsed rejects the event.
var icsEssential = []string{"UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE", "STATUS"}

// parseVEvent reads one VEVENT.
func parseVEvent(c icsComponent, tp *icsTimeParser, o icsReadOptions) (*icsVEvent, error) {
	u, err := icsUnfold(c.raw, 1, icsVEventProperty)
	if err != nil {
		return nil, err
	}
	v := &icsVEvent{raw: c.raw, line: c.line, repairs: u.repairs}
	for _, b := range u.badLines {
		if slices.Contains(icsEssential, b.name()) {
			return nil, fmt.Errorf("line %d: cannot read %s: %s", b.n, b.name(), icsQuote([]byte(b.text)))
		}
		v.repairs = append(v.repairs, fmt.Sprintf("line %d is not a content line, ignored: %s", b.n, icsQuote([]byte(b.text))))
	}
	e := &v.ev
	var (
		dtstart, dtend, recurrence *icsProp
		duration, status, sequence *icsProp
		organizer                  *icsProp
		attendees                  []*icsProp
	)
	first := func(dst **icsProp, p *icsProp) {
		if *dst == nil {
			*dst = p
		}
	}
	for i := range u.lines {
		p := &u.lines[i]
		switch p.name {
		case string(ics.PropertyUid):
			if e.UID == "" {
				e.UID = strings.TrimSpace(p.value)
			}
		case string(ics.PropertyDtstart):
			first(&dtstart, p)
		case string(ics.PropertyDtend):
			first(&dtend, p)
		case string(ics.PropertyDuration):
			first(&duration, p)
		case string(ics.PropertyRecurrenceId):
			first(&recurrence, p)
		case string(ics.PropertySummary):
			if e.Summary == "" {
				e.Summary = p.value
			}
		case string(ics.PropertyDescription):
			if e.Description == "" {
				e.Description = p.value
			}
		case string(ics.PropertyLocation):
			if e.Location == "" {
				e.Location = p.value
			}
		case string(ics.PropertyStatus):
			first(&status, p)
		case string(ics.PropertySequence):
			first(&sequence, p)
		case string(ics.PropertyCreated):
			if t, err := tp.parse(p); err == nil && e.Created.IsZero() {
				e.Created = t.t.UTC()
			}
		case string(ics.PropertyLastModified):
			if t, err := tp.parse(p); err == nil && e.Updated.IsZero() {
				e.Updated = t.t.UTC()
			}
		case string(ics.PropertyDtstamp):
			if t, err := tp.parse(p); err == nil && v.dtstamp.IsZero() {
				v.dtstamp = t.t.UTC()
			}
		case string(ics.PropertyOrganizer):
			first(&organizer, p)
		case string(ics.PropertyAttendee):
			attendees = append(attendees, p)
		case string(ics.PropertyRrule):
			if v.rrule == "" {
				v.rrule = p.value
			} else {
				v.repairs = append(v.repairs, fmt.Sprintf("line %d: a second RRULE, ignored", p.line))
			}
		case string(ics.PropertyRdate):
			ts, err := tp.parseList(p)
			if err != nil {
				return nil, fmt.Errorf("line %d: RDATE: %v", p.line, err)
			}
			v.rdates = append(v.rdates, ts...)
		case string(ics.PropertyExdate):
			ts, err := tp.parseList(p)
			if err != nil {
				return nil, fmt.Errorf("line %d: EXDATE: %v", p.line, err)
			}
			v.exdates = append(v.exdates, ts...)
		case string(ics.PropertyExrule):
			v.repairs = append(v.repairs, fmt.Sprintf("line %d: EXRULE (deprecated since RFC 5545) ignored", p.line))
		default:
			if strings.HasPrefix(p.name, "X-") {
				if e.Properties == nil {
					e.Properties = map[string]string{}
				}
				k := icsPropertyKey(p.name)
				if old, ok := e.Properties[k]; ok {
					e.Properties[k] = old + "\n" + p.value
				} else {
					e.Properties[k] = p.value
				}
			}
		}
	}
	if e.UID == "" {
		return nil, fmt.Errorf("no UID")
	}
	if len(e.ID()) > evidence.MaxIDLen-32 {
		return nil, fmt.Errorf("UID of %d bytes: too long for an evidence id", len(e.UID))
	}
	if dtstart == nil {
		return nil, fmt.Errorf("no DTSTART")
	}
	start, err := tp.parse(dtstart)
	if err != nil {
		return nil, fmt.Errorf("line %d: DTSTART: %v", dtstart.line, err)
	}
	v.start, e.AllDay = start.t, start.date
	v.loc = start.t.Location()
	calZone := tp.zones.calendarZone(c.cal)
	switch {
	case start.date:
		v.zone = func(time.Time) string { return o.caseZone }
	case start.utc:
		v.zone = func(time.Time) string { return calZone }
	case start.tzid != "":
		z := start.zone
		v.zone = z.zoneName
	default: // floating: the case's zone
		v.zone = func(time.Time) string { return o.caseZone }
	}
	e.Start, e.Zone = start.t.UTC(), v.zone(start.t)
	switch {
	case dtend != nil:
		end, err := tp.parse(dtend)
		if err != nil {
			return nil, fmt.Errorf("line %d: DTEND: %v", dtend.line, err)
		}
		if end.date != start.date {
			return nil, fmt.Errorf("line %d: DTEND %s is a %s and DTSTART a %s", dtend.line, strings.TrimSpace(dtend.value), icsKind(end.date), icsKind(start.date))
		}
		if end.t.Before(start.t) {
			return nil, fmt.Errorf("line %d: DTEND %s is before DTSTART %s", dtend.line, strings.TrimSpace(dtend.value), strings.TrimSpace(dtstart.value))
		}
		if start.date {
			v.days = icsDaysBetween(start.t, end.t)
		} else {
			v.exact = end.t.Sub(start.t)
		}
	case duration != nil:
		exact, days, err := icsDuration(duration.value)
		if err != nil {
			return nil, fmt.Errorf("line %d: DURATION: %v", duration.line, err)
		}
		if exact < 0 || days < 0 {
			return nil, fmt.Errorf("line %d: DURATION %s is negative", duration.line, strings.TrimSpace(duration.value))
		}
		if start.date {
			exact = 0
			if days == 0 {
				days = 1
			}
		}
		v.exact, v.days = exact, days
	case start.date:
		v.days = 1 // RFC 5545: a DATE DTSTART alone lasts one day
	}
	e.End = v.endOf(start.t).UTC()
	if recurrence != nil {
		rid, err := tp.parse(recurrence)
		if err != nil {
			return nil, fmt.Errorf("line %d: RECURRENCE-ID: %v", recurrence.line, err)
		}
		if strings.EqualFold(recurrence.param("RANGE"), "THISANDFUTURE") {
			v.repairs = append(v.repairs, fmt.Sprintf("line %d: RECURRENCE-ID;RANGE=THISANDFUTURE read as this instance only", recurrence.line))
		}
		v.override = true
		e.RecurrenceID = icsRecurrenceID(rid.t, rid.date)
	}
	e.Status = "confirmed"
	if status != nil {
		switch strings.ToUpper(strings.TrimSpace(status.value)) {
		case "CANCELLED", "CANCELED":
			e.Status = "cancelled"
		case "TENTATIVE":
			e.Status = "tentative"
		}
	} else if c.cal.method == "CANCEL" {
		e.Status = "cancelled"
	}
	if sequence != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(sequence.value)); err == nil && n > 0 {
			e.Sequence = n
		}
	}
	if organizer != nil {
		e.Organizer = icsAddress(organizer)
	}
	for _, a := range attendees {
		switch strings.ToUpper(a.param("CUTYPE")) {
		case "RESOURCE", "ROOM":
			continue // a room or a projector, not a person (Google lists them apart too)
		}
		if m := icsAddress(a); m != "" && m != e.Organizer {
			e.Attendees = append(e.Attendees, m)
		}
	}
	e.Attendees = sortedAttendees(e.Attendees)
	e.Calendar = c.cal.name
	if o.calendar != "" {
		e.Calendar = o.calendar
	}
	if id, ok := strings.CutSuffix(e.UID, "@google.com"); ok && id != "" {
		v.googleID = id
		e.GoogleID = id
		if v.override {
			e.GoogleID = id + "_" + recurrenceKey(e.RecurrenceID, e.AllDay)
			e.RecurringEventID = id
		}
	}
	return v, nil
}

func icsKind(date bool) string {
	if date {
		return "date"
	}
	return "date-time"
}

// icsRecurrenceID is an instance's id: its original start as an instant, or
// for an all-day instance its date at midnight UTC (recurrenceKey writes
// the date).
func icsRecurrenceID(t time.Time, date bool) time.Time {
	if date {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return t.UTC()
}

// icsDaysBetween counts the calendar days from a to b (dates at midnight in
// the same zone).
func icsDaysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return int(time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC).Sub(time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// endOf is the end of the instance starting at start (in v.loc).
func (v *icsVEvent) endOf(start time.Time) time.Time {
	if v.days != 0 {
		y, m, d := start.Date()
		h, mi, s := start.Clock()
		start = wallTime(y, m, d+v.days, h, mi, s, start.Location())
	}
	return start.Add(v.exact)
}

// icsAddress reads an ORGANIZER's or ATTENDEE's email: the mailto: value,
// or its EMAIL parameter (RFC 7986) when the value is not an address.
func icsAddress(p *icsProp) string {
	if m := emailOf(p.value); m != "" {
		return m
	}
	return emailOf(p.param("EMAIL"))
}

// icsPropertyKey is the Event.Properties key of an X- property: without
// "X-", lower case, dashes as underscores, so that X-BOOKING-REF is
// "booking_ref", the spelling of Google's extendedProperties and of the
// case's [calendar] property_keys. Vendor prefixes stay: X-MICROSOFT-CDO-
// BUSYSTATUS is "microsoft_cdo_busystatus".
func icsPropertyKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "X-")), "-", "_")
}
