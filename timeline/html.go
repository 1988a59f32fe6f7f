package timeline

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html"
	"io"
	"slices"
	"strconv"
	"time"
)

// The page's script and style, inline: the page makes no request, and its
// Content-Security-Policy allows these exact bytes (by their SHA-256) and
// nothing else.
var (
	//go:embed assets/timeline.js
	pageScript string
	//go:embed assets/timeline.css
	pageStyle string
)

// cspHash is a CSP source for an inline element's text.
func cspHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// ContentSecurityPolicy is the policy of the HTML page: nothing may load
// or connect anywhere (default-src 'none', no connect, font, frame or
// image source but data: images), only the page's own inline script and
// style may run, by hash, and no form or base URL can send it elsewhere.
var ContentSecurityPolicy = "default-src 'none'; script-src " + cspHash(pageScript) + "; style-src " + cspHash(pageStyle) +
	"; img-src data:; base-uri 'none'; form-action 'none'"

// maxDetail bounds one event's evidence text in the page.
const maxDetail = 4000

// WriteHTML writes one self-contained page: lanes per source on a canvas,
// the loss window shaded, the markers drawn, zoom and pan, filters by
// source and booking, search, and an evidence panel (redacted) for the
// event clicked. It works offline and requests nothing. Events are drawn
// one by one when few are in view and as counts per few pixels when many
// are, so a page of 100,000 events stays quick. Build the timeline with
// Options.Details for the evidence panel to show what each record says.
func (t *Timeline) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	bw.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"" + html.EscapeString(ContentSecurityPolicy) + "\">\n")
	bw.WriteString("<meta name=\"referrer\" content=\"no-referrer\">\n")
	bw.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	bw.WriteString("<title>" + html.EscapeString(t.title()) + "</title>\n")
	bw.WriteString("<style>" + pageStyle + "</style>\n</head>\n<body>\n")
	bw.WriteString(`<header><h1>` + html.EscapeString(t.title()) + `</h1><p id="facts"></p>
<noscript><p>This page draws the timeline with its own inline script, which needs JavaScript; it makes no request. The same events are in salvage timeline --format text, csv or jsonl.</p></noscript></header>
<section id="controls" aria-label="Filters">
<fieldset id="sources"><legend>Sources</legend></fieldset>
<label>Booking <input id="booking" type="search" placeholder="ACH-…" autocomplete="off" spellcheck="false"></label>
<label>Search <input id="search" type="search" placeholder="text, id, action" autocomplete="off" spellcheck="false"></label>
<span class="buttons"><button id="zoom-all" type="button">Whole timeline</button><button id="zoom-window" type="button">Loss window</button><button id="zoom-incident" type="button">Incident</button><button id="zoom-in" type="button" title="Zoom in (+)">+</button><button id="zoom-out" type="button" title="Zoom out (−)">−</button></span>
</section>
<div id="chart"><canvas id="canvas" aria-label="Events by source over time; scroll to zoom, drag to pan, click an event for its evidence" tabindex="0"></canvas></div>
<p id="status" role="status"></p>
<div id="below"><div id="listwrap"><table id="list"><thead><tr><th>Time</th><th>Source</th><th>Actor</th><th>Action</th><th>Subject</th><th>Summary</th></tr></thead><tbody></tbody></table></div>
<aside id="detail" aria-live="polite"><p class="hint">Click an event (on the chart or in the list) to see its evidence.</p></aside></div>
`)
	bw.WriteString(`<script type="application/json" id="timeline-data">`)
	if err := t.writePageData(bw); err != nil {
		return err
	}
	bw.WriteString("</script>\n<script>" + pageScript + "</script>\n</body>\n</html>\n")
	return bw.Flush()
}

func (t *Timeline) title() string {
	if f := t.Filtered; f.Booking != "" {
		return "Timeline of booking " + f.Booking + " — salvage"
	}
	return "Timeline of the loss — salvage"
}

// dict numbers distinct strings in the order first seen.
type dict struct {
	index map[string]int
	list  []string
}

func (d *dict) id(s string) int {
	if i, ok := d.index[s]; ok {
		return i
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	d.index[s] = len(d.list)
	d.list = append(d.list, s)
	return len(d.list) - 1
}

// writePageData writes the page's data as one JSON object, column by
// column (one array per field, one element per event), which the browser
// parses quickly and holds compactly:
//
//	zone, tz        the case's zone, and its offsets: [[from ms, offset
//	                minutes, abbreviation], …] over the events' span
//	lanes           the sources, in lane order
//	actions, actors, subjects, bookings   the distinct values
//	base            ms since the epoch that t counts from
//	t               ms since base, null for an untimed event
//	lane, act, who, subj, book   indexes in those lists (book -1: none)
//	sev             a finding's severity, "" otherwise
//	sum, ev, det    summary, evidence (ids, " v2" for later versions,
//	                space-separated) and the evidence's text
//	markers, window the markers and the loss window (ms, null if open)
//
// Every string goes through appendJSONString, which escapes <, > and &: no
// text of the evidence can close the script element.
func (t *Timeline) writePageData(w *bufio.Writer) error {
	var lanes, actions, actors, subjects, bookings dict
	for _, s := range t.Sources() {
		lanes.id(string(s))
	}
	n := len(t.Events)
	var base int64
	for i := range t.Events {
		if !t.Events[i].Time.IsZero() {
			base = t.Events[i].Time.UnixMilli()
			break
		}
	}
	if len(t.Markers) > 0 && (base == 0 || t.Markers[0].Time.UnixMilli() < base) {
		base = t.Markers[0].Time.UnixMilli()
	}
	buf := make([]byte, 0, 64<<10)
	flush := func() error {
		if len(buf) >= 32<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		return nil
	}
	str := func(s string) { buf = appendJSONString(buf, s) }
	key := func(k string) { buf = append(buf, ',', '"'); buf = append(buf, k...); buf = append(buf, '"', ':') }

	buf = append(buf, '{')
	buf = append(buf, `"zone":`...)
	str(t.Location.String())
	key("title")
	str(t.title())
	key("tz")
	buf = t.appendZone(buf)
	key("base")
	buf = strconv.AppendInt(buf, base, 10)
	key("n")
	buf = strconv.AppendInt(buf, int64(n), 10)
	key("total")
	buf = strconv.AppendInt(buf, int64(t.Total), 10)

	column := func(name string, each func(e *Event)) error {
		key(name)
		buf = append(buf, '[')
		for i := range t.Events {
			if i > 0 {
				buf = append(buf, ',')
			}
			each(&t.Events[i])
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, ']')
		return nil
	}
	cols := []struct {
		name string
		each func(e *Event)
	}{
		{"t", func(e *Event) {
			if e.Time.IsZero() {
				buf = append(buf, "null"...)
				return
			}
			buf = strconv.AppendInt(buf, e.Time.UnixMilli()-base, 10)
		}},
		{"lane", func(e *Event) { buf = strconv.AppendInt(buf, int64(lanes.id(string(e.Source))), 10) }},
		{"act", func(e *Event) { buf = strconv.AppendInt(buf, int64(actions.id(string(e.Action))), 10) }},
		{"who", func(e *Event) { buf = strconv.AppendInt(buf, int64(actors.id(string(e.Actor))), 10) }},
		{"subj", func(e *Event) { buf = strconv.AppendInt(buf, int64(subjects.id(e.Subject)), 10) }},
		{"book", func(e *Event) {
			if e.Booking == "" {
				buf = append(buf, "-1"...)
				return
			}
			buf = strconv.AppendInt(buf, int64(bookings.id(e.Booking)), 10)
		}},
		{"sev", func(e *Event) { str(e.Severity) }},
		{"sum", func(e *Event) { str(e.Summary) }},
		{"ev", func(e *Event) {
			buf = append(buf, '"')
			for i, wt := range e.Evidence {
				if i > 0 {
					buf = append(buf, ' ')
				}
				s := appendJSONString(nil, wt.String())
				buf = append(buf, s[1:len(s)-1]...)
			}
			buf = append(buf, '"')
		}},
		{"det", func(e *Event) { str(clip(t.Detail(e), maxDetail)) }},
	}
	for _, c := range cols {
		if err := column(c.name, c.each); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		d    *dict
	}{{"lanes", &lanes}, {"actions", &actions}, {"actors", &actors}, {"subjects", &subjects}, {"bookings", &bookings}} {
		key(d.name)
		buf = append(buf, '[')
		for i, s := range d.d.list {
			if i > 0 {
				buf = append(buf, ',')
			}
			str(s)
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, ']')
	}
	key("markers")
	buf = append(buf, '[')
	for i, m := range t.Markers {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"kind":`...)
		str(string(m.Kind))
		buf = append(buf, `,"t":`...)
		buf = strconv.AppendInt(buf, m.Time.UnixMilli()-base, 10)
		buf = append(buf, `,"label":`...)
		str(m.Label)
		buf = append(buf, `,"basis":`...)
		str(m.Basis)
		buf = append(buf, `,"evidence":`...)
		str(m.Evidence)
		buf = append(buf, `,"note":`...)
		str(m.Note)
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	key("window")
	buf = append(buf, '[')
	for i, tm := range []time.Time{t.Window.Start, t.Window.End} {
		if i > 0 {
			buf = append(buf, ',')
		}
		if tm.IsZero() {
			buf = append(buf, "null"...)
		} else {
			buf = strconv.AppendInt(buf, tm.UnixMilli()-base, 10)
		}
	}
	buf = append(buf, "]}"...)
	_, err := w.Write(buf)
	return err
}

// appendZone appends the case zone's offsets over the span of the
// timeline (a year either side), as [[from ms, offset minutes, abbr], …]:
// the page shows local times without a time zone database of its own.
func (t *Timeline) appendZone(buf []byte) []byte {
	var lo, hi time.Time
	for i := range t.Events {
		if tm := t.Events[i].Time; !tm.IsZero() {
			if lo.IsZero() || tm.Before(lo) {
				lo = tm
			}
			if tm.After(hi) {
				hi = tm
			}
		}
	}
	for _, m := range t.Markers {
		if lo.IsZero() || m.Time.Before(lo) {
			lo = m.Time
		}
		if m.Time.After(hi) {
			hi = m.Time
		}
	}
	if lo.IsZero() {
		lo, hi = time.Unix(0, 0), time.Unix(0, 0)
	}
	lo, hi = lo.AddDate(-1, 0, 0), hi.AddDate(1, 0, 0)
	type span struct {
		from int64
		off  int
		abbr string
	}
	var spans []span
	at := lo
	for {
		name, off := at.In(t.Location).Zone()
		spans = append(spans, span{at.UnixMilli(), off / 60, name})
		_, end := at.In(t.Location).ZoneBounds()
		if end.IsZero() || end.After(hi) {
			break
		}
		at = end
	}
	spans[0].from = -1 << 52 // from the start of time
	spans = slices.CompactFunc(spans, func(a, b span) bool { return a.off == b.off && a.abbr == b.abbr })
	buf = append(buf, '[')
	for i, s := range spans {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = strconv.AppendInt(buf, s.from, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(s.off), 10)
		buf = append(buf, ',')
		buf = appendJSONString(buf, s.abbr)
		buf = append(buf, ']')
	}
	return append(buf, ']')
}
