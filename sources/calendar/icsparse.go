package calendar

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

// Reading an iCalendar file happens in two steps, so that one bad event
// never costs the others:
//
//  1. icsSplit cuts the file into its components (each VEVENT's and
//     VTIMEZONE's bytes, exactly as they are in the file) and reads the
//     calendar's own properties. It only looks at BEGIN and END lines, so a
//     broken line inside an event cannot lose the events around it, and a
//     truncated event is recognised where the next one begins.
//  2. icsParseVEvent reads one VEVENT: it unfolds its lines (repairing
//     continuation lines that lost their leading space and text that is not
//     UTF-8), parses each content line with arran4/golang-ical, and turns
//     the properties into an icsVEvent.
//
// golang-ical's own ParseCalendar is not used: it gives up on the whole file
// at the first line it cannot read, keeps no bytes or line numbers per
// component, reads floating times in the machine's zone (time.Local) and
// TZIDs only through time.LoadLocation. Its content-line parser
// (ParseProperty, with its TEXT unescaping FromText) is what reads each
// property; lines without parameters ("SUMMARY:…", most lines) take a short
// path that gives the same result without its regular expressions, which
// cost two to three microseconds a line (TestICSFastLineMatchesLibrary).

// icsCalendar is what a VCALENDAR says about the events in it.
type icsCalendar struct {
	name   string // X-WR-CALNAME
	zone   string // X-WR-TIMEZONE
	method string // METHOD (PUBLISH, REQUEST, CANCEL…)
	// timezones holds the VTIMEZONE components by TZID.
	timezones map[string][]byte
}

// icsComponent is one top-level component of a file: its bytes as they are
// in the file and where it starts.
type icsComponent struct {
	kind string // VEVENT or VTIMEZONE
	raw  []byte
	line int // of its BEGIN line, from 1
	cal  *icsCalendar
	// broken says why the component is incomplete ("truncated…"), empty
	// when it ended with its END line.
	broken string
}

// icsSplitResult is a file cut into components.
type icsSplitResult struct {
	comps []icsComponent
	// timezones holds every VTIMEZONE of the file by TZID, for events
	// whose own calendar lacks one.
	timezones map[string][]byte
	problems  []string
	// notICS is why the file is not iCalendar at all; empty if it is.
	notICS string
}

// icsLines iterates over the physical lines of data: each line without its
// terminator, its start offset, the offset after its terminator, and its
// number from 1. Lines end with CRLF, LF, or (in files that have no LF at
// all) CR.
type icsLines struct {
	data []byte
	sep  byte
	pos  int
	n    int
}

func newICSLines(data []byte) *icsLines {
	sep := byte('\n')
	if bytes.IndexByte(data, '\n') < 0 && bytes.IndexByte(data, '\r') >= 0 {
		sep = '\r'
	}
	return &icsLines{data: data, sep: sep}
}

func (l *icsLines) next() (line []byte, start, end int, ok bool) {
	if l.pos >= len(l.data) {
		return nil, 0, 0, false
	}
	start = l.pos
	i := bytes.IndexByte(l.data[start:], l.sep)
	if i < 0 {
		end = len(l.data)
		line = l.data[start:]
	} else {
		end = start + i + 1
		line = l.data[start : start+i]
	}
	if l.sep == '\n' && len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	l.pos = end
	l.n++
	return line, start, end, true
}

// icsKeyword reports whether line is "BEGIN:<name>" or "END:<name>" (any
// case, trailing blanks allowed) and returns the name in upper case.
func icsKeyword[T string | []byte](line T, word string) (string, bool) {
	if len(line) <= len(word) || line[len(word)] != ':' {
		return "", false
	}
	for i := 0; i < len(word); i++ {
		if c := line[i]; c != word[i] && c != word[i]+('a'-'A') {
			return "", false
		}
	}
	name := strings.TrimSpace(string(line[len(word)+1:]))
	if name == "" {
		return "", false
	}
	return strings.ToUpper(name), true
}

// icsSplit cuts data into components. It never fails: what it cannot place
// is reported in problems, incomplete components are returned with broken
// set, and a file that does not start like iCalendar has notICS set.
func icsSplit(data []byte) icsSplitResult {
	res := icsSplitResult{timezones: map[string][]byte{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte-order mark
	lines := newICSLines(data)

	var (
		stack     []string // open components, outermost first
		cal       *icsCalendar
		comp      *icsComponent // the VEVENT or VTIMEZONE being read
		compDepth int           // its index in stack
		compStart int
		pending   []byte // a calendar property line, until its folds end
		seenFirst bool
		stray     int
	)
	flushPending := func() {
		if pending == nil {
			return
		}
		p, ok := icsParseLine(icsText(pending))
		pending = nil
		if !ok || cal == nil {
			return
		}
		switch p.name {
		case "X-WR-CALNAME":
			cal.name = strings.TrimSpace(p.value)
		case "X-WR-TIMEZONE":
			cal.zone = strings.TrimSpace(p.value)
		case "METHOD":
			cal.method = strings.ToUpper(strings.TrimSpace(p.value))
		}
	}
	closeComp := func(end int, broken string) {
		comp.raw = data[compStart:end]
		comp.broken = broken
		res.comps = append(res.comps, *comp)
		if comp.kind == "VTIMEZONE" && broken == "" {
			if id := icsTZID(comp.raw); id != "" {
				if _, dup := comp.cal.timezones[id]; !dup {
					comp.cal.timezones[id] = comp.raw
				}
				if _, dup := res.timezones[id]; !dup {
					res.timezones[id] = comp.raw
				}
			}
		}
		comp = nil
	}
	for {
		line, start, end, ok := lines.next()
		if !ok {
			break
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if pending != nil {
				pending = append(pending, line[1:]...)
			}
			continue
		}
		flushPending()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !seenFirst {
			seenFirst = true
			name, ok := icsKeyword(line, "BEGIN")
			if !ok || (name != "VCALENDAR" && name != "VEVENT") {
				res.notICS = fmt.Sprintf("not iCalendar: the file starts with %s, not BEGIN:VCALENDAR", icsQuote(line))
				return res
			}
		}
		if name, ok := icsKeyword(line, "BEGIN"); ok {
			if comp != nil && (name == "VEVENT" || name == "VTIMEZONE" || name == "VCALENDAR") {
				// A component begins inside another: the first was cut off.
				closeComp(start, fmt.Sprintf("truncated: BEGIN:%s at line %d before this %s's END:%s", name, lines.n, strings.ToLower(comp.kind[1:]), comp.kind))
				stack = stack[:compDepth]
			}
			if comp == nil && name == "VCALENDAR" {
				if len(stack) > 0 {
					res.problems = append(res.problems, fmt.Sprintf("line %d: BEGIN:VCALENDAR before the previous calendar's END:VCALENDAR", lines.n))
				}
				cal = &icsCalendar{timezones: map[string][]byte{}}
				stack = append(stack[:0], name)
				continue
			}
			if comp == nil && (name == "VEVENT" || name == "VTIMEZONE") {
				if cal == nil { // an event outside any calendar
					cal = &icsCalendar{timezones: map[string][]byte{}}
				}
				comp = &icsComponent{kind: name, line: lines.n, cal: cal}
				compDepth, compStart = len(stack), start
			}
			stack = append(stack, name)
			continue
		}
		if name, ok := icsKeyword(line, "END"); ok {
			idx := -1
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i] == name {
					idx = i
					break
				}
			}
			if idx < 0 {
				if comp == nil {
					stray++
				}
				continue // the event's own reader sees it
			}
			switch {
			case comp != nil && idx == compDepth:
				closeComp(end, "")
			case comp != nil && idx < compDepth:
				closeComp(start, fmt.Sprintf("truncated: END:%s at line %d before this component's END:%s", name, lines.n, comp.kind))
			}
			stack = stack[:idx]
			if len(stack) == 0 {
				cal = nil
			}
			continue
		}
		switch {
		case comp != nil:
			// A property of the component: its reader reads it.
		case len(stack) == 1 && stack[0] == "VCALENDAR":
			pending = append([]byte(nil), line...)
		default:
			stray++
		}
	}
	flushPending()
	if comp != nil {
		closeComp(len(data), fmt.Sprintf("truncated: the file ends before this %s's END:%s", comp.kind, comp.kind))
	}
	if len(stack) > 0 {
		res.problems = append(res.problems, "the file ends before END:VCALENDAR (truncated?)")
	}
	if stray > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d line(s) outside any component ignored", stray))
	}
	if !seenFirst {
		res.notICS = "not iCalendar: the file is empty"
	}
	return res
}

// icsQuote shows the start of a line in an error message.
func icsQuote(line []byte) string {
	if len(line) > 40 {
		line = line[:40]
	}
	return strconv.Quote(string(line))
}

// icsProp is one content line: NAME;PARAM=VALUE:value.
type icsProp struct {
	name   string              // upper case
	params map[string][]string // upper-case names; nil when none
	value  string              // TEXT values unescaped
	line   int                 // in the component, from 1
}

// param returns the first value of the parameter k (upper case).
func (p *icsProp) param(k string) string {
	if v := p.params[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// icsNameLen returns the length of the property name at the start of s
// (letters, digits and dashes), and whether a parameter or the value
// follows it, as a content line requires.
func icsNameLen[T string | []byte](s T) (int, bool) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			i++
			continue
		}
		break
	}
	return i, i > 0 && i < len(s) && (s[i] == ':' || s[i] == ';')
}

// icsParseLine reads one unfolded content line.
func icsParseLine(s string) (icsProp, bool) {
	n, ok := icsNameLen(s)
	if !ok {
		return icsProp{}, false
	}
	name := strings.ToUpper(s[:n])
	if s[n] == ':' {
		// No parameters: what golang-ical's ParseProperty gives for such a
		// line, without its regular expressions.
		v := s[n+1:]
		if icsIsText(name, nil) {
			v = ics.FromText(v)
		}
		return icsProp{name: name, value: v}, true
	}
	bp, err := ics.ParseProperty(ics.ContentLine(s))
	if err != nil || bp == nil {
		return icsProp{}, false
	}
	p := icsProp{name: name, value: bp.Value, params: make(map[string][]string, len(bp.ICalParameters))}
	for k, v := range bp.ICalParameters {
		k = strings.ToUpper(k)
		p.params[k] = append(p.params[k], v...)
	}
	return p, true
}

// icsIsText reports whether a property's value is TEXT, which golang-ical
// unescapes (\, \; \n \\).
func icsIsText(name string, params map[string][]string) bool {
	bp := ics.BaseProperty{IANAToken: name, ICalParameters: params}
	return bp.GetValueType() == ics.ValueDataTypeText
}

// icsText returns line as UTF-8: iCalendar is UTF-8, but files written by
// old Windows programs are often Windows-1252, which this decodes.
func icsText(line []byte) string {
	if utf8.Valid(line) {
		return string(line)
	}
	return decodeWindows1252(line)
}

// windows1252 holds the characters of bytes 0x80–0x9F in Windows-1252; the
// other bytes above 0x7F are the same code points as in Latin-1.
var windows1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

func decodeWindows1252(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			c := b[0]
			if c >= 0x80 && c <= 0x9F {
				sb.WriteRune(windows1252[c-0x80])
			} else {
				sb.WriteRune(rune(c))
			}
			b = b[1:]
			continue
		}
		sb.Write(b[:size])
		b = b[size:]
	}
	return sb.String()
}

// icsUnfolded is a component's content lines, unfolded, with what had to be
// repaired to read them.
type icsUnfolded struct {
	lines    []icsProp
	repairs  []string
	badLines []icsBadLine // lines that are not content lines
}

// icsBadLine is a line that could not be read as a content line.
type icsBadLine struct {
	n    int
	text string
}

// name is what the line's property name seems to be (upper case).
func (b icsBadLine) name() string {
	s := b.text
	if i := strings.IndexAny(s, ";:"); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

// icsUnfold reads the content lines of a component's bytes, keeping only
// those at depth (1: the component's own properties, not its VALARMs';
// 2: a VTIMEZONE's observances as well) that keep wants (nil: all; the
// others, an inline attachment for one, are not even parsed). A line that
// does not begin like a content line and follows one is taken as a
// continuation that lost its leading space (some exporters fold without
// it), joined to the line before.
func icsUnfold(raw []byte, maxDepth int, keep func(name string) bool) (icsUnfolded, error) {
	var (
		out   icsUnfolded
		cur   []byte
		curN  int
		depth int
		folds []int // lines joined without their leading space
		bad   bool  // not UTF-8
	)
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return out, fmt.Errorf("NUL byte at line %d: the file is damaged here", bytes.Count(raw[:i], []byte("\n"))+1)
	}
	flush := func() {
		if cur == nil {
			return
		}
		if !utf8.Valid(cur) {
			bad = true
		}
		s := icsText(cur)
		cur = nil
		if _, ok := icsKeyword(s, "BEGIN"); ok {
			depth++
			return
		}
		if _, ok := icsKeyword(s, "END"); ok {
			depth--
			return
		}
		if depth > maxDepth || depth < 1 {
			return
		}
		if n, ok := icsNameLen(s); ok && keep != nil && !keep(strings.ToUpper(s[:n])) {
			return
		}
		p, ok := icsParseLine(s)
		if !ok {
			out.badLines = append(out.badLines, icsBadLine{n: curN, text: s})
			return
		}
		p.line = curN
		out.lines = append(out.lines, p)
	}
	out.lines = make([]icsProp, 0, bytes.Count(raw, []byte{'\n'})+1)
	lines := newICSLines(raw)
	owned := false // cur is a copy (lines were joined), not a slice of raw
	join := func(more []byte) {
		if !owned {
			cur = append(make([]byte, 0, len(cur)+len(more)+64), cur...)
			owned = true
		}
		cur = append(cur, more...)
	}
	for {
		line, _, _, ok := lines.next()
		if !ok {
			break
		}
		switch {
		case len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			if cur != nil {
				join(line[1:])
			}
			continue
		case len(line) == 0:
			continue
		}
		if _, ok := icsNameLen(line); !ok && cur != nil {
			join(line)
			folds = append(folds, lines.n)
			continue
		}
		flush()
		cur, owned, curN = line, false, lines.n
	}
	flush()
	if len(folds) > 0 {
		out.repairs = append(out.repairs, fmt.Sprintf("line(s) %s continue the line before without the leading space folding needs; joined to it", icsLineList(folds)))
	}
	if bad {
		out.repairs = append(out.repairs, "text that is not UTF-8 read as Windows-1252")
	}
	return out, nil
}

func icsLineList(ns []int) string {
	var parts []string
	for i, n := range ns {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ns)-5))
			break
		}
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ", ")
}

// icsTZID returns the TZID of a VTIMEZONE's bytes.
func icsTZID(raw []byte) string {
	u, err := icsUnfold(raw, 1, func(name string) bool { return name == "TZID" })
	if err != nil {
		return ""
	}
	for _, p := range u.lines {
		if p.name == "TZID" {
			return strings.TrimSpace(p.value)
		}
	}
	return ""
}

// icsTime is a DATE or DATE-TIME value read.
type icsTime struct {
	t      time.Time
	date   bool   // a DATE: t is midnight in the case's zone
	utc    bool   // written with Z
	tzid   string // the TZID it was given with
	zone   icsZone
	period time.Duration // RDATE;VALUE=PERIOD: the instance's length
}

// icsTimeParser reads DATE and DATE-TIME values in a calendar's zones.
type icsTimeParser struct {
	zones   *icsZones
	caseLoc *time.Location
}

// parse reads a property's value (one value: use parseList for lists).
func (tp *icsTimeParser) parse(p *icsProp) (icsTime, error) {
	v := strings.TrimSpace(p.value)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i] // a single-valued property given a list: its first value
	}
	return tp.value(v, p.param("VALUE"), p.param("TZID"))
}

// parseList reads a property holding a comma-separated list (RDATE,
// EXDATE).
func (tp *icsTimeParser) parseList(p *icsProp) ([]icsTime, error) {
	var out []icsTime
	for _, v := range strings.Split(p.value, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		var period string
		if i := strings.IndexByte(v, '/'); i >= 0 {
			v, period = v[:i], v[i+1:]
		}
		t, err := tp.value(v, p.param("VALUE"), p.param("TZID"))
		if err != nil {
			return nil, err
		}
		if period != "" {
			if d, days, err := icsDuration(period); err == nil && d+time.Duration(days)*24*time.Hour > 0 {
				t.period = d + time.Duration(days)*24*time.Hour
			} else if e, err := tp.value(period, "", p.param("TZID")); err == nil && e.t.After(t.t) {
				t.period = e.t.Sub(t.t)
			} else {
				return nil, fmt.Errorf("period %q: want start/end or start/duration", v+"/"+period)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func (tp *icsTimeParser) value(v, valueType, tzid string) (icsTime, error) {
	v = strings.ToUpper(strings.TrimSpace(v))
	out := icsTime{tzid: tzid}
	y, mo, d, ok := icsDate(v)
	if !ok {
		return out, fmt.Errorf("date %q: want YYYYMMDD or YYYYMMDDTHHMMSS[Z]", v)
	}
	if len(v) == 8 || strings.EqualFold(valueType, "DATE") {
		if len(v) != 8 {
			return out, fmt.Errorf("date %q: VALUE=DATE wants YYYYMMDD", v)
		}
		// All-day dates are midnight in the case's zone, whatever TZID
		// they carry (as the Google import reads them).
		out.t = time.Date(y, time.Month(mo), d, 0, 0, 0, 0, tp.caseLoc)
		out.date = true
		return out, nil
	}
	rest := v[8:]
	if len(rest) < 7 || rest[0] != 'T' {
		return out, fmt.Errorf("date-time %q: want YYYYMMDDTHHMMSS[Z]", v)
	}
	h, err1 := strconv.Atoi(rest[1:3])
	mi, err2 := strconv.Atoi(rest[3:5])
	s, err3 := strconv.Atoi(rest[5:7])
	tail := rest[7:]
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0 || (tail != "" && tail != "Z") ||
		!icsDigits(rest[1:7]) {
		return out, fmt.Errorf("date-time %q: want YYYYMMDDTHHMMSS[Z]", v)
	}
	if s == 60 { // a leap second
		s = 59
	}
	if tail == "Z" {
		out.t = time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
		out.utc = true
		return out, nil
	}
	loc := tp.caseLoc
	if tzid != "" {
		out.zone = tp.zones.lookup(tzid)
		if out.zone.err != nil {
			return out, out.zone.err
		}
		loc = out.zone.loc
	}
	out.t = wallTime(y, time.Month(mo), d, h, mi, s, loc)
	return out, nil
}

func icsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// icsDate reads the YYYYMMDD at the start of v and checks it is a real date.
func icsDate(v string) (y, m, d int, ok bool) {
	if len(v) < 8 || !icsDigits(v[:8]) {
		return 0, 0, 0, false
	}
	y, _ = strconv.Atoi(v[:4])
	m, _ = strconv.Atoi(v[4:6])
	d, _ = strconv.Atoi(v[6:8])
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1 {
		return 0, 0, 0, false
	}
	if t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC); t.Day() != d {
		return 0, 0, 0, false // 20260230
	}
	return y, m, d, true
}

// wallTime is the instant a local date and time names in loc, as RFC 5545
// (3.3.5) reads it: a time skipped by a change to summer time is read with
// the offset before the change, and a time that occurs twice is the first
// of the two. (time.Date leaves both cases unspecified, and picks the second
// occurrence in some zones.)
func wallTime(y int, mo time.Month, d, h, mi, s int, loc *time.Location) time.Time {
	naive := time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix()
	var best int64
	found := false
	for _, probe := range [...]int64{naive - 86400, naive + 86400, naive} {
		_, off := time.Unix(probe, 0).In(loc).Zone()
		inst := naive - int64(off)
		if _, o := time.Unix(inst, 0).In(loc).Zone(); o == off && (!found || inst < best) {
			best, found = inst, true
		}
	}
	if !found { // in a gap: the offset before it
		_, off := time.Unix(naive-86400, 0).In(loc).Zone()
		best = naive - int64(off)
	}
	return time.Unix(best, 0).In(loc)
}

// icsDuration reads an RFC 5545 duration ("PT1H30M", "P2D", "-P1W"): its
// days (nominal: a day in local time, 23 or 25 hours across a change of
// summer time) and the exact rest.
func icsDuration(v string) (exact time.Duration, days int, err error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) < 2 || s[0] != 'P' {
		return 0, 0, fmt.Errorf("duration %q: want PnW, PnD or PnDTnHnMnS", v)
	}
	s = s[1:]
	inTime := false
	seen := false
	for len(s) > 0 {
		if s[0] == 'T' {
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 6 {
			return 0, 0, fmt.Errorf("duration %q: want PnW, PnD or PnDTnHnMnS", v)
		}
		n, _ := strconv.Atoi(s[:i])
		unit := s[i]
		s = s[i+1:]
		seen = true
		switch {
		case unit == 'W' && !inTime:
			days += 7 * n
		case unit == 'D' && !inTime:
			days += n
		case unit == 'H' && inTime:
			exact += time.Duration(n) * time.Hour
		case unit == 'M' && inTime:
			exact += time.Duration(n) * time.Minute
		case unit == 'S' && inTime:
			exact += time.Duration(n) * time.Second
		default:
			return 0, 0, fmt.Errorf("duration %q: want PnW, PnD or PnDTnHnMnS", v)
		}
	}
	if !seen {
		return 0, 0, fmt.Errorf("duration %q: no length", v)
	}
	if neg {
		exact, days = -exact, -days
	}
	return exact, days, nil
}
