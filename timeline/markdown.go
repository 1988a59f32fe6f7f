package timeline

import (
	"bufio"
	"cmp"
	"fmt"
	"github.com/salvagehq/salvage/reconcile"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/transcript"
)

// maxMinuteLines bounds the minute-by-minute account; the timeline has
// every step.
const maxMinuteLines = 200

// WriteMarkdown writes a postmortem draft: a summary, the markers and the
// loss window, the impact on bookings, the incident minute by minute (what
// the agent did, the credential it used, by fingerprint only, and the
// safeguards that were absent), the recovery, and the questions the
// evidence leaves open. Every statement names the evidence it rests on.
func (t *Timeline) WriteMarkdown(w io.Writer) error {
	m := &mdWriter{t: t, w: bufio.NewWriterSize(w, 64<<10)}
	m.header()
	m.summary()
	m.markers()
	m.impact()
	m.incident()
	m.recovery()
	m.questions()
	return m.w.Flush()
}

type mdWriter struct {
	t *Timeline
	w *bufio.Writer
}

func (m *mdWriter) f(format string, args ...any) { fmt.Fprintf(m.w, format, args...) }

func (m *mdWriter) when(t time.Time) string { return localTimeUTC(t, m.t.Location) }

func (m *mdWriter) header() {
	m.f("# Postmortem draft: the loss of the bookings database\n\n")
	m.f("> Written by `salvage timeline --format md` from the evidence in the case. It is a draft: check each\n")
	m.f("> statement against the evidence it names, then edit freely. Times are in %s, with UTC in brackets\n", m.t.Location)
	m.f("> where it differs; secrets appear only as fingerprints.\n")
	if f := m.t.Filtered; !f.Empty() {
		m.f(">\n> The events were filtered (%s): counts below cover only what the filter kept.\n", describeFilter(f, m.t.Location))
	}
	m.f("\n")
}

func describeFilter(f Filter, loc *time.Location) string {
	var parts []string
	if !f.Since.IsZero() {
		parts = append(parts, "since "+localTime(f.Since, loc))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+localTime(f.Until, loc))
	}
	if len(f.Sources) > 0 {
		var ss []string
		for _, s := range f.Sources {
			ss = append(ss, string(s))
		}
		parts = append(parts, "sources "+strings.Join(ss, ", "))
	}
	if f.Booking != "" {
		parts = append(parts, "booking "+f.Booking)
	}
	return strings.Join(parts, "; ")
}

func (m *mdWriter) summary() {
	t := m.t
	m.f("## Summary\n\n")
	t0, hasT0 := t.Marker(Incident)
	in := t.Incident
	switch {
	case hasT0 && in != nil:
		what := "a coding agent"
		if in.Format != "" {
			what += " (" + in.Format + " session " + mdCode(in.Session) + ")"
		}
		m.f("- **What happened:** at %s %s ran %s", m.when(t0.Time), what, mdText(in.Explanation))
		if in.Credential != "" {
			m.f(", with credential %s found in %s", mdCode(in.Credential), mdCode(in.FoundIn))
		}
		m.f(".")
		if in.ApprovalMode != "" {
			m.f(" No person approved it (approval mode %s).", mdCode(in.ApprovalMode))
		} else if in.Confirmation != "" {
			m.f(" No person's approval is recorded.")
		}
		m.f("\n")
	case hasT0:
		m.f("- **What happened:** the data was lost at %s (%s); no transcript finding tells how.\n", m.when(t0.Time), t0.Basis)
	default:
		m.f("- **What happened:** not known from the evidence: no transcript finding proposes an incident time, and the case sets none.\n")
	}
	if d, ok := t.Marker(Detection); ok {
		m.f("- **Noticed:** %s", m.when(d.Time))
		if hasT0 {
			m.f(", %s after T0", humanDuration(d.Time.Sub(t0.Time)))
		}
		m.f(" (%s).\n", d.Basis)
	}
	if lb, ok := t.Marker(LastBackup); ok {
		m.f("- **Newest restorable backup:** %s", m.when(lb.Time))
		if hasT0 {
			m.f(", %s before T0", humanDuration(t0.Time.Sub(lb.Time)))
		}
		m.f(".\n")
	}
	if c := t.Case; c != nil && c.Summary != nil {
		m.f("- **Rebuilt:** %s %s, %s to review (salvage reconcile).\n", count(c.Summary.Bookings),
			plural(c.Summary.Bookings, "booking", "bookings"), count(c.Summary.NeedsReview))
	}
	if r, ok := t.Marker(Restore); ok {
		m.f("- **Restored:** %s.\n", m.when(r.Time))
	} else {
		m.f("- **Restored:** not recorded in the case.\n")
	}
	m.f("\n")
}

func (m *mdWriter) markers() {
	t := m.t
	m.f("## Markers\n\n")
	m.f("| marker | %s | UTC | how it is known | evidence |\n|---|---|---|---|---|\n", t.Location)
	for _, k := range []MarkerKind{LastBackup, Incident, Detection, Restore} {
		mk, ok := t.Marker(k)
		if !ok {
			m.f("| %s | not known | | %s | |\n", markerLabel(k), missingMarker(k))
			continue
		}
		ev := ""
		if mk.Evidence != "" {
			ev = mdCode(mk.Evidence)
		}
		m.f("| %s | %s | %s | %s | %s |\n", mk.Label, localTime(mk.Time, t.Location), mk.Time.UTC().Format("2006-01-02 15:04:05"),
			mdCell(mk.Basis), ev)
	}
	m.f("\n")
	switch w := t.Window; {
	case w.Start.IsZero():
		m.f("The loss window is not known: the case names no last backup (set `last_backup` in salvage.toml).\n\n")
	case w.End.IsZero():
		m.f("**Loss window:** from the last backup, %s, to the restore, which the case does not record yet: whatever the\n", m.when(w.Start))
		m.f("database took in since the backup is missing from a restore of it.\n\n")
	default:
		m.f("**Loss window:** from the last backup, %s, to the restore, %s (%s).\n\n", m.when(w.Start), m.when(w.End),
			humanDuration(w.End.Sub(w.Start)))
	}
}

func markerLabel(k MarkerKind) string {
	switch k {
	case LastBackup:
		return "Last backup"
	case Incident:
		return "Incident (T0)"
	case Detection:
		return "Detection"
	}
	return "Restore"
}

func missingMarker(k MarkerKind) string {
	switch k {
	case LastBackup:
		return "set `last_backup` in salvage.toml"
	case Incident:
		return "no finding proposes it; set `incident_at` or `--incident-at`"
	case Detection:
		return "no person wrote in the agent's session after T0; give `--detected-at`"
	}
	return "give `--restored-at` once the restore is done"
}

// impactCounts are the loss window's numbers.
type impactCounts struct {
	named       map[string]string // RefKey → reference, of bookings named by events in the window
	rebuilt     map[string]bool   // RefKey of rebuilt bookings
	lost        []string          // named in the window, not rebuilt
	byAction    map[Action]int
	afterT0     int // booking and payment events after T0
	windowTotal int
}

func (m *mdWriter) countImpact() impactCounts {
	t := m.t
	ic := impactCounts{named: map[string]string{}, rebuilt: map[string]bool{}, byAction: map[Action]int{}}
	t0, hasT0 := t.Marker(Incident)
	for i := range t.Events {
		e := &t.Events[i]
		if e.Source == evidence.Transcript || !t.Window.Contains(e.Time) {
			continue
		}
		ic.windowTotal++
		ic.byAction[e.Action]++
		if e.Booking != "" {
			if k := reconcile.RefKey(e.Booking); k != "" {
				if _, ok := ic.named[k]; !ok {
					ic.named[k] = e.Booking
				}
			}
		}
		if hasT0 && e.Time.After(t0.Time) && (strings.HasPrefix(string(e.Action), "booking.") || strings.HasPrefix(string(e.Action), "payment.")) {
			ic.afterT0++
		}
	}
	if c := t.Case; c != nil {
		for _, b := range c.Bookings {
			ic.rebuilt[reconcile.RefKey(b.Ref)] = true
		}
	}
	for k, ref := range ic.named {
		if !ic.rebuilt[k] {
			ic.lost = append(ic.lost, ref)
		}
	}
	slices.Sort(ic.lost)
	return ic
}

func (m *mdWriter) impact() {
	t := m.t
	m.f("## Impact\n\n")
	if t.Window.Start.IsZero() {
		m.f("Without a last backup the loss window, and so the impact, is not known.\n\n")
		return
	}
	ic := m.countImpact()
	m.f("| bookings | count | from |\n|---|---:|---|\n")
	m.f("| named by evidence dated in the loss window | %s | the timeline's events (references compared by letters and digits) |\n", count(len(ic.named)))
	c := t.Case
	if c != nil && c.Summary != nil {
		run := "the last salvage reconcile"
		if c.Reconcile != nil {
			run += ", " + localTime(c.Reconcile.FinishedAt, t.Location)
		}
		m.f("| rebuilt | %s | %s |\n", count(c.Summary.Bookings), run)
		m.f("| to review | %s | %s |\n", count(c.Summary.NeedsReview), mdCell(joinCounts(c.Summary.Review)))
		m.f("| unrecoverable: named in the window, not rebuilt | %s | references below |\n", count(len(ic.lost)))
	} else {
		m.f("| rebuilt | not yet | run salvage reconcile |\n")
	}
	m.f("\n")
	if len(ic.byAction) > 0 {
		m.f("Activity in the loss window, by what happened (agent steps aside): %s.\n\n", joinActions(ic.byAction))
	}
	if c != nil && c.Summary != nil {
		if n := sumCounts(c.Summary.Unmatched); n > 0 {
			m.f("Records that hold booking facts but joined no rebuilt booking: %s (%s).\n\n", count(n), joinCounts(c.Summary.Unmatched))
		}
		if len(ic.lost) > 0 {
			const show = 30
			var refs []string
			for _, r := range ic.lost[:min(len(ic.lost), show)] {
				refs = append(refs, mdCode(r))
			}
			more := ""
			if len(ic.lost) > show {
				more = fmt.Sprintf(" and %s more", count(len(ic.lost)-show))
			}
			m.f("Unrecoverable references: %s%s. `salvage timeline --booking REF` shows what the evidence says of each.\n\n",
				strings.Join(refs, ", "), more)
		}
	}
}

// safeguards names, for each detector rule that shows one missing, the
// safeguard it shows missing, most decisive first.
var safeguards = []struct{ rule, what string }{
	{transcript.RuleNoConfirmation, "A person's approval before a destructive action"},
	{transcript.RuleCredentialChain, "Credentials scoped to the task: the agent used one found in an unrelated file"},
	{transcript.RuleEnvConfusion, "Production kept apart from the environment of the task"},
	{transcript.RuleEscalation, "An approval mode that asks before each tool call"},
	{transcript.RuleCredentialSearch, "Keeping the agent from searching for credentials"},
	{transcript.RuleCredentialFile, "Keeping the agent out of credential files beyond its project"},
}

func (m *mdWriter) incident() {
	t := m.t
	m.f("## The incident, minute by minute\n\n")
	in := t.Incident
	if in == nil {
		m.f("No agent transcript in the case shows a destructive action. Import the transcripts of the sessions\n")
		m.f("that ran around the time of the loss (`salvage import transcript PATH`).\n\n")
		return
	}
	t0, _ := t.Marker(Incident)
	det, hasDet := t.Marker(Detection)

	// The session's events, from the task the agent was given (the last
	// prompt before T0) to the end of the detection's exchange.
	var sess []*Event
	for i := range t.Events {
		if e := &t.Events[i]; t.session(e) == in.Session && !e.Time.IsZero() {
			sess = append(sess, e)
		}
	}
	start := 0
	for i, e := range sess {
		if e.Action == AgentPrompt && !e.Time.After(t0.Time) {
			start = i
		}
	}
	end := len(sess)
	if hasDet {
		for i, e := range sess {
			// The exchange the detection started ends at the next prompt.
			if e.Action == AgentPrompt && e.Time.After(det.Time) {
				end = i
				break
			}
		}
	}
	sess = sess[start:end]
	truncated := 0
	if len(sess) > maxMinuteLines {
		truncated = len(sess) - maxMinuteLines
		sess = sess[:maxMinuteLines]
	}
	m.f("Agent session %s", mdCode(in.Session))
	if in.Format != "" {
		m.f(" (%s)", in.Format)
	}
	m.f(", from the task the agent was working on to the exchange that noticed the loss. Times in %s; ", t.Location)
	m.f("⚠ marks a detector finding.\n\n")
	minute := ""
	markedT0, markedDet := false, false
	for _, e := range sess {
		if mm := e.Time.In(t.Location).Format("15:04"); mm != minute {
			minute = mm
			m.f("\n**%s**\n\n", e.Time.In(t.Location).Format("2006-01-02 15:04 MST"))
		}
		at := e.Time.In(t.Location).Format("15:04:05")
		mark := ""
		if !markedT0 && e.Action == AgentCall && !e.Time.Before(t0.Time.Truncate(time.Second)) && e.Time.Sub(t0.Time).Abs() < time.Second {
			mark, markedT0 = " **← T0**", true
		}
		if hasDet && !markedDet && e.Action == AgentPrompt && e.Time.Equal(det.Time) {
			mark, markedDet = " **← detection**", true
		}
		switch e.Action {
		case Finding:
			m.f("  - ⚠ %s\n", mdText(e.Summary))
		case AgentCall:
			what := strings.TrimPrefix(e.Summary, "Agent ran ")
			if code := t.code(e); code != "" {
				tool, _, _ := strings.Cut(what, ":")
				tool, _, _ = strings.Cut(tool, " ")
				what = tool + " " + mdCode(code)
			} else {
				what = mdText(what)
			}
			m.f("- %s · agent ran %s%s\n", at, what, mark)
		default:
			m.f("- %s · %s%s\n", at, mdText(e.Summary), mark)
		}
	}
	if truncated > 0 {
		m.f("\n… and %s more steps: `salvage timeline --source transcript` lists them all.\n", count(truncated))
	}
	m.f("\n### The destructive action\n\n")
	m.f("- **When:** %s", m.when(t0.Time.Truncate(time.Second)))
	if !t0.Time.Equal(in.Time) {
		m.f(" (%s; the transcript's finding says %s)", t0.Basis, m.when(in.Time.Truncate(time.Second)))
	}
	m.f("\n- **What:** %s\n", mdText(in.Explanation))
	if in.Credential != "" {
		m.f("- **Credential:** %s (a fingerprint: the secret itself is not in the case), found in %s", mdCode(in.Credential), mdCode(in.FoundIn))
		if in.FoundWhere != "" {
			m.f(" (%s)", mdText(in.FoundWhere))
		}
		m.f("\n")
	} else {
		m.f("- **Credential:** no finding links the action to a credential found in a file\n")
	}
	switch {
	case in.ApprovalMode != "":
		m.f("- **Approval:** none; the session's approval mode %s ran tool calls without asking\n", mdCode(in.ApprovalMode))
	case in.Confirmation != "":
		m.f("- **Approval:** none recorded (%s)\n", mdText(in.Confirmation))
	default:
		m.f("- **Approval:** no finding says it was missing\n")
	}
	m.f("- **Evidence:** %s\n", mdCode(in.Step))

	m.f("\n### Safeguards that were absent\n\n")
	found := false
	for _, sg := range safeguards {
		var fs []FindingInfo
		for _, f := range in.Findings {
			// A medium or low finding (a credential file of the project
			// itself) is no missing safeguard.
			if f.Rule == sg.rule && transcript.Severity(f.Severity).Rank() <= transcript.Severity("high").Rank() {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		found = true
		m.f("- **%s** (%s):\n", sg.what, sg.rule)
		for _, f := range fs {
			m.f("  - %s, %s: %s (%s)\n", f.Time.In(t.Location).Format("15:04:05"), f.Severity, mdText(f.Explanation), mdCode(f.ID))
		}
	}
	if !found {
		m.f("No finding of the session shows a missing safeguard.\n")
	}

	if hasDet {
		var signals []*Event
		for i := range t.Events {
			e := &t.Events[i]
			if e.Source == evidence.Mail && e.Time.After(t0.Time) && e.Time.Before(det.Time) && e.Action == MailReceived {
				signals = append(signals, e)
			}
		}
		if len(signals) > 0 {
			m.f("\n### Signals before the detection\n\nMail the business received between T0 and the detection:\n\n")
			for _, e := range signals[:min(len(signals), 10)] {
				m.f("- %s · %s (%s)\n", localTime(e.Time, t.Location), mdText(e.Summary), mdCode(e.Evidence[0].ID))
			}
			if len(signals) > 10 {
				m.f("- … and %s more\n", count(len(signals)-10))
			}
		}
	}
	m.f("\n")
}

func (m *mdWriter) recovery() {
	t := m.t
	m.f("## Recovery\n\n")
	c := t.Case
	if c == nil {
		m.f("The timeline was built without the case's records of the recovery.\n\n")
		return
	}
	m.f("| step | started | finished | result |\n|---|---|---|---|\n")
	for _, j := range c.Jobs {
		fin := "not finished"
		if !j.FinishedAt.IsZero() {
			fin = localTime(j.FinishedAt, t.Location)
		}
		res := fmt.Sprintf("%s: %s new, %s unchanged, %s new version, %s rejected", j.Status, count(int(j.Counts.New)),
			count(int(j.Counts.Unchanged)), count(int(j.Counts.NewVersion)), count(int(j.Counts.Rejected)))
		m.f("| import %s | %s | %s | %s |\n", j.Importer, localTime(j.StartedAt, t.Location), fin, res)
	}
	if r := c.Reconcile; r != nil {
		res := fmt.Sprintf("%s %s", count(r.Bookings), plural(r.Bookings, "booking", "bookings"))
		if c.Summary != nil {
			res += fmt.Sprintf(", %s to review", count(c.Summary.NeedsReview))
		}
		m.f("| reconcile | %s | %s | %s |\n", localTime(r.StartedAt, t.Location), localTime(r.FinishedAt, t.Location), res)
	} else {
		m.f("| reconcile | not run | | |\n")
	}
	if r, ok := t.Marker(Restore); ok {
		m.f("| restore | | %s | %s |\n", localTime(r.Time, t.Location), mdCell(r.Basis))
	} else {
		m.f("| restore | not recorded | | |\n")
	}
	m.f("\n")
}

func (m *mdWriter) questions() {
	t := m.t
	m.f("## Open questions\n\n")
	var qs []string
	t0, hasT0 := t.Marker(Incident)
	in := t.Incident
	if !hasT0 {
		qs = append(qs, "When was the data lost? No transcript finding proposes a time: set `incident_at` in salvage.toml.")
	}
	if hasT0 && in != nil && !t0.Time.Truncate(time.Second).Equal(in.Time.Truncate(time.Second)) {
		qs = append(qs, fmt.Sprintf("The incident time used, %s (%s), differs from the transcript's, %s: which is right?",
			m.when(t0.Time), t0.Basis, m.when(in.Time)))
	}
	if _, ok := t.Marker(Restore); !ok {
		qs = append(qs, "When was the database restored from the backup? Record it with `salvage timeline --restored-at` to close the loss window.")
	}
	if d, ok := t.Marker(Detection); ok && d.Evidence != "" {
		q := fmt.Sprintf("Was the loss noticed before %s? That time is the first message a person wrote to the agent after T0", localTime(d.Time, t.Location))
		var first *Event
		for i := range t.Events {
			e := &t.Events[i]
			if e.Source == evidence.Mail && e.Action == MailReceived && e.Time.After(t0.Time) && e.Time.Before(d.Time) {
				first = e
				break
			}
		}
		if first != nil {
			q += fmt.Sprintf("; a mail received at %s may have said so first (%s)", localTime(first.Time, t.Location), mdCode(first.Evidence[0].ID))
		}
		qs = append(qs, q+".")
	}
	if in != nil && in.Credential != "" {
		qs = append(qs, fmt.Sprintf("Has credential %s been revoked, and why could a token kept in %s act on production?", mdCode(in.Credential), mdCode(in.FoundIn)))
	}
	if lb, ok := t.Marker(LastBackup); ok && hasT0 && t0.Time.Sub(lb.Time) > 48*time.Hour {
		qs = append(qs, fmt.Sprintf("Why is the newest restorable backup %s older than the incident? Where were the backups taken since?",
			humanDuration(t0.Time.Sub(lb.Time))))
	}
	if c := t.Case; c != nil && c.Summary != nil {
		if c.Summary.NeedsReview > 0 {
			qs = append(qs, fmt.Sprintf("%s rebuilt %s a person's review (%s): `salvage export xlsx`.", count(c.Summary.NeedsReview),
				plural(c.Summary.NeedsReview, "booking needs", "bookings need"), joinCounts(c.Summary.Review)))
		}
		ic := m.countImpact()
		if len(ic.lost) > 0 {
			qs = append(qs, fmt.Sprintf("%s %s named by evidence in the loss window %s not rebuilt: are they bookings, and where are their records?",
				count(len(ic.lost)), plural(len(ic.lost), "reference", "references"), plural(len(ic.lost), "was", "were")))
		}
		if ic.afterT0 > 0 {
			qs = append(qs, fmt.Sprintf("%s booking or payment %s came after T0, while the database was gone: did the site take bookings it could not keep?",
				count(ic.afterT0), plural(ic.afterT0, "event", "events")))
		}
	} else {
		qs = append(qs, "Which bookings were lost? Run `salvage reconcile` to rebuild them.")
	}
	for _, q := range qs {
		m.f("- %s\n", q)
	}
	if len(qs) == 0 {
		m.f("None that the evidence raises.\n")
	}
}

// humanDuration shows d as "39 min", "4 h 12 min", "90 days 11 h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		return fmt.Sprintf("%d h %d min", h, int(d.Minutes())-60*h)
	}
	days := int(d.Hours()) / 24
	return fmt.Sprintf("%d days %d h", days, int(d.Hours())-24*days)
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// joinCounts shows counts as "missing field 27 · conflict 3", largest
// first, then by name.
func joinCounts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	var parts []string
	for _, k := range keys {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", strings.ReplaceAll(k, "_", " "), count(m[k])))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " · ")
}

func joinActions(m map[Action]int) string {
	sm := map[string]int{}
	for k, v := range m {
		sm[string(k)] = v
	}
	keys := slices.Collect(maps.Keys(sm))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(sm[b], sm[a]), strings.Compare(a, b)) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, count(sm[k])))
	}
	return strings.Join(parts, " · ")
}

// mdText escapes what Markdown would read as markup.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune("\\`*_[]<>|#", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCell is mdText for a table cell.
func mdCell(s string) string { return mdText(s) }

// mdCode writes s as inline code, with a fence longer than any run of
// backticks inside it. (Not for table cells when s may hold a pipe.)
func mdCode(s string) string {
	s = oneLine(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
