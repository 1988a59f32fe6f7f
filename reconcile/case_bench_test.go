package reconcile_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/benchcase"
	"github.com/salvagehq/salvage/internal/benchmem"
	"github.com/salvagehq/salvage/reconcile"
)

// benchCase measures what `salvage reconcile --since all` does on a case on
// disk: read every record (trimmed), then reconcile, under the memory limit
// the command sets. The in-process benchmarks hand Reconcile copies that
// share their strings; records read from a store each hold their own.
func benchCase(b *testing.B, bookings int) {
	dir := benchcase.Build(b, bookings)
	ctx := context.Background()
	s, err := evidence.Open(ctx, dir, evidence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n, err := s.Versions(ctx) // as cmd/salvage reads it
	if err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as cmd/salvage runs
	runtime.GC()
	b.ResetTimer()
	var peak uint64
	var built int
	for range b.N {
		stop := benchmem.Start()
		fit, restore := reconcile.LimitMemory(n)
		records, err := reconcile.Read(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		fit()
		res := reconcile.Reconcile(records, reconcile.Options{Config: s.Config(), Consume: true})
		restore()
		built = len(res.Bookings)
		peak = stop()
	}
	b.StopTimer()
	if built == 0 {
		b.Fatal("no bookings")
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(n), "records")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkReconcileCase157k reads and reconciles a case of 157,188
// records (25,000 bookings' worth).
func BenchmarkReconcileCase157k(b *testing.B) { benchCase(b, 25_000) }

// BenchmarkReconcileCase1M5 reads and reconciles a case of 1,572,147
// records (250,000 bookings' worth).
func BenchmarkReconcileCase1M5(b *testing.B) { benchCase(b, 250_000) }
