package timeline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/all"
)

// scenarioDir is the committed scenario the demo recovers.
var scenarioDir = filepath.Join("..", "fixtures", "scenario")

// caseClock is the clock of the case built for the tests: it moves only
// when the builder moves it, so the jobs' times are the same every run.
type caseClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *caseClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *caseClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// scenarioCase builds, in process, the case `salvage demo` builds from the
// committed scenario: the same importers with the same arguments into a
// real store (so versions and sightings are the store's), then a reconcile
// whose bookings and summary are stored as `salvage reconcile` stores
// them. The clock is fixed: the first import starts 2026-11-19 12:00 UTC,
// each step a minute after the one before. The store is closed when the
// test ends.
func scenarioCase(tb testing.TB) *evidence.Store {
	tb.Helper()
	ctx := context.Background()
	clock := &caseClock{t: time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC)}
	cfg := scenariotest.Config(tb, scenarioDir)
	s, err := evidence.Init(ctx, tb.TempDir(), cfg, evidence.Options{Now: clock.now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	byName := map[string]sources.Importer{}
	for _, imp := range all.Importers() {
		byName[imp.Name()] = imp
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, step := range []struct {
		importer string
		args     []string
	}{
		{"stripe", []string{"--from", filepath.Join(scenarioDir, "stripe")}},
		{"ics", []string{filepath.Join(scenarioDir, "calendar", "calendar.ics")}},
		{"gcal", []string{"--from", filepath.Join(scenarioDir, "calendar"), "--calendar", "fleet"}},
		{"mail", []string{filepath.Join(scenarioDir, "mail", "mailbox.mbox")}},
		{"transcript", []string{filepath.Join(scenarioDir, "transcripts")}},
	} {
		clock.set(time.Date(2026, 11, 19, 12, i, 0, 0, time.UTC))
		imp := byName[step.importer]
		if imp == nil {
			tb.Fatalf("no importer %q", step.importer)
		}
		fs := pflag.NewFlagSet(imp.Name(), pflag.ContinueOnError)
		imp.Flags(fs)
		if err := fs.Parse(step.args); err != nil {
			tb.Fatal(err)
		}
		job, err := s.StartJob(ctx, imp.Name(), imp.Source(), step.args)
		if err != nil {
			tb.Fatal(err)
		}
		sink := sources.NewBatchSink(s, job, sources.BatchOptions{Now: clock.now})
		err = imp.Import(ctx, &sources.Run{Args: fs.Args(), Config: s.Config(), Sink: sink, Log: log,
			Progress: sources.NoProgress, Getenv: func(string) string { return "" }, Now: clock.now})
		if err == nil {
			err = sink.Flush(ctx)
		}
		if err != nil {
			tb.Fatalf("import %s: %v", imp.Name(), err)
		}
		clock.set(time.Date(2026, 11, 19, 12, i, 30, 0, time.UTC))
		if err := s.FinishJob(ctx, job, evidence.JobDone, nil); err != nil {
			tb.Fatal(err)
		}
	}
	var records []evidence.Record
	for r, err := range s.Records(ctx, evidence.Query{AllVersions: true}) {
		if err != nil {
			tb.Fatal(err)
		}
		records = append(records, r)
	}
	res := reconcile.Reconcile(records, reconcile.Options{Config: s.Config(), Since: cfg.Case.LastBackup})
	stored := make([]evidence.StoredBooking, len(res.Bookings))
	for i, bk := range res.Bookings {
		js, err := json.Marshal(bk)
		if err != nil {
			tb.Fatal(err)
		}
		stored[i] = evidence.StoredBooking{Ref: bk.Ref, JSON: js}
	}
	sum, err := json.Marshal(res.Summary)
	if err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 11, 19, 12, 10, 0, 0, time.UTC)
	if _, err := s.ReplaceBookings(ctx, evidence.ReconcileRun{StartedAt: at, FinishedAt: at.Add(2 * time.Second),
		Since: cfg.Case.LastBackup, SummaryJSON: sum}, stored); err != nil {
		tb.Fatal(err)
	}
	return s
}

// plantedSecrets are the secrets the scenario hides in its sources: none
// may appear in any output.
func plantedSecrets(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(scenarioDir, "truth", "secrets.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		tb.Fatal("no planted secrets in truth/secrets.txt")
	}
	return out
}
