package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/fixtures"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources/all"
	"github.com/salvagehq/salvage/sources/transcript"
	"github.com/spf13/cobra"
)

// demoMarker marks a directory written by salvage demo, which a later demo
// may replace.
const demoMarker = ".salvage-demo"

type demoCmd struct {
	*app
	out, scenario string
}

func (a *app) demoCommand() *cobra.Command {
	c := &demoCmd{app: a}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole recovery on a sample incident and show the result",
		Long: `Run every step of a recovery on a sample incident: a car-rental company
whose production database was deleted by a coding agent, with its Stripe
account, fleet calendar, bookings mailbox and the agent's transcript.

The demo creates a fresh case in --out, runs each step exactly as you would
(the command lines are shown), and prints a summary. Without --scenario it
generates the sample scenario (the one committed in fixtures/scenario) into
--out/scenario first.

A directory written by an earlier demo is replaced; any other existing
directory is refused.`,
		Example: `  salvage demo
  salvage demo --scenario fixtures/scenario --out /tmp/demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	cmd.Flags().StringVar(&c.out, "out", "salvage-demo", "directory for the demo's case and exports")
	cmd.Flags().StringVar(&c.scenario, "scenario", "", "scenario directory to recover (default: generate the sample scenario)")
	return cmd
}

// scenarioInfo is what the demo reads of a scenario: what the business would
// tell the engineer on call. It never reads the scenario's ground truth.
type scenarioInfo struct {
	Business string `json:"business"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
	Window   struct {
		LastBackup time.Time `json:"last_backup"`
	} `json:"window"`
}

func (c *demoCmd) run(ctx context.Context, w io.Writer) error {
	started := c.now()
	if err := prepareDemoDir(c.out); err != nil {
		return err
	}
	scenario := c.scenario
	if scenario == "" {
		scenario = filepath.Join(c.out, "scenario")
		fmt.Fprintf(w, "Generating the sample scenario into %s\n", scenario)
		if _, err := fixtures.Generate(fixtures.Config{Seed: 1, Bookings: fixtures.DefaultBookings, Out: scenario}); err != nil {
			return fmt.Errorf("generate scenario: %w", err)
		}
	}
	info, err := readScenario(scenario)
	if err != nil {
		return err
	}
	caseDir := filepath.Join(c.out, "case")
	loc, _ := time.LoadLocation(info.Timezone)
	fmt.Fprintf(w, "salvage demo: %s (%s). The database was lost; the newest backup is from %s.\n\n",
		info.Business, info.Timezone, showTime(info.Window.LastBackup, loc))

	restored := filepath.Join(c.out, "restored.db")
	steps := []struct {
		title string
		args  []string
		// do, when set, is a step of the demo's own instead of a command.
		do func() (string, error)
	}{
		{"Create the case", []string{"init", "--timezone", info.Timezone, "--currency", info.Currency,
			"--last-backup", info.Window.LastBackup.UTC().Format(time.RFC3339)}, nil},
		{"Import Stripe: customers, payments, refunds, checkout sessions, events (from the export files)",
			[]string{"import", "stripe", "--from", filepath.Join(scenario, "stripe")}, nil},
		{"Import the fleet calendar's ICS export",
			[]string{"import", "ics", filepath.Join(scenario, "calendar", "calendar.ics")}, nil},
		{"Import the same calendar from saved Google Calendar API pages: cancelled events too, the rest already known",
			[]string{"import", "gcal", "--from", filepath.Join(scenario, "calendar"), "--calendar", "fleet"}, nil},
		{"Import the bookings mailbox (a Google Takeout mbox): confirmations, changes, cancellations, receipts, invitations",
			[]string{"import", "mail", filepath.Join(scenario, "mail", "mailbox.mbox")}, nil},
		{"Import the coding agent's transcript: every step, what it did, secrets redacted",
			[]string{"import", "transcript", filepath.Join(scenario, "transcripts")}, nil},
		{"Check the evidence is what was imported", []string{"verify"}, nil},
		{"Rebuild the bookings lost since the backup: every value with its source, every disagreement kept",
			[]string{"reconcile"}, nil},
		{"Write the rebuilt bookings for other tools",
			[]string{"export", "csv", "--out", filepath.Join(c.out, "bookings.csv")}, nil},
		{title: "Stand in for the restored database: the months-old backup, loaded into SQLite",
			do: func() (string, error) { return restoreBackup(ctx, filepath.Join(scenario, "restored"), restored) }},
		{"Write the restore SQL for it: only the bookings it lacks, insert-only, in one transaction (--against reads it, read-only)",
			[]string{"export", "sql", "--dialect", "sqlite", "--mapping", filepath.Join(scenario, "restored", "mapping.toml"),
				"--against", "sqlite:" + restored, "--out", filepath.Join(c.out, "restore.sql")}, nil},
		{"Write the postmortem draft: the incident minute by minute, the loss window, the impact on bookings",
			[]string{"timeline", "--format", "md", "--out", filepath.Join(c.out, "postmortem.md")}, nil},
		{"Write the timeline as one offline HTML page: lanes per source, the loss window shaded, click an event for its evidence",
			[]string{"timeline", "--format", "html", "--out", filepath.Join(c.out, "timeline.html")}, nil},
		{"Write the review workbook: open it in a spreadsheet program, decide each booking, then salvage review import",
			[]string{"export", "xlsx", "--out", filepath.Join(c.out, "review.xlsx")}, nil},
	}
	for i, st := range steps {
		if st.do != nil {
			fmt.Fprintf(w, "%d. %s\n", i+1, st.title)
			said, err := st.do()
			if err != nil {
				return fmt.Errorf("demo step %q failed: %w", st.title, err)
			}
			fmt.Fprintf(w, "     %s\n", said)
			continue
		}
		args := append([]string{"--case", caseDir}, st.args...)
		fmt.Fprintf(w, "%d. %s\n   $ salvage %s\n", i+1, st.title, strings.Join(args, " "))
		out := &indent{w: w, prefix: "     "}
		// Notes and warnings indented like the output; no progress bars
		// (each step takes well under a second).
		errOut := &indent{w: c.stderr, prefix: "     "}
		code := run(ctx, args, env{stdout: out, stderr: errOut, getenv: c.getenv})
		out.flush()
		errOut.flush()
		if code != exitOK && code != exitPartial {
			if code == exitInterrupted {
				return context.Canceled
			}
			return fmt.Errorf("demo step %q failed (exit %d)", st.title, code)
		}
	}

	s, err := evidence.Open(ctx, caseDir, evidence.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nSummary\n")
	var parts []string
	for _, src := range evidence.Sources {
		parts = append(parts, fmt.Sprintf("%s %s", src, count(st.Records[src])))
	}
	fmt.Fprintf(w, "  evidence   %s\n", strings.Join(parts, " · "))
	if err := printBookings(ctx, w, s); err != nil {
		return err
	}
	if err := printRestore(ctx, w, s); err != nil {
		return err
	}
	if err := printIncident(ctx, w, s, loc); err != nil {
		return err
	}
	if len(all.Importers()) == 0 {
		fmt.Fprintf(w, "  importers  none in this build yet, so the case stays empty\n")
	}
	label := "written"
	for _, o := range []struct{ file, what string }{
		{"review.xlsx", "the review workbook: bookings to review first, a Decision column, conflicts, evidence"},
		{"restore.sql", "load it with: sqlite3 " + restored + " < " + filepath.Join(c.out, "restore.sql")},
		{"postmortem.md", "the postmortem draft, every line traceable to its evidence"},
		{"timeline.html", "the timeline: open it in a browser, it works offline"},
		{"bookings.csv", "one row per booking, with its sources and review reasons"},
	} {
		if _, err := os.Stat(filepath.Join(c.out, o.file)); err == nil {
			fmt.Fprintf(w, "  %-10s %s (%s)\n", label, filepath.Join(c.out, o.file), o.what)
			label = ""
		}
	}
	fmt.Fprintf(w, "  case       %s\n", caseDir)
	fmt.Fprintf(w, "  scenario   %s\n", scenario)
	fmt.Fprintf(w, "  took       %s\n", c.now().Sub(started).Round(100*time.Millisecond))
	fmt.Fprintf(w, "\nLook around: salvage --case %s status\n", caseDir)
	return nil
}

// prepareDemoDir empties dir if an earlier demo wrote it, creates it if
// missing, and refuses any other existing, non-empty directory.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usagef("%s exists and was not written by salvage demo; choose another --out", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("replace the earlier demo: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("written by salvage demo; the next demo replaces this directory\n"), 0o600)
}

func readScenario(dir string) (scenarioInfo, error) {
	var info scenarioInfo
	b, err := os.ReadFile(filepath.Join(dir, "scenario.json"))
	if err != nil {
		return info, fmt.Errorf("read scenario: %w (is %s a scenario directory?)", err, dir)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("read %s: %w", filepath.Join(dir, "scenario.json"), err)
	}
	if _, err := time.LoadLocation(info.Timezone); err != nil || info.Timezone == "" || info.Window.LastBackup.IsZero() {
		return info, fmt.Errorf("%s: want timezone and last_backup", filepath.Join(dir, "scenario.json"))
	}
	return info, nil
}

// indent prefixes every line written through it.
type indent struct {
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (i *indent) Write(p []byte) (int, error) {
	i.buf.Write(p)
	for {
		line, err := i.buf.ReadBytes('\n')
		if err != nil {
			i.buf.Write(line) // incomplete: keep for later
			return len(p), nil
		}
		if _, err := fmt.Fprintf(i.w, "%s%s", i.prefix, line); err != nil {
			return 0, err
		}
	}
}

func (i *indent) flush() {
	if i.buf.Len() > 0 {
		fmt.Fprintf(i.w, "%s%s\n", i.prefix, i.buf.Bytes())
		i.buf.Reset()
	}
}

// printIncident prints the incident as the evidence tells it: when, what
// the agent did, with which credential, and who approved it.
func printIncident(ctx context.Context, w io.Writer, s *evidence.Store, loc *time.Location) error {
	var findings []evidence.Record
	for r, err := range s.Records(ctx, evidence.Query{Sources: []evidence.Source{evidence.Transcript}}) {
		if err != nil {
			return err
		}
		if r.Kind == transcript.KindFinding {
			findings = append(findings, r)
		}
	}
	in, ok := transcript.ProposeIncident(findings)
	if !ok {
		fmt.Fprintf(w, "  incident   no destructive action found in the transcripts\n")
		return nil
	}
	at := in.Time.Truncate(time.Second)
	when := at.In(loc).Format("2006-01-02 15:04:05 MST")
	if _, off := at.In(loc).Zone(); off != 0 {
		when += at.UTC().Format(" (15:04:05 UTC)")
	}
	fmt.Fprintf(w, "  incident   %s: the agent ran %s\n", when, in.Explanation)
	if set := s.Config().Case.IncidentAt; !set.IsZero() && !set.Equal(at) {
		fmt.Fprintf(w, "             the case's incident_at, %s, overrides this proposal\n", set.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	if in.Credential != "" {
		fmt.Fprintf(w, "             with credential %s, found in %s (%s)\n", in.Credential, in.FoundIn, in.FoundWhere)
	}
	switch {
	case in.ApprovalMode != "":
		fmt.Fprintf(w, "             no person approved it: approval mode %s\n", in.ApprovalMode)
	case in.Confirmation != "":
		fmt.Fprintf(w, "             no person's approval is recorded\n")
	}
	fmt.Fprintf(w, "             evidence %s\n", in.Step)
	return nil
}

// printBookings prints how many bookings were rebuilt and how many need
// review, and why.
func printBookings(ctx context.Context, w io.Writer, s *evidence.Store) error {
	run, ok, err := s.LastReconcile(ctx)
	if err != nil || !ok {
		return err
	}
	var sum reconcile.Summary
	if err := json.Unmarshal(run.SummaryJSON, &sum); err != nil {
		return fmt.Errorf("read the reconcile summary: %w", err)
	}
	fmt.Fprintf(w, "  bookings   %s rebuilt, %s to review", count(int64(sum.Bookings)), count(int64(sum.NeedsReview)))
	if len(sum.Review) > 0 {
		fmt.Fprintf(w, " (%s)", joinCounts(sum.Review))
	}
	fmt.Fprintln(w)
	return nil
}

// joinCounts is "a 3 · b 2", largest first, then by name.
func joinCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", strings.ReplaceAll(k, "_", " "), count(int64(m[k])))
	}
	return strings.Join(parts, " · ")
}

// restoreBackup loads a scenario's restored database (schema.sql, then
// backup.sql, from dir) into a new SQLite file at path, standing in for the
// company's restored production database.
func restoreBackup(ctx context.Context, dir, path string) (string, error) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	for _, name := range []string{"schema.sql", "backup.sql"} {
		script, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		if _, err := db.ExecContext(ctx, string(script)); err != nil {
			return "", fmt.Errorf("load %s: %w", name, err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM bookings`).Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %d bookings survived in the backup (%s and %s)", path, n, filepath.Join(dir, "schema.sql"), filepath.Join(dir, "backup.sql")), db.Close()
}

// printRestore says what the restore SQL holds, from the check against the
// restored database: the new bookings to insert, those waiting for review,
// those the database holds with other values.
func printRestore(ctx context.Context, w io.Writer, s *evidence.Store) error {
	ds, err := s.Dispositions(ctx)
	if err != nil || len(ds) == 0 {
		return err
	}
	insert, wait, present, differ := 0, 0, 0, 0
	for b, err := range s.BookingBriefs(ctx) {
		if err != nil {
			return err
		}
		var bk reconcile.Brief
		if err := json.Unmarshal(b.JSON, &bk); err != nil {
			return err
		}
		switch ds[b.Ref].State {
		case evidence.DispositionNew:
			if bk.NeedsReview {
				wait++
			} else {
				insert++
			}
		case evidence.DispositionPresent:
			present++
		case evidence.DispositionDiffers:
			differ++
		}
	}
	fmt.Fprintf(w, "  restore    %s to insert into the restored database, %s waiting for review, %s already there, %s there with other values (see the workbook)\n",
		count(int64(insert)), count(int64(wait)), count(int64(present)), count(int64(differ)))
	return nil
}
