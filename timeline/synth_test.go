package timeline

import (
	"iter"
	"strconv"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// synthEventsPerBooking is how many events synthRecords makes per booking:
// the payment (its intent, charge and Stripe event: one event), the
// calendar entry, the request and the confirmation by mail, and one agent
// step.
const synthEventsPerBooking = 5

// synthRecords yields the records of bookings like the scenario's, one a
// minute from 2026-01-01, until they make at least events events, in the
// order the store gives them (by id). Each record is made as it is yielded,
// so a million events cost no memory before Build.
func synthRecords(events int) iter.Seq2[evidence.Record, error] {
	bookings := (events + synthEventsPerBooking - 1) / synthEventsPerBooking
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func(yield func(evidence.Record, error) bool) {
		for i := range bookings {
			n := strconv.Itoa(i)
			ref := "ACH-" + strconv.FormatInt(int64(100000+i), 36)
			t := base.Add(time.Duration(i) * time.Minute)
			start, end := t.Add(72*time.Hour), t.Add(120*time.Hour)
			amount, paid := int64(10000+i%50000), int64(10000+i%50000)
			name, email := "Customer "+n, "customer"+n+"@mail"+strconv.Itoa(i%97)+".example"
			pi, ch := "pi_"+n, "ch_"+n
			links := []evidence.Link{{Rel: "stripe_charge", ID: ch}, {Rel: "stripe_customer", ID: "cus_" + n}, {Rel: "stripe_payment_intent", ID: pi}}
			pay := evidence.Facts{Ref: ref, Name: name, Email: email, AmountMinor: &amount, PaidMinor: &paid, Currency: "EUR",
				Status: evidence.Paid, Links: links, Attrs: map[string]string{"ref_from": "metadata.booking_ref", "stripe_status": "succeeded"}}
			evt := pay
			evt.Attrs = map[string]string{"event_type": "payment_intent.succeeded", "stripe_status": "succeeded"}
			recs := []evidence.Record{
				{ID: "stripe:" + pi, Source: evidence.Stripe, Via: "file", Kind: "payment_intent", OccurredAt: t, Facts: pay},
				{ID: "stripe:" + ch, Source: evidence.Stripe, Via: "file", Kind: "charge", OccurredAt: t.Add(40 * time.Second), Facts: pay},
				{ID: "stripe:evt_" + n, Source: evidence.Stripe, Via: "api", Kind: "event", OccurredAt: t.Add(41 * time.Second), Facts: evt},
				{ID: "ics:" + n + "@google.com", Source: evidence.Calendar, Via: "ics", Kind: "event", OccurredAt: t.Add(2 * time.Minute),
					Facts: evidence.Facts{Ref: ref, Name: name, Item: "Renault Clio (AB-" + strconv.Itoa(i%90+10) + "-CD)", Start: &start, End: &end,
						Status: evidence.Confirmed, Links: []evidence.Link{{Rel: "ical_uid", ID: n + "@google.com"}},
						Attrs: map[string]string{"calendar": "fleet", "event_status": "confirmed", "location": "Avenida Dom João II, Lisboa"}}},
				{ID: "mail:<req" + n + "@mail.example>", Source: evidence.Mail, Via: "mbox", Kind: "email", OccurredAt: t.Add(-time.Hour),
					Facts: evidence.Facts{Status: evidence.Requested, Attrs: map[string]string{"from": email, "to": "bookings@shop.example",
						"subject": "Pedido de reserva", "gmail_labels": "Inbox,Opened"}}},
				{ID: "mail:<conf" + n + "@shop.example>", Source: evidence.Mail, Via: "mbox", Kind: "email", OccurredAt: t.Add(5 * time.Minute),
					Facts: evidence.Facts{Ref: ref, Name: name, Status: evidence.Confirmed, Start: &start, End: &end, AmountMinor: &amount, Currency: "EUR",
						Attrs: map[string]string{"from": "bookings@shop.example", "to": email, "subject": "Booking confirmed – " + ref, "gmail_labels": "Sent"}}},
				{ID: "transcript:s" + strconv.Itoa(i/1000) + ":" + n, Source: evidence.Transcript, Via: "claude-code", Kind: "agent-step", OccurredAt: t.Add(30 * time.Second),
					Facts: evidence.Facts{Attrs: map[string]string{"session": "s" + strconv.Itoa(i/1000), "actor": "agent", "type": "assistant",
						"tool": "Bash", "command": "go test ./internal/availability/... -run TestSearch" + n}}},
			}
			for k := range recs {
				recs[k].Version = 1
				if !yield(recs[k], nil) {
					return
				}
			}
		}
	}
}
