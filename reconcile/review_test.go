package reconcile

import (
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

func TestApplyReview(t *testing.T) {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	amount := int64(12000)
	b := Booking{
		Ref: "AT-1", Customer: Customer{Name: "Ana", Email: "ana@old.example"}, Start: &start, AmountMinor: &amount,
		Provenance: map[string]Source{"customer.email": {Evidence: "mail:<1@x>", Rule: "only source"}, "start": {Evidence: "stripe:pi_1", Rule: "newest change"}},
		Conflicts:  []Conflict{{Field: "start", Chosen: "2026-11-20T09:00:00Z", Values: []ConflictValue{{Value: "2026-11-20T09:00:00Z", Evidence: []string{"stripe:pi_1"}}, {Value: "2026-11-19T09:00:00Z", Evidence: []string{"ics:1"}}}}},
	}
	err := b.ApplyReview(evidence.Review{Ref: "AT-1", Decision: evidence.Fix, Workbook: "abc", Corrections: map[string]string{
		"customer.email": "ana@new.example", "start": "2026-11-21T10:00:00Z", "amount_minor": "15000",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Customer.Email != "ana@new.example" || b.Start.Format(time.RFC3339) != "2026-11-21T10:00:00Z" || *b.AmountMinor != 15000 || b.Customer.Name != "Ana" {
		t.Fatalf("booking after review: %+v", b)
	}
	if p := b.Provenance["customer.email"]; p.Evidence != "review:abc" || p.Rule != ReviewRule {
		t.Errorf("provenance of email = %+v", p)
	}
	if len(b.Conflicts) != 3 {
		t.Fatalf("conflicts = %+v, want start (extended), email, amount_minor", b.Conflicts)
	}
	if c := b.Conflicts[0]; c.Chosen != "2026-11-21T10:00:00Z" || len(c.Values) != 3 {
		t.Errorf("start conflict = %+v", c)
	}
	if c := b.Conflicts[1]; c.Field != "customer.email" || c.Values[1].Value != "ana@old.example" || c.Values[1].Evidence[0] != "mail:<1@x>" {
		t.Errorf("email conflict = %+v", c)
	}
	if err := b.ApplyReview(evidence.Review{Corrections: map[string]string{"end": "tomorrow"}}); err == nil {
		t.Error("a correction that is not RFC 3339 was applied")
	}
}
