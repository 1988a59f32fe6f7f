// Package describe turns an evidence record back into what a person reads:
// a one-line title and the text of the email, calendar event, Stripe
// object or agent step, for the review workbook and the timeline. It knows
// the sources' formats so that exporters need not.
package describe

import (
	"bytes"
	"fmt"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/salvagehq/salvage/sources/stripe"
)

// Text returns a title and a body for r: what the importer stored for a
// person to read (Record.Readable), or the same worked out from the raw
// bytes. It never fails: a record it cannot read is shown as its raw
// bytes. Secrets are not redacted here; the caller redacts what it shows.
func Text(r evidence.Record) (title, text string) {
	if r.Readable != nil {
		// What the importer worked out when it decoded the record.
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
		if bytes.HasPrefix(bytes.TrimSpace(r.Raw), []byte("{")) {
			return gcalText(r)
		}
		return icsText(r.Raw)
	}
	return r.Kind, string(r.Raw)
}

// Title is Text's title, found without working out the text where that
// is quicker: the title the importer stored (Record.Title), an iCalendar
// event's SUMMARY without the lines around it.
func Title(r evidence.Record) string {
	if r.Readable == nil && r.Title != "" { // what the importer said
		return r.Title
	}
	if r.Readable == nil && r.Source == evidence.Calendar && !bytes.HasPrefix(bytes.TrimSpace(r.Raw), []byte("{")) {
		return icsTitle(r.Raw)
	}
	title, _ := Text(r)
	return title
}

// stripeText is the object as the Stripe importer shows it (for records
// imported before it stored that).
func stripeText(r evidence.Record) (string, string) {
	rd := stripe.Readable(r.Kind, strings.TrimPrefix(r.ID, "stripe:"), r.Raw)
	return rd.Title, rd.Text
}

// gcalText is a Google Calendar event's summary, and its description,
// location and attendees.
func gcalText(r evidence.Record) (string, string) {
	var ev struct {
		Summary     string `json:"summary"`
		Description string `json:"description"`
		Location    string `json:"location"`
		Status      string `json:"status"`
		Attendees   []struct {
			Email       string `json:"email"`
			DisplayName string `json:"displayName"`
		} `json:"attendees"`
	}
	// go-json: encoding/json was 1.6 s of a 250k-booking workbook's 30.
	if err := gojson.Unmarshal(r.Raw, &ev); err != nil {
		return r.Kind, string(r.Raw)
	}
	var b strings.Builder
	if ev.Status != "" {
		fmt.Fprintf(&b, "Status: %s\n", ev.Status)
	}
	if ev.Location != "" {
		fmt.Fprintf(&b, "Location: %s\n", ev.Location)
	}
	for _, a := range ev.Attendees {
		fmt.Fprintf(&b, "Attendee: %s <%s>\n", a.DisplayName, a.Email)
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	b.WriteString(ev.Description)
	return ev.Summary, strings.TrimSpace(b.String())
}

var (
	// unfold joins an iCalendar text's folded lines.
	unfold = strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "")
	// unescapeICS undoes a text value's escapes.
	unescapeICS = strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`)
)

// icsTitle is icsText's title: the last SUMMARY.
func icsTitle(raw []byte) string {
	text := string(raw)
	if strings.Contains(text, "\n ") || strings.Contains(text, "\n\t") { // folded lines
		text = unfold.Replace(text)
	}
	title := ""
	for line := range strings.Lines(text) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		// As icsText reads a property's name, without its work on the
		// others ("ſummary" is SUMMARY too, in 8 bytes).
		prop, _, _ := strings.Cut(name, ";")
		if len(prop) < 7 || len(prop) > 8 || strings.ToUpper(prop) != "SUMMARY" {
			continue
		}
		title = unescapeICS.Replace(strings.TrimRight(value, "\r\n"))
	}
	return title
}

// icsText is an iCalendar event's SUMMARY and its lines, unfolded, with
// DESCRIPTION's escapes undone.
func icsText(raw []byte) (string, string) {
	unfolded := unfold.Replace(string(raw))
	var title string
	var b strings.Builder
	for line := range strings.Lines(unfolded) {
		line = strings.TrimRight(line, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		prop := strings.ToUpper(strings.SplitN(name, ";", 2)[0])
		value = unescapeICS.Replace(value)
		switch prop {
		case "SUMMARY":
			title = value
		case "BEGIN", "END", "PRODID", "VERSION", "CALSCALE", "METHOD":
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", prop, value)
	}
	return title, strings.TrimSpace(b.String())
}
