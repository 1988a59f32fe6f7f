package reconcile

import (
	"time"
)

// Booking is one rebuilt booking: its fields, each with where its value
// came from, the values the sources disagree on, the evidence it was built
// from and the links that joined it, how sure salvage is, and why a person
// should look at it.
//
// Its JSON form (one per line in `salvage export json`) is a stable,
// documented interface; fields are only ever added.
type Booking struct {
	// Ref is the business's booking reference as the evidence gives it
	// (normalized: upper case, ASCII dashes), or SALV-<hash> of the
	// evidence ids when no evidence names one; RefSynthetic tells which.
	Ref          string `json:"ref"`
	RefSynthetic bool   `json:"ref_synthetic,omitempty"`
	// Status is derived from the evidence: requested, confirmed,
	// changed, cancelled, paid, partly_refunded, refunded.
	Status   string     `json:"status"`
	Customer Customer   `json:"customer"`
	Item     string     `json:"item,omitempty"`
	Start    *time.Time `json:"start,omitempty"`
	End      *time.Time `json:"end,omitempty"`
	// AllDay marks dates the evidence gave without a time of day.
	AllDay bool `json:"all_day,omitempty"`
	// Amounts in minor units of Currency: the price, what was received,
	// what was given back. Nil when no evidence gives one.
	AmountMinor   *int64 `json:"amount_minor"`
	Currency      string `json:"currency,omitempty"`
	PaidMinor     *int64 `json:"paid_minor"`
	RefundedMinor *int64 `json:"refunded_minor"`
	// CreatedAt is the earliest evidence of the booking.
	CreatedAt *time.Time `json:"created_at,omitempty"`

	// Confidence in [0, 1]: from the weakest link that joined the
	// evidence and the agreement of the fields.
	Confidence float64 `json:"confidence"`
	// NeedsReview is true when Reasons is not empty.
	NeedsReview bool     `json:"needs_review"`
	Reasons     []Reason `json:"reasons,omitempty"`

	// Provenance names, per field ("ref", "customer.email", "start",
	// "amount_minor", …), the evidence the value was taken from and why.
	Provenance map[string]Source `json:"provenance"`
	// Conflicts are the fields whose sources disagree, every value kept.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Evidence lists the ids of the records the booking was built from,
	// sorted; Sources the systems they came from.
	Evidence []string `json:"evidence"`
	Sources  []string `json:"sources"`
	// Links are the joins between its evidence, with reason and weight.
	Links []Link `json:"links,omitempty"`
}

// Brief is the part of a booking that a reader of every booking needs to
// list them, and to find their evidence, without the rest: the case keeps
// its JSON beside the booking's (evidence.StoredBooking.Brief), a tenth
// of the bytes. Its fields are named and valued as in the booking's JSON,
// so that decoding a brief, or the booking's JSON, into a Brief gives the
// same.
type Brief struct {
	Ref         string        `json:"ref"`
	Status      string        `json:"status"`
	Customer    BriefCustomer `json:"customer"`
	Item        string        `json:"item,omitempty"`
	Currency    string        `json:"currency,omitempty"`
	NeedsReview bool          `json:"needs_review"`
	Reasons     []BriefReason `json:"reasons,omitempty"`
	Evidence    []string      `json:"evidence"`
}

// BriefCustomer is the customer of a Brief: whom a list shows.
type BriefCustomer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// BriefReason is the code of a review reason (Reason).
type BriefReason struct {
	Code string `json:"code"`
}

// Brief is b's brief.
func (b *Booking) Brief() Brief {
	br := Brief{Ref: b.Ref, Status: b.Status, Customer: BriefCustomer{Name: b.Customer.Name, Email: b.Customer.Email},
		Item: b.Item, Currency: b.Currency, NeedsReview: b.NeedsReview, Evidence: b.Evidence}
	if len(b.Reasons) > 0 {
		br.Reasons = make([]BriefReason, len(b.Reasons))
		for i, r := range b.Reasons {
			br.Reasons[i].Code = r.Code
		}
	}
	return br
}

// Customer is who booked.
type Customer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Source is where a field's value came from.
type Source struct {
	// Evidence is the record id.
	Evidence string `json:"evidence"`
	// Rule says why this record's value won ("stripe for amounts",
	// "newest change", "only source").
	Rule string `json:"rule"`
}

// Conflict is a field the evidence disagrees on.
type Conflict struct {
	Field  string          `json:"field"`
	Chosen string          `json:"chosen"`
	Values []ConflictValue `json:"values"`
}

// ConflictValue is one value of a conflict and the evidence that gives it.
type ConflictValue struct {
	Value    string   `json:"value"`
	Evidence []string `json:"evidence"`
}

// Link is one join between two records of a booking.
type Link struct {
	A      string  `json:"a"`
	B      string  `json:"b"`
	Reason string  `json:"reason"`
	Weight float64 `json:"weight"`
}

// Reason is why a booking needs review: a machine-readable code and a
// sentence for the person.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// The review reasons.
const (
	ReasonSingleSource = "single_source"   // one piece of evidence only
	ReasonConflict     = "conflict"        // sources disagree on a field that matters
	ReasonWeakLink     = "weak_link"       // joined by a scored link below the sure threshold
	ReasonNoPayment    = "no_payment"      // confirmed, but no payment evidence
	ReasonOverlap      = "vehicle_overlap" // the same vehicle in another booking at the same time
	ReasonMissingField = "missing_field"   // no start, end or item
	ReasonNoRef        = "no_reference"    // no evidence names a reference
)
