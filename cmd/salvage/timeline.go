package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/salvagehq/salvage/reconcile"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/safefile"
	"github.com/salvagehq/salvage/timeline"
)

// timelineFormats are the formats salvage timeline writes, and the file
// extensions that choose them when --format is not given.
var timelineFormats = map[string][]string{
	"text":  {".txt"},
	"jsonl": {".jsonl", ".ndjson"},
	"csv":   {".csv"},
	"md":    {".md", ".markdown"},
	"html":  {".html", ".htm"},
}

type timelineCmd struct {
	*app
	format, out                        string
	force                              bool
	since, until, booking              string
	sources                            []string
	incidentAt, detectedAt, restoredAt string
}

func (a *app) timelineCommand() *cobra.Command {
	c := &timelineCmd{app: a}
	cmd := &cobra.Command{
		Use:   "timeline",
		Short: "Order every event of the loss and the incident: a table, data, a postmortem draft or an HTML page",
		Long: `Order every event the evidence shows into one timeline: bookings requested,
confirmed, changed and cancelled; payments and refunds; calendar entries
created, moved and cancelled; mail sent and received; each step of the
agent's session and each detector finding. One happening seen twice (an
email in an mbox and over IMAP, a Stripe event and the object it describes,
a calendar entry in an ICS export and from the API) is one event with both
witnesses. Times are shown in the case's zone.

Markers frame the loss: the last backup (case.last_backup), the incident T0
(--incident-at, else case.incident_at, else the first critical destructive
action the transcript findings show), its detection (--detected-at, else
the first message a person wrote in the agent's session after T0) and the
restore (--restored-at). The loss window runs from the last backup to the
restore.

Formats:
  text   a table for the terminal (the default)
  jsonl  one JSON object per line, a stable interface; columns:
           type ("event" or "marker"), time (RFC 3339 UTC; empty when no
           evidence dates it), local (the same in the case's zone), source,
           actor (customer, staff, agent, system), action (booking.confirmed,
           payment.succeeded, calendar.moved, mail.sent, agent.call,
           finding, marker.incident, ...), subject (booking reference or
           resource), booking, severity (findings), summary (one line,
           secrets redacted), basis (how a marker's time is known),
           evidence (array of {"id", "version", "kind", "via"})
  csv    a header row and the same columns, evidence as ids joined by ";"
         (" v2" after a later version), then via (channels joined by ";")
  md     a postmortem draft: summary, markers, impact on bookings (from the
         last salvage reconcile), the incident minute by minute with the
         credential by fingerprint and the safeguards that were absent, the
         recovery, open questions
  html   one self-contained page that works offline and requests nothing:
         lanes per source, the loss window shaded, zoom and pan, filters by
         source and booking, search, the evidence of the event clicked

Secrets appear only as fingerprints (rk_live_…9f2c), in every format. The
same case gives the same bytes. Without --out the timeline goes to standard
output; --out writes the file (mode 0600: it holds customers' personal data)
only once complete, never replacing one unless --force is given, and takes
the format from its extension when --format is not given. Times are RFC 3339
(2026-11-18T14:28:32Z) or a date-time in the case's zone (2026-11-18 14:28).`,
		Example: `  salvage timeline
  salvage timeline --format md --out postmortem.md
  salvage timeline --out timeline.html
  salvage timeline --booking ACH-2DHB4
  salvage timeline --source transcript --since "2026-11-18 14:00" --until "2026-11-18 16:00"
  salvage timeline --format jsonl | jq -c 'select(.action == "payment.refunded")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&c.format, "format", "", "text, jsonl, csv, md or html (default: from --out's extension, else text)")
	f.StringVarP(&c.out, "out", "o", "", "write to this file instead of standard output")
	f.BoolVar(&c.force, "force", false, "replace the --out file if it exists")
	f.StringVar(&c.since, "since", "", "only events from this time")
	f.StringVar(&c.until, "until", "", "only events before this time")
	f.StringSliceVar(&c.sources, "source", nil, "only events of these sources: stripe, calendar, mail, transcript (repeat or join with commas)")
	f.StringVar(&c.booking, "booking", "", `only the events of this booking reference ("ach 2dhb4" finds ACH-2DHB4)`)
	f.StringVar(&c.incidentAt, "incident-at", "", "the incident time T0, before case.incident_at and the transcript's")
	f.StringVar(&c.detectedAt, "detected-at", "", "when the loss was noticed, before what the transcript shows")
	f.StringVar(&c.restoredAt, "restored-at", "", "when the backup was restored: closes the loss window")
	return cmd
}

// chooseFormat is --format, or the one --out's extension names, or text.
func (c *timelineCmd) chooseFormat() (string, error) {
	if c.format != "" {
		if _, ok := timelineFormats[c.format]; !ok {
			return "", usagef("--format %q: want text, jsonl, csv, md or html", c.format)
		}
		return c.format, nil
	}
	ext := strings.ToLower(filepath.Ext(c.out))
	for name, exts := range timelineFormats {
		if slices.Contains(exts, ext) {
			return name, nil
		}
	}
	return "text", nil
}

func (c *timelineCmd) run(ctx context.Context, cmd *cobra.Command) error {
	format, err := c.chooseFormat()
	if err != nil {
		return err
	}
	if c.force && c.out == "" {
		return usagef("--force replaces the --out file: give --out too")
	}
	var filter timeline.Filter
	for _, s := range c.sources {
		for _, one := range strings.Split(s, ",") {
			src := evidence.Source(strings.TrimSpace(strings.ToLower(one)))
			if !src.Valid() {
				return usagef("--source %q: want stripe, calendar, mail or transcript", one)
			}
			filter.Sources = append(filter.Sources, src)
		}
	}
	filter.Booking = strings.TrimSpace(c.booking)
	if c.booking != "" && reconcile.RefKey(c.booking) == "" {
		return usagef("--booking %q: a reference has letters or digits", c.booking)
	}

	s, err := c.openCase(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	loc := s.Config().Location()
	opts := timeline.Options{Details: format == "html"}
	for _, t := range []struct {
		flag, value string
		into        *time.Time
	}{
		{"--since", c.since, &filter.Since}, {"--until", c.until, &filter.Until},
		{"--incident-at", c.incidentAt, &opts.IncidentAt}, {"--detected-at", c.detectedAt, &opts.DetectedAt},
		{"--restored-at", c.restoredAt, &opts.RestoredAt},
	} {
		if t.value == "" {
			continue
		}
		if *t.into, err = evidence.ParseTime(t.value, loc); err != nil {
			return usagef("%s: %v", t.flag, err)
		}
	}
	if !filter.Since.IsZero() && !filter.Until.IsZero() && !filter.Since.Before(filter.Until) {
		return usagef("no time is left: --until %s is not after --since %s", showTime(filter.Until, loc), showTime(filter.Since, loc))
	}
	opts.Filter = filter
	c.warnIfStale(ctx, s)

	tl, err := timeline.FromStore(ctx, s, opts)
	if err != nil {
		return err
	}
	if tl.Total == 0 {
		return errors.New("the case holds no evidence yet: import some first (see salvage import --help)")
	}
	write := func(w io.Writer, width int) error {
		switch format {
		case "jsonl":
			return tl.WriteJSONL(w)
		case "csv":
			return tl.WriteCSV(w)
		case "md":
			return tl.WriteMarkdown(w)
		case "html":
			return tl.WriteHTML(w)
		}
		return tl.WriteText(w, timeline.TextOptions{Width: width})
	}

	if c.out == "" {
		w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
		if err := write(w, terminalWidth(cmd.OutOrStdout())); err != nil {
			return err
		}
		return w.Flush()
	}
	f, err := safefile.Create(c.out, 0o600, c.force)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	if err := write(w, 0); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	shown := count(int64(len(tl.Events)))
	if len(tl.Events) != tl.Total {
		shown += " of " + count(int64(tl.Total))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "timeline %s: %s %s and %d %s to %s\n", format, shown, plural(tl.Total, "event", "events"),
		len(tl.Markers), plural(len(tl.Markers), "marker", "markers"), c.out)
	return nil
}

// warnIfStale warns when evidence was imported after the last reconcile:
// the bookings the timeline names, and the impact the postmortem counts,
// do not cover it.
func (c *timelineCmd) warnIfStale(ctx context.Context, s *evidence.Store) {
	run, ok, err := s.LastReconcile(ctx)
	if err != nil || !ok {
		return
	}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		return
	}
	for _, j := range jobs {
		if j.Counts.New+j.Counts.NewVersion > 0 && (j.FinishedAt.IsZero() || j.FinishedAt.After(run.FinishedAt)) {
			c.log.Warn(fmt.Sprintf("evidence was imported after the last reconcile (import %s, job %d): its events are shown, but the bookings and the impact are the reconcile's; run salvage reconcile again", j.Importer, j.ID))
			return
		}
	}
}
