package stripe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"fmt"
	json "github.com/goccy/go-json"
	"strings"
	"sync"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/extract"
)

// objectType is one kind of Stripe object salvage lists.
type objectType struct {
	// name is the list's name: the file prefix of an export and the
	// checkpoint's last part ("payment_intents").
	name string
	// path is the list endpoint.
	path string
	// object is the value of the objects' "object" field.
	object string
	// permission is what a restricted key needs to list it, as Stripe names
	// it in errors and as the Dashboard shows it.
	permission, dashboard string
	// optional lists are skipped with a warning when the key may not read
	// them (not every business uses invoices).
	optional bool
}

// types are listed in this order; events last, since they only add history.
var types = []objectType{
	{"customers", "/v1/customers", "customer", "rak_customer_read", "Customers", false},
	{"payment_intents", "/v1/payment_intents", "payment_intent", "rak_payment_intent_read", "PaymentIntents", false},
	{"charges", "/v1/charges", "charge", "rak_charge_read", "Charges", false},
	{"refunds", "/v1/refunds", "refund", "rak_refund_read", "Refunds", false},
	{"checkout_sessions", "/v1/checkout/sessions", "checkout.session", "rak_checkout_session_read", "Checkout Sessions", false},
	{"invoices", "/v1/invoices", "invoice", "rak_invoice_read", "Invoices", true},
	{"events", "/v1/events", "event", "rak_event_read", "Events", false},
}

func typeByObject(object string) (objectType, bool) {
	for _, t := range types {
		if t.object == object {
			return t, true
		}
	}
	return objectType{}, false
}

// contact is the name, email and phone Stripe keeps in several places.
type contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// object is the part of any Stripe object salvage reads. Decoding into it,
// rather than into stripe-go's full types, keeps the import fast; the raw
// bytes are kept whole in the evidence.
type object struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Created  int64             `json:"created"`
	Livemode *bool             `json:"livemode"` // absent on some objects (refunds)
	Metadata map[string]string `json:"metadata"`

	Description         string `json:"description"`
	StatementDescriptor string `json:"statement_descriptor"`
	ClientReferenceID   string `json:"client_reference_id"`
	ReceiptEmail        string `json:"receipt_email"`

	Amount         *int64 `json:"amount"`
	AmountReceived *int64 `json:"amount_received"`
	AmountCaptured *int64 `json:"amount_captured"`
	AmountRefunded *int64 `json:"amount_refunded"`
	AmountTotal    *int64 `json:"amount_total"`
	AmountPaid     *int64 `json:"amount_paid"`
	Total          *int64 `json:"total"`
	Currency       string `json:"currency"`

	Status        string `json:"status"`
	PaymentStatus string `json:"payment_status"`
	Paid          *bool  `json:"paid"`
	Captured      *bool  `json:"captured"`
	Refunded      *bool  `json:"refunded"`
	CaptureMethod string `json:"capture_method"`

	Customer      ref `json:"customer"`
	PaymentIntent ref `json:"payment_intent"`
	Charge        ref `json:"charge"`
	LatestCharge  ref `json:"latest_charge"`
	Invoice       ref `json:"invoice"`

	// customer
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	// invoice
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	CustomerPhone string `json:"customer_phone"`

	CustomerDetails *contact `json:"customer_details"`
	BillingDetails  *contact `json:"billing_details"`

	// event
	Type string `json:"type"`
	Data *struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// ref is an id field. Stripe gives the object itself instead when asked to
// expand it; decodeObject collapses those to their ids.
type ref string

// refFields are the id fields an export may hold expanded.
var refFields = []string{"customer", "payment_intent", "charge", "latest_charge", "invoice"}

// decodeObject decodes raw into o. Ids decode as plain strings, which is
// fast; an object with expanded references is decoded again with them
// collapsed to their ids.
func decodeObject(raw []byte, o *object) error {
	err := json.Unmarshal(raw, o)
	if err == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return err
	}
	changed := false
	for _, k := range refFields {
		if v := m[k]; len(v) > 0 && v[0] == '{' {
			var x struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(v, &x) != nil {
				return err
			}
			m[k], _ = json.Marshal(x.ID)
			changed = true
		}
	}
	if !changed {
		return err
	}
	b, merr := json.Marshal(m)
	if merr != nil {
		return err
	}
	*o = object{}
	return json.Unmarshal(b, o)
}

// factsReader turns Stripe objects into evidence.
type factsReader struct {
	metadataKeys []string
	extractor    *extract.Extractor
}

// record turns one raw Stripe object into a record. via is the channel
// ("api", "file"); locator where it was found.
func (fr *factsReader) record(raw json.RawMessage, via, locator string) (evidence.Record, *object, error) {
	var o object
	if err := decodeObject(raw, &o); err != nil {
		return evidence.Record{}, nil, fmt.Errorf("not a Stripe object: %w", err)
	}
	if o.ID == "" || o.Object == "" {
		return evidence.Record{}, nil, fmt.Errorf("not a Stripe object: no id or object field")
	}
	if _, ok := typeByObject(o.Object); !ok {
		return evidence.Record{}, nil, fmt.Errorf("Stripe object %s is a %q, which salvage does not read", o.ID, o.Object)
	}
	r := evidence.Record{
		ID:      "stripe:" + o.ID,
		Source:  evidence.Stripe,
		Via:     via,
		Kind:    o.Object,
		Zone:    "UTC",
		Raw:     raw,
		Locator: locator,
	}
	// What a person reads of it, worked out once: the workbook shows it
	// instead of decoding the JSON again. The same reading compacts the
	// JSON for the digest.
	r.Readable, r.Digest = readableDigest(o.Object, o.ID, raw)
	if o.Created > 0 {
		r.OccurredAt = time.Unix(o.Created, 0).UTC()
	}
	if o.Object == "event" {
		if o.Data == nil || len(o.Data.Object) == 0 {
			return r, &o, fmt.Errorf("event %s has no data.object", o.ID)
		}
		var inner object
		if err := decodeObject(o.Data.Object, &inner); err != nil {
			return r, &o, fmt.Errorf("event %s: data.object: %w", o.ID, err)
		}
		r.Facts = fr.facts(&inner)
		r.Facts.Links = append(r.Facts.Links, evidence.Link{Rel: "stripe_" + strings.ReplaceAll(inner.Object, ".", "_"), ID: inner.ID})
		if r.Facts.Attrs == nil {
			r.Facts.Attrs = map[string]string{}
		}
		r.Facts.Attrs["event_type"] = o.Type
		return r, &o, nil
	}
	r.Facts = fr.facts(&o)
	return r, &o, nil
}

// readableDigest is Readable and the digest of raw, from one reading of
// it. The digest makes the same object the same version whether it came
// compact from the API or indented from an export: it hashes the JSON
// without the whitespace between tokens.
func readableDigest(kind, id string, raw []byte) (*evidence.Readable, string) {
	b := compactBytes.Get().(*[]byte)
	defer compactBytes.Put(b)
	*b = (*b)[:0]
	rd, ok := readable(kind, id, raw, b)
	if !ok { // no JSON to flatten (go-json may yet read it)
		return &rd, digestCompacted(raw)
	}
	sum := sha256.Sum256(*b)
	return &rd, hex.EncodeToString(sum[:])
}

var compactBytes = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// digestCompacted is the digest of raw as go-json's json.Compact compacts
// it.
func digestCompacted(raw []byte) string {
	b := compactBufs.Get().(*bytes.Buffer)
	defer compactBufs.Put(b)
	b.Reset()
	if err := json.Compact(b, raw); err != nil {
		return evidence.HexHash(raw)
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

var compactBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// facts reads what a Stripe object says about a booking.
func (fr *factsReader) facts(o *object) evidence.Facts {
	f := evidence.Facts{Currency: strings.ToUpper(o.Currency), Attrs: map[string]string{}}
	link := func(rel string, id ref) {
		if id != "" {
			f.Links = append(f.Links, evidence.Link{Rel: rel, ID: string(id)})
		}
	}
	setContact := func(c *contact) {
		if c == nil {
			return
		}
		f.Name = first(f.Name, c.Name)
		f.Email = first(f.Email, c.Email)
		f.Phone = first(f.Phone, c.Phone)
	}
	if o.Status != "" {
		f.Attrs["stripe_status"] = o.Status
	}
	switch o.Object {
	case "customer":
		f.Name, f.Email, f.Phone = strings.TrimSpace(o.Name), strings.TrimSpace(o.Email), strings.TrimSpace(o.Phone)
		link("stripe_customer", ref(o.ID))
	case "payment_intent":
		f.AmountMinor = o.Amount
		if o.AmountReceived != nil && *o.AmountReceived > 0 {
			f.PaidMinor = o.AmountReceived
		}
		f.Email = strings.TrimSpace(o.ReceiptEmail)
		f.Status = paymentIntentStatus(o.Status)
		if o.CaptureMethod != "" {
			f.Attrs["capture_method"] = o.CaptureMethod
		}
		link("stripe_customer", o.Customer)
		link("stripe_charge", o.LatestCharge)
		link("stripe_invoice", o.Invoice)
		link("stripe_payment_intent", ref(o.ID))
	case "charge":
		f.AmountMinor = o.Amount
		if o.Status == "succeeded" && o.AmountCaptured != nil && *o.AmountCaptured > 0 {
			f.PaidMinor = o.AmountCaptured
		}
		if o.AmountRefunded != nil && *o.AmountRefunded > 0 {
			f.RefundedMinor = o.AmountRefunded
		}
		setContact(o.BillingDetails)
		f.Email = first(f.Email, o.ReceiptEmail)
		f.Status = chargeStatus(o)
		link("stripe_customer", o.Customer)
		link("stripe_payment_intent", o.PaymentIntent)
		link("stripe_invoice", o.Invoice)
		link("stripe_charge", ref(o.ID))
	case "refund":
		if o.Status == "succeeded" || o.Status == "pending" {
			f.RefundedMinor = o.Amount
			f.Status = evidence.Refunded
		}
		link("stripe_charge", o.Charge)
		link("stripe_payment_intent", o.PaymentIntent)
	case "checkout.session":
		setContact(o.CustomerDetails)
		f.AmountMinor = o.AmountTotal
		if o.PaymentStatus == "paid" {
			f.PaidMinor = o.AmountTotal
		}
		f.Status = checkoutStatus(o)
		if o.PaymentStatus != "" {
			f.Attrs["payment_status"] = o.PaymentStatus
		}
		link("stripe_customer", o.Customer)
		link("stripe_payment_intent", o.PaymentIntent)
		link("stripe_invoice", o.Invoice)
	case "invoice":
		f.Name, f.Email, f.Phone = strings.TrimSpace(o.CustomerName), strings.TrimSpace(o.CustomerEmail), strings.TrimSpace(o.CustomerPhone)
		f.AmountMinor = o.Total
		if o.AmountPaid != nil && *o.AmountPaid > 0 {
			f.PaidMinor = o.AmountPaid
		}
		if o.Status == "paid" {
			f.Status = evidence.Paid
		}
		link("stripe_customer", o.Customer)
		link("stripe_payment_intent", o.PaymentIntent)
		link("stripe_charge", o.Charge)
	}
	fr.reference(o, &f)
	if f.Currency == "" {
		f.AmountMinor, f.PaidMinor, f.RefundedMinor = nil, nil, nil
	}
	if len(f.Attrs) == 0 {
		f.Attrs = nil
	}
	return f
}

// reference finds the booking reference: the case's metadata keys first,
// then a checkout session's client_reference_id, then the extraction rules
// over the description. Attrs["ref_from"] says where it came from.
func (fr *factsReader) reference(o *object, f *evidence.Facts) {
	for _, k := range fr.metadataKeys {
		if v := strings.TrimSpace(o.Metadata[k]); v != "" {
			f.Ref, f.Attrs["ref_from"] = v, "metadata."+k
			return
		}
	}
	if v := strings.TrimSpace(o.ClientReferenceID); v != "" {
		f.Ref, f.Attrs["ref_from"] = v, "client_reference_id"
		return
	}
	for _, field := range []struct{ name, text string }{{"description", o.Description}, {"statement_descriptor", o.StatementDescriptor}} {
		if strings.TrimSpace(field.text) == "" {
			continue
		}
		res := fr.extractor.Extract(extract.Input{Source: evidence.Stripe, Text: field.text})
		if res.Facts.Ref != "" {
			f.Ref, f.Attrs["ref_from"] = res.Facts.Ref, field.name+" ("+res.By["ref"]+")"
			if f.Name == "" && res.Facts.Name != "" {
				f.Name = res.Facts.Name
			}
			return
		}
	}
}

// paymentIntentStatus maps a PaymentIntent's status to what it says about
// the booking: authorised but not captured is a confirmed booking, not yet
// paid.
func paymentIntentStatus(s string) evidence.Status {
	switch s {
	case "succeeded":
		return evidence.Paid
	case "requires_capture":
		return evidence.Confirmed
	case "canceled":
		return evidence.Cancelled
	case "requires_payment_method", "requires_confirmation", "requires_action", "processing":
		return evidence.Requested
	}
	return ""
}

func chargeStatus(o *object) evidence.Status {
	switch {
	case o.Refunded != nil && *o.Refunded:
		return evidence.Refunded
	case o.Status == "succeeded" && (o.Captured == nil || *o.Captured):
		return evidence.Paid
	case o.Status == "succeeded":
		return evidence.Confirmed // authorised, not captured
	}
	return ""
}

func checkoutStatus(o *object) evidence.Status {
	switch {
	case o.PaymentStatus == "paid":
		return evidence.Paid
	case o.Status == "complete":
		return evidence.Confirmed
	case o.Status == "open":
		return evidence.Requested
	}
	return "" // expired: the customer left, which says nothing of a booking
}

func first(have, s string) string {
	if have != "" {
		return have
	}
	return strings.TrimSpace(s)
}

// otherMode reports whether o belongs to the other mode than live. An
// object without the field (a refund) is not known to.
func (o *object) otherMode(live bool) bool { return o.Livemode != nil && *o.Livemode != live }
