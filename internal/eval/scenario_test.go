package eval

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/calendar"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/salvagehq/salvage/sources/stripe"
)

// collect keeps what importers put, as the store would hand it back (every
// version, raw bytes left out).
type collect struct {
	mu      sync.Mutex
	records []evidence.Record
	seen    map[string]int // id → versions so far
}

func (c *collect) Put(_ context.Context, r evidence.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[r.ID]++
	r.Version, r.Raw = c.seen[r.ID], nil
	c.records = append(c.records, r)
	return nil
}
func (c *collect) Reject(context.Context, evidence.Rejected) error      { return nil }
func (c *collect) Ignore(context.Context, string) error                 { return nil }
func (c *collect) SaveCheckpoint(context.Context, string, string) error { return nil }
func (c *collect) Checkpoint(context.Context, string) (string, bool, error) {
	return "", false, nil
}

// TestCommittedScenarioMeetsGoals imports the committed scenario in
// process (the demo's imports), reconciles every booking and compares with
// the ground truth: precision ≥ 0.99, recall ≥ 0.98, each key field ≥ 0.98
// right (a value left blank and flagged as missing is not a wrong one),
// no silent error, at most 15 % flagged. make eval prints the same report,
// and the one for a generated 5,000-booking scenario.
func TestCommittedScenarioMeetsGoals(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "scenario")
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	sink := &collect{}
	for _, step := range []struct {
		imp  sources.Importer
		args []string
	}{
		{stripe.New(), []string{"--from", filepath.Join(dir, "stripe")}},
		{calendar.NewICS(), []string{filepath.Join(dir, "calendar", "calendar.ics")}},
		{calendar.NewGCal(), []string{"--from", filepath.Join(dir, "calendar"), "--calendar", "fleet"}},
		{mail.NewFiles(), []string{filepath.Join(dir, "mail", "mailbox.mbox")}},
	} {
		fs := pflag.NewFlagSet(step.imp.Name(), pflag.ContinueOnError)
		step.imp.Flags(fs)
		if err := fs.Parse(step.args); err != nil {
			t.Fatal(err)
		}
		run := &sources.Run{Args: fs.Args(), Config: cfg, Sink: sink, Progress: sources.NoProgress,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }, Now: time.Now}
		if err := step.imp.Import(context.Background(), run); err != nil {
			t.Fatalf("import %s: %v", step.imp.Name(), err)
		}
	}
	truth, err := ReadTruth(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := reconcile.Reconcile(sink.records, reconcile.Options{Config: cfg})
	r := Compare(truth, res.Bookings)
	r.Check(DefaultGoals)
	var out strings.Builder
	r.WriteText(&out)
	t.Log("\n" + out.String())
	if !r.Met() {
		t.Errorf("goals missed: %v", r.Missed())
	}
}
