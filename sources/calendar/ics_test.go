package calendar

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
	gcalapi "google.golang.org/api/calendar/v3"
)

const (
	icsScenario = "../../fixtures/scenario"
	icsTestdata = "testdata/ics"
)

// icsHarness runs imports into one case, as the command line does: the
// case's zone is Europe/Lisbon, its last backup 2026-08-20, and it is
// 2026-11-19, so the default window for recurring events is 2026-05-22
// (02:00 UTC) to 2027-12-01.
type icsHarness struct {
	t     testing.TB
	store *evidence.Store
	logs  bytes.Buffer
	now   time.Time
}

func newICSHarness(t testing.TB) *icsHarness {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	cfg.Case.LastBackup = time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &icsHarness{t: t, store: s, now: time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC)}
}

// run imports with the given flags and arguments; it returns what was
// committed and the importer's error.
func (h *icsHarness) run(ctx context.Context, im sources.Importer, args ...string) (evidence.Counts, error) {
	h.t.Helper()
	fs := pflag.NewFlagSet(im.Name(), pflag.ContinueOnError)
	im.Flags(fs)
	if err := fs.Parse(args); err != nil {
		h.t.Fatal(err)
	}
	job, err := h.store.StartJob(ctx, im.Name(), im.Source(), args)
	if err != nil {
		h.t.Fatal(err)
	}
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	err = im.Import(ctx, &sources.Run{
		Args: fs.Args(), Config: h.store.Config(), Sink: sink, Progress: sources.NoProgress,
		Log:    slog.New(slog.NewTextHandler(&h.logs, nil)),
		Getenv: func(string) string { return "" }, Now: func() time.Time { return h.now },
	})
	if ferr := sink.Flush(context.WithoutCancel(ctx)); ferr != nil {
		h.t.Fatal(ferr)
	}
	status := evidence.JobDone
	if err != nil {
		status = evidence.JobFailed
	}
	h.store.FinishJob(context.Background(), job, status, err)
	return sink.Counts(), err
}

func (h *icsHarness) mustRun(im sources.Importer, args ...string) evidence.Counts {
	h.t.Helper()
	c, err := h.run(context.Background(), im, args...)
	if err != nil {
		h.t.Fatalf("import %v: %v\n%s", args, err, h.logs.String())
	}
	return c
}

// records returns the newest version of every record, by id.
func (h *icsHarness) records() map[string]evidence.Record {
	h.t.Helper()
	out := map[string]evidence.Record{}
	for r, err := range h.store.Records(context.Background(), evidence.Query{WithRaw: true}) {
		if err != nil {
			h.t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

// versions returns every version of id, oldest first.
func (h *icsHarness) versions(id string) []evidence.Record {
	h.t.Helper()
	var out []evidence.Record
	for r, err := range h.store.Records(context.Background(), evidence.Query{AllVersions: true}) {
		if err != nil {
			h.t.Fatal(err)
		}
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (h *icsHarness) rejected() []evidence.Rejected {
	h.t.Helper()
	rs, err := h.store.RejectedInputs(context.Background(), true)
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func utcAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantEvent is what one record must say. Times are exact instants.
type wantEvent struct {
	id         string
	start, end string // RFC 3339, UTC
	allDay     bool
	zone       string
	status     evidence.Status
	summary    string
}

func checkRecord(t *testing.T, recs map[string]evidence.Record, w wantEvent) {
	t.Helper()
	r, ok := recs[w.id]
	if !ok {
		t.Errorf("%s: not imported", w.id)
		return
	}
	f := r.Facts
	if f.Start == nil || f.End == nil {
		t.Errorf("%s: no start or end", w.id)
		return
	}
	if !f.Start.Equal(utcAt(w.start)) || !f.End.Equal(utcAt(w.end)) {
		t.Errorf("%s: %s → %s, want %s → %s", w.id, f.Start.UTC().Format(time.RFC3339), f.End.UTC().Format(time.RFC3339), w.start, w.end)
	}
	if f.AllDay != w.allDay || f.Zone != w.zone || r.Zone != w.zone {
		t.Errorf("%s: all day %v zone %q (record %q), want %v %q", w.id, f.AllDay, f.Zone, r.Zone, w.allDay, w.zone)
	}
	if w.status != "" && f.Status != w.status {
		t.Errorf("%s: status %s, want %s", w.id, f.Status, w.status)
	}
	if r.Source != evidence.Calendar || r.Via != "ics" || r.Kind != "event" {
		t.Errorf("%s: source %s via %s kind %s", w.id, r.Source, r.Via, r.Kind)
	}
	if !bytes.HasPrefix(r.Raw, []byte("BEGIN:VEVENT")) || !bytes.HasSuffix(bytes.TrimRight(r.Raw, "\r\n"), []byte("END:VEVENT")) {
		t.Errorf("%s: raw is not the VEVENT: %.60q…", w.id, r.Raw)
	}
	if w.summary != "" && !bytes.Contains(icsUnfoldForTest(r.Raw), []byte(w.summary)) {
		t.Errorf("%s: raw has no %q", w.id, w.summary)
	}
}

// icsUnfoldForTest undoes folding, to look for text in raw bytes.
func icsUnfoldForTest(raw []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n "), nil), []byte("\n "), nil)
}

const outlookUID = "040000008200E00074C5B7101A82E00800000000%s000000000000000010000000C4E8E8B1F1B5A94A9C6F5D0C8E8D2A11"

func outlookID(part string, rec ...string) string {
	id := "ics:" + fmt.Sprintf(outlookUID, part)
	for _, r := range rec {
		id += ":" + r
	}
	return id
}

// Every sample export gives its events at the exact instants, in the
// right zones, with recurring events expanded and overrides in place.
func TestICSSamples(t *testing.T) {
	tests := []struct {
		file    string
		records int
		want    []wantEvent
		absent  []string
	}{{
		file:    "google.ics",
		records: 11, // 3 single events, 7 generated instances, 1 override
		want: []wantEvent{
			{id: "ics:4k2m9q7r1s3t5v8w0x6y2z4a1b@google.com", start: "2026-09-02T08:00:00Z", end: "2026-09-02T17:00:00Z", zone: "Europe/Lisbon", status: evidence.Confirmed},
			// All-day: midnight in the case's zone (summer time: 23:00 UTC the day before).
			{id: "ics:7c1d3e5f7g9h1j3k5l7m9n1p3q@google.com", start: "2026-09-14T23:00:00Z", end: "2026-09-16T23:00:00Z", allDay: true, zone: "Europe/Lisbon"},
			// 01:30 on 2026-10-25 happens twice in Lisbon: the first (WEST, +01:00) is meant.
			{id: "ics:9d8c7b6a5f4e3d2c1b0a9z8y7x@google.com", start: "2026-10-25T00:30:00Z", end: "2026-10-25T02:30:00Z", zone: "Europe/Lisbon", status: evidence.Requested},
			// The weekly series keeps 18:00 local across the change of time.
			{id: "ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20260921T170000Z", start: "2026-09-21T17:00:00Z", end: "2026-09-21T18:30:00Z", zone: "Europe/Lisbon"},
			{id: "ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261019T170000Z", start: "2026-10-19T17:00:00Z", end: "2026-10-19T18:30:00Z", zone: "Europe/Lisbon"},
			{id: "ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261102T180000Z", start: "2026-11-02T18:00:00Z", end: "2026-11-02T19:30:00Z", zone: "Europe/Lisbon"},
			// The override moves 26 October to 19:00 and replaces the generated instance.
			{id: "ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261026T180000Z", start: "2026-10-26T19:00:00Z", end: "2026-10-26T20:30:00Z", zone: "Europe/Lisbon", summary: "(às 19h)"},
		},
		absent: []string{
			"ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261005T170000Z", // EXDATE
			"ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261123T180000Z", // after UNTIL
			"ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com",                  // the master itself
		},
	}, {
		file:    "outlook.ics",
		records: 11,
		want: []wantEvent{
			// "W. Europe Standard Time" is Europe/Berlin: CEST in July.
			{id: outlookID("10A8F3D6A12BDC01"), start: "2026-07-10T07:30:00Z", end: "2026-07-10T09:00:00Z", zone: "Europe/Berlin"},
			// "GMT Standard Time" is Europe/London: BST in August, GMT in late October.
			{id: outlookID("2B7C9E0F113BDC01"), start: "2026-08-20T08:00:00Z", end: "2026-08-20T09:00:00Z", zone: "Europe/London"},
			{id: outlookID("3C8D0A1B224BDC01"), start: "2026-10-26T09:00:00Z", end: "2026-10-26T09:30:00Z", zone: "Europe/London"},
			// New York, 2026-11-01 01:30 happens twice: the first is EDT (-04:00);
			// the end, 02:30, exists once, in EST.
			{id: outlookID("4D9E1B2C335BDC01"), start: "2026-11-01T05:30:00Z", end: "2026-11-01T07:30:00Z", zone: "America/New_York"},
			// 2026-03-08 02:30 does not exist in New York: read with the offset before the gap (EST).
			{id: outlookID("5E0F2C3D446BDC01"), start: "2026-03-08T07:30:00Z", end: "2026-03-08T07:30:00Z", zone: "America/New_York"},
			// Weekly, COUNT=6, two EXDATEs in one comma-separated line, one override.
			{id: outlookID("6F1A3D4E557BDC01", "20260914T080000Z"), start: "2026-09-14T08:00:00Z", end: "2026-09-14T08:30:00Z", zone: "Europe/Berlin"},
			{id: outlookID("6F1A3D4E557BDC01", "20260928T080000Z"), start: "2026-09-28T12:30:00Z", end: "2026-09-28T13:00:00Z", zone: "Europe/Berlin", summary: "(adiada)"},
			{id: outlookID("6F1A3D4E557BDC01", "20261019T080000Z"), start: "2026-10-19T08:00:00Z", end: "2026-10-19T08:30:00Z", zone: "Europe/Berlin"},
			// "Customized Time Zone" is only in the file's VTIMEZONE: -03:00,
			// then -02:00 from the first Sunday of October.
			{id: outlookID("7A2B4E5F668BDC01"), start: "2026-10-03T15:00:00Z", end: "2026-10-03T16:00:00Z", zone: "-03:00"},
			{id: outlookID("8B3C5F60779BDC01"), start: "2026-10-05T14:00:00Z", end: "2026-10-05T15:00:00Z", zone: "-02:00"},
		},
		absent: []string{outlookID("6F1A3D4E557BDC01", "20260921T080000Z"), outlookID("6F1A3D4E557BDC01", "20261005T080000Z")},
	}, {
		file:    "apple.ics",
		records: 3,
		want: []wantEvent{
			// Floating: the case's zone.
			{id: "ics:5F9C2A7E-1B3D-4E6F-8A0B-2C4D6E8F0A1B", start: "2026-09-05T09:00:00Z", end: "2026-09-05T10:30:00Z", zone: "Europe/Lisbon"},
			{id: "ics:8E1F3A5C-7D9B-4F2E-9C1A-3B5D7F9E1C3A", start: "2026-11-01T00:00:00Z", end: "2026-11-02T00:00:00Z", allDay: true, zone: "Europe/Lisbon"},
			{id: "ics:C3A5E7F9-1B2D-4C6E-8F0A-2B4D6F8A0C2E", start: "2026-09-12T14:00:00Z", end: "2026-09-12T16:00:00Z", zone: "Europe/Lisbon"},
		},
	}, {
		file:    "recurring.ics",
		records: 4 + 4 + 3 + 2 + 3 + 1 + 558, // the daily event with no end: every day of the window
		want: []wantEvent{
			// RRULE COUNT=4, two RDATEs, two EXDATEs in one line.
			{id: "ics:rdate-exdate@vela.example:20260907T080000Z", start: "2026-09-07T08:00:00Z", end: "2026-09-07T10:00:00Z", zone: "Europe/Lisbon"},
			{id: "ics:rdate-exdate@vela.example:20260912T140000Z", start: "2026-09-12T14:00:00Z", end: "2026-09-12T16:00:00Z", zone: "Europe/Lisbon"},
			{id: "ics:rdate-exdate@vela.example:20260919T140000Z", start: "2026-09-19T14:00:00Z", end: "2026-09-19T16:00:00Z", zone: "Europe/Lisbon"},
			{id: "ics:rdate-exdate@vela.example:20260928T080000Z", start: "2026-09-28T08:00:00Z", end: "2026-09-28T10:00:00Z", zone: "Europe/Lisbon"},
			// All-day weekly: ids are dates; an EXDATE'd day is absent; a
			// cancelled override is kept, cancelled.
			{id: "ics:allday-weekly@vela.example:20260903", start: "2026-09-02T23:00:00Z", end: "2026-09-03T23:00:00Z", allDay: true, zone: "Europe/Lisbon", status: evidence.Confirmed},
			{id: "ics:allday-weekly@vela.example:20260924", start: "2026-09-23T23:00:00Z", end: "2026-09-24T23:00:00Z", allDay: true, zone: "Europe/Lisbon", status: evidence.Cancelled},
			{id: "ics:allday-weekly@vela.example:20261001", start: "2026-09-30T23:00:00Z", end: "2026-10-01T23:00:00Z", allDay: true, zone: "Europe/Lisbon"},
			// The moved instance: its id is its original start.
			{id: "ics:moved@vela.example:20260915T130000Z", start: "2026-09-16T15:00:00Z", end: "2026-09-16T17:00:00Z", zone: "Europe/Lisbon", summary: "(quarta)"},
			{id: "ics:moved@vela.example:20260922T130000Z", start: "2026-09-22T13:00:00Z", end: "2026-09-22T15:00:00Z", zone: "Europe/Lisbon"},
			// RDATE;VALUE=PERIOD: its own length.
			{id: "ics:period@vela.example:20261010T100000Z", start: "2026-10-10T10:00:00Z", end: "2026-10-10T13:00:00Z"},
			// A zone known only from its VTIMEZONE, across its change of time.
			{id: "ics:coastal@vela.example:20261003T150000Z", start: "2026-10-03T15:00:00Z", end: "2026-10-03T16:30:00Z", zone: "-03:00"},
			{id: "ics:coastal@vela.example:20261010T140000Z", start: "2026-10-10T14:00:00Z", end: "2026-10-10T15:30:00Z", zone: "-02:00"},
			// A TZID that is no IANA name, with X-LIC-LOCATION.
			{id: "ics:liclocation@vela.example", start: "2026-08-15T09:00:00Z", end: "2026-08-15T11:00:00Z", zone: "Europe/Lisbon"},
			// No end: only the window (2026-05-22T02:00Z to 2027-12-01T00:00Z).
			{id: "ics:daily-no-end@vela.example:20260522T080000Z", start: "2026-05-22T08:00:00Z", end: "2026-05-22T08:15:00Z"},
			{id: "ics:daily-no-end@vela.example:20271130T080000Z", start: "2027-11-30T08:00:00Z", end: "2027-11-30T08:15:00Z"},
		},
		absent: []string{
			"ics:rdate-exdate@vela.example:20260914T080000Z", "ics:rdate-exdate@vela.example:20260921T080000Z",
			"ics:allday-weekly@vela.example:20260917", "ics:moved@vela.example:20260929T130000Z",
			"ics:daily-no-end@vela.example:20260521T080000Z", "ics:daily-no-end@vela.example:20271201T080000Z",
			"ics:daily-no-end@vela.example:20200101T080000Z",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := newICSHarness(t)
			c := h.mustRun(NewICS(), filepath.Join(icsTestdata, tt.file))
			if c.New != int64(tt.records) || c.Rejected != 0 || c.NewVersion != 0 {
				t.Errorf("counts %+v, want %d new", c, tt.records)
			}
			recs := h.records()
			for _, w := range tt.want {
				checkRecord(t, recs, w)
			}
			for _, id := range tt.absent {
				if _, ok := recs[id]; ok {
					t.Errorf("%s imported; it should not be", id)
				}
			}
		})
	}
}

// What the Outlook and Apple exports carry besides times: escaped text,
// attendees, X- properties, the calendar's name, a reference from a
// property.
func TestICSFields(t *testing.T) {
	h := newICSHarness(t)
	h.mustRun(NewICS(), filepath.Join(icsTestdata, "google.ics"), filepath.Join(icsTestdata, "outlook.ics"), filepath.Join(icsTestdata, "apple.ics"))
	recs := h.records()

	g := recs["ics:4k2m9q7r1s3t5v8w0x6y2z4a1b@google.com"]
	if g.Facts.Ref != "RB-1001" || g.Facts.Email != "joana.prates@example.com" || g.Facts.Attrs["calendar"] != "Reservas – Ria Bikes" ||
		g.Facts.Attrs["location"] != "Ria Bikes, Rua do Cais 12, 8700-000 Olhão" || g.Facts.Attrs["google_id"] != "4k2m9q7r1s3t5v8w0x6y2z4a1b" {
		t.Errorf("google event facts: %+v", g.Facts)
	}
	inst := recs["ics:2a4b6c8d0e2f4g6h8j0k2m4n6p@google.com:20261026T180000Z"]
	if inst.Facts.Attrs["google_id"] != "2a4b6c8d0e2f4g6h8j0k2m4n6p_20261026T180000Z" || inst.Facts.Attrs["recurring_event_id"] != "2a4b6c8d0e2f4g6h8j0k2m4n6p" {
		t.Errorf("instance ids: %v", inst.Facts.Attrs)
	}
	o := recs[outlookID("10A8F3D6A12BDC01")]
	if o.Facts.Ref != "LA-2207" || o.Facts.Attrs["rule.ref"] != "property booking_ref" || o.Facts.Email != "h.lindqvist@example.se" {
		t.Errorf("outlook event facts: %+v", o.Facts)
	}
	if okafor := recs[outlookID("7A2B4E5F668BDC01")]; okafor.Facts.Email != "chidi.okafor@example.ng" {
		t.Errorf("attendee email not lower-cased: %q", okafor.Facts.Email)
	}
	a := recs["ics:C3A5E7F9-1B2D-4C6E-8F0A-2B4D6F8A0C2E"]
	if a.Facts.Ref != "AS-5540" || a.Facts.Email != "oliver.grant@example.co.uk" || a.Facts.Attrs["calendar"] != "Atelier Sal & Sol" {
		t.Errorf("apple event facts: %+v", a.Facts)
	}

	// --calendar names the calendar.
	h2 := newICSHarness(t)
	h2.mustRun(NewICS(), "--calendar", "Frota – Olhão", filepath.Join(icsTestdata, "apple.ics"))
	if r := h2.records()["ics:C3A5E7F9-1B2D-4C6E-8F0A-2B4D6F8A0C2E"]; r.Facts.Attrs["calendar"] != "Frota – Olhão" {
		t.Errorf("--calendar: %v", r.Facts.Attrs)
	}

	// The same, read directly: the Event fields.
	events := readTestEvents(t, "google.ics")
	e := events["ics:4k2m9q7r1s3t5v8w0x6y2z4a1b@google.com"]
	if want := "Ref: RB-1001\nEmail: joana.prates@example.com\nExtras: capacete, cadeado; seguro\\premium\nNotas: levanta na loja às 9h, devolve às 18h"; e.Description != want {
		t.Errorf("description %q\nwant        %q", e.Description, want)
	}
	if e.Organizer != "c_7f3a0d9e4b2c41d5a8e6f1b3c9d2e4a1@group.calendar.google.com" || !slices.Equal(e.Attendees, []string{"joana.prates@example.com"}) {
		t.Errorf("organizer %q attendees %v (a resource is not an attendee)", e.Organizer, e.Attendees)
	}
	if e.Sequence != 0 || !e.Updated.Equal(utcAt("2026-08-15T09:12:03Z")) || !e.Created.Equal(utcAt("2026-08-15T09:12:00Z")) {
		t.Errorf("sequence %d updated %v created %v", e.Sequence, e.Updated, e.Created)
	}
	out := readTestEvents(t, "outlook.ics")[outlookID("10A8F3D6A12BDC01")]
	if out.Properties["microsoft_cdo_busystatus"] != "BUSY" || out.Properties["booking_ref"] != "LA-2207" ||
		!strings.Contains(out.Properties["alt_desc"], "<b>LA-2207</b> – quarto duplo com vista para o lago, pequeno-almoço") {
		t.Errorf("outlook properties: %v", out.Properties)
	}
	ap := readTestEvents(t, "apple.ics")["ics:5F9C2A7E-1B3D-4E6F-8A0B-2C4D6E8F0A1B"]
	if ap.Properties["apple_travel_advisory_behavior"] != "AUTOMATIC" || ap.Properties["apple_structured_location"] != "geo:37.125,-7.650" {
		t.Errorf("apple properties: %v", ap.Properties)
	}
	if ap.UID != "5F9C2A7E-1B3D-4E6F-8A0B-2C4D6E8F0A1B" || ap.Location != "Atelier Sal & Sol\nRua da Praia 3\n8800-000 Tavira\nPortugal" {
		t.Errorf("apple event: uid %q (not the alarm's) location %q", ap.UID, ap.Location)
	}
}

// readTestEvents parses a testdata file (no store) and returns its events
// by id, resolved as an import would.
func readTestEvents(t testing.TB, name string) map[string]Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(icsTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return parseForTest(t, data, name)
}

func parseForTest(t testing.TB, data []byte, name string) map[string]Event {
	t.Helper()
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	order := 0
	read, err := readICS(context.Background(), data, name, icsReadOptions{caseLoc: lisbon, caseZone: "Europe/Lisbon"}, &order, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	set := newICSSet()
	set.add(read.events)
	res := set.resolve(icsWindow{since: utcAt("2026-05-22T02:00:00Z"), until: utcAt("2027-11-19T12:00:00Z"), max: 5000})
	out := map[string]Event{}
	for _, o := range res.outs {
		out[o.ev.ID()] = o.ev
	}
	return out
}

// Broken files: what can be read is imported, what cannot is rejected with
// its reason and its bytes, and the import goes on.
func TestICSBrokenFiles(t *testing.T) {
	tests := []struct {
		file     string
		imported []string
		rejected []string // reasons, as regular expressions, in order
		check    func(t *testing.T, recs map[string]evidence.Record)
	}{
		{file: "unknown-tzid.ics", imported: []string{"ics:ok-1@broken.example"},
			rejected: []string{`DTSTART: unknown time zone "Mars/Olympus_Mons": not an IANA or Windows zone name, and the file has no VTIMEZONE for it`}},
		{file: "dtend-before-dtstart.ics", imported: []string{"ics:ok-2@broken.example"},
			rejected: []string{`DTEND 20260910T090000Z is before DTSTART 20260910T100000Z`}},
		{file: "nul.ics", imported: []string{"ics:ok-3@broken.example", "ics:ok-4@broken.example"},
			rejected: []string{`NUL byte at line 6: the file is damaged here`}},
		{file: "truncated.ics", imported: []string{"ics:ok-5@broken.example"},
			rejected: []string{`truncated: the file ends before this VEVENT's END:VEVENT`}},
		{file: "not-ics.ics", rejected: []string{`not iCalendar: the file starts with "<!DOCTYPE html>", not BEGIN:VCALENDAR`}},
		{file: "bad-values.ics", imported: []string{"ics:ok-6@broken.example"},
			rejected: []string{
				`DTSTART: date "20261345T100000Z": want YYYYMMDD`,
				`^no UID$`,
				`RRULE "FREQ=HOURLY;INTERVAL=24;BYHOUR=3": its INTERVAL never reaches`,
				`truncated: BEGIN:VEVENT at line 30 before this event's END:VEVENT`,
			}},
		{file: "folding.ics", imported: []string{"ics:folding@broken.example"}, check: func(t *testing.T, recs map[string]evidence.Record) {
			e := readTestEvents(t, "broken/folding.ics")["ics:folding@broken.example"]
			if e.Description != "Ref: BF-7781\nEmail: ana.guerreiro@example.pt\nNotas: traz colete salva-vidas" || e.Location != "Cais do Barreiro" {
				t.Errorf("repaired folding: description %q location %q", e.Description, e.Location)
			}
			if r := recs["ics:folding@broken.example"]; r.Facts.Email != "ana.guerreiro@example.pt" || r.Facts.Ref != "BF-7781" {
				t.Errorf("facts from the repaired text: %+v", r.Facts)
			}
		}},
		{file: "latin1.ics", imported: []string{"ics:latin1@broken.example"}, check: func(t *testing.T, recs map[string]evidence.Record) {
			e := readTestEvents(t, "broken/latin1.ics")["ics:latin1@broken.example"]
			if e.Summary != "Jantar – João Gonçalves" || e.Description != "Café incluído\nSinal: € 50" {
				t.Errorf("Windows-1252 text: %q %q", e.Summary, e.Description)
			}
			if r := recs["ics:latin1@broken.example"]; !bytes.Contains(r.Raw, []byte("Jo\xe3o")) {
				t.Errorf("raw bytes not kept as they were")
			}
		}},
		{file: "rrule-no-end.ics", check: func(t *testing.T, recs map[string]evidence.Record) {
			// Weekly since 2020 with no end: Wednesdays of the window only.
			n := 0
			for id := range recs {
				if strings.HasPrefix(id, "ics:weekly-forever@broken.example:") {
					n++
				}
			}
			if n != 79 {
				t.Errorf("%d instances, want the 79 Wednesdays from 2026-05-27 to 2027-11-24", n)
			}
			checkRecord(t, recs, wantEvent{id: "ics:weekly-forever@broken.example:20261028T100000Z", start: "2026-10-28T10:00:00Z", end: "2026-10-28T11:00:00Z", zone: "Europe/Lisbon"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := newICSHarness(t)
			path := filepath.Join(icsTestdata, "broken", tt.file)
			c, err := h.run(context.Background(), NewICS(), path)
			if err != nil {
				t.Fatalf("import failed instead of going on: %v", err)
			}
			recs := h.records()
			for _, id := range tt.imported {
				if _, ok := recs[id]; !ok {
					t.Errorf("%s not imported", id)
				}
			}
			rej := h.rejected()
			if c.Rejected != int64(len(tt.rejected)) || len(rej) != len(tt.rejected) {
				t.Fatalf("%d rejected (%v), want %d", c.Rejected, rej, len(tt.rejected))
			}
			slices.SortFunc(rej, func(a, b evidence.Rejected) int { return strings.Compare(lineOf(a.Locator), lineOf(b.Locator)) })
			for i, re := range tt.rejected {
				r := rej[i]
				if !regexp.MustCompile(re).MatchString(r.Reason) {
					t.Errorf("reason %q, want %s", r.Reason, re)
				}
				if r.Via != "ics" || r.Source != evidence.Calendar || !strings.HasPrefix(r.Locator, path) || len(r.Raw) == 0 {
					t.Errorf("rejected %+v", r)
				}
				if tt.file != "not-ics.ics" && !bytes.HasPrefix(r.Raw, []byte("BEGIN:VEVENT")) {
					t.Errorf("rejected raw is not the VEVENT: %.40q", r.Raw)
				}
			}
			if tt.check != nil {
				tt.check(t, recs)
			}
		})
	}
}

func lineOf(locator string) string {
	_, l, _ := strings.Cut(locator, "line=")
	return strings.Repeat("0", max(0, 6-len(l))) + l
}

// Versions of one event in one file or several: every version is kept,
// and the newest SEQUENCE (then LAST-MODIFIED) is the latest, whatever the
// order the files are given in.
func TestICSSequenceNewestWins(t *testing.T) {
	a, b := filepath.Join(icsTestdata, "sequence-a.ics"), filepath.Join(icsTestdata, "sequence-b.ics")
	for _, order := range [][]string{{a, b}, {b, a}} {
		t.Run(filepath.Base(order[0]), func(t *testing.T) {
			h := newICSHarness(t)
			c := h.mustRun(NewICS(), order...)
			if c.New != 2 || c.NewVersion != 3 {
				t.Errorf("counts %+v: want 2 new ids and 3 later versions", c)
			}
			vs := h.versions("ics:kayak-2291@canoas.example")
			if len(vs) != 3 {
				t.Fatalf("%d versions", len(vs))
			}
			for i, want := range []string{"0", "1", "2"} {
				if got := vs[i].Facts.Attrs["sequence"]; got != want && !(want == "0" && got == "") {
					t.Errorf("version %d has SEQUENCE %q, want %s", i+1, got, want)
				}
			}
			latest := h.records()["ics:kayak-2291@canoas.example"]
			if latest.Facts.Status != evidence.Cancelled || !latest.Facts.Start.Equal(utcAt("2026-09-20T09:00:00Z")) {
				t.Errorf("latest version: %+v", latest.Facts)
			}
			// Same SEQUENCE: the newer LAST-MODIFIED wins.
			sup := h.records()["ics:sup-3310@canoas.example"]
			if !sup.Facts.Start.Equal(utcAt("2026-10-02T15:00:00Z")) {
				t.Errorf("sup: latest starts %v, want the 15:00 version", sup.Facts.Start)
			}
		})
	}
}

// The window flags bound the expansion; --max-instances caps it.
func TestICSWindowFlags(t *testing.T) {
	h := newICSHarness(t)
	c := h.mustRun(NewICS(), "--since", "2026-09-01", "--until", "2026-09-11", filepath.Join(icsTestdata, "recurring.ics"))
	recs := h.records()
	var daily []string
	for id := range recs {
		if strings.HasPrefix(id, "ics:daily-no-end@vela.example:") {
			daily = append(daily, id)
		}
	}
	slices.Sort(daily)
	// Lisbon midnight of 1 September is 31 August 23:00 UTC; 11 September
	// midnight is 10 September 23:00 UTC.
	if len(daily) != 10 || daily[0] != "ics:daily-no-end@vela.example:20260901T080000Z" || daily[9] != "ics:daily-no-end@vela.example:20260910T080000Z" {
		t.Errorf("daily instances %v", daily)
	}
	// The override outside the window is still imported; single events too.
	if _, ok := recs["ics:allday-weekly@vela.example:20260924"]; !ok {
		t.Error("an override outside the window was dropped")
	}
	if _, ok := recs["ics:liclocation@vela.example"]; !ok {
		t.Error("a single event outside the window was dropped")
	}
	if c.Rejected != 0 {
		t.Errorf("counts %+v", c)
	}

	h = newICSHarness(t)
	c = h.mustRun(NewICS(), "--max-instances", "5", filepath.Join(icsTestdata, "recurring.ics"))
	n := 0
	for id := range h.records() {
		if strings.HasPrefix(id, "ics:daily-no-end@vela.example:") {
			n++
		}
	}
	if n != 5 || c.Ignored != 1 || !strings.Contains(h.logs.String(), "more than 5 instances in the window") {
		t.Errorf("%d daily instances, counts %+v; logs:\n%s", n, c, h.logs.String())
	}

	for _, bad := range [][]string{{"--since", "2027-01-01", "--until", "2026-01-01"}, {"--since", "yesterday"}, {"--max-size", "lots"}, {"--max-instances", "0"}} {
		_, err := newICSHarness(t).run(context.Background(), NewICS(), append(bad, filepath.Join(icsTestdata, "google.ics"))...)
		if !errors.Is(err, sources.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

// A folder is read whole, every *.ics below it in lexical order; a file
// already imported with the same options is skipped next time.
func TestICSFolderAndCheckpoint(t *testing.T) {
	h := newICSHarness(t)
	c := h.mustRun(NewICS(), icsTestdata)
	if c.Rejected != 9 {
		t.Errorf("counts %+v: want the 9 rejections of the broken files", c)
	}
	first := c.New + c.NewVersion
	if first < 600 {
		t.Errorf("only %d records from the folder", first)
	}
	again := h.mustRun(NewICS(), icsTestdata)
	if again.New != 0 || again.NewVersion != 0 || again.Unchanged != 0 || again.Rejected != 0 {
		t.Errorf("second import %+v: every file should be skipped", again)
	}
	if n := strings.Count(h.logs.String(), "already imported with these options; skipped"); n != 15 {
		t.Errorf("%d files skipped, want all 15", n)
	}
	// Another window reads a file with recurring events again, and stores
	// nothing twice; a file without any is still skipped.
	h.logs.Reset()
	third := h.mustRun(NewICS(), "--until", "2027-11-20", filepath.Join(icsTestdata, "google.ics"), filepath.Join(icsTestdata, "apple.ics"))
	if third.New != 0 || third.NewVersion != 0 || third.Unchanged != 11 {
		t.Errorf("import with another window %+v", third)
	}
	if n := strings.Count(h.logs.String(), "already imported with these options; skipped"); n != 1 {
		t.Errorf("%d files skipped, want apple.ics", n)
	}
	if _, err := h.run(context.Background(), NewICS(), filepath.Join(icsTestdata, "missing.ics")); !errors.Is(err, sources.ErrUsage) {
		t.Errorf("missing file: %v", err)
	}
}

// URLs: one GET through the read-only client, size-capped; plain http only
// to this machine; secrets in the address never reach the case or the log.
func TestICSURL(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(icsTestdata, "google.ics"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		methods []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		switch {
		case r.UserAgent() != sources.UserAgent:
			http.Error(w, "no user agent", http.StatusBadRequest)
		case strings.HasSuffix(r.URL.Path, "/basic.ics"):
			w.Header().Set("Content-Type", "text/calendar; charset=UTF-8")
			w.Write(body)
		case strings.HasSuffix(r.URL.Path, "/big.ics"):
			w.Write(bytes.Repeat([]byte("X"), 4096))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	const secret = "private-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	u := srv.URL + "/calendar/ical/reservas%40ria.example/" + secret + "/basic.ics?token=hunter2hunter2"

	h := newICSHarness(t)
	c := h.mustRun(NewICS(), u)
	if c.New != 11 {
		t.Errorf("counts %+v", c)
	}
	for _, m := range methods {
		if m != http.MethodGet {
			t.Errorf("request with method %s", m)
		}
	}
	for id, r := range h.records() {
		if strings.Contains(r.Locator, "0a1b2c3d4e5f60718293a4b5c6d7e8f9") || strings.Contains(r.Locator, "hunter2") {
			t.Errorf("%s: locator %q holds the secret", id, r.Locator)
		}
		if !strings.HasPrefix(r.Locator, srv.URL+"/calendar/ical/reservas%40ria.example/private-…e8f9/basic.ics#") {
			t.Errorf("%s: locator %q", id, r.Locator)
		}
	}

	// Too big: rejected with the reason, the import goes on.
	h = newICSHarness(t)
	c, err = h.run(context.Background(), NewICS(), "--max-size", "3KiB", srv.URL+"/big.ics", filepath.Join(icsTestdata, "apple.ics"))
	if err != nil || c.Rejected != 1 || c.New != 3 {
		t.Errorf("too big: %+v %v", c, err)
	}
	if rej := h.rejected(); len(rej) != 1 || !strings.Contains(rej[0].Reason, "larger than --max-size") {
		t.Errorf("rejected %+v", rej)
	}
	// A file too big is refused before it is read.
	_, err = newICSHarness(t).run(context.Background(), NewICS(), "--max-size", "100", filepath.Join(icsTestdata, "apple.ics"))
	if err != nil {
		t.Errorf("too big file: %v", err)
	}

	// A 404: the error names the address without its secret; the other
	// inputs are still imported.
	h = newICSHarness(t)
	c, err = h.run(context.Background(), NewICS(), srv.URL+"/calendar/ical/x/"+secret+"/gone.ics", filepath.Join(icsTestdata, "apple.ics"))
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || strings.Contains(err.Error(), "0a1b2c3d4e5f607") || c.New != 3 {
		t.Errorf("404: %+v %v", c, err)
	}
	if strings.Contains(h.logs.String(), "0a1b2c3d4e5f607") {
		t.Errorf("the log holds the secret:\n%s", h.logs.String())
	}

	// Plain http to another machine is refused before anything is read.
	for _, arg := range []string{"http://calendar.example/cal.ics", "ftp://calendar.example/cal.ics"} {
		if _, err := newICSHarness(t).run(context.Background(), NewICS(), arg); !errors.Is(err, sources.ErrUsage) {
			t.Errorf("%s: %v, want a usage error", arg, err)
		}
	}
	// webcal:// is https://.
	in, err := NewICS().inputs([]string{"webcal://p12-caldav.icloud.example/published/2/MTIzNDU2Nzg5MDEyMzQ1Njc4OTBhYmNkZWY"})
	if err != nil || in[0].url.Scheme != "https" || in[0].name != "https://p12-caldav.icloud.example/published/2/…kZWY" {
		t.Errorf("webcal: %+v %v", in, err)
	}
}

func TestICSHelp(t *testing.T) {
	im := NewICS()
	h := im.Help()
	if im.Name() != "ics" || im.Source() != evidence.Calendar || h.Args != "FILE|DIR|URL..." || h.MinArgs != 1 || h.Short == "" {
		t.Errorf("%s %s %+v", im.Name(), im.Source(), h)
	}
	fs := pflag.NewFlagSet("ics", pflag.ContinueOnError)
	im.Flags(fs)
	for _, name := range []string{"since", "until", "max-size", "max-instances", "calendar", "insecure-http"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
}

// The import stops when cancelled, with the context's error.
func TestICSCancel(t *testing.T) {
	h := newICSHarness(t)
	job, err := h.store.StartJob(context.Background(), "ics", evidence.Calendar, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = NewICS().Import(ctx, &sources.Run{Args: []string{icsTestdata}, Config: h.store.Config(), Sink: sink,
		Progress: sources.NoProgress, Log: slog.New(slog.NewTextHandler(&h.logs, nil)), Now: time.Now})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled import: %v", err)
	}
}

// scenarioTruth is what the tests read of the ground truth.
type scenarioTruth struct {
	Ref      string `json:"ref"`
	Status   string `json:"status"`
	Evidence struct {
		Calendar []string `json:"calendar"`
	} `json:"evidence"`
}

func readScenarioTruth(t testing.TB) []scenarioTruth {
	t.Helper()
	f, err := os.Open(filepath.Join(icsScenario, "truth", "bookings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []scenarioTruth
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var b scenarioTruth
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// readAPIPages decodes the scenario's events.list pages with the Calendar
// API's own types.
func readAPIPages(t testing.TB) []*gcalapi.Event {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(icsScenario, "calendar", "events-*.json"))
	if len(paths) == 0 {
		t.Fatal("no events-*.json in the scenario")
	}
	var out []*gcalapi.Event
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var page gcalapi.Events
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
	}
	return out
}

// The committed scenario's Google export: every VEVENT imported, the
// recurring meeting expanded, and every calendar event of a booking that
// was not cancelled present under the id the truth names.
func TestICSScenario(t *testing.T) {
	path := filepath.Join(icsScenario, "calendar", "calendar.ics")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newICSHarness(t)
	c := h.mustRun(NewICS(), path)

	// Count from the file itself: VEVENTs that do not recur are one record
	// each (single events and overrides); the one recurring VEVENT gives as
	// many instances as the API lists for its series.
	vevents := bytes.Count(data, []byte("BEGIN:VEVENT"))
	rrules := bytes.Count(data, []byte("\nRRULE:FREQ=WEEKLY"))
	api := readAPIPages(t)
	var live, seriesInstances int
	for _, e := range api {
		if e.Status == "cancelled" {
			continue
		}
		live++
		if e.RecurringEventId != "" {
			seriesInstances++
		}
	}
	overrides := bytes.Count(data, []byte("\nRECURRENCE-ID"))
	want := vevents - rrules - overrides + seriesInstances
	if vevents != 260 || rrules != 1 || overrides != 1 || seriesInstances != 18 {
		t.Fatalf("the scenario changed: %d VEVENTs, %d RRULEs, %d overrides, %d instances in the API", vevents, rrules, overrides, seriesInstances)
	}
	if c.New != int64(want) || c.New != int64(live) || c.Rejected != 0 || c.NewVersion != 0 || c.Ignored != 0 {
		t.Errorf("counts %+v, want %d new (= the %d events the API lists as not cancelled)", c, want, live)
	}
	recs := h.records()
	if len(recs) != want {
		t.Errorf("%d records stored, want %d", len(recs), want)
	}
	// Every VEVENT's UID is there.
	for _, m := range regexp.MustCompile(`(?m)^UID:(\S+)\r?$`).FindAllSubmatch(data, -1) {
		uid := string(m[1])
		found := false
		for id := range recs {
			found = found || id == "ics:"+uid || strings.HasPrefix(id, "ics:"+uid+":")
		}
		if !found {
			t.Errorf("UID %s not imported", uid)
		}
	}
	// The truth: events of bookings not cancelled are all in the export;
	// those of cancelled bookings are not (Google leaves cancelled events
	// out of its ICS export).
	linked := 0
	for _, b := range readScenarioTruth(t) {
		for _, id := range b.Evidence.Calendar {
			r, ok := recs["ics:"+id+"@google.com"]
			switch {
			case b.Status == "cancelled" && ok:
				t.Errorf("booking %s (cancelled): event %s is in the export", b.Ref, id)
			case b.Status != "cancelled" && !ok:
				t.Errorf("booking %s: event %s not imported", b.Ref, id)
			case ok:
				linked++
				if r.Facts.Ref != "" && normICSRef(r.Facts.Ref) != normICSRef(b.Ref) {
					t.Errorf("booking %s: event %s says ref %q (%s)", b.Ref, id, r.Facts.Ref, r.Facts.Attrs["rule.ref"])
				}
			}
		}
	}
	if linked != 232 {
		t.Errorf("%d events of bookings not cancelled, want 232", linked)
	}
	// Every record keeps its VEVENT's bytes as they are in the file.
	for id, r := range recs {
		if !bytes.Contains(data, r.Raw) || !bytes.HasPrefix(r.Raw, []byte("BEGIN:VEVENT\r\n")) || !bytes.HasSuffix(r.Raw, []byte("END:VEVENT\r\n")) {
			t.Errorf("%s: raw bytes are not the file's VEVENT", id)
		}
	}
	// Again: nothing new (the file is skipped by its checkpoint); with
	// another window, read again and every record unchanged.
	if again := h.mustRun(NewICS(), path); again.New != 0 || again.Unchanged != 0 {
		t.Errorf("second import %+v", again)
	}
	if again := h.mustRun(NewICS(), "--until", "2027-12-31", path); again.New != 0 || again.NewVersion != 0 || again.Unchanged != int64(want) {
		t.Errorf("import with another window %+v", again)
	}
}

func normICSRef(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "", "_", "").Replace(s))
}

// The same event read from Google's ICS export and from the Calendar API
// (events.list with singleEvents=true, decoded with the API's own types)
// has the same fields, so the same evidence id and the same version digest.
func TestICSMatchesGoogleAPI(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(icsScenario, "calendar", "calendar.ics"))
	if err != nil {
		t.Fatal(err)
	}
	events := parseForTest(t, data, "calendar.ics")
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	compared := 0
	for _, item := range readAPIPages(t) {
		if item.Status == "cancelled" {
			continue // not in the export
		}
		want := apiEvent(t, item, lisbon)
		got, ok := events[want.ID()]
		if !ok {
			t.Errorf("%s (%s): not in the ICS", want.ID(), item.Id)
			continue
		}
		compared++
		diffs := compareEvents(got, want)
		if len(diffs) > 0 {
			t.Errorf("%s (%s) differs from the API:\n  %s", want.ID(), item.Id, strings.Join(diffs, "\n  "))
		}
		if got.Digest() != want.Digest() {
			t.Errorf("%s: digest differs between the ICS and the API", want.ID())
		}
		if got.GoogleID != item.Id || got.RecurringEventID != item.RecurringEventId {
			t.Errorf("%s: google id %q / %q, API %q / %q", want.ID(), got.GoogleID, got.RecurringEventID, item.Id, item.RecurringEventId)
		}
	}
	if compared != len(events) || compared != 276 {
		t.Errorf("compared %d events of %d in the ICS", compared, len(events))
	}
}

// apiEvent reads an API event the way the Event model defines its fields,
// independently of the gcal importer: instants from dateTime, all-day dates
// at midnight in the case's zone, originalStartTime as the recurrence id.
func apiEvent(t testing.TB, item *gcalapi.Event, caseZone *time.Location) Event {
	t.Helper()
	at := func(dt *gcalapi.EventDateTime) (time.Time, bool) {
		if dt == nil {
			return time.Time{}, false
		}
		if dt.Date != "" {
			d, err := time.ParseInLocation("2006-01-02", dt.Date, caseZone)
			if err != nil {
				t.Fatal(err)
			}
			return d, true
		}
		v, err := time.Parse(time.RFC3339, dt.DateTime)
		if err != nil {
			t.Fatal(err)
		}
		return v, false
	}
	stamp := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	e := Event{UID: item.ICalUID, Summary: item.Summary, Description: item.Description, Location: item.Location,
		Status: item.Status, Sequence: int(item.Sequence), Created: stamp(item.Created), Updated: stamp(item.Updated)}
	e.Start, e.AllDay = at(item.Start)
	e.End, _ = at(item.End)
	if item.OriginalStartTime != nil {
		o, allDay := at(item.OriginalStartTime)
		if allDay {
			o = time.Date(o.Year(), o.Month(), o.Day(), 0, 0, 0, 0, time.UTC)
		}
		e.RecurrenceID = o
	}
	if item.Organizer != nil {
		e.Organizer = strings.ToLower(item.Organizer.Email)
	}
	for _, a := range item.Attendees {
		if !a.Resource && !strings.EqualFold(a.Email, e.Organizer) {
			e.Attendees = append(e.Attendees, strings.ToLower(a.Email))
		}
	}
	slices.Sort(e.Attendees)
	return e
}

func compareEvents(got, want Event) []string {
	var d []string
	cmpS := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s: ICS %q, API %q", name, g, w))
		}
	}
	cmpT := func(name string, g, w time.Time) {
		if !g.Truncate(time.Second).Equal(w.Truncate(time.Second)) {
			d = append(d, fmt.Sprintf("%s: ICS %s, API %s", name, g.UTC().Format(time.RFC3339Nano), w.UTC().Format(time.RFC3339Nano)))
		}
	}
	cmpS("UID", got.UID, want.UID)
	cmpS("Summary", got.Summary, want.Summary)
	cmpS("Description", got.Description, want.Description)
	cmpS("Location", got.Location, want.Location)
	cmpT("Start", got.Start, want.Start)
	cmpT("End", got.End, want.End)
	cmpT("RecurrenceID", got.RecurrenceID, want.RecurrenceID)
	if got.AllDay != want.AllDay {
		d = append(d, fmt.Sprintf("AllDay: ICS %v, API %v", got.AllDay, want.AllDay))
	}
	cmpS("Status", got.Status, want.Status)
	if got.Sequence != want.Sequence {
		d = append(d, fmt.Sprintf("Sequence: ICS %d, API %d", got.Sequence, want.Sequence))
	}
	cmpT("Updated", got.Updated, want.Updated)
	cmpT("Created", got.Created, want.Created)
	cmpS("Organizer", got.Organizer, want.Organizer)
	cmpS("Attendees", strings.Join(got.Attendees, ","), strings.Join(want.Attendees, ","))
	return d
}

// Importing the ICS export and then the same calendar from the API pages
// (the gcal importer, reading saved pages) into one case: one record per
// event. An event the export has is unchanged the second time, unless the
// API adds extended properties the export lacks (they may hold the booking
// reference): then the API's reading is a new version of the same record.
func TestICSThenGCalIsOneRecord(t *testing.T) {
	h := newICSHarness(t)
	c := h.mustRun(NewICS(), filepath.Join(icsScenario, "calendar", "calendar.ics"))
	g, err := h.run(context.Background(), NewGCal(), "--from", filepath.Join(icsScenario, "calendar"))
	if err != nil {
		t.Fatalf("gcal import: %v", err)
	}
	api := readAPIPages(t)
	cancelled, withProperties := 0, 0
	for _, e := range api {
		switch {
		case e.Status == "cancelled":
			cancelled++
		case e.ExtendedProperties != nil && len(e.ExtendedProperties.Private)+len(e.ExtendedProperties.Shared) > 0:
			withProperties++
		}
	}
	if withProperties == 0 {
		t.Fatal("no API event with extended properties: the test checks less than it says")
	}
	if g.Unchanged != c.New-int64(withProperties) || g.NewVersion != int64(withProperties) || g.New != int64(cancelled) {
		t.Errorf("ICS %+v, then API %+v: want %d unchanged, %d new versions (extended properties), %d new (cancelled)",
			c, g, c.New-int64(withProperties), withProperties, cancelled)
	}
}
