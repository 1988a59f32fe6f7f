// Package benchcase builds big cases on disk for benchmarks: the committed
// scenario's rebuilt bookings and their records, copied until there are as
// many as a benchmark asks for, as a bigger business would have.
package benchcase

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
	"github.com/salvagehq/salvage/reconcile"
)

// scenario is the committed scenario's directory, found from the module's
// root above the test's working directory.
func scenario(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "fixtures", "scenario")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("benchcase: no go.mod above the working directory")
		}
		dir = parent
	}
}

// importers counts the changes to what the importers store of the
// scenario (the Stripe importer storing its objects' readable text: 2;
// the Google Calendar importer its events' titles: 3).
const importers = 3

// Build builds (once, then reuses from the temp directory) a case with
// n bookings: the committed scenario's rebuilt bookings and the records
// they were built from, copied with their own references and ids until
// there are n, as a bigger business would have.
func Build(b testing.TB, n int) string {
	// A case of an older schema, or built by older importers, lacks what
	// this build stores: built anew.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("salvage-bench-case-%d-s%d-i%d", n, evidence.SchemaVersion, importers))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	ctx := context.Background()
	b.Logf("building a case of %d bookings in %s (once)", n, dir)
	base, cfg := scenariotest.RecordsWithRaw(b, scenario(b))
	res := reconcile.Reconcile(base, reconcile.Options{Config: cfg})
	byID := map[string]evidence.Record{}
	for _, r := range base {
		if old, ok := byID[r.ID]; !ok || r.Version > old.Version || r.OccurredAt.After(old.OccurredAt) {
			byID[r.ID] = r
		}
	}
	s, err := evidence.Init(ctx, dir, cfg, evidence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	job, err := s.StartJob(ctx, "bench", evidence.Mail, nil)
	if err != nil {
		b.Fatal(err)
	}
	var stored []evidence.StoredBooking
	var batch evidence.Batch
	for k := 0; len(stored) < n; k++ {
		suffix := "-" + strconv.Itoa(k)
		for _, bk := range res.Bookings {
			if len(stored) == n {
				break
			}
			c := bk
			c.Ref += suffix
			c.Evidence = make([]string, len(bk.Evidence))
			for i, id := range bk.Evidence {
				c.Evidence[i] = id + suffix
				r := byID[id]
				r.ID, r.Version = id+suffix, 0
				if r.Facts.Ref != "" {
					r.Facts.Ref += suffix
				}
				batch.Records = append(batch.Records, r)
			}
			j, err := json.Marshal(c)
			if err != nil {
				b.Fatal(err)
			}
			brief, err := json.Marshal(c.Brief())
			if err != nil {
				b.Fatal(err)
			}
			stored = append(stored, evidence.StoredBooking{Ref: c.Ref, JSON: j, Brief: brief})
		}
		if len(batch.Records) >= 20_000 || len(stored) == n {
			if _, err := s.Commit(ctx, job, batch); err != nil {
				b.Fatal(err)
			}
			batch = evidence.Batch{}
		}
	}
	if err := s.FinishJob(ctx, job, evidence.JobDone, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := s.ReplaceBookings(ctx, evidence.ReconcileRun{}, stored); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}
