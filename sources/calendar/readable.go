package calendar

import (
	"bytes"
	"fmt"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
)

// Readable is an event as a person reads it: its summary as the title;
// as the text, a Google Calendar event's status, location and attendees
// and its description, or an iCalendar event's lines, unfolded, with its
// text values' escapes undone. kind is the record's kind; raw the bytes
// the event was read from (a Google Calendar event's JSON, or an
// iCalendar VEVENT). The importers store it with the record, so that the
// workbook need not decode every event again.
func Readable(kind string, raw []byte) evidence.Readable {
	var title, text string
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		title, text = gcalText(kind, raw)
	} else {
		title, text = icsReadable(raw)
	}
	return evidence.Readable{Title: title, Text: text}
}

// gcalText is a Google Calendar event's summary, and its description,
// location and attendees.
func gcalText(kind string, raw []byte) (string, string) {
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
	if err := gojson.Unmarshal(raw, &ev); err != nil {
		return kind, string(raw)
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

// icsReadable is an iCalendar event's SUMMARY and its lines, unfolded, with
// DESCRIPTION's escapes undone.
func icsReadable(raw []byte) (string, string) {
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
