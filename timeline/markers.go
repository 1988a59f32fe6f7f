package timeline

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/transcript"
)

// markers sets t's markers, window and incident: each marker's time from
// the flag when given, else the case's configuration, else the evidence.
//
//   - last backup: the configuration's last_backup.
//   - incident (T0): --incident-at, else incident_at, else the first
//     critical destructive action the transcript findings show
//     (transcript.ProposeIncident).
//   - detection: --detected-at, else the first message a person wrote in
//     the incident's agent session after T0 (in any session when T0 comes
//     from no finding): the transcript's earliest sign that someone knew.
//   - restore: --restored-at only; no evidence records it.
//
// The loss window runs from the last backup to the restore (open while no
// restore is recorded): what the database took in then is what a restore
// of the backup lacks.
func (b *builder) markers(t *Timeline) {
	cfg := b.opts.Config.Case
	if !cfg.LastBackup.IsZero() {
		t.Markers = append(t.Markers, Marker{Kind: LastBackup, Time: cfg.LastBackup.UTC(), Label: "Last backup",
			Basis: "case configuration (last_backup)", Note: "the newest backup that can be restored"})
	}

	if in, ok := transcript.ProposeIncident(b.findings); ok {
		info := &IncidentInfo{Time: in.Time, Explanation: in.Explanation, Session: in.Session, Step: in.Step,
			Credential: in.Credential, FoundIn: in.FoundIn, FoundWhere: in.FoundWhere,
			ApprovalMode: in.ApprovalMode, Confirmation: in.Confirmation}
		for _, f := range b.findings {
			a := f.Facts.Attrs
			if a["session"] != in.Session {
				continue
			}
			if f.ID != "" && a["step"] == in.Step && info.Format == "" {
				info.Format = a["format"]
			}
			details := map[string]string{}
			for _, k := range []string{"credential", "found_in", "found_where", "approval_mode", "destructive", "proposed_t0"} {
				if v := a[k]; v != "" {
					details[k] = v
				}
			}
			info.Findings = append(info.Findings, FindingInfo{Time: f.OccurredAt, Rule: a["rule"], Severity: a["severity"],
				Explanation: a["explanation"], ID: f.ID, Step: a["step"], Details: details})
		}
		slices.SortFunc(info.Findings, func(x, y FindingInfo) int {
			return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(transcript.Severity(x.Severity).Rank(), transcript.Severity(y.Severity).Rank()),
				strings.Compare(x.Rule, y.Rule), strings.Compare(x.ID, y.ID))
		})
		t.Incident = info
	}

	var t0 Marker
	switch {
	case !b.opts.IncidentAt.IsZero():
		t0 = Marker{Time: b.opts.IncidentAt.UTC(), Basis: "given on the command line (--incident-at)"}
	case !cfg.IncidentAt.IsZero():
		t0 = Marker{Time: cfg.IncidentAt.UTC(), Basis: "case configuration (incident_at)"}
	case t.Incident != nil:
		rule := ""
		for _, f := range t.Incident.Findings {
			if f.Step == t.Incident.Step && f.Details["destructive"] == "true" {
				rule = f.Rule
				break
			}
		}
		t0 = Marker{Time: t.Incident.Time, Basis: strings.TrimSpace("transcript finding " + rule), Evidence: t.Incident.Step}
	}
	if !t0.Time.IsZero() {
		t0.Kind, t0.Label = Incident, "Incident (T0)"
		if t.Incident != nil {
			t0.Note = t.Incident.Explanation
			if t0.Evidence == "" && t0.Time.Sub(t.Incident.Time).Abs() < time.Minute {
				t0.Evidence = t.Incident.Step
			}
		}
		t.Markers = append(t.Markers, t0)
	}

	switch {
	case !b.opts.DetectedAt.IsZero():
		t.Markers = append(t.Markers, Marker{Kind: Detection, Time: b.opts.DetectedAt.UTC(), Label: "Detection",
			Basis: "given on the command line (--detected-at)"})
	case !t0.Time.IsZero():
		var found *prompt
		for i := range b.prompts {
			p := &b.prompts[i]
			if !p.t.After(t0.Time) || t.Incident != nil && p.session != t.Incident.Session {
				continue
			}
			if found == nil || p.t.Before(found.t) || p.t.Equal(found.t) && p.id < found.id {
				found = p
			}
		}
		if found != nil {
			t.Markers = append(t.Markers, Marker{Kind: Detection, Time: found.t, Label: "Detection",
				Basis: "the first message a person wrote in the agent's session after T0", Evidence: found.id,
				Note: "“" + clip(found.text, 200) + "”"})
		}
	}

	if !b.opts.RestoredAt.IsZero() {
		t.Markers = append(t.Markers, Marker{Kind: Restore, Time: b.opts.RestoredAt.UTC(), Label: "Restore",
			Basis: "given on the command line (--restored-at)"})
	}
	slices.SortStableFunc(t.Markers, func(x, y Marker) int { return x.Time.Compare(y.Time) })
	t.Window = Window{Start: cfg.LastBackup.UTC(), End: b.opts.RestoredAt.UTC()}
}

// countBySource counts events by source, every source of evidence.Sources
// present.
func countBySource(events []Event) map[evidence.Source]int {
	m := map[evidence.Source]int{}
	for _, s := range evidence.Sources {
		m[s] = 0
	}
	for i := range events {
		m[events[i].Source]++
	}
	return m
}

// sortedSources returns m's keys in lane order.
func sortedSources[V any](m map[evidence.Source]V) []evidence.Source {
	return slices.SortedFunc(maps.Keys(m), func(a, b evidence.Source) int {
		return cmp.Or(cmp.Compare(sourceOrder(a), sourceOrder(b)), strings.Compare(string(a), string(b)))
	})
}
