package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// handMadeBookings are two bookings as a reconcile run could give them: one
// with every field, values that need quoting in CSV and a conflict; one with
// a synthetic reference and nothing but dates.
func handMadeBookings() []reconcile.Booking {
	ptime := func(s string) *time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return &t
	}
	pint := func(v int64) *int64 { return &v }
	return []reconcile.Booking{{
		Ref:      "ACH-7K2Q9",
		Status:   "partly_refunded",
		Customer: reconcile.Customer{Name: `Ana "Nina" Sousa, Lda`, Email: "ana.sousa@example.com", Phone: "+351 912 345 678"},
		Item:     "Clio AA-11-BB",
		// In the case's zone: exported in UTC.
		Start:         ptime("2026-10-03T10:00:00+01:00"),
		End:           ptime("2026-10-06T10:00:00+01:00"),
		AmountMinor:   pint(118450),
		Currency:      "EUR",
		PaidMinor:     pint(118450),
		RefundedMinor: pint(20000),
		CreatedAt:     ptime("2026-09-15T09:00:00Z"),
		Confidence:    0.8349,
		NeedsReview:   true,
		Reasons: []reconcile.Reason{
			{Code: reconcile.ReasonConflict, Detail: "the sources disagree on the return time"},
			{Code: "refund", Detail: "€200.00 was refunded"},
		},
		Provenance: map[string]reconcile.Source{
			"start":          {Evidence: "stripe:pi_3Q", Rule: "stripe for amounts"},
			"amount_minor":   {Evidence: "stripe:pi_3Q", Rule: "stripe for amounts"},
			"customer.email": {Evidence: "mail:<c1@carhire.example>", Rule: "newest change"},
			"end":            {Evidence: "ics:7k2q9ana@google.com", Rule: "newest change"},
			"ref":            {Evidence: "mail:<c1@carhire.example>", Rule: "only source"},
		},
		Conflicts: []reconcile.Conflict{{Field: "end", Chosen: "2026-10-06T09:00:00Z", Values: []reconcile.ConflictValue{
			{Value: "2026-10-06T09:00:00Z", Evidence: []string{"ics:7k2q9ana@google.com"}},
			{Value: "2026-10-05T09:00:00Z", Evidence: []string{"mail:<c1@carhire.example>"}},
		}}},
		Evidence: []string{"ics:7k2q9ana@google.com", "mail:<c1@carhire.example>", "stripe:pi_3Q"},
		Sources:  []string{"calendar", "mail", "stripe"},
		Links:    []reconcile.Link{{A: "mail:<c1@carhire.example>", B: "stripe:pi_3Q", Reason: "same reference", Weight: 1}},
	}, {
		Ref:          "SALV-3F9A1C",
		RefSynthetic: true,
		Status:       "confirmed",
		Start:        ptime("2026-10-10T00:00:00Z"),
		End:          ptime("2026-10-12T00:00:00Z"),
		AllDay:       true,
		Confidence:   0.5,
		NeedsReview:  true,
		Reasons:      []reconcile.Reason{{Code: reconcile.ReasonSingleSource, Detail: "one calendar event only"}},
		Provenance:   map[string]reconcile.Source{"start": {Evidence: "ics:x9@google.com", Rule: "only source"}},
		Evidence:     []string{"ics:x9@google.com"},
		Sources:      []string{"calendar"},
	}}
}

const goldenJSON = `{"ref":"ACH-7K2Q9","status":"partly_refunded","customer":{"name":"Ana \"Nina\" Sousa, Lda","email":"ana.sousa@example.com","phone":"+351 912 345 678"},"item":"Clio AA-11-BB","start":"2026-10-03T10:00:00+01:00","end":"2026-10-06T10:00:00+01:00","amount_minor":118450,"currency":"EUR","paid_minor":118450,"refunded_minor":20000,"created_at":"2026-09-15T09:00:00Z","confidence":0.8349,"needs_review":true,"reasons":[{"code":"conflict","detail":"the sources disagree on the return time"},{"code":"refund","detail":"€200.00 was refunded"}],"provenance":{"amount_minor":{"evidence":"stripe:pi_3Q","rule":"stripe for amounts"},"customer.email":{"evidence":"mail:<c1@carhire.example>","rule":"newest change"},"end":{"evidence":"ics:7k2q9ana@google.com","rule":"newest change"},"ref":{"evidence":"mail:<c1@carhire.example>","rule":"only source"},"start":{"evidence":"stripe:pi_3Q","rule":"stripe for amounts"}},"conflicts":[{"field":"end","chosen":"2026-10-06T09:00:00Z","values":[{"value":"2026-10-06T09:00:00Z","evidence":["ics:7k2q9ana@google.com"]},{"value":"2026-10-05T09:00:00Z","evidence":["mail:<c1@carhire.example>"]}]}],"evidence":["ics:7k2q9ana@google.com","mail:<c1@carhire.example>","stripe:pi_3Q"],"sources":["calendar","mail","stripe"],"links":[{"a":"mail:<c1@carhire.example>","b":"stripe:pi_3Q","reason":"same reference","weight":1}]}
{"ref":"SALV-3F9A1C","ref_synthetic":true,"status":"confirmed","customer":{},"start":"2026-10-10T00:00:00Z","end":"2026-10-12T00:00:00Z","all_day":true,"amount_minor":null,"paid_minor":null,"refunded_minor":null,"confidence":0.5,"needs_review":true,"reasons":[{"code":"single_source","detail":"one calendar event only"}],"provenance":{"start":{"evidence":"ics:x9@google.com","rule":"only source"}},"evidence":["ics:x9@google.com"],"sources":["calendar"]}
`

const goldenCSV = `ref,ref_synthetic,status,customer_name,customer_email,customer_phone,item,start,end,all_day,amount_minor,currency,paid_minor,refunded_minor,created_at,confidence,needs_review,reasons,conflicts,sources,evidence,provenance
ACH-7K2Q9,false,partly_refunded,"Ana ""Nina"" Sousa, Lda",ana.sousa@example.com,+351 912 345 678,Clio AA-11-BB,2026-10-03T09:00:00Z,2026-10-06T09:00:00Z,false,118450,EUR,118450,20000,2026-09-15T09:00:00Z,0.83,true,conflict;refund,end,calendar;mail;stripe,ics:7k2q9ana@google.com;mail:<c1@carhire.example>;stripe:pi_3Q,amount_minor=stripe:pi_3Q;customer.email=mail:<c1@carhire.example>;end=ics:7k2q9ana@google.com;ref=mail:<c1@carhire.example>;start=stripe:pi_3Q
SALV-3F9A1C,true,confirmed,,,,,2026-10-10T00:00:00Z,2026-10-12T00:00:00Z,true,,,,,,0.50,true,single_source,,calendar,ics:x9@google.com,start=ics:x9@google.com
`

// caseWithBookings makes a case holding the hand-made bookings, stored as
// salvage reconcile stores them.
func caseWithBookings(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case")
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	s, err := evidence.Init(ctx, dir, cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored, err := marshalBookings(handMadeBookings())
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].Ref != "ACH-7K2Q9" || stored[1].Ref != "SALV-3F9A1C" {
		t.Fatalf("stored refs %q, %q", stored[0].Ref, stored[1].Ref)
	}
	if _, err := s.ReplaceBookings(ctx, evidence.ReconcileRun{SummaryJSON: []byte(`{"bookings":2}`)}, stored); err != nil {
		t.Fatal(err)
	}
	return dir
}

// salvage runs one command line and returns its exit code and outputs.
func salvage(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	return code, stdout.String(), stderr.String()
}

func TestExportGolden(t *testing.T) {
	dir := caseWithBookings(t)
	for _, tc := range []struct{ format, want string }{{"json", goldenJSON}, {"csv", goldenCSV}} {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errOut := salvage(t, "--case", dir, "export", tc.format)
			if code != exitOK || errOut != "" {
				t.Fatalf("export %s: exit %d, stderr %q", tc.format, code, errOut)
			}
			if out != tc.want {
				t.Errorf("export %s\n got:\n%s\nwant:\n%s", tc.format, out, tc.want)
			}

			// --out writes the same bytes, private, and says so on stdout.
			path := filepath.Join(t.TempDir(), "bookings."+tc.format)
			code, out, errOut = salvage(t, "--case", dir, "export", tc.format, "--out", path)
			if code != exitOK || errOut != "" {
				t.Fatalf("export %s --out: exit %d, stderr %q", tc.format, code, errOut)
			}
			if !strings.HasPrefix(out, "export "+tc.format+": 2 bookings to "+path+" (reconciled ") {
				t.Errorf("export --out said %q", out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("--out file differs from stdout:\n%s", b)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("--out file mode %v, want 0600", fi.Mode().Perm())
			}

			// It is refused without --force, and left as it was.
			os.WriteFile(path, []byte("mine\n"), 0o644)
			code, _, errOut = salvage(t, "--case", dir, "export", tc.format, "--out", path)
			if code != exitError || !strings.Contains(errOut, "file exists (use --force to replace it)") {
				t.Errorf("export over a file: exit %d, stderr %q", code, errOut)
			}
			if b, _ := os.ReadFile(path); string(b) != "mine\n" {
				t.Errorf("refused export changed the file: %q", b)
			}
			if code, _, errOut = salvage(t, "--case", dir, "export", tc.format, "--out", path, "--force"); code != exitOK {
				t.Errorf("export --force: exit %d, stderr %q", code, errOut)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.want {
				t.Errorf("--force wrote:\n%s", b)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("--force file mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestExportBeforeReconcile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	if code, _, errOut := salvage(t, "--case", dir, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	out := filepath.Join(t.TempDir(), "b.csv")
	code, stdout, errOut := salvage(t, "--case", dir, "export", "csv", "--out", out)
	if code != exitError || stdout != "" || errOut != "salvage: no bookings yet: run salvage reconcile first\n" {
		t.Errorf("export before reconcile: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("export before reconcile wrote its --out file")
	}
}

func TestMarshalBookingsManyChunks(t *testing.T) {
	// Enough bookings to fill several of marshalBookings' buffers: each
	// keeps its own bytes and its brief's, whatever buffer they ended in.
	const n = 20_000 // about 6 MB of JSON
	bookings := make([]reconcile.Booking, n)
	want, wantBrief := make([]string, n), make([]string, n)
	for i := range bookings {
		bookings[i] = reconcile.Booking{Ref: "ACH-" + strings.Repeat("X", i%300) + "-" + count(int64(i)), Status: "confirmed",
			Evidence: []string{"mail:<" + count(int64(i)) + "@x>"}}
		want[i] = `{"ref":"` + bookings[i].Ref + `","status":"confirmed","customer":{},"amount_minor":null,"paid_minor":null,"refunded_minor":null,` +
			`"confidence":0,"needs_review":false,"provenance":null,"evidence":["mail:<` + count(int64(i)) + `@x>"],"sources":null}`
		wantBrief[i] = `{"ref":"` + bookings[i].Ref + `","status":"confirmed","customer":{},"needs_review":false,"evidence":["mail:<` + count(int64(i)) + `@x>"]}`
	}
	stored, err := marshalBookings(bookings)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != n {
		t.Fatalf("%d stored, want %d", len(stored), n)
	}
	for i, sb := range stored {
		if string(sb.JSON) != want[i] || !strings.HasPrefix(want[i], `{"ref":"`+sb.Ref+`"`) {
			t.Fatalf("booking %d: ref %q, JSON\n%s\nwant\n%s", i, sb.Ref, sb.JSON, want[i])
		}
		if string(sb.Brief) != wantBrief[i] {
			t.Fatalf("booking %d: brief\n%s\nwant\n%s", i, sb.Brief, wantBrief[i])
		}
		if cap(sb.JSON) != len(sb.JSON) || cap(sb.Brief) != len(sb.Brief) {
			t.Fatalf("booking %d: JSON or brief has spare capacity: an append would write into its neighbour", i)
		}
	}
	if bookings[0].Ref != "" {
		t.Error("bookings were not released as they were encoded")
	}
}

func TestReconcileSummaryText(t *testing.T) {
	sum := reconcile.Summary{
		Bookings:    300,
		ByStatus:    map[string]int{"confirmed": 240, "cancelled": 26, "requested": 17, "refunded": 3, "paid": 14, "changed": 0},
		NeedsReview: 31,
		Review:      map[string]int{"conflict": 12, "single_source": 9, "weak_link": 6, "refund": 3, "no_payment": 3},
		Used:        map[string]int{"stripe": 1321, "calendar": 290, "mail": 590},
		Unmatched:   map[string]int{"mail": 12, "stripe": 3},
		Ignored:     map[string]int{"mail": 58, "transcript": 39},
	}
	loc, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printSummary(&b, sum, 300, 2431, time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC), time.Time{}, loc, "incident")
	want := `Rebuilt 300 bookings from 2,431 records (window from 2026-08-20 03:00 WEST)
  status       confirmed 240 · cancelled 26 · requested 17 · paid 14 · refunded 3
  review       31 need review: conflict 12 · single_source 9 · weak_link 6 · no_payment 3 · refund 3
  evidence     used: stripe 1,321 · mail 590 · calendar 290; not matched: mail 12 · stripe 3; no booking facts: mail 58 · transcript 39
Next: salvage --case incident export csv --out bookings.csv   (or: export json --out bookings.jsonl)
`
	if b.String() != want {
		t.Errorf("summary\n got:\n%s\nwant:\n%s", b.String(), want)
	}
}
