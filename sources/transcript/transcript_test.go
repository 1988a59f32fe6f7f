package transcript

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

var scenarioDir = filepath.Join("..", "..", "fixtures", "scenario")

// txCase is a fresh case to import into.
type txCase struct {
	t     testing.TB
	store *evidence.Store
	logs  bytes.Buffer
}

func newTxCase(t testing.TB) *txCase {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &txCase{t: t, store: s}
}

// run imports args (flags first) as one job.
func (c *txCase) run(args ...string) (evidence.Counts, error) {
	c.t.Helper()
	im := New()
	fs := pflag.NewFlagSet("transcript", pflag.ContinueOnError)
	im.Flags(fs)
	if err := fs.Parse(args); err != nil {
		c.t.Fatal(err)
	}
	ctx := context.Background()
	job, err := c.store.StartJob(ctx, im.Name(), im.Source(), args)
	if err != nil {
		c.t.Fatal(err)
	}
	sink := sources.NewBatchSink(c.store, job, sources.BatchOptions{})
	run := &sources.Run{Args: fs.Args(), Config: c.store.Config(), Sink: sink, Progress: sources.NoProgress,
		Log: slog.New(slog.NewTextHandler(&c.logs, nil)), Getenv: func(string) string { return "" }, Now: time.Now}
	if err := im.Check(run); err != nil {
		return evidence.Counts{}, err
	}
	err = im.Import(ctx, run)
	if ferr := sink.Flush(ctx); ferr != nil {
		c.t.Fatal(ferr)
	}
	if ferr := c.store.FinishJob(ctx, job, evidence.JobDone, err); ferr != nil {
		c.t.Fatal(ferr)
	}
	return sink.Counts(), err
}

func (c *txCase) records(withRaw bool) []evidence.Record {
	c.t.Helper()
	var out []evidence.Record
	for r, err := range c.store.Records(context.Background(), evidence.Query{WithRaw: withRaw}) {
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestScenarioIncident imports the committed scenario's transcript and
// checks the findings against its ground truth: T0 to the second, the
// credential chain from the file the token came from to the request that
// used it, the destructive call made without confirmation, and nothing
// else critical. No planted secret is stored.
func TestScenarioIncident(t *testing.T) {
	var truth struct {
		IncidentAt time.Time `json:"incident_at"`
		Incident   struct {
			Action     string `json:"action"`
			Credential string `json:"credential"`
		} `json:"incident"`
	}
	b, err := os.ReadFile(filepath.Join(scenarioDir, "truth", "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	c := newTxCase(t)
	counts, err := c.run(filepath.Join(scenarioDir, "transcripts"))
	if err != nil {
		t.Fatal(err)
	}
	if counts.Rejected != 0 || counts.New == 0 {
		t.Fatalf("counts %+v", counts)
	}
	recs := c.records(true)
	var findings []evidence.Record
	critical := map[string]evidence.Record{}
	for _, r := range recs {
		if r.Kind == KindFinding {
			findings = append(findings, r)
			if r.Facts.Attrs["severity"] == string(Critical) {
				critical[r.Facts.Attrs["rule"]] = r
			}
			t.Logf("%-8s %-22s %s %s", r.Facts.Attrs["severity"], r.Facts.Attrs["rule"], r.OccurredAt.Format(time.TimeOnly), r.Facts.Attrs["explanation"])
		}
	}
	in, ok := ProposeIncident(findings)
	if !ok {
		t.Fatal("no incident proposed")
	}
	if got := in.Time.Truncate(time.Second); !got.Equal(truth.IncidentAt) {
		t.Errorf("T0 %s, truth %s", got, truth.IncidentAt)
	}
	if !strings.Contains(in.Explanation, truth.Incident.Action) {
		t.Errorf("incident %q does not name %s", in.Explanation, truth.Incident.Action)
	}
	// The credential's file, as the truth names it.
	file := truth.Incident.Credential[strings.Index(truth.Incident.Credential, " in ")+4:]
	if !strings.Contains(in.Chain, file) {
		t.Errorf("credential chain %q does not name %s", in.Chain, file)
	}
	if in.Confirmation == "" {
		t.Error("no no-confirmation finding for the deletion")
	}
	want := map[string]bool{RuleDestructiveGraphQL: true, RuleCredentialChain: true, RuleNoConfirmation: true}
	for rule, r := range critical {
		if !want[rule] {
			t.Errorf("also critical: %s %s", rule, r.Facts.Attrs["explanation"])
		}
		if r.Facts.Attrs["step"] != in.Step {
			t.Errorf("critical %s at %s, the deletion is %s", rule, r.Facts.Attrs["step"], in.Step)
		}
	}
	for rule := range want {
		if _, ok := critical[rule]; !ok {
			t.Errorf("no critical %s finding", rule)
		}
	}

	// No planted secret anywhere in what was stored; their fingerprints are.
	secrets, err := os.ReadFile(filepath.Join(scenarioDir, "truth", "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	for _, r := range recs {
		stored.Write(r.Raw)
		js, _ := json.Marshal(r.Facts)
		stored.Write(js)
	}
	for _, s := range strings.Fields(string(secrets)) {
		if bytes.Contains(stored.Bytes(), []byte(s)) {
			t.Errorf("planted secret %s stored", evidence.Fingerprint(s))
		}
		if !strings.Contains(s, "://") && !bytes.Contains(stored.Bytes(), []byte(evidence.Fingerprint(s))) {
			t.Errorf("no fingerprint %s stored", evidence.Fingerprint(s))
		}
	}

	// Importing again stores nothing: the file is known.
	again, err := c.run(filepath.Join(scenarioDir, "transcripts"))
	if err != nil || again.New != 0 || again.NewVersion != 0 {
		t.Errorf("second import %+v, %v", again, err)
	}
}

// TestImportEveryFormat imports each format's testdata: zero rejected, some
// steps of each, and the same records when imported again.
func TestImportEveryFormat(t *testing.T) {
	c := newTxCase(t)
	counts, err := c.run(filepath.Join("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if counts.Rejected != 0 {
		t.Errorf("%d rejected", counts.Rejected)
	}
	formats := map[string]int{}
	for _, r := range c.records(false) {
		if r.Kind == KindStep {
			formats[r.Via]++
		}
	}
	for _, f := range FormatNames() {
		if formats[f] == 0 {
			t.Errorf("no step of format %s imported (%v)", f, formats)
		}
	}
	t.Logf("steps by format %v; %s", formats, c.logs.String())
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{notes}, "not a transcript salvage can read; the formats are claude-code, codex, gemini, cursor, aider"},
		{[]string{dir}, "no transcript found in this folder"},
		{[]string{filepath.Join(dir, "missing.jsonl")}, "no such file or folder"},
		{[]string{"--format", "copilot", notes}, `--format "copilot": want one of`},
	} {
		c := newTxCase(t)
		_, err := c.run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
