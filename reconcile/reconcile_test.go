package reconcile

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func minor(n int64) *int64 { return &n }

// rec builds a record; at is when it occurred.
func rec(id string, src evidence.Source, kind, at string, f evidence.Facts) evidence.Record {
	return evidence.Record{ID: id, Version: 1, Source: src, Via: "test", Kind: kind, OccurredAt: *ts(at), Facts: f}
}

const shop = "bookings@carhire.example"

func mail(id, at, from, to string, f evidence.Facts) evidence.Record {
	if f.Attrs == nil {
		f.Attrs = map[string]string{}
	}
	f.Attrs["from"], f.Attrs["to"] = from, to
	return rec("mail:<"+id+">", evidence.Mail, "email", at, f)
}

// background is mail that makes the shop's address the business's own:
// most of a mailbox is to or from it.
func background() []evidence.Record {
	var out []evidence.Record
	for i, who := range []string{"x1@example.com", "x2@example.com", "x3@example.com", "x4@example.com"} {
		out = append(out, mail("news"+string(rune('a'+i))+"@example.com", "2026-09-01T08:00:00Z", who, shop,
			evidence.Facts{Attrs: map[string]string{"subject": "hello"}}))
	}
	return out
}

func pi(id, ref, at string, amount int64, paid int64, extra ...evidence.Link) evidence.Record {
	f := evidence.Facts{Ref: ref, AmountMinor: minor(amount), PaidMinor: minor(paid), Currency: "EUR", Status: evidence.Paid,
		Links: append([]evidence.Link{{Rel: "stripe_payment_intent", ID: id}}, extra...), Attrs: map[string]string{"stripe_status": "succeeded"}}
	return rec("stripe:"+id, evidence.Stripe, "payment_intent", at, f)
}

func charge(id, pi, at, name, email string, amount int64) evidence.Record {
	return rec("stripe:"+id, evidence.Stripe, "charge", at, evidence.Facts{Name: name, Email: email, AmountMinor: minor(amount), PaidMinor: minor(amount),
		Currency: "EUR", Status: evidence.Paid, Links: []evidence.Link{{Rel: "stripe_payment_intent", ID: pi}, {Rel: "stripe_charge", ID: id}}})
}

func event(uid, at string, seq int, f evidence.Facts) evidence.Record {
	if f.Attrs == nil {
		f.Attrs = map[string]string{}
	}
	f.Attrs["sequence"] = itoa(seq)
	f.Attrs["event_status"] = "confirmed"
	f.Links = append(f.Links, evidence.Link{Rel: "ical_uid", ID: uid})
	return rec("ics:"+uid, evidence.Calendar, "event", at, f)
}

func itoa(n int) string { return string(rune('0' + n)) }

// cases are the hand-made tricky cases, each a set of records and a
// golden file of the bookings they give.
var cases = map[string][]evidence.Record{
	"change-after-confirmation": append(background(),
		mail("c1@carhire.example", "2026-09-01T10:00:00Z", shop, "ana@example.com", evidence.Facts{Ref: "ACH-1001", Name: "Ana Sousa",
			Item: "Renault Clio (AA-11-BB)", Start: ts("2026-10-03T09:00:00Z"), End: ts("2026-10-06T09:00:00Z"), AmountMinor: minor(18000), Currency: "EUR", Status: evidence.Confirmed}),
		mail("c2@carhire.example", "2026-09-10T10:00:00Z", shop, "ana@example.com", evidence.Facts{Ref: "ACH-1001", Name: "Ana Sousa",
			Item: "Renault Clio (AA-11-BB)", Start: ts("2026-10-04T09:00:00Z"), End: ts("2026-10-07T09:00:00Z"), AmountMinor: minor(18000), Currency: "EUR", Status: evidence.Changed}),
		event("e1@google.com", "2026-09-10T10:05:00Z", 1, evidence.Facts{Ref: "ACH-1001", Name: "Ana Sousa", Item: "Clio AA-11-BB",
			Start: ts("2026-10-04T09:00:00Z"), End: ts("2026-10-07T09:00:00Z")}),
		pi("pi_1001", "ACH-1001", "2026-09-01T09:58:00Z", 18000, 18000),
		charge("ch_1001", "pi_1001", "2026-09-01T09:58:00Z", "Ana Sousa", "ana@example.com", 18000),
	),
	"second-address": append(background(),
		mail("s1@carhire.example", "2026-09-02T10:00:00Z", shop, "maria@example.com", evidence.Facts{Ref: "ACH-2002", Name: "Maria Rodrigues",
			Item: "Fiat 500 (CC-22-DD)", Start: ts("2026-10-10T10:00:00Z"), End: ts("2026-10-12T10:00:00Z"), AmountMinor: minor(9000), Currency: "EUR", Status: evidence.Confirmed}),
		mail("s2@work.example", "2026-09-05T12:00:00Z", "m.rodrigues@work.example", shop, evidence.Facts{Ref: "ACH-2002", Name: "Maria Rodrigues", Status: evidence.Confirmed,
			Links: []evidence.Link{{Rel: "in_reply_to", ID: "s1@carhire.example"}}}),
		pi("pi_2002", "ACH-2002", "2026-09-02T09:59:00Z", 9000, 9000),
		charge("ch_2002", "pi_2002", "2026-09-02T09:59:00Z", "Maria Rodrigues", "maria@example.com", 9000),
	),
	"back-to-back": append(background(),
		mail("b1@carhire.example", "2026-09-03T10:00:00Z", shop, "joao@example.com", evidence.Facts{Ref: "ACH-3003", Name: "João Silva",
			Item: "Seat Ibiza (EE-33-FF)", Start: ts("2026-10-01T09:00:00Z"), End: ts("2026-10-05T09:00:00Z"), AmountMinor: minor(20000), Currency: "EUR", Status: evidence.Confirmed}),
		mail("b2@carhire.example", "2026-09-04T10:00:00Z", shop, "joao@example.com", evidence.Facts{Ref: "ACH-3004", Name: "João Silva",
			Item: "Seat Ibiza (EE-33-FF)", Start: ts("2026-10-05T09:00:00Z"), End: ts("2026-10-08T09:00:00Z"), AmountMinor: minor(15000), Currency: "EUR", Status: evidence.Confirmed}),
		pi("pi_3003", "ACH-3003", "2026-09-03T09:58:00Z", 20000, 20000),
		pi("pi_3004", "ACH-3004", "2026-09-04T09:58:00Z", 15000, 15000),
	),
	"refund": append(background(),
		mail("r1@carhire.example", "2026-09-05T10:00:00Z", shop, "pedro@example.com", evidence.Facts{Ref: "ACH-4004", Name: "Pedro Costa",
			Item: "VW Golf (GG-44-HH)", Start: ts("2026-10-20T09:00:00Z"), End: ts("2026-10-22T09:00:00Z"), AmountMinor: minor(12000), Currency: "EUR", Status: evidence.Confirmed}),
		mail("r2@carhire.example", "2026-09-15T10:00:00Z", shop, "pedro@example.com", evidence.Facts{Ref: "ACH-4004", Status: evidence.Cancelled}),
		pi("pi_4004", "ACH-4004", "2026-09-05T09:58:00Z", 12000, 12000),
		charge("ch_4004", "pi_4004", "2026-09-05T09:58:00Z", "Pedro Costa", "pedro@example.com", 12000),
		rec("stripe:re_4004", evidence.Stripe, "refund", "2026-09-15T10:02:00Z", evidence.Facts{RefundedMinor: minor(9000), Currency: "EUR", Status: evidence.Refunded,
			Links: []evidence.Link{{Rel: "stripe_charge", ID: "ch_4004"}, {Rel: "stripe_payment_intent", ID: "pi_4004"}}}),
	),
	"cash-walk-in": append(background(),
		mail("w1@carhire.example", "2026-09-06T16:00:00Z", shop, "rita@example.com", evidence.Facts{Ref: "ACH-5005", Name: "Rita Gomes",
			Item: "Dacia Duster (II-55-JJ)", Start: ts("2026-09-06T17:00:00Z"), End: ts("2026-09-09T17:00:00Z"), AmountMinor: minor(16500), Currency: "EUR", Status: evidence.Confirmed}),
		event("w1@google.com", "2026-09-06T16:02:00Z", 0, evidence.Facts{Ref: "ACH-5005", Name: "Rita Gomes", Item: "Duster II-55-JJ",
			Start: ts("2026-09-06T17:00:00Z"), End: ts("2026-09-09T17:00:00Z")}),
	),
	"payment-without-metadata": append(background(),
		mail("p1@carhire.example", "2026-09-07T10:01:00Z", shop, "luis@example.com", evidence.Facts{Ref: "ACH-6006", Name: "Luís Pereira",
			Item: "Toyota Yaris (KK-66-LL)", Start: ts("2026-10-15T09:00:00Z"), End: ts("2026-10-18T09:00:00Z"), AmountMinor: minor(14000), Currency: "EUR", Status: evidence.Confirmed}),
		pi("pi_6006", "", "2026-09-07T10:00:00Z", 14000, 14000),
		charge("ch_6006", "pi_6006", "2026-09-07T10:00:00Z", "Luis Pereira", "luis@example.com", 14000),
	),
	"typo-in-name": append(background(),
		mail("t1@carhire.example", "2026-09-08T10:00:00Z", shop, "priya@example.com", evidence.Facts{Ref: "ACH-7007", Name: "Priya Venkataraman",
			Item: "Peugeot 208 (MM-77-NN)", Start: ts("2026-10-25T09:00:00Z"), End: ts("2026-10-27T09:00:00Z"), AmountMinor: minor(8000), Currency: "EUR", Status: evidence.Confirmed}),
		event("t1@google.com", "2026-09-08T10:03:00Z", 0, evidence.Facts{Name: "Pryya Venkataraman", Item: "208 MM-77-NN",
			Start: ts("2026-10-25T09:00:00Z"), End: ts("2026-10-27T09:00:00Z")}),
		pi("pi_7007", "ACH-7007", "2026-09-08T09:59:00Z", 8000, 8000),
		charge("ch_7007", "pi_7007", "2026-09-08T09:59:00Z", "Priya Venkataraman", "priya@example.com", 8000),
	),
}

// TestGolden reconciles each hand-made case and compares the bookings,
// with their reasons, to testdata/golden/<case>.json.
func TestGolden(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	for name, recs := range cases {
		t.Run(name, func(t *testing.T) {
			res := Reconcile(recs, Options{Config: cfg})
			got, err := json.MarshalIndent(res.Bookings, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./reconcile -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("bookings differ from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// TestCaseExpectations states what each golden case must show, so a
// golden file cannot quietly accept a wrong answer.
func TestCaseExpectations(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	get := func(name string) []Booking { return Reconcile(cases[name], Options{Config: cfg}).Bookings }
	reasons := func(b Booking) []string {
		var out []string
		for _, r := range b.Reasons {
			out = append(out, r.Code)
		}
		return out
	}

	if bs := get("change-after-confirmation"); len(bs) != 1 || !bs[0].Start.Equal(*ts("2026-10-04T09:00:00Z")) || bs[0].NeedsReview {
		t.Errorf("change after confirmation: %+v, want one booking starting on the 4th, not flagged", bs)
	} else if len(bs[0].Conflicts) == 0 {
		t.Error("change after confirmation: the old dates are not kept as a conflict")
	}
	if bs := get("second-address"); len(bs) != 1 || bs[0].Customer.Email != "maria@example.com" {
		t.Errorf("second address: %+v, want one booking with the address Stripe has", bs)
	}
	if bs := get("back-to-back"); len(bs) != 2 || bs[0].Ref != "ACH-3003" || bs[1].Ref != "ACH-3004" {
		t.Errorf("back to back: %d bookings, want ACH-3003 and ACH-3004 apart", len(bs))
	} else if slices.Contains(reasons(bs[0]), ReasonOverlap) {
		t.Error("back to back: end and start at the same minute flagged as an overlap")
	}
	if bs := get("refund"); len(bs) != 1 || bs[0].Status != "cancelled" || *bs[0].RefundedMinor != 9000 || *bs[0].PaidMinor != 12000 {
		t.Errorf("refund: %+v", bs)
	}
	if bs := get("cash-walk-in"); len(bs) != 1 || bs[0].Status != "confirmed" || *bs[0].PaidMinor != 0 || len(bs[0].Sources) != 2 {
		t.Errorf("cash walk-in: %+v", bs)
	}
	if bs := get("payment-without-metadata"); len(bs) != 1 || len(bs[0].Evidence) < 3 || *bs[0].PaidMinor != 14000 {
		t.Errorf("payment without metadata: %d bookings %+v, want the payment joined to ACH-6006", len(bs), bs)
	}
	if bs := get("typo-in-name"); len(bs) != 1 || bs[0].Customer.Name != "Priya Venkataraman" || len(bs[0].Evidence) < 4 {
		t.Errorf("typo in name: %+v, want the calendar event joined and Stripe's spelling", bs)
	}
}

// TestDeterministic: the same records in another order give the same
// bookings, byte for byte.
func TestDeterministic(t *testing.T) {
	var all []evidence.Record
	for _, name := range []string{"change-after-confirmation", "second-address", "back-to-back", "refund", "cash-walk-in", "payment-without-metadata", "typo-in-name"} {
		all = append(all, cases[name]...)
	}
	cfg := evidence.DefaultConfig()
	first, _ := json.Marshal(Reconcile(all, Options{Config: cfg}))
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		shuffled := slices.Clone(all)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, _ := json.Marshal(Reconcile(shuffled, Options{Config: cfg}))
		if !bytes.Equal(first, again) {
			t.Fatal("a different order of the same records gives different bookings")
		}
	}
}
