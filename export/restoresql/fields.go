package restoresql

import (
	json "github.com/goccy/go-json"
	"strconv"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// Item is one booking to write or check: the rebuilt booking, with a
// reviewer's corrections already applied, and its review if it has one.
type Item struct {
	Booking reconcile.Booking
	Review  *evidence.Review
}

// Case is what the file says about the case it comes from.
type Case struct {
	ID string
	// ReconciledAt is when the bookings were rebuilt; Since and Until the
	// window they were rebuilt for (zero: open).
	ReconciledAt time.Time
	Since, Until time.Time
	// Bookings counts the bookings of the last reconcile run.
	Bookings int
	Currency string
}

// Field is one booking field a mapping can write: its name in a mapping,
// the kind of its values and what it holds.
type Field struct {
	Name string
	Kind Kind
	Doc  string
	get  func(it *Item, c *Case) Value
}

// jsonField reports whether f is JSON that salvage makes: valid UTF-8
// without a NUL, so a check that a booking can be written may skip it.
func (f *Field) jsonField() bool {
	switch f.Name {
	case "reasons", "conflicts", "provenance", "evidence", "sources", "links":
		return true
	}
	return false
}

func text(s string) Value {
	if s == "" {
		return Value{}
	}
	return TextValue(s)
}

func timeOf(t *time.Time) Value {
	if t == nil || t.IsZero() {
		return Value{}
	}
	return TimeValue(*t)
}

func intOf(p *int64) Value {
	if p == nil {
		return Value{}
	}
	return IntValue(*p)
}

// jsonOf is v as JSON, map keys sorted, without escaping <, > and & (so
// that evidence ids like mail:<id@host> stay legible and need no backslash).
func jsonOf(v any) Value {
	b, err := json.MarshalWithOption(v, json.DisableHTMLEscape())
	if err != nil {
		return Value{}
	}
	return TextValue(string(b))
}

// Fields are the booking fields, in the order the standalone table has
// them.
var Fields = []Field{
	{"ref", Text, "the booking reference (SALV-... when no evidence names one)", func(it *Item, _ *Case) Value { return text(it.Booking.Ref) }},
	{"ref_synthetic", Bool, "true when salvage made the reference up", func(it *Item, _ *Case) Value { return BoolValue(it.Booking.RefSynthetic) }},
	{"status", Text, "requested, confirmed, changed, cancelled, paid, partly_refunded or refunded", func(it *Item, _ *Case) Value { return text(it.Booking.Status) }},
	{"customer.name", Text, "who booked", func(it *Item, _ *Case) Value { return text(it.Booking.Customer.Name) }},
	{"customer.email", Text, "their email", func(it *Item, _ *Case) Value { return text(it.Booking.Customer.Email) }},
	{"customer.phone", Text, "their phone (E.164 when salvage could tell)", func(it *Item, _ *Case) Value { return text(it.Booking.Customer.Phone) }},
	{"item", Text, "what was booked, as the evidence names it (Renault Clio (AB-12-CD))", func(it *Item, _ *Case) Value { return text(it.Booking.Item) }},
	{"start", Time, "when it starts (UTC)", func(it *Item, _ *Case) Value { return timeOf(it.Booking.Start) }},
	{"end", Time, "when it ends (UTC)", func(it *Item, _ *Case) Value { return timeOf(it.Booking.End) }},
	{"all_day", Bool, "true when the evidence gave dates without a time of day", func(it *Item, _ *Case) Value { return BoolValue(it.Booking.AllDay) }},
	{"amount_minor", Int, "the price in minor units (cents)", func(it *Item, _ *Case) Value { return intOf(it.Booking.AmountMinor) }},
	{"currency", Text, "ISO 4217 code of the amounts", func(it *Item, _ *Case) Value { return text(it.Booking.Currency) }},
	{"paid_minor", Int, "what was received, minor units", func(it *Item, _ *Case) Value { return intOf(it.Booking.PaidMinor) }},
	{"refunded_minor", Int, "what was given back, minor units", func(it *Item, _ *Case) Value { return intOf(it.Booking.RefundedMinor) }},
	{"created_at", Time, "the earliest evidence of the booking (UTC)", func(it *Item, _ *Case) Value { return timeOf(it.Booking.CreatedAt) }},
	{"confidence", Decimal, "how sure salvage is, 0 to 1", func(it *Item, _ *Case) Value {
		return Value{Kind: Decimal, S: strconv.FormatFloat(it.Booking.Confidence, 'f', 3, 64)}
	}},
	{"needs_review", Bool, "salvage asked a person to look at it", func(it *Item, _ *Case) Value { return BoolValue(it.Booking.NeedsReview) }},
	{"reasons", Text, "why it needs review: JSON [{code, detail}]", func(it *Item, _ *Case) Value { return jsonList(it.Booking.Reasons) }},
	{"conflicts", Text, "the fields the evidence disagrees on, every value with its evidence: JSON", func(it *Item, _ *Case) Value { return jsonList(it.Booking.Conflicts) }},
	{"provenance", Text, "per field, the evidence its value was taken from and why: JSON", func(it *Item, _ *Case) Value { return jsonOf(it.Booking.Provenance) }},
	{"evidence", Text, "the ids of the evidence records: JSON array", func(it *Item, _ *Case) Value { return jsonList(it.Booking.Evidence) }},
	{"sources", Text, "the systems the evidence came from: JSON array", func(it *Item, _ *Case) Value { return jsonList(it.Booking.Sources) }},
	{"links", Text, "the joins between the evidence records: JSON", func(it *Item, _ *Case) Value { return jsonList(it.Booking.Links) }},
	{"stripe.payment_intent", Text, "the first Stripe payment intent among the evidence (pi_...)", func(it *Item, _ *Case) Value {
		for _, id := range it.Booking.Evidence {
			if pi, ok := strings.CutPrefix(id, "stripe:pi_"); ok {
				return TextValue("pi_" + pi)
			}
		}
		return Value{}
	}},
	{"review.decision", Text, "the reviewer's decision: approve, reject, fix (none without a review)", func(it *Item, _ *Case) Value {
		if it.Review == nil {
			return Value{}
		}
		return text(it.Review.Decision)
	}},
	{"review.notes", Text, "the reviewer's notes", func(it *Item, _ *Case) Value {
		if it.Review == nil {
			return Value{}
		}
		return text(it.Review.Notes)
	}},
	{"case.id", Text, "the case the booking comes from", func(_ *Item, c *Case) Value { return text(c.ID) }},
	{"reconciled_at", Time, "when salvage rebuilt the bookings (UTC)", func(_ *Item, c *Case) Value {
		return timeOf(&c.ReconciledAt)
	}},
}

// jsonList is a list as JSON, [] when empty.
func jsonList[T any](l []T) Value {
	if len(l) == 0 {
		return TextValue("[]")
	}
	return jsonOf(l)
}

var fieldByName = func() map[string]*Field {
	m := map[string]*Field{}
	for i := range Fields {
		m[Fields[i].Name] = &Fields[i]
	}
	return m
}()

// fieldNames lists the field names, for error messages.
func fieldNames() string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
