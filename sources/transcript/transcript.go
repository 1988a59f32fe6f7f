package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// Parsers are the formats `salvage import transcript` reads, in the order
// their Sniff is tried.
func Parsers() []Parser {
	return []Parser{ClaudeParser{}, CodexParser{}, GeminiParser{}, CursorParser{}, AiderParser{}}
}

// FormatNames lists the formats' names.
func FormatNames() []string {
	var out []string
	for _, p := range Parsers() {
		out = append(out, p.Format())
	}
	return out
}

// Kinds of the records this importer writes.
const (
	KindStep    = "agent-step"
	KindFinding = "finding"
)

// Importer is `salvage import transcript`.
type Importer struct {
	format string
}

var (
	_ sources.Importer = (*Importer)(nil)
	_ sources.Checker  = (*Importer)(nil)
)

// New returns the transcript importer.
func New() *Importer { return &Importer{} }

// Name implements sources.Importer.
func (*Importer) Name() string { return "transcript" }

// Source implements sources.Importer.
func (*Importer) Source() evidence.Source { return evidence.Transcript }

// Help implements sources.Importer.
func (*Importer) Help() sources.Help {
	var rules strings.Builder
	for _, r := range Rules {
		fmt.Fprintf(&rules, "  %-22s %-8s %s\n", r.Name, r.Severity, r.Description)
	}
	return sources.Help{
		Args:    "PATH...",
		MinArgs: 1,
		Short:   "Import coding-agent transcripts and find what the agent did",
		Long: `Import the transcripts coding agents keep of their sessions, read-only, one
record per step (prompt, message, thought, tool call, tool result), and run
the forensic detectors over every session. Formats, detected from each file
(or forced with --format):

  claude-code  ~/.claude/projects/<project>/<session>.jsonl, with subagents
  codex        ~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl (and older logs)
  gemini       ~/.gemini/tmp/<hash>/chats/session-*.json(l), rewinds kept
  cursor       state.vscdb (copied, then opened read-only) and chat exports (.md)
  aider        .aider.chat.history.md

A folder is searched for such files. Records of a type salvage does not know
are kept as evidence and counted; a line that cannot be read is kept as
rejected input, and the import goes on.

Secrets in transcripts (API keys, tokens, passwords in URLs, private keys)
are stored and shown only as fingerprints such as rk_live_…9f2c: the raw
bytes kept in the case have them replaced, and the SHA-256 of the original
record is kept beside them (attribute original_sha256).

Findings (stored as records of kind "finding"):
` + rules.String() + `
The first critical destructive action that ran is proposed as the incident
time (T0); set [case] incident_at in salvage.toml (or salvage init
--incident-at) to override it.`,
		Example: `  salvage import transcript ~/.claude/projects/-home-tiago-src-fleet-api/
  salvage import transcript ~/.codex/sessions/2026/11/18/
  salvage import transcript --format cursor "~/Library/Application Support/Cursor/User/globalStorage/state.vscdb"`,
	}
}

// Flags implements sources.Importer.
func (im *Importer) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&im.format, "format", "", "read every file as this format: "+strings.Join(FormatNames(), ", ")+" (default: detected)")
}

// input is one file to read, with its parser.
type input struct {
	path   string
	parser Parser
}

// Check implements sources.Checker.
func (im *Importer) Check(run *sources.Run) error {
	_, err := im.inputs(run.Args)
	return err
}

// parserNamed returns the parser of a format name.
func parserNamed(name string) (Parser, bool) {
	for _, p := range Parsers() {
		if p.Format() == name {
			return p, true
		}
	}
	return nil, false
}

// inputs finds the files to read and their formats. A file named on the
// command line must be a transcript; in a folder, other files are passed
// over.
func (im *Importer) inputs(args []string) ([]input, error) {
	var forced Parser
	if im.format != "" {
		p, ok := parserNamed(im.format)
		if !ok {
			return nil, fmt.Errorf("%w: --format %q: want one of %s", sources.ErrUsage, im.format, strings.Join(FormatNames(), ", "))
		}
		forced = p
	}
	var out []input
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: no such file or folder", sources.ErrUsage, arg)
		}
		if !info.IsDir() {
			p := forced
			if p == nil {
				if p, err = sniff(arg); err != nil {
					return nil, err
				}
				if p == nil {
					return nil, fmt.Errorf("%w: %s: not a transcript salvage can read; the formats are %s (give --format if it is one of them)",
						sources.ErrUsage, arg, strings.Join(FormatNames(), ", "))
				}
			}
			out = append(out, input{arg, p})
			continue
		}
		n := len(out)
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); path != arg && (name == "node_modules" || name == ".git") {
					return filepath.SkipDir
				}
				return nil
			}
			if !candidate(d.Name()) {
				return nil
			}
			p := forced
			if p == nil {
				if p, err = sniff(path); err != nil {
					return err
				}
			}
			if p != nil {
				out = append(out, input{path, p})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read folder %s: %w", arg, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: %s: no transcript found in this folder (formats: %s)", sources.ErrUsage, arg, strings.Join(FormatNames(), ", "))
		}
	}
	return out, nil
}

// candidate reports whether a file in a folder may be a transcript.
func candidate(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".jsonl" || ext == ".json" || ext == ".md" || ext == ".vscdb" || name == ".aider.chat.history.md"
}

// sniff returns the parser that claims the file, or nil.
func sniff(path string) (Parser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for _, p := range Parsers() {
		if p.Sniff(path, head[:n]) {
			return p, nil
		}
	}
	return nil, nil
}

// Import implements sources.Importer.
func (im *Importer) Import(ctx context.Context, run *sources.Run) error {
	inputs, err := im.inputs(run.Args)
	if err != nil {
		return err
	}
	var total int64
	for _, in := range inputs {
		if info, err := os.Stat(in.path); err == nil {
			total += info.Size()
		}
	}
	bar := run.Progress.Bar("transcripts", total)
	defer bar.Done()
	st := &importStats{formats: map[string]int{}}
	var all []Finding
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		found, err := im.file(ctx, run, st, in)
		if err != nil {
			return fmt.Errorf("%s: %w", in.path, err)
		}
		all = append(all, found...)
		if info, err := os.Stat(in.path); err == nil {
			bar.Add(info.Size())
		}
	}
	st.report(run, all)
	return nil
}

// importStats counts what an import read.
type importStats struct {
	files, sessions, steps, unknown, bad, skipped int
	formats                                       map[string]int
	secrets                                       int
}

func (st *importStats) report(run *sources.Run, findings []Finding) {
	var formats []string
	for _, f := range slices.Sorted(maps.Keys(st.formats)) {
		formats = append(formats, fmt.Sprintf("%s %d", f, st.formats[f]))
	}
	run.Log.Info(fmt.Sprintf("read %d file(s) (%s): %d session(s), %d step(s), %d of unknown type, %d unreadable, %d secret(s) redacted",
		st.files, strings.Join(formats, ", "), st.sessions, st.steps, st.unknown, st.bad, st.secrets))
	if st.skipped > 0 {
		run.Log.Info(fmt.Sprintf("%d file(s) unchanged since they were imported: not read again", st.skipped))
	}
	bySev := map[Severity]int{}
	for _, f := range findings {
		bySev[f.Severity]++
	}
	if len(findings) > 0 {
		run.Log.Info(fmt.Sprintf("findings: %d critical, %d high, %d medium, %d low", bySev[Critical], bySev[High], bySev[Medium], bySev[Low]))
	}
	for _, f := range findings {
		if f.Severity == Critical {
			run.Log.Warn(fmt.Sprintf("%s %s: %s", f.Rule, f.Time.UTC().Format("2006-01-02 15:04:05Z"), f.Explanation))
		}
	}
	if i := ProposeT0(findings); i >= 0 {
		f := findings[i]
		msg := fmt.Sprintf("incident: proposed T0 %s, the first destructive action: %s", f.Time.UTC().Format("2006-01-02 15:04:05 UTC"), f.Explanation)
		if at := run.Config.Case.IncidentAt; !at.IsZero() {
			msg += fmt.Sprintf(" (the case's incident_at, %s, overrides it)", at.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		run.Log.Info(msg)
	}
}

// file imports one transcript file: its steps, then the findings of each
// of its sessions. It returns the findings (secrets redacted).
func (im *Importer) file(ctx context.Context, run *sources.Run, st *importStats, in input) ([]Finding, error) {
	abs, err := filepath.Abs(in.path)
	if err != nil {
		abs = in.path
	}
	sum, err := fileSum(in.path)
	if err != nil {
		return nil, err
	}
	key := "file:" + abs
	if v, ok, err := run.Sink.Checkpoint(ctx, key); err != nil {
		return nil, err
	} else if ok && v == sum {
		st.skipped++
		return nil, nil
	}
	var steps []Step
	err = in.parser.Parse(ctx, in.path, func(s Step) error {
		if s.Format == "" {
			s.Format = in.parser.Format()
		}
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.files++
	st.formats[in.parser.Format()]++

	// Secrets: every one found anywhere in the file is replaced
	// everywhere, also where the context that gave it away is absent.
	var secrets evidence.SecretSet
	var lastRaw []byte
	for _, s := range steps {
		if len(s.Raw) > 0 && (lastRaw == nil || &s.Raw[0] != &lastRaw[0] || len(s.Raw) != len(lastRaw)) {
			secrets.AddFound(string(s.Raw))
			lastRaw = s.Raw
		}
		// The raw record holds the rest, escaped as its format escapes
		// it; a command line is checked as the shell reads it too.
		if s.Call != nil && s.Call.Command != "" {
			secrets.AddFound(s.Call.Command)
		}
	}
	st.secrets += secrets.Len()

	// Sessions, in the order they first appear.
	bySession := map[string][]Step{}
	var order []string
	for _, s := range steps {
		if s.Bad != "" {
			continue
		}
		if _, ok := bySession[s.Session]; !ok {
			order = append(order, s.Session)
		}
		bySession[s.Session] = append(bySession[s.Session], s)
	}
	st.sessions += len(order)

	// The findings of each session.
	var found []Finding
	actions := map[*Call]Action{}
	for _, id := range order {
		for _, f := range detect(bySession[id], actions) {
			f.Explanation = secrets.Redact(f.Explanation)
			f.Evidence = secrets.Redact(f.Evidence)
			found = append(found, f)
		}
	}
	// The steps.
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.Bad != "" {
			st.bad++
			if err := run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Transcript, Via: s.Format,
				Locator: in.path + " " + s.Locator, Reason: s.Bad, Raw: secrets.RedactBytes(s.Raw)}); err != nil {
				return nil, err
			}
			continue
		}
		st.steps++
		if s.Unknown {
			st.unknown++
		}
		r := stepRecord(s, &secrets, in.path, actions)
		if err := run.Sink.Put(ctx, r); err != nil {
			return nil, err
		}
	}

	marked := slices.Clone(found)
	ProposeT0(marked) // the file's own proposal, stored with the finding
	for _, f := range marked {
		r, err := findingRecord(f, in.parser.Format(), in.path)
		if err != nil {
			return nil, err
		}
		if err := run.Sink.Put(ctx, r); err != nil {
			return nil, err
		}
	}
	if err := run.Sink.SaveCheckpoint(ctx, key, sum); err != nil {
		return nil, err
	}
	return found, nil
}

// fileSum identifies a file's content: its size and SHA-256.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(n, 10) + ":" + hex.EncodeToString(h.Sum(nil)), nil
}

// StepID is the record id of a step.
func StepID(session, step string) string {
	return "transcript:" + safeID(session) + ":" + safeID(step)
}

// safeID makes a part of an id free of spaces and control characters.
func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// maxText bounds the text kept in a step's attributes; the whole of it is
// in the raw record.
const maxText = 4000

// stepRecord turns a step into evidence, secrets redacted.
func stepRecord(s Step, secrets *evidence.SecretSet, path string, actions map[*Call]Action) evidence.Record {
	attrs := map[string]string{
		"format":  s.Format,
		"session": s.Session,
		"actor":   string(s.Actor),
		"type":    s.Type,
	}
	set := func(k, v string, limit int) {
		if v = strings.TrimSpace(v); v != "" {
			attrs[k] = clip(secrets.Redact(v), limit)
		}
	}
	set("parent", s.Parent, 200)
	set("text", s.Text, maxText)
	if s.Thinking {
		attrs["thinking"] = "true"
	}
	if c := s.Call; c != nil {
		set("tool", c.Tool, 200)
		set("call_id", c.ID, 200)
		set("command", c.Command, maxText)
		set("path", c.Path, 1000)
		set("url", c.URL, 1000)
		set("pattern", c.Pattern, 1000)
		if c.Command == "" && c.Path == "" && c.URL == "" {
			set("input", c.Input, maxText)
		}
		a, ok := actions[c]
		if !ok {
			a = Analyze(c, nil)
		}
		var methods, ops []string
		for _, r := range a.HTTP {
			methods = append(methods, r.Method+" "+r.URL)
			if g := r.GraphQL; g != nil {
				ops = append(ops, strings.TrimSpace(g.Type+" "+g.Name+" "+strings.Join(g.Fields, ",")))
			}
		}
		set("http", strings.Join(methods, "\n"), 1000)
		set("graphql", strings.Join(ops, "\n"), 1000)
	}
	if r := s.Result; r != nil {
		set("call_id", r.CallID, 200)
		set("output", r.Output, maxText)
		if r.ExitCode != nil {
			attrs["exit_code"] = strconv.Itoa(*r.ExitCode)
		}
		if r.IsError {
			attrs["is_error"] = "true"
		}
		set("error", r.Error, 1000)
	}
	set("approval_mode", s.Approval.Mode, 100)
	set("sandbox", s.Approval.Sandbox, 200)
	set("decision", s.Approval.Decision, 100)
	set("cwd", s.Cwd, 1000)
	set("git_branch", s.GitBranch, 200)
	if s.Sidechain {
		attrs["sidechain"] = "true"
	}
	if s.Rewound {
		attrs["rewound"] = "true"
	}
	if s.Unknown {
		attrs["unknown_type"] = "true"
	}
	raw := secrets.RedactBytes(s.Raw)
	if !bytes.Equal(raw, s.Raw) {
		h := sha256.Sum256(s.Raw)
		attrs["original_sha256"] = hex.EncodeToString(h[:])
	}
	if raw == nil {
		raw = []byte{}
	}
	return evidence.Record{
		ID:         StepID(s.Session, s.ID),
		Source:     evidence.Transcript,
		Via:        s.Format,
		Kind:       KindStep,
		OccurredAt: s.Time.UTC(),
		Facts:      evidence.Facts{Attrs: attrs},
		Raw:        raw,
		Locator:    path + " " + s.Locator,
	}
}

// findingJSON is a finding as stored in a record's raw bytes.
type findingJSON struct {
	Rule        string            `json:"rule"`
	Severity    Severity          `json:"severity"`
	Explanation string            `json:"explanation"`
	Session     string            `json:"session"`
	Step        string            `json:"step"`
	Related     []string          `json:"related,omitempty"`
	Time        time.Time         `json:"time"`
	Evidence    string            `json:"evidence,omitempty"`
	Destructive bool              `json:"destructive,omitempty"`
	T0          bool              `json:"proposed_t0,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
}

// findingRecord turns a finding into evidence.
func findingRecord(f Finding, format, path string) (evidence.Record, error) {
	step := StepID(f.Session, f.Step)
	var related []string
	for _, r := range f.Related {
		related = append(related, StepID(f.Session, r))
	}
	raw, err := json.Marshal(findingJSON{f.Rule, f.Severity, f.Explanation, f.Session, step, related, f.Time.UTC(), f.Evidence, f.Destructive, f.T0, f.Details})
	if err != nil {
		return evidence.Record{}, err
	}
	attrs := map[string]string{
		"rule": f.Rule, "severity": string(f.Severity), "explanation": f.Explanation,
		"session": f.Session, "step": step, "format": format,
	}
	if len(related) > 0 {
		attrs["related"] = strings.Join(related, " ")
	}
	if f.Evidence != "" {
		attrs["evidence"] = f.Evidence
	}
	if f.Destructive {
		attrs["destructive"] = "true"
	}
	if f.T0 {
		attrs["proposed_t0"] = "true"
	}
	for k, v := range f.Details {
		if v != "" {
			attrs[k] = v
		}
	}
	return evidence.Record{
		ID:         "transcript:" + safeID(f.Session) + ":finding:" + f.Rule + ":" + safeID(f.Step),
		Source:     evidence.Transcript,
		Via:        format,
		Kind:       KindFinding,
		OccurredAt: f.Time.UTC(),
		Facts:      evidence.Facts{Attrs: attrs, Links: []evidence.Link{{Rel: "step", ID: step}}},
		Raw:        raw,
		Locator:    path,
	}, nil
}

func jsonUnmarshal(s string, v any) bool { return json.Unmarshal([]byte(s), v) == nil }

// Incident is the proposed incident time, from the findings in a case.
type Incident struct {
	Time        time.Time
	Explanation string
	Session     string
	Step        string // record id
	// Chain and Confirmation are the credential-chain and no-confirmation
	// findings about the same step, when there are; Credential, FoundIn
	// and FoundWhere the chain's particulars, ApprovalMode the mode the
	// call ran in.
	Chain, Confirmation             string
	Credential, FoundIn, FoundWhere string
	ApprovalMode                    string
}

// ProposeIncident picks, from finding records (of any number of imports),
// the first critical destructive action as the incident; false when no
// record is one.
func ProposeIncident(records []evidence.Record) (Incident, bool) {
	var best *evidence.Record
	for i := range records {
		r := &records[i]
		a := r.Facts.Attrs
		if r.Kind != KindFinding || a["destructive"] != "true" || strings.Contains(a["explanation"], "refused by the person") {
			continue
		}
		if best == nil {
			best = r
			continue
		}
		b := best.Facts.Attrs
		rs, bs := Severity(a["severity"]).Rank(), Severity(b["severity"]).Rank()
		if rs < bs || rs == bs && r.OccurredAt.Before(best.OccurredAt) {
			best = r
		}
	}
	if best == nil {
		return Incident{}, false
	}
	in := Incident{Time: best.OccurredAt, Explanation: best.Facts.Attrs["explanation"], Session: best.Facts.Attrs["session"], Step: best.Facts.Attrs["step"]}
	for _, r := range records {
		if r.Kind != KindFinding || r.Facts.Attrs["step"] != in.Step {
			continue
		}
		a := r.Facts.Attrs
		switch a["rule"] {
		case RuleCredentialChain:
			in.Chain, in.Credential, in.FoundIn, in.FoundWhere = a["explanation"], a["credential"], a["found_in"], a["found_where"]
		case RuleNoConfirmation:
			in.Confirmation, in.ApprovalMode = a["explanation"], a["approval_mode"]
		}
	}
	return in, true
}
