// Package calendar imports calendar events, read-only: from the Google
// Calendar API (salvage import gcal) and from iCalendar files and URLs
// (salvage import ics). Both turn what they read into Events, which become
// evidence the same way, so the same event read from the API and from an ICS
// export is one record.
package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/extract"
)

// Event is one calendar event, or one instance of a recurring event, as
// either channel reads it.
type Event struct {
	// UID is the iCalendar UID (Google's iCalUID).
	UID string
	// RecurrenceID names an instance of a recurring event: its original
	// start. Zero for a single event.
	RecurrenceID time.Time

	Summary     string
	Description string
	Location    string

	// Start and End are instants; AllDay marks date-only events (Start at
	// midnight in Zone, End exclusive); Zone is the zone they were given in
	// (an IANA name), empty for UTC or unknown.
	Start, End time.Time
	AllDay     bool
	Zone       string

	// Status is "confirmed", "tentative" or "cancelled".
	Status   string
	Sequence int

	Created, Updated time.Time

	Organizer string   // email
	Attendees []string // emails, organizer excluded

	// Properties are key/value pairs the calendar keeps for programs:
	// Google's extendedProperties (private and shared), an ICS's X- fields.
	Properties map[string]string

	// Calendar names the calendar (its id or X-WR-CALNAME); GoogleID is the
	// Google event id and RecurringEventID its series, when read from the
	// API.
	Calendar         string
	GoogleID         string
	RecurringEventID string
}

// ID is the event's evidence id: ics:<UID>, and :<recurrence id> for an
// instance of a recurring event. The API and an ICS export give the same.
func (e *Event) ID() string {
	id := "ics:" + escapeID(e.UID)
	if !e.RecurrenceID.IsZero() {
		id += ":" + recurrenceKey(e.RecurrenceID, e.AllDay)
	}
	return id
}

// recurrenceKey writes an instance's original start as iCalendar does, in
// UTC: 20261104T093000Z, or 20261104 for an all-day instance.
func recurrenceKey(t time.Time, allDay bool) string {
	if allDay {
		return t.Format("20060102")
	}
	return t.UTC().Format("20060102T150405Z")
}

// escapeID keeps a UID usable as an id: spaces and control characters are
// percent-escaped.
func escapeID(uid string) string {
	var b strings.Builder
	for _, r := range uid {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '%' {
			fmt.Fprintf(&b, "%%%02X", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Digest identifies the event's content for versions: what both channels
// carry (summary, description, location, times, status, sequence, last
// change), so an API read and an export of an unchanged event are the same
// version, and any change is a new one. Properties count when there are
// any: Google's extendedProperties (which may hold the booking reference)
// come only from the API, and must not be lost as a mere sighting of an
// export read first.
func (e *Event) Digest() string {
	v := struct {
		UID, Recurrence, Summary, Description, Location, Start, End, Status, Updated string
		AllDay                                                                       bool
		Sequence                                                                     int
		Properties                                                                   map[string]string `json:",omitempty"`
	}{
		UID: e.UID, Summary: e.Summary, Description: normNewlines(e.Description), Location: e.Location,
		Start: utc(e.Start), End: utc(e.End), Status: e.Status, Updated: utc(e.Updated.Truncate(time.Second)),
		AllDay: e.AllDay, Sequence: e.Sequence, Properties: e.Properties,
	}
	if !e.RecurrenceID.IsZero() {
		v.Recurrence = recurrenceKey(e.RecurrenceID, e.AllDay)
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func normNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Converter turns events into evidence: it applies the case's property keys
// and extraction rules.
type Converter struct {
	propertyKeys []string
	extractor    *extract.Extractor
}

// NewConverter reads the case configuration.
func NewConverter(cfg evidence.Config) (*Converter, error) {
	x, err := extract.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Converter{propertyKeys: cfg.PropertyKeys(), extractor: x}, nil
}

// Record turns e into evidence. via is the channel ("gcal", "ics"), raw the
// bytes e was read from, locator where.
func (c *Converter) Record(e *Event, via string, raw []byte, locator string) evidence.Record {
	r := evidence.Record{
		ID: e.ID(), Source: evidence.Calendar, Via: via, Kind: "event", Raw: raw, Digest: e.Digest(), Locator: locator,
		Zone: e.Zone, Facts: c.Facts(e),
	}
	if via == "gcal" {
		// The API's event is JSON, whose summary is its title as a person
		// reads it (describe.Text); an iCalendar event's title is worked
		// out from its lines.
		r.Title = e.Summary
	}
	switch {
	case !e.Updated.IsZero():
		r.OccurredAt = e.Updated
	case !e.Created.IsZero():
		r.OccurredAt = e.Created
	}
	return r
}

// Facts reads what an event says about a booking: its times and status
// from the event itself; reference, customer and item from the properties
// and, through the extraction rules, from the title and description.
func (c *Converter) Facts(e *Event) evidence.Facts {
	text := extract.PlainText(e.Description)
	res := c.extractor.Extract(extract.Input{Source: evidence.Calendar, Subject: e.Summary, Text: text})
	f := res.Facts
	f.Attrs = map[string]string{}
	for k, v := range res.By {
		f.Attrs["rule."+k] = v
	}
	// A date or amount a rule found in the text is about the booking, but
	// the event's own times are its times.
	if !e.Start.IsZero() {
		start := e.Start
		f.Start = &start
	}
	if !e.End.IsZero() {
		end := e.End
		f.End = &end
	}
	f.AllDay = e.AllDay
	f.Zone = e.Zone
	for _, k := range c.propertyKeys {
		if v := strings.TrimSpace(e.Properties[k]); v != "" {
			f.Ref = v
			f.Attrs["rule.ref"] = "property " + k
			break
		}
	}
	if f.Email == "" {
		for _, a := range e.Attendees {
			if a != "" && !strings.EqualFold(a, e.Organizer) {
				f.Email = a
				f.Attrs["email_from"] = "attendee"
				break
			}
		}
	}
	// The event's own status is the authority, unless it is confirmed and
	// its title says the booking changed or was cancelled.
	switch e.Status {
	case "cancelled":
		f.Status = evidence.Cancelled
	case "tentative":
		if f.Status == "" {
			f.Status = evidence.Requested
		}
	default:
		if f.Status == "" || f.Status == evidence.Paid {
			f.Status = evidence.Confirmed
		}
	}
	f.Links = append(f.Links, evidence.Link{Rel: "ical_uid", ID: e.UID})
	set := func(k, v string) {
		if v != "" {
			f.Attrs[k] = v
		}
	}
	set("location", e.Location)
	set("calendar", e.Calendar)
	set("google_id", e.GoogleID)
	set("recurring_event_id", e.RecurringEventID)
	set("event_status", e.Status)
	if e.Sequence > 0 {
		f.Attrs["sequence"] = strconv.Itoa(e.Sequence)
	}
	if len(f.Attrs) == 0 {
		f.Attrs = nil
	}
	return f
}

// emailOf reads "mailto:x@y", "Name <x@y>" or "x@y".
func emailOf(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return strings.ToLower(a.Address)
	}
	if strings.Contains(s, "@") && !strings.ContainsAny(s, " <>") {
		return strings.ToLower(s)
	}
	return ""
}

// sortedAttendees keeps attendees in a stable order without duplicates.
func sortedAttendees(as []string) []string {
	slices.Sort(as)
	return slices.Compact(as)
}
