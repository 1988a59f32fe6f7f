package xlsx

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/salvagehq/salvage/internal/benchmem"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources/describe"
	"github.com/salvagehq/salvage/timeline"
)

// benchCase builds (once, then reuses from the temp directory) a case with
// n bookings: the committed scenario's rebuilt bookings and the records
// they were built from, copied with their own references and ids until
// there are n, as a bigger business would have.
func benchCase(b *testing.B, n int) string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("salvage-bench-xlsx-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	ctx := context.Background()
	b.Logf("building a case of %d bookings in %s (once)", n, dir)
	base, cfg := scenariotest.RecordsWithRaw(b, filepath.Join("..", "..", "fixtures", "scenario"))
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
			stored = append(stored, evidence.StoredBooking{Ref: c.Ref, JSON: j})
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

// storeCase is the workbook input of a case, as `salvage export xlsx`
// reads it, its timeline included.
func storeCase(ctx context.Context, s *evidence.Store) Case {
	return Case{
		Timeline: func() (iter.Seq[timeline.Row], error) {
			tl, err := timeline.FromStore(ctx, s, timeline.Options{})
			if err != nil {
				return nil, err
			}
			return tl.Rows(), nil
		},
		ID:   "bench",
		Zone: s.Config().Location(),
		Bookings: func() iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for b, err := range s.Bookings(ctx) {
					if !yield(b.JSON, err) {
						return
					}
				}
			}
		},
		Records: func(sources []evidence.Source) iter.Seq2[evidence.Record, error] {
			return s.Records(ctx, evidence.Query{Sources: sources, WithRaw: true})
		},
		Describe: describe.Text,
	}
}

// BenchmarkWorkbook250k writes the review workbook of 250,000 bookings
// (and the million-odd records behind them) from a case on disk to a file.
// Goal: ≤ 20 s and ≤ 500 MB peak heap.
func BenchmarkWorkbook250k(b *testing.B) { benchWorkbook(b, 250_000) }

// BenchmarkWorkbook25k is the same at a tenth of the size: for profiles.
func BenchmarkWorkbook25k(b *testing.B) { benchWorkbook(b, 25_000) }

func benchWorkbook(b *testing.B, n int) {
	dir := benchCase(b, n)
	ctx := context.Background()
	s, err := evidence.Open(ctx, dir, evidence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(b.TempDir(), "review.xlsx")
	runtime.GC()
	debug.FreeOSMemory()
	b.ResetTimer()
	var peak uint64
	var st Stats
	for i := 0; i < b.N; i++ {
		stop := benchmem.Start()
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		st, err = Write(ctx, f, storeCase(ctx, s), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		peak = stop()
	}
	b.StopTimer()
	if st.Bookings != n {
		b.Fatalf("%d bookings written, want %d", st.Bookings, n)
	}
	info, _ := os.Stat(out)
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(st.Evidence), "evidence-rows")
	b.ReportMetric(float64(st.Timeline), "timeline-rows")
	b.ReportMetric(float64(info.Size())/(1<<20), "file-MB")
	b.Logf("sheets: %s", strings.Join(st.Sheets, ", "))
}
