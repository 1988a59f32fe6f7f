package restoresql

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/eval"
	"github.com/salvagehq/salvage/internal/scenariotest"
	"github.com/salvagehq/salvage/reconcile"
)

var scenarioDir = filepath.Join("..", "..", "fixtures", "scenario")

// scenario is the committed scenario, reconciled as salvage reconcile does
// (the window from the last backup), and reviewed.
type scenario struct {
	records []evidence.Record
	cfg     evidence.Config
	truth   map[string]*eval.TruthBooking
	list    []eval.TruthBooking
	mapping *Mapping
}

var (
	scenarioOnce sync.Once
	theScenario  *scenario
	scenarioErr  error
)

func loadScenario(t testing.TB) *scenario {
	t.Helper()
	scenarioOnce.Do(func() {
		s := &scenario{truth: map[string]*eval.TruthBooking{}}
		s.records, s.cfg = scenariotest.Records(t, scenarioDir)
		s.list, scenarioErr = eval.ReadTruth(scenarioDir)
		if scenarioErr != nil {
			return
		}
		for i := range s.list {
			s.truth[s.list[i].Ref] = &s.list[i]
		}
		s.mapping, scenarioErr = LoadMapping(filepath.Join(scenarioDir, "restored", "mapping.toml"))
		theScenario = s
	})
	if scenarioErr != nil {
		t.Fatal(scenarioErr)
	}
	return theScenario
}

// reconcile rebuilds the bookings (the records are copied: Reconcile may
// keep pointers into them).
func (s *scenario) reconcile(window bool) []reconcile.Booking {
	o := reconcile.Options{Config: s.cfg}
	if window {
		o.Since = s.cfg.Case.LastBackup
	}
	return reconcile.Reconcile(slices.Clone(s.records), o).Bookings
}

// review is what a careful reviewer does with the workbook: approve what
// needs no review (the workbook's default), and for each booking that
// does, look the booking up (here: in the ground truth, as staff would in
// their own memory, the customer's email, the car's key tag) and correct
// what is wrong or missing; reject a booking that is none.
func (s *scenario) review(bookings []reconcile.Booking) map[string]evidence.Review {
	out := map[string]evidence.Review{}
	for i := range bookings {
		b := &bookings[i]
		r := evidence.Review{Ref: b.Ref, Decision: evidence.Approve, Workbook: "test"}
		if !b.NeedsReview {
			out[b.Ref] = r
			continue
		}
		tb := s.truth[b.Ref]
		if tb == nil {
			r.Decision = evidence.Reject
			out[b.Ref] = r
			continue
		}
		fix := map[string]string{}
		for _, f := range eval.Fields {
			if f.Equal(tb, b) {
				continue
			}
			switch f.Name {
			case "email":
				fix["customer.email"] = tb.Customer.Email
			case "name":
				fix["customer.name"] = tb.Customer.Name
			case "phone":
				fix["customer.phone"] = tb.Customer.Phone
			case "item":
				fix["item"] = tb.Item
			case "start":
				fix["start"] = tb.Start.UTC().Format(time.RFC3339)
			case "end":
				fix["end"] = tb.End.UTC().Format(time.RFC3339)
			case "amount":
				fix["amount_minor"] = itoa(tb.AmountMinor)
			}
		}
		if len(fix) > 0 {
			r.Decision, r.Corrections = evidence.Fix, fix
		}
		out[b.Ref] = r
	}
	return out
}

func itoa(i int64) string { return Value{Kind: Int, I: i}.String() }

// chosen returns the items Choose picks.
func chosen(t testing.TB, bookings []reconcile.Booking, reviews map[string]evidence.Review) ([]Item, Selection) {
	t.Helper()
	sel, err := Choose(bookings, reviews, false)
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for i, it := range sel.Items {
		if sel.Chosen[i] {
			items = append(items, it)
		}
	}
	return items, sel
}

// writeFile writes the SQL to a file in dir.
func writeFile(t testing.TB, dir string, items []Item, o Options) (string, Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := Write(&b, items, o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, string(o.Dialect)+"-"+strings.ReplaceAll(t.Name(), "/", "-")+".sql")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, res
}

// TestScenarioLoads is the acceptance test of the restore SQL, for each of
// PostgreSQL, MariaDB and SQLite: the scenario's restored database is
// loaded, then the SQL salvage writes for the reviewed bookings, with the
// database's own client. Afterwards every ground-truth booking that
// evidence survived of is there with the right values, every row that was
// there before is as it was, a second load changes nothing, and a failure
// in the middle of the file leaves the database as it was.
func TestScenarioLoads(t *testing.T) {
	s := loadScenario(t)
	bookings := s.reconcile(true)
	reviews := s.review(bookings)
	items, sel := chosen(t, bookings, reviews)
	if sel.Rule != RuleApproved {
		t.Fatalf("rule %q", sel.Rule)
	}
	dir := t.TempDir()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			path, res := writeFile(t, dir, items, Options{Dialect: d, Mapping: s.mapping, Case: testCase(len(bookings)), Chosen: sel.Rule})
			if len(res.Left) > 0 {
				t.Errorf("left out: %v", res.Left)
			}
			srv := startServer(t, d)
			x := srv.fresh(t, true)
			before := x.checksums(t, restoredTables...)
			old := map[string]bool{}
			for _, r := range x.rows(t, "SELECT email FROM customers") {
				old[r[0]] = true
			}
			x.mustLoad(t, path)
			after := x.checksums(t, restoredTables...)
			added := unchanged(t, before, after)
			checkTruth(t, s, x, items, old)
			t.Logf("%s: %d rows before, %d added; %d bookings written", d, len(before), added, res.Written)

			// Twice: nothing changes.
			x.mustLoad(t, path)
			sameRows(t, "after a second load", after, x.checksums(t, restoredTables...))

			// A failure in the middle: the database is as it was.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range injectionPoints(d, string(data)) {
				bad := filepath.Join(dir, "bad-"+string(d)+".sql")
				broken := string(data[:at]) + "SELECT * FROM salvage_no_such_table;\n" + string(data[at:])
				if err := os.WriteFile(bad, []byte(broken), 0o600); err != nil {
					t.Fatal(err)
				}
				y := srv.fresh(t, true)
				before := y.checksums(t, restoredTables...)
				_, stderr, err := y.load(bad)
				if err == nil {
					t.Errorf("a file failing at byte %d loaded without error", at)
				}
				if !strings.Contains(stderr, "salvage_no_such_table") {
					t.Errorf("the client does not report the injected failure: %q", lastLines(stderr, 5))
				}
				sameRows(t, "after a failed load", before, y.checksums(t, restoredTables...))
			}
		})
	}
}

// injectionPoints are offsets of statement starts in the middle of the
// file: after some rows went in (the second INSERT), and at COMMIT.
func injectionPoints(d Dialect, data string) []int {
	var starts []int
	for i := 0; i < len(data); {
		j := strings.Index(data[i:], "\nINSERT INTO ")
		if j < 0 {
			break
		}
		starts = append(starts, i+j+1)
		i += j + 1
	}
	var out []int
	if len(starts) > 1 {
		out = append(out, starts[len(starts)/2])
	}
	if c := strings.LastIndex(data, "\nCOMMIT;"); c >= 0 {
		out = append(out, c+1)
	}
	return out
}

// checkTruth checks, for every ground-truth booking that evidence survived
// of, that the database holds it: a booking lost since the backup with its
// values as the truth has them (and as salvage wrote them), a booking of
// the backup as the backup had it (unchanged rows are checked elsewhere).
func checkTruth(t *testing.T, s *scenario, x *testDB, items []Item, oldCustomers map[string]bool) {
	t.Helper()
	d := x.s.d
	got := map[string][]string{}
	for _, r := range x.rows(t, "SELECT b.ref, c.email, c.name, c.phone, v.plate, b.status, "+asTextSQL(d, "b.start_at")+", "+
		asTextSQL(d, "b.end_at")+", b.amount_minor, b.currency FROM bookings b JOIN customers c ON c.id = b.customer_id JOIN vehicles v ON v.id = b.vehicle_id") {
		got[r[0]] = r
	}
	pays := map[string][][]string{}
	for _, r := range x.rows(t, "SELECT b.ref, p.provider_ref, p.amount_minor, p.refunded_minor, p.status, p.method FROM payments p JOIN bookings b ON b.id = p.booking_id") {
		pays[r[0]] = append(pays[r[0]], r)
	}
	byRef := map[string]*Item{}
	for i := range items {
		byRef[items[i].Booking.Ref] = &items[i]
	}
	dt := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04:05") }
	statusMap := s.mapping.Table("bookings").Column("status").Spec.Map
	checked, lost, wrongStatus, otherName := 0, 0, 0, 0
	firstOf := map[string]*Item{}
	for i := range items {
		if e := items[i].Booking.Customer.Email; firstOf[e] == nil {
			firstOf[e] = &items[i]
		}
	}
	for _, tb := range s.list {
		if len(tb.Sources) == 0 {
			continue // nothing survived: not recoverable
		}
		r := got[tb.Ref]
		if r == nil {
			t.Errorf("%s (in backup %v) is not in the database", tb.Ref, tb.InBackup)
			continue
		}
		checked++
		if tb.InBackup {
			continue // its rows are unchanged: checked by checksum
		}
		lost++
		it := byRef[tb.Ref]
		if it == nil {
			t.Errorf("%s: in the database but not written by salvage?", tb.Ref)
			continue
		}
		b := &it.Booking
		want := map[string]string{
			"email": tb.Customer.Email, "plate": tb.Vehicle.Plate, "start": dt(tb.Start), "end": dt(tb.End),
			"amount": itoa(tb.AmountMinor), "currency": tb.Currency,
		}
		have := map[string]string{"email": r[1], "plate": r[4], "start": strings.TrimSuffix(r[6], ".000000"), "end": strings.TrimSuffix(r[7], ".000000"),
			"amount": r[8], "currency": r[9]}
		for _, k := range slices.Sorted(mapKeys(want)) {
			if !strings.EqualFold(want[k], have[k]) {
				t.Errorf("%s: %s %q, the truth says %q", tb.Ref, k, have[k], want[k])
			}
		}
		// A new customer: as the first of their bookings has them (the
		// name and phone salvage rebuilt; how often those match the truth
		// is the reconciler's measure, logged).
		if !oldCustomers[r[1]] {
			first := firstOf[r[1]]
			if first == nil || r[2] != first.Booking.Customer.Name || r[3] != nullable(first.Booking.Customer.Phone) {
				t.Errorf("%s: new customer %q %q, salvage rebuilt %+v", tb.Ref, r[2], r[3], first)
			}
			if !evalField(t, "name").Equal(&tb, &reconcile.Booking{Customer: reconcile.Customer{Name: r[2]}}) {
				otherName++
			}
		}
		// The status: what salvage rebuilt, mapped; the truth's when the
		// evidence tells it (a booking paid in cash shows as requested).
		if m := statusMap[b.Status]; r[5] != m.S {
			t.Errorf("%s: status %q, salvage rebuilt %q (%q)", tb.Ref, r[5], b.Status, m.S)
		}
		if r[5] != tb.Status {
			wrongStatus++
			t.Logf("%s: status %s, truth %s: the evidence says %s", tb.Ref, r[5], tb.Status, b.Status)
		}
		// Card payments: one row with what was paid and refunded.
		pi := fieldByName["stripe.payment_intent"].get(it, nil)
		if pi.IsNull() || b.PaidMinor == nil || *b.PaidMinor == 0 {
			if len(pays[tb.Ref]) > 0 {
				t.Errorf("%s: payments %v without a Stripe payment", tb.Ref, pays[tb.Ref])
			}
			continue
		}
		p := pays[tb.Ref]
		wantStatus := "succeeded"
		if tb.RefundedMinor > 0 {
			wantStatus = "refunded"
		}
		if len(p) != 1 || p[0][1] != pi.S || p[0][2] != itoa(tb.PaidMinor) || p[0][3] != itoa(tb.RefundedMinor) || p[0][4] != wantStatus || p[0][5] != "card" {
			t.Errorf("%s: payments %v, want one card payment %s of %d refunded %d %s", tb.Ref, p, pi.S, tb.PaidMinor, tb.RefundedMinor, wantStatus)
		}
	}
	if lost < 200 {
		t.Errorf("only %d lost bookings checked", lost)
	}
	t.Logf("%s: %d recoverable bookings present (%d lost ones written and checked field by field; %d with a status the evidence gets wrong, %d new customers named otherwise than the truth)",
		d, checked, lost, wrongStatus, otherName)
}

func evalField(t *testing.T, name string) eval.Field {
	for _, f := range eval.Fields {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("eval has no field %s", name)
	return eval.Field{}
}

func testCase(n int) Case {
	return Case{ID: "0123456789abcdef01234567", Bookings: n, Currency: "EUR",
		ReconciledAt: time.Date(2026, 11, 19, 9, 30, 0, 0, time.UTC), Since: time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)}
}

func nullable(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func mustRead(tb testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
