package reconcile

import (
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/benchmem"
	"github.com/salvagehq/salvage/internal/scenariotest"
)

// scaled copies the scenario's records until there are n: each copy has
// its own ids, references, addresses and phones, and is moved k hours on,
// so copies are separate bookings as a bigger business would have.
func scaled(base []evidence.Record, n int) []evidence.Record {
	out := make([]evidence.Record, 0, n)
	for k := 0; len(out) < n; k++ {
		suffix := "x" + strconv.Itoa(k)
		shift := time.Duration(k) * time.Hour
		for _, r := range base {
			if len(out) == n {
				break
			}
			c := r
			f := r.Facts
			if k > 0 {
				c.ID = r.ID + suffix
				if f.Ref != "" {
					f.Ref += suffix
				}
				if f.Email != "" {
					f.Email = suffix + f.Email
				}
				if f.Item != "" {
					// Another fleet's vehicle: the plate gets a group.
					tag := strings.ToUpper(strconv.FormatInt(int64(k), 36))
					f.Item = plateDashed.ReplaceAllStringFunc(f.Item, func(p string) string { return p + "-" + tag })
				}
				if f.Phone != "" {
					f.Phone = fmt.Sprintf("%s%d", strings.TrimSpace(f.Phone)[:min(len(strings.TrimSpace(f.Phone)), 6)], 1000000+k)
				}
				if f.Start != nil {
					t := f.Start.Add(shift)
					f.Start = &t
				}
				if f.End != nil {
					t := f.End.Add(shift)
					f.End = &t
				}
				c.OccurredAt = r.OccurredAt.Add(shift)
				links := make([]evidence.Link, len(f.Links))
				for i, l := range f.Links {
					links[i] = evidence.Link{Rel: l.Rel, ID: l.ID + suffix}
				}
				f.Links = links
				if to := f.Attrs["to"]; to != "" && !strings.Contains(to, "atlantico") {
					attrs := make(map[string]string, len(f.Attrs))
					for key, v := range f.Attrs {
						attrs[key] = v
					}
					attrs["to"] = suffix + to
					f.Attrs = attrs
				}
				if from := f.Attrs["from"]; from != "" && !strings.Contains(from, "atlantico") && !strings.Contains(from, "stripe.com") {
					attrs := make(map[string]string, len(f.Attrs))
					for key, v := range f.Attrs {
						attrs[key] = v
					}
					attrs["from"] = suffix + from
					f.Attrs = attrs
				}
			}
			// Each record its own attributes, as the store decodes them.
			if f.Attrs != nil && k > 0 {
				f.Attrs = maps.Clone(f.Attrs)
			}
			c.Facts = f
			out = append(out, c)
		}
	}
	return out
}

// benchReconcile reconciles n records, reporting records/s and the peak
// heap in MB.
func benchReconcile(b *testing.B, n int) {
	base, cfg := scenariotest.Records(b, filepath.Join("..", "fixtures", "scenario"))
	recs := scaled(base, n)
	runtime.GC()
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// As salvage reconcile runs: a soft memory limit, so the collector
	// works harder rather than let garbage pile up past it.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(MemoryLimit))
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as cmd/salvage runs
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		stop := benchmem.Start()
		res := Reconcile(recs, Options{Config: cfg, Consume: true})
		if len(res.Bookings) == 0 {
			b.Fatal("no bookings")
		}
		peak = stop()
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(before.HeapInuse)/(1<<20), "input-heap-MB")
}

// BenchmarkReconcile100k and BenchmarkReconcile1M: goal 1M records in
// at most 20 s and 2 GB, and at most 12 times the time of 100k.
//
//	go test -run '^$' -bench 'BenchmarkReconcile' -benchtime 1x ./reconcile/
func BenchmarkReconcile100k(b *testing.B) { benchReconcile(b, 100_000) }
func BenchmarkReconcile1M(b *testing.B)   { benchReconcile(b, 1_000_000) }
