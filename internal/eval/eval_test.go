package eval

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/reconcile"
)

// tb makes a true booking with the given evidence (source → ids, as the
// truth file writes them).
func tb(ref string, ev map[string][]string) TruthBooking {
	t := TruthBooking{Ref: ref, Status: "confirmed", Item: "Renault Clio (AB-12-CD)", Currency: "EUR",
		Start: time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 6, 9, 0, 0, 0, time.UTC),
		AmountMinor: 118450, PaidMinor: 118450, Evidence: ev}
	t.Customer.Name = "Sebastião Estêvão"
	t.Customer.Email = "sebastiao@mailbox.example"
	t.Customer.Phone = "+351963033809"
	t.Vehicle.Plate = "AB-12-CD"
	t.Vehicle.Model = "Renault Clio"
	for src := range ev {
		t.Sources = append(t.Sources, src)
	}
	return t
}

// rebuilt is a right rebuild of t, written differently where the
// comparison must not care (case, accents, phone format, zone, seconds),
// holding the given evidence ids.
func rebuilt(t TruthBooking, evidence ...string) reconcile.Booking {
	lis := time.FixedZone("WEST", 3600)
	start, end := t.Start.In(lis).Add(20*time.Second), t.End.In(lis)
	amount, paid := t.AmountMinor, t.PaidMinor
	return reconcile.Booking{
		Ref: t.Ref, Status: map[string]string{"confirmed": "paid", "cancelled": "cancelled", "requested": "requested"}[t.Status],
		Customer: reconcile.Customer{Name: strings.ToUpper("Sebastiao Estevao"), Email: strings.ToUpper(t.Customer.Email), Phone: "963 033 809"},
		Item:     "Clio / " + t.Vehicle.Plate, Start: &start, End: &end,
		AmountMinor: &amount, PaidMinor: &paid, Currency: "EUR",
		Evidence: evidence,
	}
}

var (
	tA = tb("ACH-AAAAA", map[string][]string{
		"stripe":   {"pi_A", "ch_A", "cs_live_A"},
		"calendar": {"evA"},
		"mail":     {"<a1@atlantico-carhire.example>"},
	})
	tB = tb("ACH-BBBBB", map[string][]string{
		"stripe": {"pi_B", "ch_B"},
		"mail":   {"<b1@atlantico-carhire.example>"},
	})
	tC = tb("ACH-CCCCC", map[string][]string{"calendar": {"evC"}})
	// tD survives nowhere: out of scope.
	tD = tb("ACH-DDDDD", nil)
)

func all(t TruthBooking) []string { return t.RecordIDs() }

func join(a ...[]string) []string {
	var out []string
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

func TestCompare(t *testing.T) {
	wrongStart := func(b reconcile.Booking) reconcile.Booking {
		s := b.Start.Add(time.Hour)
		b.Start = &s
		return b
	}
	wrongAmount := func(b reconcile.Booking) reconcile.Booking {
		v := *b.AmountMinor + 100
		b.AmountMinor = &v
		return b
	}
	flag := func(b reconcile.Booking) reconcile.Booking {
		b.NeedsReview = true
		b.Reasons = []reconcile.Reason{{Code: reconcile.ReasonConflict}}
		return b
	}
	type want struct {
		precision, recall                       float64
		merges, splits, missing, extra, silent  int
		foreign                                 int
		met                                     bool
		accuracy                                map[string]float64 // fields not listed: 1 (or 0 with nothing matched)
		flagged                                 float64
		exampleRef, exampleKind, exampleContain string
	}
	cases := []struct {
		name  string
		truth []TruthBooking
		got   []reconcile.Booking
		want  want
	}{
		{
			name:  "perfect",
			truth: []TruthBooking{tA, tB, tC, tD},
			got:   []reconcile.Booking{rebuilt(tA, all(tA)...), rebuilt(tB, all(tB)...), rebuilt(tC, all(tC)...)},
			want:  want{precision: 1, recall: 1, met: true},
		},
		{
			name:  "neutral ids do not decide",
			truth: []TruthBooking{tA, tB},
			got: []reconcile.Booking{
				rebuilt(tA, join(all(tA), []string{"stripe:cus_X", "stripe:evt_1", "stripe:evt_2", "stripe:evt_3", "stripe:evt_4", "stripe:evt_5"})...),
				rebuilt(tB, join(all(tB), []string{"stripe:cus_X"})...),
			},
			want: want{precision: 1, recall: 1, met: true},
		},
		{
			name:  "false merge",
			truth: []TruthBooking{tA, tB},
			got:   []reconcile.Booking{rebuilt(tA, join(all(tA), all(tB)[:1])...)},
			want: want{precision: 0, recall: 0.5, merges: 1, missing: 1,
				exampleKind: "false merges", exampleContain: "ACH-AAAAA (5 ids), ACH-BBBBB (1 id)"},
		},
		{
			name:  "false split",
			truth: []TruthBooking{tA},
			got:   []reconcile.Booking{rebuilt(tA, all(tA)[:3]...), rebuilt(tA, all(tA)[3:]...)},
			want: want{precision: 0, recall: 1, splits: 1,
				exampleRef: "ACH-AAAAA", exampleKind: "false splits", exampleContain: "(3 ids), ACH-AAAAA (2 ids)"},
		},
		{
			name:  "wrong field flagged vs silent",
			truth: []TruthBooking{tA, tB},
			got:   []reconcile.Booking{flag(wrongStart(rebuilt(tA, all(tA)...))), wrongAmount(rebuilt(tB, all(tB)...))},
			want: want{precision: 1, recall: 1, silent: 1, flagged: 0.5,
				accuracy:   map[string]float64{"start": 0.5, "amount": 0.5},
				exampleRef: "ACH-BBBBB", exampleKind: "silent errors", exampleContain: "wrong amount"},
		},
		{
			name:  "missing booking",
			truth: []TruthBooking{tA, tB, tC, tD},
			got:   []reconcile.Booking{rebuilt(tA, all(tA)...), rebuilt(tB, all(tB)...)},
			want: want{precision: 1, recall: 2.0 / 3, missing: 1,
				exampleRef: "ACH-CCCCC", exampleKind: "missing", exampleContain: "evidence in no rebuilt booking"},
		},
		{
			name:  "extra booking",
			truth: []TruthBooking{tA},
			got: []reconcile.Booking{rebuilt(tA, all(tA)...),
				{Ref: "SALV-1", Status: "confirmed", Evidence: []string{"ics:weekly@google.com:20261104T093000Z", "mail:<news@shop.example>"}},
				{Ref: "SALV-2", Status: "confirmed", Evidence: []string{"stripe:cus_Y"}}},
			want: want{precision: 1.0 / 3, recall: 1, extra: 2, foreign: 2,
				exampleKind: "extra", exampleContain: "no evidence of any true booking"},
		},
		{
			name:  "no majority",
			truth: []TruthBooking{tB, tC},
			got:   []reconcile.Booking{rebuilt(tB, all(tB)[0], all(tC)[0])},
			want: want{precision: 0, recall: 0, merges: 1, missing: 2, extra: 1,
				exampleKind: "extra", exampleContain: "no true booking owns a majority"},
		},
		{
			name:  "nil values",
			truth: []TruthBooking{tA},
			got: func() []reconcile.Booking {
				b := rebuilt(tA, all(tA)...)
				b.AmountMinor, b.RefundedMinor, b.End, b.Customer.Phone = nil, nil, nil, ""
				return []reconcile.Booking{b}
			}(),
			want: want{precision: 1, recall: 1, silent: 1,
				accuracy:    map[string]float64{"amount": 0, "end": 0, "phone": 0}, // refunded: nil is a true 0
				exampleKind: "silent errors", exampleContain: "wrong end, amount"},
		},
		{
			name:  "nothing rebuilt",
			truth: []TruthBooking{tA, tB, tD},
			want:  want{missing: 2},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Compare(c.truth, c.got)
			w := c.want
			near := func(name string, got, want float64) {
				t.Helper()
				if d := got - want; d > 1e-9 || d < -1e-9 {
					t.Errorf("%s = %.4f, want %.4f", name, got, want)
				}
			}
			near("precision", r.Precision, w.precision)
			near("recall", r.Recall, w.recall)
			near("flagged", r.FlaggedShare, w.flagged)
			for name, got := range map[string][2]int{
				"false merges": {r.FalseMerges.Count, w.merges}, "false splits": {r.FalseSplits.Count, w.splits},
				"missing": {r.Missing.Count, w.missing}, "extra": {r.Extra.Count, w.extra},
				"silent": {r.Silent.Count, w.silent}, "foreign evidence": {r.ForeignEvidence.Count, w.foreign},
			} {
				if got[0] != got[1] {
					t.Errorf("%s = %d, want %d", name, got[0], got[1])
				}
			}
			for _, f := range r.Fields {
				want, ok := w.accuracy[f.Field]
				if !ok {
					want = 1
					if r.Matched == 0 {
						want = 0
					}
				}
				near(f.Field+" accuracy", f.Accuracy, want)
				if len(f.Wrong.Examples) != f.Of-f.Right {
					t.Errorf("%s: %d examples of %d wrong", f.Field, len(f.Wrong.Examples), f.Of-f.Right)
				}
			}
			if r.Met() != w.met {
				t.Errorf("goals met = %v, want %v (missed %v)", r.Met(), w.met, r.Missed())
			}
			if w.exampleKind != "" {
				tally := map[string]Tally{"false merges": r.FalseMerges, "false splits": r.FalseSplits,
					"missing": r.Missing, "extra": r.Extra, "silent errors": r.Silent}[w.exampleKind]
				if len(tally.Examples) == 0 {
					t.Fatalf("no %s example", w.exampleKind)
				}
				e := tally.Examples[0]
				if w.exampleRef != "" && e.Ref != w.exampleRef {
					t.Errorf("%s example ref %q, want %q", w.exampleKind, e.Ref, w.exampleRef)
				}
				if !strings.Contains(e.line(), w.exampleContain) {
					t.Errorf("%s example %q does not say %q", w.exampleKind, e.line(), w.exampleContain)
				}
			}
			text := r.String()
			for _, s := range []string{"precision", "recall", "silent errors", "flagged"} {
				if !strings.Contains(text, s) {
					t.Errorf("text report lacks %q:\n%s", s, text)
				}
			}
			if w.met != strings.Contains(text, "goals: all") {
				t.Errorf("text report and goals disagree:\n%s", text)
			}
			b, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(b, &back); err != nil || back.Precision != r.Precision || back.Silent.Count != r.Silent.Count {
				t.Errorf("JSON round trip: %v, %+v", err, back)
			}
		})
	}
}

func TestExamplesCapped(t *testing.T) {
	var truth []TruthBooking
	for i := range 25 {
		truth = append(truth, tb(strings.Repeat("X", i+1), map[string][]string{"mail": {"<m" + strings.Repeat("x", i) + "@x>"}}))
	}
	r := Compare(truth, nil)
	if r.Missing.Count != 25 || len(r.Missing.Examples) != MaxExamples {
		t.Errorf("missing %d with %d examples, want 25 with %d", r.Missing.Count, len(r.Missing.Examples), MaxExamples)
	}
	if !strings.Contains(r.String(), "missing: 25 (first 10)") {
		t.Errorf("report does not say the examples are the first 10:\n%s", r.String())
	}
}

func TestFieldEquality(t *testing.T) {
	truth := tb("ACH-AAAAA", nil)
	field := func(name string) Field {
		for _, f := range Fields {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("no field %s", name)
		return Field{}
	}
	ptr := func(v int64) *int64 { return &v }
	tm := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	cases := []struct {
		field string
		set   func(*reconcile.Booking)
		want  bool
	}{
		{"email", func(b *reconcile.Booking) { b.Customer.Email = " Sebastiao@MAILBOX.example " }, true},
		{"email", func(b *reconcile.Booking) { b.Customer.Email = "sebastiao@other.example" }, false},
		{"email", func(b *reconcile.Booking) { b.Customer.Email = "" }, false},
		{"phone", func(b *reconcile.Booking) { b.Customer.Phone = "+351 963 033 809" }, true},
		{"phone", func(b *reconcile.Booking) { b.Customer.Phone = "00351 963-033-809" }, true},
		{"phone", func(b *reconcile.Booking) { b.Customer.Phone = "963033809" }, true},
		{"phone", func(b *reconcile.Booking) { b.Customer.Phone = "+34 963 033 809" }, false},
		{"phone", func(b *reconcile.Booking) { b.Customer.Phone = "+351213555010" }, false}, // the business's
		{"name", func(b *reconcile.Booking) { b.Customer.Name = "sebastiao  ESTEVAO" }, true},
		{"name", func(b *reconcile.Booking) { b.Customer.Name = "Estêvão, Sebastião" }, false},
		{"start", func(b *reconcile.Booking) { b.Start = tm("2026-10-03T10:00:59+01:00") }, true},
		{"start", func(b *reconcile.Booking) { b.Start = tm("2026-10-03T10:01:00+01:00") }, false},
		{"start", func(b *reconcile.Booking) { b.Start = nil }, false},
		{"end", func(b *reconcile.Booking) { b.End = tm("2026-10-06T09:00:00Z") }, true},
		{"item", func(b *reconcile.Booking) { b.Item = "renault clio (ab-12-cd)" }, true},
		{"item", func(b *reconcile.Booking) { b.Item = "Clio AB-12-CD" }, true},
		{"item", func(b *reconcile.Booking) { b.Item = "Renault Clio" }, false},
		{"item", func(b *reconcile.Booking) { b.Item = "" }, false},
		{"amount", func(b *reconcile.Booking) { b.AmountMinor = ptr(118450) }, true},
		{"amount", func(b *reconcile.Booking) { b.AmountMinor = ptr(118400) }, false},
		{"amount", func(b *reconcile.Booking) { b.AmountMinor = nil }, false},
		{"refunded", func(b *reconcile.Booking) { b.RefundedMinor = nil }, true},
		{"refunded", func(b *reconcile.Booking) { b.RefundedMinor = ptr(0) }, true},
		{"refunded", func(b *reconcile.Booking) { b.RefundedMinor = ptr(100) }, false},
		{"status", func(b *reconcile.Booking) { b.Status = "changed" }, true},
		{"status", func(b *reconcile.Booking) { b.Status = "partly_refunded" }, true},
		{"status", func(b *reconcile.Booking) { b.Status = "cancelled" }, false},
		{"status", func(b *reconcile.Booking) { b.Status = "" }, false},
	}
	for _, c := range cases {
		b := rebuilt(truth)
		c.set(&b)
		f := field(c.field)
		if got := f.Equal(&truth, &b); got != c.want {
			t.Errorf("%s: want %q got %q: equal = %v, want %v", c.field, f.Want(&truth), f.Got(&b), got, c.want)
		}
	}
	cancelled := truth
	cancelled.Status = "cancelled"
	for status, want := range map[string]bool{"refunded": true, "partly_refunded": true, "cancelled": true, "paid": false, "requested": false} {
		if got := statusEqual(cancelled.Status, status); got != want {
			t.Errorf("status %s for a cancelled booking: %v, want %v", status, got, want)
		}
	}
}

func TestRecordID(t *testing.T) {
	for _, c := range [][3]string{
		{"stripe", "pi_3N6LdO", "stripe:pi_3N6LdO"},
		{"calendar", "n5km03l16esrpk7qlic2ku6586", "ics:n5km03l16esrpk7qlic2ku6586@google.com"},
		{"calendar", "abc@google.com", "ics:abc@google.com"},
		{"mail", "<2026.e7b0@atlantico-carhire.example>", "mail:<2026.e7b0@atlantico-carhire.example>"},
		{"restored", "x", ""},
	} {
		if got := RecordID(c[0], c[1]); got != c[2] {
			t.Errorf("RecordID(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestReadBookings(t *testing.T) {
	in := `{"ref":"ACH-AAAAA","status":"paid","customer":{"email":"a@b.example"},"start":"2026-10-03T09:00:00Z","amount_minor":100,"paid_minor":null,"refunded_minor":null,"confidence":1,"needs_review":false,"provenance":{},"evidence":["stripe:pi_A"],"sources":["stripe"]}

{"ref":"ACH-BBBBB","status":"requested","customer":{},"amount_minor":null,"paid_minor":null,"refunded_minor":null,"confidence":0.4,"needs_review":true,"provenance":{},"evidence":[],"sources":[]}
`
	got, err := ReadBookings(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Ref != "ACH-AAAAA" || *got[0].AmountMinor != 100 || got[0].PaidMinor != nil || !got[1].NeedsReview {
		t.Errorf("read %+v", got)
	}
	if _, err := ReadBookings(strings.NewReader(in + "not json\n")); err == nil || !strings.Contains(err.Error(), "booking 3") {
		t.Errorf("bad line: err = %v", err)
	}
	if got, err := ReadBookings(strings.NewReader("")); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}

// TestReadTruthScenario reads the committed scenario's truth and checks a
// rebuild made from it scores perfectly.
func TestReadTruthScenario(t *testing.T) {
	truth, err := ReadTruth("../../fixtures/scenario")
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != 300 {
		t.Fatalf("%d true bookings, want 300", len(truth))
	}
	owner := map[string]string{}
	statuses := map[string]int{}
	events, scope := 0, 0
	for i, b := range truth {
		if i > 0 && truth[i-1].Ref >= b.Ref {
			t.Errorf("not sorted by ref: %s before %s", truth[i-1].Ref, b.Ref)
		}
		statuses[b.Status]++
		if len(b.Sources) > 0 {
			scope++
		}
		if b.Start.IsZero() || b.End.IsZero() || b.Item == "" || b.Customer.Email == "" || b.AmountMinor <= 0 {
			t.Errorf("%s: missing facts: %+v", b.Ref, b)
		}
		n := 0
		for src, ids := range b.Evidence {
			n += len(ids)
			if !contains(b.Sources, src) {
				t.Errorf("%s: evidence from %s, not among its sources %v", b.Ref, src, b.Sources)
			}
		}
		if len(b.Records) < n {
			t.Errorf("%s: %d record ids for %d evidence ids", b.Ref, len(b.Records), n)
		}
		for _, id := range b.Records {
			if prev, ok := owner[id]; ok {
				t.Errorf("%s held by %s and %s", id, prev, b.Ref)
			}
			owner[id] = b.Ref
			switch {
			case strings.HasPrefix(id, "stripe:evt_"):
				events++
			case strings.HasPrefix(id, "ics:"):
				if !strings.HasSuffix(id, "@google.com") {
					t.Errorf("%s: calendar record %s", b.Ref, id)
				}
			case strings.HasPrefix(id, "mail:<"), strings.HasPrefix(id, "stripe:"):
			default:
				t.Errorf("%s: record id %s", b.Ref, id)
			}
		}
	}
	if scope == 0 || statuses["confirmed"] == 0 || statuses["cancelled"] == 0 || statuses["requested"] == 0 {
		t.Errorf("in scope %d, statuses %v", scope, statuses)
	}
	if events == 0 {
		t.Errorf("no Stripe event mapped to a booking")
	}

	var got []reconcile.Booking
	for _, b := range truth {
		if len(b.Sources) > 0 {
			got = append(got, rebuiltFrom(b))
		}
	}
	r := Compare(truth, got)
	if !r.Met() || r.Precision != 1 || r.Recall != 1 || r.FalseMerges.Count+r.FalseSplits.Count+r.Extra.Count != 0 {
		t.Errorf("a rebuild from the truth scores:\n%s", r.String())
	}
	for _, f := range r.Fields {
		if f.Accuracy != 1 {
			t.Errorf("%s accuracy %.3f: %+v", f.Field, f.Accuracy, f.Wrong.Examples)
		}
	}
}

// rebuiltFrom is a right rebuild of any true booking.
func rebuiltFrom(t TruthBooking) reconcile.Booking {
	amount, paid, refunded := t.AmountMinor, t.PaidMinor, t.RefundedMinor
	start, end := t.Start, t.End
	return reconcile.Booking{Ref: t.Ref, Status: t.Status,
		Customer: reconcile.Customer{Name: t.Customer.Name, Email: t.Customer.Email, Phone: t.Customer.Phone},
		Item:     t.Item, Start: &start, End: &end, AmountMinor: &amount, PaidMinor: &paid, RefundedMinor: &refunded,
		Evidence: t.Records}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
