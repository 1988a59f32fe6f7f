package timeline

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// TextOptions shape the terminal table.
type TextOptions struct {
	// Width is the terminal's width in columns; the summary is cut to fit.
	// 0 means no limit.
	Width int
}

// WriteText writes a table for a terminal: one line per event and marker,
// times in the case's zone, then a line of totals.
func (t *Timeline) WriteText(w io.Writer, o TextOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	const timeW, sourceW, actorW, actionW, subjectW = 24, 10, 8, 18, 16
	fixed := timeW + sourceW + actorW + actionW + subjectW + 5
	sumW := 0
	if o.Width > fixed+20 {
		sumW = o.Width - fixed
	} else if o.Width > 0 {
		sumW = 20
	}
	cell := func(s string, n int) string {
		s = clip(s, n)
		if pad := n - utf8.RuneCountInString(s); pad > 0 {
			s += strings.Repeat(" ", pad)
		}
		return s
	}
	fmt.Fprintf(bw, "%s %s %s %s %s %s\n", cell("TIME ("+t.Location.String()+")", timeW), cell("SOURCE", sourceW),
		cell("ACTOR", actorW), cell("ACTION", actionW), cell("SUBJECT", subjectW), "SUMMARY")
	err := t.rows(func(r *row) error {
		when := ""
		if !r.time.IsZero() {
			when = r.time.In(t.Location).Format("2006-01-02 15:04:05 MST")
		}
		if r.marker != nil {
			line := "──── " + strings.ToUpper(r.marker.Label) + " ──── " + joinNonEmpty(" · ", r.marker.Note, r.marker.Basis)
			if o.Width > 0 {
				line = clip(line, max(o.Width-timeW-1, 20))
			}
			_, err := fmt.Fprintf(bw, "%s %s\n", cell(when, timeW), line)
			return err
		}
		summary := r.summary
		if sumW > 0 {
			summary = clip(summary, sumW)
		}
		_, err := fmt.Fprintf(bw, "%s %s %s %s %s %s\n", cell(when, timeW), cell(r.source, sourceW), cell(r.actor, actorW),
			cell(r.action, actionW), cell(r.subject, subjectW), summary)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "%s\n", t.countLine())
	return bw.Flush()
}

// countLine says how many events there are and where from.
func (t *Timeline) countLine() string {
	by := countBySource(t.Events)
	var parts []string
	for _, s := range sortedSources(by) {
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", s, count(by[s])))
		}
	}
	line := fmt.Sprintf("%s %s", count(len(t.Events)), plural(len(t.Events), "event", "events"))
	if len(t.Events) != t.Total {
		line += fmt.Sprintf(" of %s (filtered)", count(t.Total))
	}
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, " · ")
	}
	if t.Untimed > 0 {
		line += fmt.Sprintf("; %s without a time, listed last", count(t.Untimed))
	}
	return line
}

func count(n int) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
