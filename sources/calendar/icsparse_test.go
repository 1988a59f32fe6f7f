package calendar

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Local times read as RFC 5545 says: a repeated hour is its first
// occurrence, a skipped one takes the offset before the gap.
func TestICSWallTime(t *testing.T) {
	lisbon, ny := mustZone(t, "Europe/Lisbon"), mustZone(t, "America/New_York")
	tests := []struct {
		loc  *time.Location
		wall string
		want string
	}{
		{lisbon, "2026-10-25 00:30", "2026-10-24T23:30:00Z"},
		{lisbon, "2026-10-25 01:00", "2026-10-25T00:00:00Z"}, // first 01:00 (WEST)
		{lisbon, "2026-10-25 01:30", "2026-10-25T00:30:00Z"}, // first 01:30 (WEST), not 01:30Z
		{lisbon, "2026-10-25 01:59", "2026-10-25T00:59:00Z"},
		{lisbon, "2026-10-25 02:00", "2026-10-25T02:00:00Z"}, // WET
		{lisbon, "2026-03-29 00:59", "2026-03-29T00:59:00Z"},
		{lisbon, "2026-03-29 01:30", "2026-03-29T01:30:00Z"}, // skipped: +00:00, the offset before
		{lisbon, "2026-03-29 02:00", "2026-03-29T01:00:00Z"},
		{lisbon, "2026-07-01 12:00", "2026-07-01T11:00:00Z"},
		{ny, "2026-11-01 01:30", "2026-11-01T05:30:00Z"}, // first 01:30 (EDT)
		{ny, "2026-11-01 02:30", "2026-11-01T07:30:00Z"},
		{ny, "2026-03-08 02:30", "2026-03-08T07:30:00Z"}, // skipped: EST, the offset before
		{ny, "2026-03-08 03:00", "2026-03-08T07:00:00Z"},
		{time.UTC, "2026-03-08 02:30", "2026-03-08T02:30:00Z"},
	}
	for _, tt := range tests {
		w, err := time.Parse("2006-01-02 15:04", tt.wall)
		if err != nil {
			t.Fatal(err)
		}
		got := wallTime(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, tt.loc)
		if !got.Equal(utcAt(tt.want)) {
			t.Errorf("%s %s: %s, want %s", tt.wall, tt.loc, got.UTC().Format(time.RFC3339), tt.want)
		}
	}
}

// A zone built from a file's VTIMEZONE gives the same offsets as the IANA
// zone it describes, every hour for years, transitions included: Google's
// and Apple's Europe/Lisbon, Outlook's rules written from 1601 for Central
// Europe, London and New York. The TZIDs are renamed so that only the
// VTIMEZONE can be used.
func TestICSVTimezoneFallbackMatchesIANA(t *testing.T) {
	tests := []struct {
		file, tzid, iana string
		from, to         int // years
	}{
		{"google.ics", "Europe/Lisbon", "Europe/Lisbon", 1997, 2035},
		{"outlook.ics", "W. Europe Standard Time", "Europe/Berlin", 1997, 2035},
		{"outlook.ics", "GMT Standard Time", "Europe/London", 1997, 2035},
		{"outlook.ics", "Eastern Standard Time", "America/New_York", 2008, 2035},
	}
	for _, tt := range tests {
		t.Run(tt.tzid, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(icsTestdata, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			split := icsSplit(data)
			raw, ok := split.timezones[tt.tzid]
			if !ok {
				t.Fatalf("no VTIMEZONE %s", tt.tzid)
			}
			renamed := bytes.Replace(raw, []byte("TZID:"+tt.tzid), []byte("TZID:Zone Of "+tt.iana), 1)
			renamed = bytes.ReplaceAll(renamed, []byte("X-LIC-LOCATION:"), []byte("X-NOT-LIC-LOCATION:"))
			z := newICSZones(map[string][]byte{"Zone Of " + tt.iana: renamed}, nil).lookup("Zone Of " + tt.iana)
			if z.err != nil || z.how != "vtimezone" {
				t.Fatalf("zone %+v", z)
			}
			want := mustZone(t, tt.iana)
			bad := 0
			for at := time.Date(tt.from, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < tt.to; at = at.Add(time.Hour) {
				_, g := at.In(z.loc).Zone()
				_, w := at.In(want).Zone()
				if g != w && bad < 5 {
					bad++
					t.Errorf("%s: offset %d, %s has %d", at.Format(time.RFC3339), g, tt.iana, w)
				}
			}
			// Local times in it read as in the IANA zone, DST edges included.
			for _, wall := range []time.Time{
				time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC),
				time.Date(2026, 11, 1, 1, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 2, 30, 0, 0, time.UTC),
			} {
				g := wallTime(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, z.loc)
				w := wallTime(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, want)
				if !g.Equal(w) {
					t.Errorf("%s local: %s, %s gives %s", wall.Format("2006-01-02 15:04"), g.UTC(), tt.iana, w.UTC())
				}
			}
		})
	}
}

// Resolving TZIDs: IANA names (also behind a Mozilla prefix), Windows names
// in any case, X-LIC-LOCATION, and a clear error for the unknown.
func TestICSZoneResolution(t *testing.T) {
	vt := map[string][]byte{
		"Hora de Lisboa": []byte("BEGIN:VTIMEZONE\r\nTZID:Hora de Lisboa\r\nX-LIC-LOCATION:Europe/Lisbon\r\nEND:VTIMEZONE\r\n"),
		"Fixed Plus Five": []byte("BEGIN:VTIMEZONE\r\nTZID:Fixed Plus Five\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n" +
			"TZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"),
	}
	z := newICSZones(vt, nil)
	tests := []struct{ tzid, name, how string }{
		{"Europe/Lisbon", "Europe/Lisbon", "iana"},
		{"/mozilla.org/20050126_1/Europe/Lisbon", "Europe/Lisbon", "iana"},
		{`"America/New_York"`, "America/New_York", "iana"},
		{"W. Europe Standard Time", "Europe/Berlin", "windows"},
		{"w. europe standard time", "Europe/Berlin", "windows"},
		{"GMT Standard Time", "Europe/London", "windows"},
		{"Eastern Standard Time", "America/New_York", "windows"},
		{"India Standard Time", "Asia/Kolkata", "windows"},
		{"tzone://Microsoft/Utc", "Etc/UTC", "windows"},
		{"Hora de Lisboa", "Europe/Lisbon", "x-lic-location"},
		{"Fixed Plus Five", "", "vtimezone"},
	}
	for _, tt := range tests {
		r := z.lookup(tt.tzid)
		if r.err != nil || r.name != tt.name || r.how != tt.how {
			t.Errorf("%s: %+v, want %s by %s", tt.tzid, r, tt.name, tt.how)
		}
	}
	if r := z.lookup("Fixed Plus Five"); r.zoneName(time.Now()) != "+05:00" {
		t.Errorf("fixed zone name %q", r.zoneName(time.Now()))
	}
	for _, bad := range []string{"Local", "Mars/Olympus_Mons", "../../../etc/passwd", "", "Customized Time Zone"} {
		if r := z.lookup(bad); r.err == nil {
			t.Errorf("%q resolved to %v", bad, r.loc)
		}
	}
}

// Every zone of the Windows table exists in the IANA database here.
func TestICSWindowsZonesLoad(t *testing.T) {
	if len(windowsZones) < 140 {
		t.Errorf("only %d Windows zones", len(windowsZones))
	}
	for win, iana := range windowsZones {
		if _, err := time.LoadLocation(iana); err != nil {
			t.Errorf("%s → %s: %v", win, iana, err)
		}
	}
}

// The short path for lines without parameters gives what golang-ical's
// ParseProperty gives, for every content line of the samples and of the
// scenario's export; lines with parameters go through ParseProperty.
func TestICSFastLineMatchesLibrary(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(icsTestdata, "*.ics"))
	paths = append(paths, filepath.Join(icsScenario, "calendar", "calendar.ics"))
	n := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		u, err := icsUnfold(data, 99, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs := ics.NewCalendarStream(bytes.NewReader(data))
		for {
			l, err := cs.ReadLine()
			if l == nil || err != nil && len(*l) == 0 {
				break
			}
			line := string(*l)
			if _, ok := icsKeyword(line, "BEGIN"); ok {
				continue
			}
			if _, ok := icsKeyword(line, "END"); ok {
				continue
			}
			got, ok := icsParseLine(line)
			want, err := ics.ParseProperty(*l)
			if !ok || err != nil || want == nil {
				t.Errorf("%s: %q: ours %v, library %v", p, line, ok, err)
				continue
			}
			params := map[string][]string{}
			for k, v := range want.ICalParameters {
				params[strings.ToUpper(k)] = v
			}
			if got.name != strings.ToUpper(want.IANAToken) || got.value != want.Value || len(got.params) != len(params) {
				t.Errorf("%s: %q:\n ours    %q %q %v\n library %q %q %v", p, line, got.name, got.value, got.params, want.IANAToken, want.Value, params)
			}
			n++
		}
		if len(u.lines) == 0 {
			t.Errorf("%s: no lines", p)
		}
	}
	if n < 3500 {
		t.Errorf("only %d lines compared", n)
	}
}

func TestICSDuration(t *testing.T) {
	tests := []struct {
		in    string
		exact time.Duration
		days  int
		bad   bool
	}{
		{in: "PT1H30M", exact: 90 * time.Minute},
		{in: "P2D", days: 2},
		{in: "P1W", days: 7},
		{in: "P1DT12H", exact: 12 * time.Hour, days: 1},
		{in: "-PT15M", exact: -15 * time.Minute},
		{in: "+PT10S", exact: 10 * time.Second},
		{in: "pt2h", exact: 2 * time.Hour},
		{in: "P", bad: true},
		{in: "PT", bad: true},
		{in: "P1H", bad: true},
		{in: "1H", bad: true},
		{in: "P9999999999D", bad: true},
	}
	for _, tt := range tests {
		exact, days, err := icsDuration(tt.in)
		if (err != nil) != tt.bad || exact != tt.exact || days != tt.days {
			t.Errorf("%q: %v %d %v", tt.in, exact, days, err)
		}
	}
}

// Splitting tolerates what real files do: a byte-order mark, CR-only or
// LF-only lines, an event outside any calendar, two calendars in one file,
// a calendar cut off inside an event.
func TestICSSplit(t *testing.T) {
	ev := func(uid string) string {
		return "BEGIN:VEVENT\nUID:" + uid + "\nDTSTART:20260901T100000Z\nEND:VEVENT\n"
	}
	tests := []struct {
		name   string
		data   string
		events []string // UIDs of complete VEVENTs
		broken int
		notICS bool
	}{
		{name: "bom and LF", data: "\ufeffBEGIN:VCALENDAR\n" + ev("a") + "END:VCALENDAR\n", events: []string{"a"}},
		{name: "CR only", data: strings.ReplaceAll("BEGIN:VCALENDAR\n"+ev("a")+ev("b")+"END:VCALENDAR\n", "\n", "\r"), events: []string{"a", "b"}},
		{name: "bare event", data: ev("a"), events: []string{"a"}},
		{name: "two calendars", data: "BEGIN:VCALENDAR\n" + ev("a") + "END:VCALENDAR\nBEGIN:VCALENDAR\n" + ev("b") + "END:VCALENDAR\n", events: []string{"a", "b"}},
		{name: "lower case", data: "begin:vcalendar\nbegin:vevent\nuid:a\nend:vevent\nend:vcalendar\n", events: []string{"a"}},
		{name: "calendar ends inside an event", data: "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nEND:VCALENDAR\n", broken: 1},
		{name: "timezone cut off", data: "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\n" + ev("a") + "END:VCALENDAR\n", events: []string{"a"}, broken: 1},
		{name: "alarm inside", data: "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nBEGIN:VALARM\nUID:alarm\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n", events: []string{"a"}},
		{name: "empty", data: "\n\n", notICS: true},
		{name: "json", data: `{"items": []}`, notICS: true},
		{name: "vcard", data: "BEGIN:VCARD\nEND:VCARD\n", notICS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := icsSplit([]byte(tt.data))
			if (res.notICS != "") != tt.notICS {
				t.Fatalf("notICS %q", res.notICS)
			}
			var uids []string
			broken := 0
			for _, c := range res.comps {
				if c.broken != "" {
					broken++
					continue
				}
				uids = append(uids, icsUID(c.raw))
			}
			if !slices.Equal(uids, tt.events) || broken != tt.broken {
				t.Errorf("events %v, %d broken; want %v, %d", uids, broken, tt.events, tt.broken)
			}
		})
	}
}

// Rules that would keep rrule-go busy for ever, or for centuries, are
// refused or bounded, quickly.
func TestICSRecurrenceGuards(t *testing.T) {
	lisbon := mustZone(t, "Europe/Lisbon")
	w := icsWindow{since: utcAt("2026-01-01T00:00:00Z"), until: utcAt("2027-01-01T00:00:00Z"), max: 5000}
	tests := []struct {
		rule    string
		start   time.Time
		n       int // instances, -1: refused
		maxTime time.Duration
	}{
		{"FREQ=HOURLY;INTERVAL=24;BYHOUR=3", time.Date(2026, 1, 1, 9, 0, 0, 0, lisbon), -1, time.Second},
		{"FREQ=MINUTELY;INTERVAL=60;BYMINUTE=5", time.Date(2026, 1, 1, 9, 0, 0, 0, lisbon), -1, time.Second},
		// Reachable: 01:01:01 comes round every 7 days.
		{"FREQ=SECONDLY;INTERVAL=7;BYHOUR=1;BYMINUTE=1;BYSECOND=1", time.Date(2026, 1, 1, 9, 0, 0, 0, lisbon), 53, 2 * time.Second},
		{"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", time.Date(2026, 1, 1, 9, 0, 0, 0, lisbon), -1, time.Second},
		{"FREQ=SECONDLY", time.Date(1990, 1, 1, 9, 0, 0, 0, lisbon), 5000, 5 * time.Second},
		{"FREQ=MINUTELY;INTERVAL=7", time.Date(2001, 1, 1, 9, 0, 0, 0, lisbon), 5000, 5 * time.Second},
		{"FREQ=DAILY;INTERVAL=3", time.Date(1900, 1, 1, 9, 0, 0, 0, lisbon), 121, time.Second},
		{"FREQ=MONTHLY;BYMONTHDAY=31", time.Date(1500, 1, 31, 9, 0, 0, 0, lisbon), 7, time.Second},
		{"FREQ=YEARLY;COUNT=2000000000", time.Date(1, 1, 1, 9, 0, 0, 0, lisbon), 1, 5 * time.Second},
		{"FREQ=WEEKLY;X-EVOLUTION-ENDDATE=20301231T000000Z;BYDAY=MO", time.Date(2026, 12, 1, 9, 0, 0, 0, lisbon), 5, time.Second},
		{"BYDAY=MO", time.Date(2026, 12, 1, 9, 0, 0, 0, lisbon), -1, time.Second},
	}
	for _, tt := range tests {
		v := &icsVEvent{rrule: tt.rule, start: tt.start, loc: lisbon, exact: time.Hour, zone: func(time.Time) string { return "" }}
		v.ev.Start = tt.start
		began := time.Now()
		occ, _, err := v.occurrences(w)
		took := time.Since(began)
		switch {
		case tt.n < 0 && err == nil:
			t.Errorf("%s: %d instances, want it refused", tt.rule, len(occ))
		case tt.n >= 0 && (err != nil || len(occ) != tt.n):
			t.Errorf("%s: %d instances (%v), want %d", tt.rule, len(occ), err, tt.n)
		}
		if took > tt.maxTime {
			t.Errorf("%s: took %v", tt.rule, took)
		}
	}
}

// bigICS writes a Google-style export of n events: mostly single events
// with a booking's title and description, some all-day, and a weekly
// series every 500 events.
func bigICS(n int) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nX-WR-CALNAME:Big\r\nX-WR-TIMEZONE:Europe/Lisbon\r\n")
	base := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		start := base.Add(time.Duration(i%4000) * 3 * time.Hour)
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\n")
		switch {
		case i%500 == 499:
			fmt.Fprintf(&b, "DTSTART;TZID=Europe/Lisbon:%s\r\nDTEND;TZID=Europe/Lisbon:%s\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n",
				start.Format("20060102T150405"), start.Add(time.Hour).Format("20060102T150405"))
		case i%10 == 9:
			fmt.Fprintf(&b, "DTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\n", start.Format("20060102"), start.AddDate(0, 0, 3).Format("20060102"))
		default:
			fmt.Fprintf(&b, "DTSTART:%s\r\nDTEND:%s\r\n", start.Format("20060102T150405Z"), start.Add(50*time.Hour).Format("20060102T150405Z"))
		}
		fmt.Fprintf(&b, "DTSTAMP:20261119T114632Z\r\nORGANIZER;CN=Reservas:mailto:reservas@big.example\r\nUID:big%07d@google.com\r\n", i)
		fmt.Fprintf(&b, "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Cliente %d;X-NUM-GUESTS=0:mailto:cliente%d@example.com\r\n", i, i)
		fmt.Fprintf(&b, "CREATED:20260711T132758Z\r\nDESCRIPTION:Ref: BG-%05d\\nTel: +351 911 %03d %03d\\nEmail: cliente%d@example.com\\nExtras: Cadeira de\r\n  criança\\, GPS\r\n", i, i%1000, i%997, i)
		fmt.Fprintf(&b, "LAST-MODIFIED:20260711T132758Z\r\nLOCATION:Loja\\, Avenida Infante D. Henrique 1\\, 1100-105 Lisboa\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\n")
		fmt.Fprintf(&b, "SUMMARY:BG-%05d · Cliente %d · Carro %d\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\n", i, i, i%40)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

// A 50 MB export is read, all of it, in seconds.
func TestICSLargeFile(t *testing.T) {
	one := len(bigICS(1))
	n := 50<<20/(one-150) + 1
	data := bigICS(n)
	if len(data) < 50<<20 {
		t.Fatalf("generated only %d bytes", len(data))
	}
	lisbon := mustZone(t, "Europe/Lisbon")
	began := time.Now()
	order := 0
	read, err := readICS(context.Background(), data, "big.ics", icsReadOptions{caseLoc: lisbon, caseZone: "Europe/Lisbon"}, &order, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	set := newICSSet()
	set.add(read.events)
	res := set.resolve(icsWindow{since: utcAt("2026-01-01T00:00:00Z"), until: utcAt("2028-01-01T00:00:00Z"), max: 5000})
	took := time.Since(began)
	series := n / 500
	if len(read.events) != n || len(read.rejects) != 0 || len(res.outs) != n-series+10*series {
		t.Errorf("%d events read, %d rejected, %d records; want %d, 0, %d", len(read.events), len(read.rejects), len(res.outs), n, n-series+10*series)
	}
	// How fast is BenchmarkICSParse's to say (make bench): a time limit
	// here failed CI on a slow machine under the race detector.
	t.Logf("%d bytes, %d events: read and resolved in %v (%.0f events/s)", len(data), n, took, float64(n)/took.Seconds())
}
