package calendar

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gcalapi "google.golang.org/api/calendar/v3"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

const gcalScenario = "../../fixtures/scenario"

// gcalHarness runs imports into one case, as the command line does.
type gcalHarness struct {
	t     testing.TB
	store *evidence.Store
	logs  bytes.Buffer
	env   map[string]string
}

func newGCalHarness(t testing.TB) *gcalHarness {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	cfg.Case.LastBackup = time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &gcalHarness{t: t, store: s, env: map[string]string{}}
}

func (h *gcalHarness) run(ctx context.Context, imp sources.Importer, flags ...string) (evidence.Counts, error) {
	h.t.Helper()
	fs := pflag.NewFlagSet(imp.Name(), pflag.ContinueOnError)
	imp.Flags(fs)
	if err := fs.Parse(flags); err != nil {
		h.t.Fatal(err)
	}
	job, err := h.store.StartJob(ctx, imp.Name(), imp.Source(), flags)
	if err != nil {
		h.t.Fatal(err)
	}
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	err = imp.Import(ctx, &sources.Run{Args: fs.Args(), Config: h.store.Config(), Sink: sink, Progress: sources.NoProgress,
		Log: slog.New(slog.NewTextHandler(&h.logs, nil)), Getenv: func(k string) string { return h.env[k] }, Now: time.Now})
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

func (h *gcalHarness) records() map[string]evidence.Record {
	out := map[string]evidence.Record{}
	for r, err := range h.store.Records(context.Background(), evidence.Query{Sources: []evidence.Source{evidence.Calendar}}) {
		if err != nil {
			h.t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

func fastGCal() *GCal {
	g := NewGCal()
	g.sleep = func(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d/1000) }
	return g
}

// scenarioEvents reads the committed scenario's events.list pages.
func scenarioEvents(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	paths, _ := filepath.Glob(filepath.Join(gcalScenario, "calendar", "events-*.json"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var page struct{ Items []map[string]any }
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
	}
	return out
}

func importScenario(t *testing.T, f *fakeGoogle, h *gcalHarness, flags ...string) evidence.Counts {
	t.Helper()
	h.env["GOOGLE_APPLICATION_CREDENTIALS"] = f.serviceAccountFile(t)
	c, err := h.run(context.Background(), fastGCal(), append([]string{"--calendar", fakeCalendar, "--api-base", f.base()}, flags...)...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, h.logs.String())
	}
	return c
}

func TestGCalImportsEveryEvent(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	c := importScenario(t, f, h)
	events := scenarioEvents(t)
	if c.New != int64(len(events)) || c.Rejected != 0 {
		t.Errorf("counts %+v, want %d new", c, len(events))
	}
	recs := h.records()
	cancelled := 0
	for _, e := range events {
		r, ok := recs[expectedID(t, e)]
		if !ok {
			t.Errorf("event %s (%v) not imported", e["id"], e["summary"])
			continue
		}
		// A deleted instance of a series carries only its id and status.
		if r.Via != "gcal" || r.Kind != "event" || (e["status"] != "cancelled" && (r.Facts.Start == nil || r.Facts.End == nil)) {
			t.Errorf("%s: %+v", r.ID, r)
		}
		if e["status"] == "cancelled" {
			cancelled++
			if r.Facts.Status != evidence.Cancelled {
				t.Errorf("cancelled event %s has status %s", r.ID, r.Facts.Status)
			}
		}
	}
	if cancelled == 0 {
		t.Error("the scenario's cancelled events were not checked")
	}
	// Each event's title is stored with it: its JSON's summary, as
	// describe reads it (describe imports the mail importer, which imports
	// this package: it cannot be asked here).
	titled := 0
	for r, err := range h.store.Records(context.Background(), evidence.Query{WithRaw: true, Readable: true}) {
		if err != nil {
			t.Fatal(err)
		}
		stored := r.Title
		var ev struct{ Summary string }
		if err := json.Unmarshal(r.Raw, &ev); err != nil || stored != ev.Summary {
			t.Errorf("%s: title %q stored, %q in its JSON (%v)", r.ID, stored, ev.Summary, err)
		}
		if stored != "" {
			titled++
		}
	}
	if titled == 0 {
		t.Error("no event has a title")
	}
	// Only GETs reached the API; the one POST is the token exchange.
	for _, r := range f.Requests() {
		if r.Method != http.MethodGet && r.Path != "/token" {
			t.Errorf("request %d: %s %s", r.N, r.Method, r.Path)
		}
		if r.Path == "/token" && r.FormGrant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("token request with grant %q", r.FormGrant)
		}
	}
	// The checkpoint is the last page's sync token.
	v, ok, _ := h.store.Checkpoint(context.Background(), "gcal/"+fakeCalendar)
	if !ok || !strings.Contains(v, `"sync_token"`) || strings.Contains(v, "page_token") {
		t.Errorf("checkpoint %q", v)
	}
}

// The facts read from titles and descriptions agree with the ground truth:
// a reference, when one is read, is the booking's; names are the booking
// customer's (up to the misspellings and reordering the scenario plants).
func TestGCalFactsMatchTruth(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	importScenario(t, f, h)
	byGoogleID := map[string]evidence.Record{}
	for _, r := range h.records() {
		byGoogleID[r.Facts.Attrs["google_id"]] = r
	}
	file, err := os.Open(filepath.Join(gcalScenario, "truth", "bookings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	linked, withRef, withName := 0, 0, 0
	for sc.Scan() {
		var b struct {
			Ref      string
			Customer struct{ Name string }
			Evidence struct{ Calendar []string }
		}
		json.Unmarshal(sc.Bytes(), &b)
		for _, id := range b.Evidence.Calendar {
			r, ok := byGoogleID[id]
			if !ok {
				t.Errorf("booking %s: event %s not imported", b.Ref, id)
				continue
			}
			linked++
			if r.Facts.Ref != "" {
				withRef++
				if norm(r.Facts.Ref) != norm(b.Ref) {
					t.Errorf("booking %s: event %s says ref %q (by %s)", b.Ref, id, r.Facts.Ref, r.Facts.Attrs["rule.ref"])
				}
			}
			if r.Facts.Name != "" {
				withName++
				if !sameSurname(r.Facts.Name, b.Customer.Name) {
					t.Errorf("booking %s: event %s names %q, truth %q", b.Ref, id, r.Facts.Name, b.Customer.Name)
				}
			}
		}
	}
	t.Logf("%d events of bookings: %d with a reference read, %d with a name", linked, withRef, withName)
	if linked < 250 || withRef < linked*8/10 || withName < linked*9/10 {
		t.Errorf("too little read: %d events, %d refs, %d names", linked, withRef, withName)
	}
}

func norm(ref string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "", "_", "").Replace(ref))
}

// sameSurname: some word of a read name is a word of the true name (names
// are misspelled in one letter, reordered, or given with a particle).
func sameSurname(read, truth string) bool {
	words := strings.FieldsFunc(strings.ToLower(truth), func(r rune) bool { return r == ' ' || r == ',' })
	for _, w := range strings.FieldsFunc(strings.ToLower(read), func(r rune) bool { return r == ' ' || r == ',' }) {
		for _, t := range words {
			if len(w) > 2 && w == t {
				return true
			}
		}
	}
	return false
}

func TestGCalIncrementalSync(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	importScenario(t, f, h)
	st := checkpointOf(t, h)
	// What changed since: one event moved a day, one cancelled.
	events := scenarioEvents(t)
	moved, cancelled := events[3], events[4]
	moved["sequence"] = 1
	moved["updated"] = "2026-11-19T10:00:00.000Z"
	moved["start"] = map[string]any{"dateTime": "2026-09-01T10:00:00+01:00", "timeZone": "Europe/Lisbon"}
	moved["end"] = map[string]any{"dateTime": "2026-09-05T10:00:00+01:00", "timeZone": "Europe/Lisbon"}
	cancelled["status"] = "cancelled"
	cancelled["updated"] = "2026-11-19T10:05:00.000Z"
	body, _ := json.Marshal(map[string]any{"kind": "calendar#events", "timeZone": "Europe/Lisbon",
		"items": []any{moved, cancelled}, "nextSyncToken": "CHANGES-2"})
	f.changes[st.SyncToken] = body
	n := len(f.Requests())
	c := importScenario(t, f, h)
	if c.NewVersion != 2 || c.New != 0 {
		t.Errorf("counts %+v, want the 2 changes as new versions", c)
	}
	for _, r := range f.Requests()[n:] {
		q, _ := url.ParseQuery(r.Query)
		if r.Path != "/token" && (q.Get("syncToken") != st.SyncToken || q.Get("timeMin") != "") {
			t.Errorf("second run asked %s?%s, want only the changes since %s", r.Path, r.Query, st.SyncToken)
		}
	}
	recs := h.records()
	if r := recs[expectedID(t, cancelled)]; r.Version != 2 || r.Facts.Status != evidence.Cancelled {
		t.Errorf("cancelled event: v%d %s", r.Version, r.Facts.Status)
	}
	if r := recs[expectedID(t, moved)]; r.Version != 2 || !r.Facts.Start.Equal(time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("moved event: v%d start %v", r.Version, r.Facts.Start)
	}
	if st := checkpointOf(t, h); st.SyncToken != "CHANGES-2" {
		t.Errorf("sync token after the second run: %q", st.SyncToken)
	}
}

func TestGCalExpiredSyncTokenRereadsEverything(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	first := importScenario(t, f, h)
	f.expired[checkpointOf(t, h).SyncToken] = true
	again := importScenario(t, f, h)
	if again.New != 0 || again.NewVersion != 0 || again.Unchanged != first.New {
		t.Errorf("after a 410: %+v, want everything unchanged (%d)", again, first.New)
	}
	if !strings.Contains(h.logs.String(), "reading the whole calendar again") {
		t.Error("the full re-read is not logged")
	}
}

func TestGCalRetriesAndResumes(t *testing.T) {
	f := newFakeGoogle(t)
	// Request 1 is the token; then 429, a 403 rate limit and a 500 on the
	// first page: all retried.
	f.faults = map[int]int{2: http.StatusTooManyRequests, 3: http.StatusForbidden, 4: http.StatusInternalServerError}
	h := newGCalHarness(t)
	c := importScenario(t, f, h)
	if c.New != int64(len(scenarioEvents(t))) {
		t.Errorf("after retries: %+v", c)
	}

	// The second page fails for good: the first page is kept, the
	// checkpoint points at the second, and the next run continues there.
	f2 := newFakeGoogle(t)
	for n := 3; n < 20; n++ {
		f2.faults[n] = http.StatusServiceUnavailable
	}
	h2 := newGCalHarness(t)
	h2.env["GOOGLE_APPLICATION_CREDENTIALS"] = f2.serviceAccountFile(t)
	first, err := h2.run(context.Background(), fastGCal(), "--calendar", fakeCalendar, "--api-base", f2.base())
	if err == nil || first.New == 0 {
		t.Fatalf("first run: %+v %v; want a failure after the first page", first, err)
	}
	if st := checkpointOf(t, h2); st.PageToken == "" {
		t.Fatalf("no page token in the checkpoint: %+v", st)
	}
	f2.faults = map[int]int{}
	n := len(f2.Requests())
	second := importScenario(t, f2, h2)
	if first.New+second.New != int64(len(scenarioEvents(t))) || second.Unchanged != 0 {
		t.Errorf("resume: %+v then %+v", first, second)
	}
	for _, r := range f2.Requests()[n:] {
		if q, _ := url.ParseQuery(r.Query); r.Path != "/token" && q.Get("pageToken") == "" {
			t.Errorf("the resumed run started over: %s?%s", r.Path, r.Query)
		}
	}
}

func TestGCalCredentials(t *testing.T) {
	f := newFakeGoogle(t)
	tests := []struct {
		name  string
		env   func(h *gcalHarness) []string
		want  string // error, or "" for success
		grant string
	}{
		{"none", func(h *gcalHarness) []string { return nil }, "no Google credentials", ""},
		{"service account with delegation", func(h *gcalHarness) []string {
			f.subject = "reservas@atlantico-carhire.example"
			h.env["GOOGLE_APPLICATION_CREDENTIALS"] = f.serviceAccountFile(t)
			return []string{"--subject", "reservas@atlantico-carhire.example"}
		}, "", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		{"authorized user token file", func(h *gcalHarness) []string {
			f.subject = ""
			return []string{"--token-file", f.authorizedUserFile(t)}
		}, "", "refresh_token"},
		{"not a credentials file", func(h *gcalHarness) []string {
			p := filepath.Join(t.TempDir(), "x.json")
			os.WriteFile(p, []byte(`{"type":"external_account"}`), 0o600)
			return []string{"--token-file", p}
		}, "not a service account key", ""},
		{"missing file", func(h *gcalHarness) []string {
			h.env["GOOGLE_APPLICATION_CREDENTIALS"] = "/nonexistent/sa.json"
			return nil
		}, "GOOGLE_APPLICATION_CREDENTIALS", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newGCalHarness(t)
			flags := append([]string{"--calendar", fakeCalendar, "--api-base", f.base()}, tt.env(h)...)
			n := len(f.Requests())
			_, err := h.run(context.Background(), fastGCal(), flags...)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				reqs := f.Requests()[n:]
				if len(reqs) == 0 || reqs[0].Path != "/token" || reqs[0].FormGrant != tt.grant {
					t.Errorf("first request %+v, want a %s token exchange", reqs[0], tt.grant)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestGCalListCalendars(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	g := fastGCal()
	fs := pflag.NewFlagSet("gcal", pflag.ContinueOnError)
	g.Flags(fs)
	fs.Parse([]string{"--list-calendars", "--api-base", f.base()})
	h.env["GOOGLE_APPLICATION_CREDENTIALS"] = f.serviceAccountFile(t)
	if !g.Inspecting() {
		t.Fatal("--list-calendars does not inspect")
	}
	var out bytes.Buffer
	err := g.Inspect(context.Background(), &sources.Run{Config: h.store.Config(), Log: slog.New(slog.NewTextHandler(&h.logs, nil)),
		Getenv: func(k string) string { return h.env[k] }}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), fakeCalendar) || !strings.Contains(out.String(), "Reservas – Atlântico Car Hire") {
		t.Errorf("listing:\n%s", out.String())
	}
}

func TestGCalCredentialsAreNeverStored(t *testing.T) {
	f := newFakeGoogle(t)
	h := newGCalHarness(t)
	importScenario(t, f, h)
	h.store.Close()
	filepath.WalkDir(h.store.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, secret := range []string{f.token, "PRIVATE KEY", "fake-client-secret"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q", path, secret)
			}
		}
		return nil
	})
}

func checkpointOf(t *testing.T, h *gcalHarness) syncState {
	t.Helper()
	v, _, err := h.store.Checkpoint(context.Background(), "gcal/"+fakeCalendar)
	if err != nil {
		t.Fatal(err)
	}
	var st syncState
	json.Unmarshal([]byte(v), &st)
	return st
}

// expectedID is the evidence id of an API event, worked out from its JSON:
// ics:<iCalUID>, and :<original start in UTC> for an instance of a series.
func expectedID(t testing.TB, e map[string]any) string {
	uid, _ := e["iCalUID"].(string)
	rec, _ := e["recurringEventId"].(string)
	if uid == "" {
		uid = rec + "@google.com"
	}
	id := "ics:" + uid
	if rec != "" {
		orig := e["originalStartTime"].(map[string]any)
		if d, ok := orig["date"].(string); ok {
			return id + ":" + strings.ReplaceAll(d, "-", "")
		}
		start, err := time.Parse(time.RFC3339, orig["dateTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		id += ":" + start.UTC().Format("20060102T150405Z")
	}
	return id
}

func TestGCalFromSavedPagesEqualsAPI(t *testing.T) {
	f := newFakeGoogle(t)
	api := newGCalHarness(t)
	importScenario(t, f, api)
	files := newGCalHarness(t)
	c, err := files.run(context.Background(), fastGCal(), "--from", filepath.Join(gcalScenario, "calendar"), "--calendar", fakeCalendar)
	if err != nil || c.Rejected != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	a, b := api.records(), files.records()
	if len(a) != len(b) {
		t.Fatalf("%d from the API, %d from files", len(a), len(b))
	}
	for id, r := range a {
		o := b[id]
		if o.Digest != r.Digest || o.SHA256 != r.SHA256 {
			t.Errorf("%s differs between the API and the saved pages", id)
		}
	}
}

// An all-day instance of a series is named by its date, as the ICS import
// names it, whatever the case's zone (Lisbon's midnight is 23:00 UTC the day
// before in summer).
func TestGCalAllDayInstanceID(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	e, err := fromGoogle(&gcalapi.Event{Id: "abc_20260902", ICalUID: "abc@google.com", RecurringEventId: "abc", Status: "confirmed",
		Start: &gcalapi.EventDateTime{Date: "2026-09-02"}, End: &gcalapi.EventDateTime{Date: "2026-09-03"},
		OriginalStartTime: &gcalapi.EventDateTime{Date: "2026-09-02"}}, fakeCalendar, "Europe/Lisbon", lisbon)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "ics:abc@google.com:20260902" {
		t.Errorf("id %s, want ics:abc@google.com:20260902", e.ID())
	}
}
