// Package describe turns an evidence record back into what a person reads:
// a one-line title and the text of the email, calendar event, Stripe
// object or agent step, for the review workbook and the timeline. It knows
// the sources' formats so that exporters need not.
package describe

import (
	"strings"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/calendar"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/salvagehq/salvage/sources/stripe"
)

// Text returns a title and a body for r: what the importer stored for a
// person to read (Record.Readable), or, for a record imported before it
// stored that, the same worked out again from the raw bytes. It never
// fails: a record it cannot read is shown as its raw bytes. Secrets are
// not redacted here; the caller redacts what it shows.
func Text(r evidence.Record) (title, text string) {
	if r.Readable != nil {
		return r.Readable.Title, r.Readable.Text
	}
	switch r.Source {
	case evidence.Mail:
		if m, err := mail.Decode(r.Raw); err == nil {
			return m.Subject, m.Readable()
		}
	case evidence.Stripe:
		return stripeText(r)
	case evidence.Calendar:
		rd := calendar.Readable(r.Kind, r.Raw)
		return rd.Title, rd.Text
	}
	return r.Kind, string(r.Raw)
}

// stripeText is the object as the Stripe importer shows it (for records
// imported before it stored that).
func stripeText(r evidence.Record) (string, string) {
	rd := stripe.Readable(r.Kind, strings.TrimPrefix(r.ID, "stripe:"), r.Raw)
	return rd.Title, rd.Text
}
