package xlsx

import (
	"context"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/benchcase"
	"github.com/salvagehq/salvage/internal/benchmem"
	"github.com/salvagehq/salvage/sources/describe"
	"github.com/salvagehq/salvage/timeline"
)

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
	dir := benchcase.Build(b, n)
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
