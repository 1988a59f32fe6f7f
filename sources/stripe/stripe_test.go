package stripe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

const scenario = "../../fixtures/scenario"

// harness runs imports into one case, as the command line does.
type harness struct {
	t     testing.TB
	store *evidence.Store
	logs  bytes.Buffer
	env   map[string]string
	now   time.Time
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	cfg.Case.LastBackup = time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &harness{t: t, store: s, env: map[string]string{}, now: time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC)}
}

// run imports with the given flags and returns what was committed and the
// importer's error.
func (h *harness) run(ctx context.Context, im *Importer, flags ...string) (evidence.Counts, error) {
	h.t.Helper()
	fs := pflag.NewFlagSet("stripe", pflag.ContinueOnError)
	im.Flags(fs)
	if err := fs.Parse(flags); err != nil {
		h.t.Fatal(err)
	}
	job, err := h.store.StartJob(ctx, "stripe", evidence.Stripe, flags)
	if err != nil {
		h.t.Fatal(err)
	}
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	err = im.Import(ctx, &sources.Run{
		Args: fs.Args(), Config: h.store.Config(), Sink: sink, Progress: sources.NoProgress,
		Log:    slog.New(slog.NewTextHandler(&h.logs, nil)),
		Getenv: func(k string) string { return h.env[k] }, Now: func() time.Time { return h.now },
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

// records returns the latest version of every record, by id.
func (h *harness) records() map[string]evidence.Record {
	h.t.Helper()
	out := map[string]evidence.Record{}
	for r, err := range h.store.Records(context.Background(), evidence.Query{}) {
		if err != nil {
			h.t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

// scenarioObjects reads the committed scenario's Stripe files: every object
// by id, and which are live.
func scenarioObjects(t testing.TB) (live map[string]string, test int) {
	return scenarioObjectsIn(t, filepath.Join(scenario, "stripe"))
}

func scenarioObjectsIn(t testing.TB, dir string) (live map[string]string, test int) {
	t.Helper()
	live = map[string]string{} // id → object type
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range paths {
		var page struct {
			Data []struct {
				ID       string `json:"id"`
				Object   string `json:"object"`
				Livemode *bool  `json:"livemode"`
			} `json:"data"`
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Data {
			if o.Livemode != nil && !*o.Livemode {
				test++
				continue
			}
			live[o.ID] = o.Object
		}
	}
	return live, test
}

// truthBooking is what the tests read of the ground truth.
type truthBooking struct {
	Ref      string `json:"ref"`
	Evidence struct {
		Stripe []string `json:"stripe"`
	} `json:"evidence"`
	Noise []string `json:"noise"`
}

func truth(t testing.TB) []truthBooking {
	t.Helper()
	f, err := os.Open(filepath.Join(scenario, "truth", "bookings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthBooking
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var b truthBooking
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func normRef(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "", "_", "").Replace(s))
}

func TestImportScenarioFiles(t *testing.T) {
	h := newHarness(t)
	c, err := h.run(context.Background(), New(), "--from", filepath.Join(scenario, "stripe"))
	if err != nil {
		t.Fatal(err)
	}
	live, test := scenarioObjects(t)
	if c.New != int64(len(live)) || c.Ignored != int64(test) || c.Rejected != 0 {
		t.Errorf("counts %+v; want %d new (the live objects) and %d ignored (test mode)", c, len(live), test)
	}
	recs := h.records()
	for id, object := range live {
		r, ok := recs["stripe:"+id]
		if !ok {
			t.Errorf("%s %s not imported", object, id)
			continue
		}
		if r.Kind != object || r.Via != "file" || r.OccurredAt.IsZero() {
			t.Errorf("%s: kind %s via %s at %v", id, r.Kind, r.Via, r.OccurredAt)
		}
	}
	// Every Stripe object the truth ties to a booking is there; the ones
	// carrying a reference carry that booking's.
	checked := 0
	for _, b := range truth(t) {
		for _, id := range b.Evidence.Stripe {
			r, ok := recs["stripe:"+id]
			if !ok {
				t.Errorf("booking %s: Stripe object %s missing", b.Ref, id)
				continue
			}
			if r.Facts.Ref != "" && normRef(r.Facts.Ref) != normRef(b.Ref) {
				t.Errorf("booking %s: %s says ref %q (%s)", b.Ref, id, r.Facts.Ref, r.Facts.Attrs["ref_from"])
			}
			checked++
		}
	}
	if checked < 500 {
		t.Errorf("only %d truth objects checked", checked)
	}
	// Importing again stores nothing.
	again, err := h.run(context.Background(), New(), "--from", filepath.Join(scenario, "stripe"))
	if err != nil || again.New != 0 || again.NewVersion != 0 || again.Unchanged != c.New {
		t.Errorf("second import %+v %v", again, err)
	}
}

func TestFactsOfEachObject(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run(context.Background(), New(), "--from", filepath.Join(scenario, "stripe")); err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]evidence.Record{}
	for _, r := range h.records() {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	hasLink := func(r evidence.Record, rel string) bool {
		return slices.ContainsFunc(r.Facts.Links, func(l evidence.Link) bool { return l.Rel == rel })
	}
	for _, r := range byKind["payment_intent"] {
		if r.Facts.AmountMinor == nil || r.Facts.Currency != "EUR" || r.Facts.Status == "" || !hasLink(r, "stripe_payment_intent") {
			t.Errorf("payment intent %s: %+v", r.ID, r.Facts)
		}
		if r.Facts.Status == evidence.Paid && (r.Facts.PaidMinor == nil || *r.Facts.PaidMinor != *r.Facts.AmountMinor) {
			t.Errorf("paid payment intent %s without its amount received: %+v", r.ID, r.Facts)
		}
		if r.Facts.Attrs["stripe_status"] == "requires_capture" && (r.Facts.PaidMinor != nil || r.Facts.Status != evidence.Confirmed) {
			t.Errorf("uncaptured payment intent %s counted as paid: %+v", r.ID, r.Facts)
		}
	}
	for _, r := range byKind["charge"] {
		if r.Facts.Email == "" || r.Facts.Name == "" || !hasLink(r, "stripe_payment_intent") || !hasLink(r, "stripe_customer") {
			t.Errorf("charge %s: %+v", r.ID, r.Facts)
		}
	}
	for _, r := range byKind["refund"] {
		if r.Facts.RefundedMinor == nil || r.Facts.Status != evidence.Refunded || !hasLink(r, "stripe_charge") {
			t.Errorf("refund %s: %+v", r.ID, r.Facts)
		}
	}
	for _, r := range byKind["checkout.session"] {
		// An expired session had no customer: only completed ones must say who.
		if r.Facts.Attrs["stripe_status"] == "complete" && (r.Facts.Email == "" || r.Facts.Name == "") {
			t.Errorf("checkout session %s without customer details: %+v", r.ID, r.Facts)
		}
	}
	for _, r := range byKind["event"] {
		if r.Facts.Attrs["event_type"] == "" || len(r.Facts.Links) == 0 {
			t.Errorf("event %s: %+v", r.ID, r.Facts)
		}
	}
	for _, k := range []string{"customer", "payment_intent", "charge", "refund", "checkout.session", "event"} {
		if len(byKind[k]) == 0 {
			t.Errorf("no %s imported", k)
		}
	}
}

func TestCSVExportMatchesJSON(t *testing.T) {
	json := newHarness(t)
	if _, err := json.run(context.Background(), New(), "--from", filepath.Join(scenario, "stripe")); err != nil {
		t.Fatal(err)
	}
	fromJSON := json.records()
	csv := newHarness(t)
	c, err := csv.run(context.Background(), New(), "--from", "testdata/unified_payments.csv")
	if err != nil {
		t.Fatal(err)
	}
	if c.New != 38 || c.Ignored != 2 || c.Rejected != 0 {
		t.Errorf("counts %+v, want 38 new and the 2 test-mode rows ignored", c)
	}
	for id, r := range csv.records() {
		j, ok := fromJSON[id]
		if !ok {
			t.Errorf("%s from the CSV is not the id the API path gives", id)
			continue
		}
		if r.Kind != "charge" || r.Via != "csv" || !r.OccurredAt.Equal(j.OccurredAt) {
			t.Errorf("%s: kind %s via %s at %v (json %v)", id, r.Kind, r.Via, r.OccurredAt, j.OccurredAt)
		}
		type view struct {
			Ref, Name, Email, Currency string
			Status                     evidence.Status
			Amount, Paid, Refunded     int64
			Links                      []evidence.Link
		}
		v := func(f evidence.Facts) view {
			n := func(p *int64) int64 {
				if p == nil {
					return -1
				}
				return *p
			}
			return view{f.Ref, f.Name, f.Email, f.Currency, f.Status, n(f.AmountMinor), n(f.PaidMinor), n(f.RefundedMinor), f.Links}
		}
		got, want := v(r.Facts), v(j.Facts)
		if !slices.Equal(got.Links, want.Links) || got.Ref != want.Ref || got.Name != want.Name || got.Email != want.Email ||
			got.Currency != want.Currency || got.Status != want.Status || got.Amount != want.Amount || got.Paid != want.Paid || got.Refunded != want.Refunded {
			t.Errorf("%s facts differ:\n csv  %+v\n json %+v", id, got, want)
		}
	}
}

func TestBrokenInputIsRejectedAndKept(t *testing.T) {
	tests := []struct {
		file              string
		new, rej, ignored int64
		reasons           []string
	}{
		{"testdata/broken_payments.csv", 1, 4, 0, []string{"Amount", "no id", `Created (UTC) "yesterday"`, "quote"}},
		{"testdata/odd_objects.json", 1, 4, 0, []string{`"payout", which salvage does not read`, "no id or object", "not a Stripe object", "has no data.object"}},
		{"testdata/customers.jsonl", 2, 1, 1, []string{"not a Stripe object"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			h := newHarness(t)
			c, err := h.run(context.Background(), New(), "--from", tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if c.New != tt.new || c.Rejected != tt.rej || c.Ignored != tt.ignored {
				t.Errorf("counts %+v, want new %d rejected %d ignored %d", c, tt.new, tt.rej, tt.ignored)
			}
			rej, _ := h.store.RejectedInputs(context.Background(), true)
			all := ""
			for _, r := range rej {
				all += r.Locator + ": " + r.Reason + "\n"
				if len(r.Raw) == 0 {
					t.Errorf("rejected %s kept no bytes", r.Locator)
				}
			}
			for _, want := range tt.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("no rejection mentions %q:\n%s", want, all)
				}
			}
		})
	}
}

func TestMetadataKeysFromConfig(t *testing.T) {
	h := newHarness(t)
	cfg := h.store.Config()
	cfg.Stripe.MetadataKeys = []string{"reservation"}
	fr, err := newFactsReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := fr.record([]byte(`{"id":"cus_x","object":"customer","created":1,"livemode":true,"metadata":{"booking_ref":"A-1","reservation":"R-2"}}`), "file", "x")
	if err != nil || rec.Facts.Ref != "R-2" || rec.Facts.Attrs["ref_from"] != "metadata.reservation" {
		t.Errorf("ref %q from %q (%v): want R-2 from the configured key", rec.Facts.Ref, rec.Facts.Attrs["ref_from"], err)
	}
}

func TestExpandedReferences(t *testing.T) {
	h := newHarness(t)
	fr, err := newFactsReader(h.store.Config())
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"id":"ch_1","object":"charge","created":1790000000,"livemode":true,"amount":1000,"currency":"eur","status":"succeeded",
		"customer":{"id":"cus_9","object":"customer","email":"x@example.com"},"payment_intent":{"id":"pi_9","object":"payment_intent"},"invoice":null}`
	rec, _, err := fr.record([]byte(raw), "file", "x")
	if err != nil {
		t.Fatal(err)
	}
	want := []evidence.Link{{Rel: "stripe_charge", ID: "ch_1"}, {Rel: "stripe_customer", ID: "cus_9"}, {Rel: "stripe_payment_intent", ID: "pi_9"}}
	got := append([]evidence.Link{}, rec.Facts.Links...)
	slices.SortFunc(got, func(a, b evidence.Link) int { return strings.Compare(a.Rel, b.Rel) })
	if !slices.Equal(got, want) {
		t.Errorf("links %v, want %v", got, want)
	}
}

// FuzzRecord: whatever bytes arrive as a Stripe object become a record that
// validates, or an error: never a panic.
func FuzzRecord(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(scenario, "stripe", "*-001.json"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var page struct{ Data []json.RawMessage }
		json.Unmarshal(b, &page)
		for _, o := range page.Data[:3] {
			f.Add([]byte(o))
		}
	}
	f.Add([]byte(`{"id":"evt_1","object":"event","data":{"object":{"id":"x","object":"charge","customer":{"id":"cus_1"}}}}`))
	h := newHarness(f)
	fr, err := newFactsReader(h.store.Config())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, _, err := fr.record(raw, "file", "fuzz")
		if err != nil {
			return
		}
		if err := rec.Validate(); err != nil {
			t.Errorf("record from %q does not validate: %v", raw, err)
		}
	})
}

// memSink keeps what an importer puts, for fuzzing without a case.
type memSink struct {
	records  []evidence.Record
	rejected int
}

func (m *memSink) Put(_ context.Context, r evidence.Record) error {
	if err := r.Validate(); err != nil {
		m.rejected++
		return nil
	}
	m.records = append(m.records, r)
	return nil
}
func (m *memSink) Reject(context.Context, evidence.Rejected) error          { m.rejected++; return nil }
func (m *memSink) Ignore(context.Context, string) error                     { return nil }
func (m *memSink) SaveCheckpoint(context.Context, string, string) error     { return nil }
func (m *memSink) Checkpoint(context.Context, string) (string, bool, error) { return "", false, nil }

// FuzzFiles: any export file, named as JSON, JSON lines or CSV, is read into
// records that validate and rejected inputs, never a panic or an error.
func FuzzFiles(f *testing.F) {
	for _, p := range []string{"testdata/unified_payments.csv", "testdata/broken_payments.csv", "testdata/odd_objects.json", "testdata/customers.jsonl"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(filepath.Ext(p), b)
	}
	f.Add(".json", []byte(`[{"id":"cus_1","object":"customer","livemode":true},{"id":`))
	dir := f.TempDir()
	cfg := evidence.DefaultConfig()
	cfg.Case.Currency = "EUR"
	fr, err := newFactsReader(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ext string, data []byte) {
		if ext != ".json" && ext != ".jsonl" && ext != ".csv" {
			return
		}
		path := filepath.Join(dir, "export"+ext)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sink := &memSink{}
		r := &fileReader{run: &sources.Run{Config: cfg, Sink: sink, Progress: sources.NoProgress}, fr: fr, selected: types,
			live: true, bars: map[string]sources.Bar{}, other: map[string]bool{}}
		if err := r.file(context.Background(), path); err != nil {
			t.Fatalf("reading an export failed instead of rejecting: %v", err)
		}
		for _, rec := range sink.records {
			if err := rec.Validate(); err != nil {
				t.Fatalf("record does not validate: %v", err)
			}
		}
	})
}
