package timeline

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Columns names the columns of the jsonl and csv forms, in order: a stable
// interface, columns are only ever added at the end. Every line (row) has
// every column.
//
//	type      "event", or "marker" for the last backup, the incident, its
//	          detection and the restore
//	time      when, RFC 3339 in UTC ("2026-11-18T14:28:32.878Z"); empty
//	          for an event no evidence dates
//	local     the same instant in the case's zone ("2026-11-18T14:28:32.878+00:00")
//	source    stripe, calendar, mail or transcript (empty for a marker)
//	actor     customer, staff, agent or system (empty for a marker)
//	action    what happened: booking.confirmed, payment.succeeded,
//	          calendar.moved, mail.sent, agent.call, finding, …; for a
//	          marker "marker." and its kind (marker.incident)
//	subject   the booking reference, or the resource (vehicle, Stripe
//	          object, file, session, detector rule)
//	booking   the booking reference when one is known
//	severity  a finding's severity (critical, high, medium, low)
//	summary   one line saying what happened, secrets redacted; for a
//	          marker its label and what it marks
//	basis     for a marker, how its time is known
//	evidence  the records that show it: in jsonl an array of objects
//	          {"id", "version", "kind", "via": [channels]}, the record
//	          whose time is shown first; in csv the ids joined by ";",
//	          " v2" after the id of a later version
//	via       csv only: the channels, sorted, joined by ";"
//
// In csv, a subject, booking or summary that would start with = + - or @
// starts with a space instead, so that no spreadsheet reads it as a
// formula.
//
// Events are in time order, untimed ones last; a marker comes before the
// events of its own instant.
var Columns = []string{"type", "time", "local", "source", "actor", "action", "subject", "booking", "severity", "summary", "basis", "evidence", "via"}

// row is one line of the data forms.
type row struct {
	typ      string
	time     time.Time
	source   string
	actor    string
	action   string
	subject  string
	booking  string
	severity string
	summary  string
	basis    string
	event    *Event
	marker   *Marker
}

// rows calls yield with every marker and event in order, stopping at the
// first error.
func (t *Timeline) rows(yield func(*row) error) error {
	return t.rowsOf(len(t.Events), func(k int) *Event { return &t.Events[k] }, yield)
}

// rowsOf is rows of the n events at gives, in order, with t's markers.
func (t *Timeline) rowsOf(n int, at func(k int) *Event, yield func(*row) error) error {
	var r row
	mi := 0
	emitMarker := func(m *Marker) error {
		r = row{typ: "marker", time: m.Time, action: "marker." + string(m.Kind), summary: markerSummary(m),
			basis: m.Basis, marker: m}
		return yield(&r)
	}
	for i := range n {
		e := at(i)
		for mi < len(t.Markers) && !e.Time.IsZero() && !t.Markers[mi].Time.After(e.Time) {
			if err := emitMarker(&t.Markers[mi]); err != nil {
				return err
			}
			mi++
		}
		for mi < len(t.Markers) && e.Time.IsZero() {
			if err := emitMarker(&t.Markers[mi]); err != nil {
				return err
			}
			mi++
		}
		r = row{typ: "event", time: e.Time, source: string(e.Source), actor: string(e.Actor), action: string(e.Action),
			subject: e.Subject, booking: e.Booking, severity: e.Severity, summary: e.Summary, event: e}
		if err := yield(&r); err != nil {
			return err
		}
	}
	for ; mi < len(t.Markers); mi++ {
		if err := emitMarker(&t.Markers[mi]); err != nil {
			return err
		}
	}
	return nil
}

func markerSummary(m *Marker) string {
	return joinNonEmpty(": ", m.Label, m.Note)
}

// WriteJSONL writes one JSON object per line, with the Columns (but via,
// which each evidence object holds).
func (t *Timeline) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	buf := make([]byte, 0, 1024)
	err := t.rows(func(r *row) error {
		buf = buf[:0]
		buf = append(buf, `{"type":`...)
		buf = appendJSON(buf, r.typ, false)
		buf = append(buf, `,"time":`...)
		buf = t.appendTimes(buf, r.time, true)
		for _, kv := range [...]struct{ k, v string }{
			{`,"source":`, r.source}, {`,"actor":`, r.actor}, {`,"action":`, r.action}, {`,"subject":`, r.subject},
			{`,"booking":`, r.booking}, {`,"severity":`, r.severity}, {`,"summary":`, r.summary}, {`,"basis":`, r.basis},
		} {
			buf = append(buf, kv.k...)
			buf = appendJSON(buf, kv.v, false)
		}
		buf = append(buf, `,"evidence":[`...)
		switch {
		case r.event != nil:
			for i, ev := range r.event.Evidence {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, `{"id":`...)
				buf = appendJSON(buf, ev.ID, false)
				buf = append(buf, `,"version":`...)
				buf = strconv.AppendInt(buf, int64(ev.Version), 10)
				buf = append(buf, `,"kind":`...)
				buf = appendJSON(buf, ev.Kind, false)
				buf = append(buf, `,"via":[`...)
				for j, v := range ev.Via {
					if j > 0 {
						buf = append(buf, ',')
					}
					buf = appendJSON(buf, v, false)
				}
				buf = append(buf, "]}"...)
			}
		case r.marker != nil && r.marker.Evidence != "":
			buf = append(buf, `{"id":`...)
			buf = appendJSON(buf, r.marker.Evidence, false)
			buf = append(buf, `,"version":0,"kind":"","via":[]}`...)
		}
		buf = append(buf, "]}\n"...)
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// appendTimes appends the time and local columns: as JSON strings, or (for
// csv) bare.
func (t *Timeline) appendTimes(buf []byte, tm time.Time, json bool) []byte {
	q := func(b []byte) []byte {
		if json {
			b = append(b, '"')
		}
		return b
	}
	buf = q(buf)
	if !tm.IsZero() {
		buf = tm.UTC().AppendFormat(buf, time.RFC3339Nano)
	}
	buf = q(buf)
	if json {
		buf = append(buf, `,"local":`...)
	} else {
		buf = append(buf, 0)
	}
	buf = q(buf)
	if !tm.IsZero() {
		buf = tm.In(t.Location).AppendFormat(buf, time.RFC3339Nano)
	}
	return q(buf)
}

// WriteCSV writes a header row of Columns, then one row per marker and
// event.
func (t *Timeline) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	rec := make([]string, len(Columns))
	var tb []byte
	var ids, vias []string
	err := t.rows(func(r *row) error {
		tb = t.appendTimes(tb[:0], r.time, false)
		tm, local, _ := strings.Cut(string(tb), "\x00")
		ids, vias = ids[:0], vias[:0]
		switch {
		case r.event != nil:
			for _, ev := range r.event.Evidence {
				ids = append(ids, ev.String())
			}
			vias = r.event.Vias()
		case r.marker != nil && r.marker.Evidence != "":
			ids = append(ids, r.marker.Evidence)
		}
		rec = append(rec[:0], r.typ, tm, local, r.source, r.actor, r.action, csvSafe(r.subject), csvSafe(r.booking), r.severity,
			csvSafe(r.summary), r.basis, strings.Join(ids, ";"), strings.Join(vias, ";"))
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: a text
// that would start with = + - @ (or a tab or carriage return) starts with
// a space instead.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return " " + s
	}
	return s
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, with <, > and & escaped
// so that it can sit in an HTML script element. Invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped so the text is also valid
// JavaScript.
func appendJSONString(buf []byte, s string) []byte { return appendJSON(buf, s, true) }

// appendJSON appends s as a JSON string, escaping <, > and & only when
// html is set (the jsonl keeps "mail:<id@host>" readable, as export json
// does).
func appendJSON(buf []byte, s string, html bool) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// Row is one line of the timeline as the data forms write it (Columns):
// a marker or an event. The workbook's Timeline sheet is made of these.
type Row struct {
	// Type is "event" or "marker".
	Type string
	// Time is in UTC, zero for an event no evidence dates; Local is the
	// same instant in the case's zone.
	Time, Local time.Time
	Source      string
	Actor       string
	// Action is the event's action, or "marker." and the marker's kind.
	Action   string
	Subject  string
	Booking  string
	Severity string
	// Summary is one line, secrets redacted; for a marker, its label and
	// what it marks.
	Summary string
	// Basis says how a marker's time is known.
	Basis string
	// Evidence are the record ids (" v2" after a later version), the one
	// whose time is shown first; Via the channels, sorted.
	Evidence []string
	Via      []string
	// Event is the event (nil for a marker), Marker the marker (nil for an
	// event).
	Event  *Event
	Marker *Marker
}

// Rows yields the markers and events in order, as jsonl and csv write them.
func (t *Timeline) Rows() iter.Seq[Row] {
	return t.rowSeq(len(t.Events), func(k int) *Event { return &t.Events[k] })
}

// rowSeq is Rows of the n events at gives, in order.
func (t *Timeline) rowSeq(n int, at func(k int) *Event) iter.Seq[Row] {
	return func(yield func(Row) bool) {
		stop := errors.New("stop")
		_ = t.rowsOf(n, at, func(r *row) error {
			out := Row{Type: r.typ, Time: r.time, Source: r.source, Actor: r.actor, Action: r.action, Subject: r.subject,
				Booking: r.booking, Severity: r.severity, Summary: r.summary, Basis: r.basis, Event: r.event, Marker: r.marker}
			if !r.time.IsZero() {
				out.Time, out.Local = r.time.UTC(), r.time.In(t.Location)
			}
			switch {
			case r.event != nil:
				for _, w := range r.event.Evidence {
					out.Evidence = append(out.Evidence, w.String())
				}
				out.Via = r.event.Vias()
			case r.marker != nil && r.marker.Evidence != "":
				out.Evidence = []string{r.marker.Evidence}
			}
			if !yield(out) {
				return stop
			}
			return nil
		})
	}
}
