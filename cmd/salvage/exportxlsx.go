package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/export/xlsx"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources/transcript"
)

// exportXLSX writes the review workbook of the case's last reconcile.
func (c *exportCmd) exportXLSX(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	if os.Getenv("GOMEMLIMIT") == "" {
		n, err := s.Versions(ctx)
		if err != nil {
			return 0, err
		}
		defer xlsx.LimitMemory(n)()
	}
	in, err := workbookCase(ctx, s)
	if err != nil {
		return 0, err
	}
	progress := c.newProgress(c.stderr)
	defer progress.Wait()
	st, err := xlsx.Write(ctx, w, in, xlsx.Options{EvidenceText: c.text, Bar: func(name string, total int64) xlsx.Bar { return progress.Bar(name, total) }})
	if err != nil {
		return 0, err
	}
	c.log.Info(fmt.Sprintf("workbook: %d bookings (%d to review), %d conflicting fields, %d evidence rows (%d with their text), %d timeline rows; sheets %v",
		st.Bookings, st.NeedsReview, st.Conflicts, st.Evidence, st.EvidenceText, st.Timeline, st.Sheets))
	return st.Bookings, nil
}

// workbookCase gathers what the workbook shows from the case.
func workbookCase(ctx context.Context, s *evidence.Store) (xlsx.Case, error) {
	run, ok, err := s.LastReconcile(ctx)
	if err != nil {
		return xlsx.Case{}, err
	}
	if !ok {
		return xlsx.Case{}, fmt.Errorf("no bookings yet: run salvage reconcile first")
	}
	var sum reconcile.Summary
	if len(run.SummaryJSON) > 0 {
		if err := json.Unmarshal(run.SummaryJSON, &sum); err != nil {
			return xlsx.Case{}, fmt.Errorf("read the reconcile summary: %w", err)
		}
	}
	id, err := s.CaseID(ctx)
	if err != nil {
		return xlsx.Case{}, err
	}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		return xlsx.Case{}, err
	}
	reviews, err := s.Reviews(ctx)
	if err != nil {
		return xlsx.Case{}, err
	}
	dispositions, err := s.Dispositions(ctx)
	if err != nil {
		return xlsx.Case{}, err
	}
	in, found, err := caseIncident(ctx, s)
	if err != nil {
		return xlsx.Case{}, err
	}
	summary := xlsx.Summary{Reconciled: run.FinishedAt, Since: run.Since, Until: run.Until, Counts: sum, Jobs: jobs}
	if found {
		summary.IncidentAt, summary.Incident = in.Time, incidentLine(in)
	}
	c := xlsx.FromStore(ctx, s)
	c.ID, c.Summary, c.Reviews, c.Dispositions = id, summary, reviews, dispositions
	return c, nil
}

// caseIncident is the incident the case's transcripts propose, with the
// case's own incident_at, when set, as its time.
func caseIncident(ctx context.Context, s *evidence.Store) (transcript.Incident, bool, error) {
	var findings []evidence.Record
	for r, err := range s.Records(ctx, evidence.Query{Sources: []evidence.Source{evidence.Transcript}}) {
		if err != nil {
			return transcript.Incident{}, false, err
		}
		if r.Kind == transcript.KindFinding {
			findings = append(findings, r)
		}
	}
	in, ok := transcript.ProposeIncident(findings)
	if set := s.Config().Case.IncidentAt; !set.IsZero() {
		in.Time = set
		if !ok {
			in = transcript.Incident{Time: set}
		}
		ok = true
	}
	if ok {
		in.Time = in.Time.Truncate(time.Second)
	}
	return in, ok, nil
}

// incidentLine is the incident in one line: what the agent did, with which
// credential, and who approved it.
func incidentLine(in transcript.Incident) string {
	if in.Explanation == "" {
		return "the data was lost (the time is the case's incident_at; the transcripts show no destructive action)"
	}
	line := "the agent ran " + in.Explanation
	if in.Credential != "" {
		line += fmt.Sprintf(", with credential %s found in %s", in.Credential, in.FoundIn)
	}
	switch {
	case in.ApprovalMode != "":
		line += fmt.Sprintf("; no person approved it (approval mode %s)", in.ApprovalMode)
	case in.Confirmation != "":
		line += "; no person's approval is recorded"
	}
	return line
}
