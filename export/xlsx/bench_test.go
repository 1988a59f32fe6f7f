package xlsx

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/benchcase"
	"github.com/salvagehq/salvage/internal/benchmem"
)

// benchCase is the workbook input of a case as `salvage export xlsx`
// reads it (FromStore), its timeline included.
func benchCase(ctx context.Context, s *evidence.Store) Case {
	c := FromStore(ctx, s)
	c.ID = "bench"
	return c
}

// phaseBar logs when each sheet's phase starts and ends, and the heap
// live at its end.
type phaseBar struct {
	b         *testing.B
	name      string
	start, at time.Time
	cpu       time.Duration // the process's CPU time when the phase began
}

func (phaseBar) Add(int64) {}
func (p phaseBar) Done() {
	// SALVAGE_BENCH_HEAP=dir writes a heap profile of what is live at
	// the end of each phase (after a collection) to dir.
	if dir := os.Getenv("SALVAGE_BENCH_HEAP"); dir != "" {
		runtime.GC()
		f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(p.name, " ", "")+".heap"))
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			p.b.Error(err)
		}
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	p.b.Logf("%s: %.1f s → %.1f s, %.1f s of CPU, heap live after the last collection %d MB", p.name, p.at.Sub(p.start).Seconds(),
		time.Since(p.start).Seconds(), (cpuTime() - p.cpu).Seconds(), live[0].Value.Uint64()>>20)
}

// BenchmarkWorkbook250k writes the review workbook of 250,000 bookings
// (and the million-odd records behind them) from a case on disk to a file,
// as salvage export xlsx does by default (the text of the records behind
// bookings to review). Goal: ≤ 20 s and ≤ 500 MB peak heap.
func BenchmarkWorkbook250k(b *testing.B) { benchWorkbook(b, 250_000, TextToReview) }

// BenchmarkWorkbook250kAllText is the same with every record's text
// (--evidence-text all): no goal, for the report.
func BenchmarkWorkbook250kAllText(b *testing.B) { benchWorkbook(b, 250_000, TextAll) }

// BenchmarkWorkbook25k is the same at a tenth of the size: for profiles.
func BenchmarkWorkbook25k(b *testing.B) { benchWorkbook(b, 25_000, TextToReview) }

func benchWorkbook(b *testing.B, n int, text EvidenceText) {
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
	// As salvage export xlsx runs.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	versions, err := s.Versions(ctx) // as cmd/salvage reads it
	if err != nil {
		b.Fatal(err)
	}
	defer LimitMemory(versions)()
	b.ResetTimer()
	var peak uint64
	var ws Stats
	for i := 0; i < b.N; i++ {
		stop := benchmem.Start()
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		ws, err = Write(ctx, f, benchCase(ctx, s), Options{EvidenceText: text, Bar: func(name string, _ int64) Bar {
			return phaseBar{b: b, name: name, start: start, at: time.Now(), cpu: cpuTime()}
		}})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		peak = stop()
	}
	b.StopTimer()
	if ws.Bookings != n {
		b.Fatalf("%d bookings written, want %d", ws.Bookings, n)
	}
	info, _ := os.Stat(out)
	// SALVAGE_BENCH_KEEP=path keeps the workbook written there (to open
	// it, or to look at its sheets' XML).
	if keep := os.Getenv("SALVAGE_BENCH_KEEP"); keep != "" {
		if err := os.Rename(out, keep); err != nil {
			b.Error(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(ws.Evidence), "evidence-rows")
	b.ReportMetric(float64(ws.EvidenceText), "evidence-rows-with-text")
	b.ReportMetric(float64(ws.Timeline), "timeline-rows")
	b.ReportMetric(float64(info.Size())/(1<<20), "file-MB")
	b.Logf("sheets: %s", strings.Join(ws.Sheets, ", "))
}
