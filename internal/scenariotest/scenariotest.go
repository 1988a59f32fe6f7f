// Package scenariotest imports a generated scenario (fixtures/) in process,
// as `salvage demo` does through the command line, for tests and
// benchmarks that need its evidence without a case on disk.
package scenariotest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/calendar"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/salvagehq/salvage/sources/stripe"
)

// collect keeps what importers put, as the store hands it back: every
// version numbered, raw bytes left out.
type collect struct {
	mu      sync.Mutex
	records []evidence.Record
	seen    map[string]int
	keepRaw bool
}

func (c *collect) Put(_ context.Context, r evidence.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[r.ID]++
	r.Version = c.seen[r.ID]
	if !c.keepRaw {
		r.Raw = nil
	}
	c.records = append(c.records, r)
	return nil
}
func (c *collect) Reject(context.Context, evidence.Rejected) error      { return nil }
func (c *collect) Ignore(context.Context, string) error                 { return nil }
func (c *collect) SaveCheckpoint(context.Context, string, string) error { return nil }
func (c *collect) Checkpoint(context.Context, string) (string, bool, error) {
	return "", false, nil
}

// Records imports the scenario in dir (Stripe exports, the ICS export,
// the saved Google Calendar pages, the mbox) and returns its records in
// import order, with the case configuration its scenario.json describes.
func Records(tb testing.TB, dir string) ([]evidence.Record, evidence.Config) {
	tb.Helper()
	return records(tb, dir, false)
}

// RecordsWithRaw is Records with each record's raw bytes, as an importer
// puts them.
func RecordsWithRaw(tb testing.TB, dir string) ([]evidence.Record, evidence.Config) {
	tb.Helper()
	return records(tb, dir, true)
}

// Config is the case configuration the scenario in dir describes
// (scenario.json): its zone, currency and last backup.
func Config(tb testing.TB, dir string) evidence.Config {
	tb.Helper()
	var info struct {
		Timezone string `json:"timezone"`
		Currency string `json:"currency"`
		Window   struct {
			LastBackup time.Time `json:"last_backup"`
		} `json:"window"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "scenario.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		tb.Fatal(err)
	}
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency, cfg.Case.LastBackup = info.Timezone, info.Currency, info.Window.LastBackup
	return cfg
}

func records(tb testing.TB, dir string, keepRaw bool) ([]evidence.Record, evidence.Config) {
	tb.Helper()
	cfg := Config(tb, dir)
	sink := &collect{seen: map[string]int{}, keepRaw: keepRaw}
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
			tb.Fatal(err)
		}
		run := &sources.Run{Args: fs.Args(), Config: cfg, Sink: sink, Progress: sources.NoProgress,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }, Now: time.Now}
		if err := step.imp.Import(context.Background(), run); err != nil {
			tb.Fatalf("import %s: %v", step.imp.Name(), err)
		}
	}
	return sink.records, cfg
}
