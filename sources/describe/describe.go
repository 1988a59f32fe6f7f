// Package describe turns an evidence record back into what a person reads:
// a one-line title and the text of the email, calendar event, Stripe
// object or agent step, for the review workbook and the timeline. It knows
// the sources' formats so that exporters need not.
package describe

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/mail"
)

// Text returns a title and a body for r. It never fails: a record it
// cannot read is shown as its raw bytes. Secrets are not redacted here;
// the caller redacts what it shows. The body may share r.Raw's memory
// (a Stripe object's JSON is shown as it is: a million of them are not
// copied): r.Raw must not change while the body is in use.
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

// stripeText is the object's type, id and description, and the object's
// JSON as Stripe gave it (already indented by Stripe's API).
func stripeText(r evidence.Record) (string, string) {
	title := r.Kind + " " + strings.TrimPrefix(r.ID, "stripe:")
	if d := stripeDescription(r.Raw); d != "" {
		title += ": " + d
	}
	return title, rawText(r.Raw)
}

// stripeDescription is the object's top-level "description", "" when it
// has none (or raw is no JSON object).
func stripeDescription(raw []byte) string {
	if d, ok := indentedMember(raw, "description"); ok {
		return d
	}
	var obj struct {
		Description string `json:"description"`
	}
	if err := gojson.Unmarshal(raw, &obj); err != nil {
		return ""
	}
	return obj.Description
}

// indentedMember finds the string or null value of a top-level member of
// a JSON object indented as Stripe's API and encoders indent it: "{", then
// each member on a line of its own, every one of the top level indented
// alike and everything nested deeper. A line that starts at the top
// level's indentation with the key is then the member (a string holds no
// line break), found without reading the nested values, which are most
// of an object. ok is false when raw is not so indented, or the member's
// value is no string or null: the caller decodes raw instead.
func indentedMember(raw []byte, key string) (v string, ok bool) {
	// The first member's indentation is the top level's.
	rest, found := bytes.CutPrefix(raw, []byte("{\n"))
	if !found || bytes.Contains(rest, []byte(`\u`)) { // a key may be escaped
		return "", false
	}
	ind := 0
	for ind < len(rest) && rest[ind] == ' ' {
		ind++
	}
	if ind == 0 || ind >= len(rest) || rest[ind] != '"' {
		return "", false
	}
	// Every line holding the key: the member's if at the top level's
	// indentation.
	needle := key + `": `
	at := -1
	for from := 0; ; {
		k := bytes.Index(rest[from:], []byte(needle))
		if k < 0 {
			break
		}
		k += from
		from = k + len(needle)
		ls := k - 1 - ind // where its line starts, if a member's
		if ls < 0 || rest[k-1] != '"' || (ls > 0 && rest[ls-1] != '\n') || !allSpaces(rest[ls:k-1]) {
			continue
		}
		if at >= 0 {
			return "", false // the member twice: the decoder's rules decide
		}
		at = from
	}
	if at < 0 {
		// No such line: the member is absent, if raw is indented as
		// assumed: its last line closes it, less indented than its
		// members.
		end := bytes.TrimRight(rest, "\r\n")
		nl := bytes.LastIndexByte(end, '\n')
		last := end[nl+1:]
		if nl < 0 || len(last) > ind || len(bytes.TrimLeft(last, " ")) != 1 || last[len(last)-1] != '}' {
			return "", false
		}
		return "", true
	}
	val := rest[at:]
	if bytes.HasPrefix(val, []byte("null")) {
		return "", true
	}
	if len(val) == 0 || val[0] != '"' {
		return "", false
	}
	// The string: to its closing quote, escapes and all.
	end := 1
	for end < len(val) && val[end] != '"' {
		if val[end] == '\\' {
			end++
		}
		if end < len(val) && val[end] == '\n' {
			return "", false
		}
		end++
	}
	if end >= len(val) {
		return "", false
	}
	if err := gojson.Unmarshal(val[:end+1], &v); err != nil {
		return "", false
	}
	return v, true
}

// allSpaces reports whether b is spaces only.
func allSpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}

// rawText is raw as text, sharing its memory.
func rawText(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	return unsafe.String(&raw[0], len(raw))
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
