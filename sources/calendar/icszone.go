package calendar

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"
)

// icsZone is a TZID resolved.
type icsZone struct {
	loc *time.Location
	// name is the IANA name, empty when loc was built from the file's own
	// VTIMEZONE (Event.Zone then says the offset).
	name string
	// how says how the TZID was read, for the analyst: "iana",
	// "windows", "x-lic-location", "vtimezone".
	how string
	err error
}

// icsZones resolves the TZIDs of one calendar, in this order:
//
//  1. an IANA name ("Europe/Lisbon"), also behind the prefixes some
//     programs add ("/mozilla.org/20050126_1/Europe/Lisbon");
//  2. a Windows name ("W. Europe Standard Time"), through CLDR's table;
//  3. the file's VTIMEZONE for the TZID: its X-LIC-LOCATION if that is an
//     IANA name, else a zone built from its STANDARD and DAYLIGHT
//     observances (their onsets and RRULEs), so that a TZID such as
//     "Customized Time Zone" or "(GMT+01.00) Amsterdam / Berlin" still gives
//     the right instants, summer time included.
//
// The IANA database comes first because it is more exact than a VTIMEZONE,
// which often describes only the current rules.
type icsZones struct {
	mu    sync.Mutex        // VEVENTs are parsed on several goroutines
	cal   map[string][]byte // the calendar's VTIMEZONEs by TZID
	file  map[string][]byte // every VTIMEZONE of the file
	cache map[string]icsZone
	// calZone is the calendar's X-WR-TIMEZONE if it is an IANA name
	// (calZoneDone: worked out).
	calZone     string
	calZoneDone bool
}

// calendarZone returns the IANA name of cal's X-WR-TIMEZONE, or "".
func (z *icsZones) calendarZone(cal *icsCalendar) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.calZoneDone {
		z.calZoneDone = true
		if _, name, ok := ianaZone(cal.zone); ok {
			z.calZone = name
		}
	}
	return z.calZone
}

func newICSZones(cal, file map[string][]byte) *icsZones {
	return &icsZones{cal: cal, file: file, cache: map[string]icsZone{}}
}

func (z *icsZones) lookup(tzid string) icsZone {
	z.mu.Lock()
	defer z.mu.Unlock()
	if r, ok := z.cache[tzid]; ok {
		return r
	}
	r := z.resolve(tzid)
	z.cache[tzid] = r
	return r
}

func (z *icsZones) resolve(tzid string) icsZone {
	id := strings.Trim(strings.TrimSpace(tzid), `"`)
	if loc, name, ok := ianaZone(id); ok {
		return icsZone{loc: loc, name: name, how: "iana"}
	}
	if name, ok := ianaForWindows(id); ok {
		if loc, name, ok := ianaZone(name); ok {
			return icsZone{loc: loc, name: name, how: "windows"}
		}
	}
	raw, ok := z.cal[tzid]
	if !ok {
		raw, ok = z.file[tzid]
	}
	if !ok {
		return icsZone{err: fmt.Errorf("unknown time zone %q: not an IANA or Windows zone name, and the file has no VTIMEZONE for it", tzid)}
	}
	vt, err := parseVTimezone(raw)
	if err != nil {
		return icsZone{err: fmt.Errorf("time zone %q: VTIMEZONE: %v", tzid, err)}
	}
	if loc, name, ok := ianaZone(vt.location); ok {
		return icsZone{loc: loc, name: name, how: "x-lic-location"}
	}
	loc, err := vt.build(id)
	if err != nil {
		return icsZone{err: fmt.Errorf("time zone %q: VTIMEZONE: %v", tzid, err)}
	}
	return icsZone{loc: loc, how: "vtimezone"}
}

// ianaZone loads an IANA zone by name, also behind a path prefix
// ("/mozilla.org/20050126_1/Europe/Lisbon", "/softwarestudio.org/…"). It
// never returns the machine's own zone ("Local").
func ianaZone(name string) (*time.Location, string, bool) {
	for name != "" {
		if name != "Local" && !strings.HasPrefix(name, "/") && len(name) < 64 {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc, name, true
			}
		}
		i := strings.IndexByte(strings.TrimPrefix(name, "/"), '/')
		if i < 0 {
			break
		}
		name = strings.TrimPrefix(name, "/")[i+1:]
	}
	return nil, "", false
}

// zoneName is what Event.Zone says for a time read in zone z: the IANA name,
// or for a zone built from a VTIMEZONE the offset at t ("+01:00"); empty for
// UTC.
func (z icsZone) zoneName(t time.Time) string {
	if z.loc == nil {
		return ""
	}
	if z.name != "" {
		switch z.name {
		case "UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu":
			return ""
		}
		return z.name
	}
	return t.In(z.loc).Format("-07:00")
}

// vtimezone is a VTIMEZONE read.
type vtimezone struct {
	location    string // X-LIC-LOCATION
	observances []observance
}

// observance is one STANDARD or DAYLIGHT part of a VTIMEZONE: from its
// onset (a local time, in the offset before it) the zone's offset is to.
type observance struct {
	dst      bool
	onset    time.Time // DTSTART, local time written as UTC
	from, to int       // seconds east of UTC
	name     string
	rrule    string
	rdates   []time.Time // local times written as UTC
}

// maxTransitions bounds the transitions built from one VTIMEZONE.
const maxTransitions = 4000

// vtimezoneUntil is how far the transitions of a VTIMEZONE's rules are
// worked out; later times keep the last offset.
var vtimezoneUntil = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func parseVTimezone(raw []byte) (vtimezone, error) {
	var vt vtimezone
	u, err := icsUnfold(raw, 1, func(name string) bool { return name == "X-LIC-LOCATION" })
	if err != nil {
		return vt, err
	}
	for _, p := range u.lines {
		if p.name == "X-LIC-LOCATION" {
			vt.location = strings.TrimSpace(p.value)
		}
	}
	// The observances: split the component's bytes at their BEGIN lines.
	lines := newICSLines(raw)
	depth, start, kind := 0, -1, ""
	for {
		line, s, e, ok := lines.next()
		if !ok {
			break
		}
		if name, ok := icsKeyword(line, "BEGIN"); ok {
			depth++
			if depth == 2 && (name == "STANDARD" || name == "DAYLIGHT") {
				start, kind = s, name
			}
			continue
		}
		if _, ok := icsKeyword(line, "END"); ok {
			if depth == 2 && start >= 0 {
				o, err := parseObservance(raw[start:e], kind == "DAYLIGHT")
				if err != nil {
					return vt, fmt.Errorf("%s: %v", kind, err)
				}
				vt.observances = append(vt.observances, o)
				start = -1
			}
			depth--
		}
	}
	if len(vt.observances) == 0 && vt.location == "" {
		return vt, fmt.Errorf("no STANDARD or DAYLIGHT observance")
	}
	return vt, nil
}

func parseObservance(raw []byte, dst bool) (observance, error) {
	o := observance{dst: dst}
	u, err := icsUnfold(raw, 1, nil)
	if err != nil {
		return o, err
	}
	var haveStart, haveFrom, haveTo bool
	for _, p := range u.lines {
		switch p.name {
		case string(ics.PropertyDtstart):
			t, err := naiveTime(p.value)
			if err != nil {
				return o, fmt.Errorf("DTSTART: %v", err)
			}
			o.onset, haveStart = t, true
		case string(ics.PropertyTzoffsetfrom):
			if o.from, err = utcOffset(p.value); err != nil {
				return o, fmt.Errorf("TZOFFSETFROM: %v", err)
			}
			haveFrom = true
		case string(ics.PropertyTzoffsetto):
			if o.to, err = utcOffset(p.value); err != nil {
				return o, fmt.Errorf("TZOFFSETTO: %v", err)
			}
			haveTo = true
		case string(ics.PropertyTzname):
			o.name = strings.TrimSpace(p.value)
		case string(ics.PropertyRrule):
			if o.rrule == "" {
				o.rrule = p.value
			}
		case string(ics.PropertyRdate):
			for _, v := range strings.Split(p.value, ",") {
				if t, err := naiveTime(v); err == nil {
					o.rdates = append(o.rdates, t)
				}
			}
		}
	}
	switch {
	case !haveStart:
		return o, fmt.Errorf("no DTSTART")
	case !haveTo:
		return o, fmt.Errorf("no TZOFFSETTO")
	case !haveFrom:
		o.from = o.to
	}
	return o, nil
}

// naiveTime reads a local date-time ("19701025T020000") as if it were UTC.
func naiveTime(v string) (time.Time, error) {
	v = strings.ToUpper(strings.TrimSpace(v))
	v = strings.TrimSuffix(v, "Z")
	for _, layout := range []string{"20060102T150405", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a local date-time", v)
}

// utcOffset reads "+0100", "-0430", "+013000" or "+01:00".
func utcOffset(v string) (int, error) {
	s := strings.ReplaceAll(strings.TrimSpace(v), ":", "")
	if len(s) != 5 && len(s) != 7 || (s[0] != '+' && s[0] != '-') || !icsDigits(s[1:]) {
		return 0, fmt.Errorf("%q is not a UTC offset (+hhmm)", v)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	if h > 23 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("%q is not a UTC offset (+hhmm)", v)
	}
	off := h*3600 + m*60 + sec
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

type transition struct {
	at  int64 // Unix seconds
	obs int   // index in observances
}

// build makes a *time.Location from the observances: it works out every
// onset up to vtimezoneUntil and hands them to the time package as TZif
// data, so that times in it behave as in any zone (summer time, recurring
// events keeping their local time).
func (vt vtimezone) build(name string) (*time.Location, error) {
	if len(vt.observances) == 0 {
		return nil, fmt.Errorf("no STANDARD or DAYLIGHT observance")
	}
	if len(vt.observances) == 1 && vt.observances[0].rrule == "" && len(vt.observances[0].rdates) == 0 {
		return time.FixedZone(name, vt.observances[0].to), nil
	}
	var trans []transition
	for i, o := range vt.observances {
		onsets := []time.Time{o.onset}
		onsets = append(onsets, o.rdates...)
		if o.rrule != "" {
			more, err := observanceOnsets(o)
			if err != nil {
				return nil, fmt.Errorf("RRULE %q: %v", o.rrule, err)
			}
			onsets = append(onsets, more...)
		}
		for _, t := range onsets {
			if t.After(vtimezoneUntil) {
				continue
			}
			trans = append(trans, transition{at: t.Unix() - int64(o.from), obs: i})
		}
		if len(trans) > maxTransitions {
			return nil, fmt.Errorf("more than %d changes of offset", maxTransitions)
		}
	}
	slices.SortFunc(trans, func(a, b transition) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return a.obs - b.obs
	})
	trans = slices.CompactFunc(trans, func(a, b transition) bool { return a.at == b.at })
	if len(trans) == 0 {
		return time.FixedZone(name, vt.observances[0].to), nil
	}
	return time.LoadLocationFromTZData(name, tzif(vt.observances, trans))
}

// observanceOnsets expands an observance's RRULE from its DTSTART, in local
// time written as UTC.
func observanceOnsets(o observance) ([]time.Time, error) {
	rule, err := cleanRRule(o.rrule)
	if err != nil {
		return nil, err
	}
	opt, err := rrule.StrToROptionInLocation(rule, time.UTC)
	if err != nil {
		return nil, err
	}
	if !opt.Until.IsZero() {
		// UNTIL is in UTC; the onsets here are local times.
		opt.Until = opt.Until.Add(time.Duration(o.from) * time.Second)
	}
	opt.Dtstart = o.onset
	// Rules written from 1601 (Outlook) or 1970: start where it matters.
	// A yearly rule without COUNT gives the same onsets from any year.
	if opt.Freq == rrule.YEARLY && opt.Count == 0 && opt.Interval <= 1 && o.onset.Year() < 1970 {
		y := 1970
		if o.onset.Month() == time.February && o.onset.Day() == 29 {
			y = 1972
		}
		opt.Dtstart = time.Date(y, o.onset.Month(), o.onset.Day(), o.onset.Hour(), o.onset.Minute(), o.onset.Second(), 0, time.UTC)
	}
	if err := checkRRule(opt); err != nil {
		return nil, err
	}
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	next := r.Iterator()
	for len(out) <= maxTransitions {
		t, ok := next()
		if !ok || t.After(vtimezoneUntil) {
			break
		}
		out = append(out, t)
	}
	return out, nil
}

// tzif writes the observances and transitions as TZif version 2 data
// (RFC 8536): an empty version 1 block, then the 64-bit one. Type 0 is the
// offset before the first transition.
func tzif(obs []observance, trans []transition) []byte {
	type ttype struct {
		off   int32
		dst   bool
		abbr  string
		index byte
	}
	var (
		types []ttype
		chars []byte
	)
	typeOf := func(off int, dst bool, abbr string) byte {
		abbr = tzAbbrev(abbr, off)
		for i, t := range types {
			if t.off == int32(off) && t.dst == dst && t.abbr == abbr {
				return byte(i)
			}
		}
		idx := -1
		if i := strings.Index(string(chars), abbr+"\x00"); i >= 0 && (i == 0 || chars[i-1] == 0) {
			idx = i
		}
		if idx < 0 {
			idx = len(chars)
			chars = append(chars, abbr...)
			chars = append(chars, 0)
		}
		types = append(types, ttype{off: int32(off), dst: dst, abbr: abbr, index: byte(idx)})
		return byte(len(types) - 1)
	}
	first := obs[trans[0].obs]
	// Before the first onset the offset is what that onset changes from;
	// call it standard time unless it is the daylight observance's.
	before := first.from
	typeOf(before, false, otherName(obs, first))
	idx := make([]byte, len(trans))
	for i, t := range trans {
		o := obs[t.obs]
		idx[i] = typeOf(o.to, o.dst, o.name)
		if len(types) > 250 {
			trans, idx = trans[:i], idx[:i]
			break
		}
	}
	be := binary.BigEndian
	header := func(b []byte, timecnt, typecnt, charcnt int) []byte {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} {
			b = be.AppendUint32(b, uint32(n))
		}
		return b
	}
	b := header(nil, 0, 0, 0) // the version 1 block: empty
	b = header(b, len(trans), len(types), len(chars))
	for _, t := range trans {
		b = be.AppendUint64(b, uint64(t.at))
	}
	b = append(b, idx...)
	for _, t := range types {
		b = be.AppendUint32(b, uint32(t.off))
		if t.dst {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = append(b, t.index)
	}
	b = append(b, chars...)
	return append(b, '\n', '\n') // no rule for after the last transition
}

// otherName is the name of the observance in effect before o: another with
// o's "from" offset.
func otherName(obs []observance, o observance) string {
	for _, x := range obs {
		if x.to == o.from && x.name != "" {
			return x.name
		}
	}
	return ""
}

// tzAbbrev keeps a TZNAME usable as an abbreviation ("WET", "CEST", "+01"),
// or makes one from the offset.
func tzAbbrev(name string, off int) string {
	ok := len(name) >= 3 && len(name) <= 10
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-') {
			ok = false
		}
	}
	if ok {
		return name
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	if off%3600 == 0 {
		return fmt.Sprintf("%c%02d", sign, off/3600)
	}
	return fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
}
