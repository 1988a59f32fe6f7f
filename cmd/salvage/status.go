package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/spf13/cobra"
)

// statusJSON is the stable shape of `salvage status --json`.
type statusJSON struct {
	Case          string                    `json:"case"`
	SchemaVersion int                       `json:"schema_version"`
	Timezone      string                    `json:"timezone"`
	LastBackup    *time.Time                `json:"last_backup"`
	IncidentAt    *time.Time                `json:"incident_at"`
	Evidence      map[evidence.Source]int64 `json:"evidence"`
	Versions      map[evidence.Source]int64 `json:"versions"`
	Sightings     map[evidence.Source]int64 `json:"sightings"`
	Rejected      map[evidence.Source]int64 `json:"rejected"`
	Jobs          []jobJSON                 `json:"jobs"`
	RejectedInput []rejectedJSON            `json:"rejected_inputs"`
	// Bookings is the last reconcile, the review read back and the check
	// against the restored database; absent before the first reconcile.
	Bookings    *bookingsJSON              `json:"bookings,omitempty"`
	Checkpoints map[string]json.RawMessage `json:"-"`
}

type jobJSON struct {
	ID         int64              `json:"id"`
	Importer   string             `json:"importer"`
	Source     evidence.Source    `json:"source"`
	Args       []string           `json:"args"`
	Status     evidence.JobStatus `json:"status"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at"`
	evidence.Counts
	IgnoredReasons map[string]int64 `json:"ignored_reasons"`
	Error          string           `json:"error"`
}

type bookingsJSON struct {
	ReconciledAt time.Time `json:"reconciled_at"`
	Count        int       `json:"count"`
	NeedsReview  int       `json:"needs_review"`
	// Review counts the bookings by review decision ("approve", "reject",
	// "fix", "" for none yet), once a review was imported.
	Review       map[string]int `json:"review"`
	ReviewedAt   *time.Time     `json:"reviewed_at"`
	Dispositions map[string]int `json:"dispositions"`
	CheckedAt    *time.Time     `json:"checked_at"`
	Against      string         `json:"against,omitempty"`
}

type rejectedJSON struct {
	Source  evidence.Source `json:"source"`
	Via     string          `json:"via"`
	Locator string          `json:"locator"`
	Reason  string          `json:"reason"`
	Job     int64           `json:"job"`
}

type statusCmd struct {
	*app
	json bool
}

func (a *app) statusCommand() *cobra.Command {
	c := &statusCmd{app: a}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the case holds: evidence by source, import jobs, rejected input",
		Long: `Show what the case holds: evidence records by source, every import job
with its counts (new, unchanged, new version, rejected) and state, and the
inputs that could not be read, with the reason.

After a reconcile it also shows the bookings: how many, how many to
review, the review read back from the workbook (by decision) and how they
stand against the restored database (salvage export sql --against).

--json prints the same as one JSON object, a stable interface:
  {"evidence": {"stripe": N, "calendar": N, "mail": N, "transcript": N},
   "jobs": [{"id", "importer", "source", "args", "status", "started_at",
             "finished_at", "new", "unchanged", "new_version", "rejected",
             "error"}, ...],
   "bookings": {"reconciled_at", "count", "needs_review",
                "review": {"approve": N, "reject": N, "fix": N, "": N},
                "reviewed_at", "dispositions": {"new": N, "present": N,
                "differs": N}, "checked_at", "against"}, ...}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd) },
	}
	cmd.Flags().BoolVar(&c.json, "json", false, "print JSON")
	return cmd
}

func (c *statusCmd) run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	s, err := c.openCase(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		return err
	}
	rejected, err := s.RejectedInputs(ctx, false)
	if err != nil {
		return err
	}
	cfg := s.Config()
	out := statusJSON{
		Case: s.Dir(), SchemaVersion: evidence.SchemaVersion, Timezone: cfg.Case.Timezone,
		LastBackup: timePtr(cfg.Case.LastBackup), IncidentAt: timePtr(cfg.Case.IncidentAt),
		Evidence: st.Records, Versions: st.Versions, Sightings: st.Sightings, Rejected: st.Rejected,
		Jobs: []jobJSON{}, RejectedInput: []rejectedJSON{},
	}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, jobJSON{ID: j.ID, Importer: j.Importer, Source: j.Source, Args: j.Args, Status: j.Status,
			StartedAt: j.StartedAt, FinishedAt: timePtr(j.FinishedAt), Counts: j.Counts, IgnoredReasons: j.IgnoredReasons, Error: j.Error})
	}
	for _, r := range rejected {
		out.RejectedInput = append(out.RejectedInput, rejectedJSON{Source: r.Source, Via: r.Via, Locator: r.Locator, Reason: r.Reason, Job: r.JobID})
	}
	if out.Bookings, err = bookingsStatus(ctx, s); err != nil {
		return err
	}
	var proposed *time.Time
	if cfg.Case.IncidentAt.IsZero() {
		if in, ok, err := caseIncident(ctx, s); err != nil {
			return err
		} else if ok {
			proposed = &in.Time
		}
	}
	if c.json {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	c.printText(cmd, out, proposed, cfg.Location())
	return nil
}

func (c *statusCmd) printText(cmd *cobra.Command, st statusJSON, proposed *time.Time, loc *time.Location) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Case %s\n", st.Case)
	fmt.Fprintf(w, "  time zone    %s\n", st.Timezone)
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"last backup", st.LastBackup}, {"incident", st.IncidentAt}} {
		switch {
		case t.at == nil && t.name == "incident" && proposed != nil:
			fmt.Fprintf(w, "  %-12s %s, as the transcripts propose (salvage timeline --format md tells it; case.incident_at overrides)\n", t.name, showTime(*proposed, loc))
		case t.at == nil:
			fmt.Fprintf(w, "  %-12s unknown\n", t.name)
		default:
			fmt.Fprintf(w, "  %-12s %s\n", t.name, showTime(*t.at, loc))
		}
	}
	fmt.Fprintln(w, "\nEvidence")
	fmt.Fprintf(w, "  %-12s %9s %9s %9s\n", "source", "records", "versions", "rejected")
	for _, src := range evidence.Sources {
		fmt.Fprintf(w, "  %-12s %9s %9s %9s\n", src, count(st.Evidence[src]), count(st.Versions[src]), count(st.Rejected[src]))
	}

	fmt.Fprintln(w, "\nImport jobs")
	if len(st.Jobs) == 0 {
		fmt.Fprintln(w, "  none yet: see salvage import --help")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\timporter\tstatus\tstarted\ttook\tnew\tunchanged\tnew version\trejected\tignored")
		for _, j := range st.Jobs {
			took := "-"
			if j.FinishedAt != nil {
				took = j.FinishedAt.Sub(j.StartedAt).Round(time.Second / 10).String()
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Importer, j.Status, showTime(j.StartedAt, loc), took,
				count(j.New), count(j.Unchanged), count(j.NewVersion), count(j.Rejected), count(j.Ignored))
		}
		tw.Flush()
		for _, j := range st.Jobs {
			if j.Error != "" {
				fmt.Fprintf(w, "  job %d: %s\n", j.ID, j.Error)
			}
		}
	}
	if b := st.Bookings; b != nil {
		fmt.Fprintln(w, "\nBookings")
		fmt.Fprintf(w, "  reconciled   %s: %s bookings, %s to review\n", showTime(b.ReconciledAt, loc), count(int64(b.Count)), count(int64(b.NeedsReview)))
		if b.ReviewedAt == nil {
			fmt.Fprintln(w, "  review       none imported yet: salvage export xlsx, then salvage review import")
		} else {
			fmt.Fprintf(w, "  review       %s (last import %s)\n", decisionCounts(b.Review), showTime(*b.ReviewedAt, loc))
		}
		if b.CheckedAt == nil {
			fmt.Fprintln(w, "  restored db  not checked yet: salvage export sql --against DSN")
		} else {
			fmt.Fprintf(w, "  restored db  %d new · %d present · %d differ (checked %s against %s)\n", b.Dispositions[evidence.DispositionNew],
				b.Dispositions[evidence.DispositionPresent], b.Dispositions[evidence.DispositionDiffers], showTime(*b.CheckedAt, loc), b.Against)
		}
	}
	if n := len(st.RejectedInput); n > 0 {
		fmt.Fprintf(w, "\nRejected input (%d, kept in the case)\n", n)
		const show = 20
		for i, r := range st.RejectedInput {
			if i == show {
				fmt.Fprintf(w, "  … and %d more (salvage status --json lists all)\n", n-show)
				break
			}
			fmt.Fprintf(w, "  %s %s %s: %s\n", r.Source, r.Via, r.Locator, oneLine(r.Reason))
		}
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// bookingsStatus is the last reconcile's bookings, how far their review
// went and how they stand against the restored database; nil before the
// first reconcile.
func bookingsStatus(ctx context.Context, s *evidence.Store) (*bookingsJSON, error) {
	run, ok, err := s.LastReconcile(ctx)
	if err != nil || !ok {
		return nil, err
	}
	out := &bookingsJSON{ReconciledAt: run.FinishedAt, Count: run.Bookings, Review: map[string]int{}, Dispositions: map[string]int{}}
	var sum reconcile.Summary
	if json.Unmarshal(run.SummaryJSON, &sum) == nil {
		out.NeedsReview = sum.NeedsReview
	}
	reviews, err := s.Reviews(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := s.Dispositions(ctx)
	if err != nil {
		return nil, err
	}
	for b, err := range s.BookingBriefs(ctx) {
		if err != nil {
			return nil, err
		}
		if len(reviews) > 0 {
			out.Review[reviews[b.Ref].Decision]++
		}
		if d, ok := ds[b.Ref]; ok {
			out.Dispositions[d.State]++
		}
	}
	for _, r := range reviews {
		if out.ReviewedAt == nil || r.DecidedAt.After(*out.ReviewedAt) {
			at := r.DecidedAt
			out.ReviewedAt = &at
		}
	}
	for _, d := range ds {
		if out.CheckedAt == nil || d.CheckedAt.After(*out.CheckedAt) {
			at := d.CheckedAt
			out.CheckedAt, out.Against = &at, d.Against
		}
	}
	return out, nil
}

// decisionCounts is "approve 217 · reject 1 · fix 2 · undecided 27".
func decisionCounts(m map[string]int) string {
	var parts []string
	for _, d := range append(slices.Clone(evidence.Decisions), "") {
		if m[d] == 0 {
			continue
		}
		name := d
		if d == "" {
			name = "undecided"
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, count(int64(m[d]))))
	}
	return strings.Join(parts, " · ")
}
