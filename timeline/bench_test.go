package timeline

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/peer"
	"github.com/salvagehq/salvage/sources"
)

// countingWriter counts what is written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkJSONL1M builds the timeline of a million events from records
// made as they are read (a booking's payment intent, charge and Stripe
// event, its calendar entry, two emails and an agent step) and writes it
// as jsonl. The goal: at most 10 s (s/run). Making the records is counted
// too, so the figure is an upper bound of the timeline's own work.
func BenchmarkJSONL1M(b *testing.B) {
	const events = 1_000_000
	opts := Options{Config: evidence.DefaultConfig()}
	opts.Config.Case.Timezone = "Europe/Lisbon"
	opts.Config.Case.LastBackup = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var written int64
	var peak uint64
	n := 0
	for b.Loop() {
		tl, err := Build(context.Background(), synthRecords(events), opts)
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		var w countingWriter
		if err := tl.WriteJSONL(&w); err != nil {
			b.Fatal(err)
		}
		written, n = w.n, len(tl.Events)
	}
	if n < events {
		b.Fatalf("%d events, want at least %d", n, events)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(written)/float64(n), "bytes/event")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MB")
}

// BenchmarkHTMLOpen100k writes the page of 100,000 events (with their
// evidence details) and opens it in headless Chromium: the time from the
// navigation to the page's first drawing, measured from the test through
// chromedp. The goal: at most 3 s (s/open). It also reports what the page
// itself measured from its navigation start (page-s/open), its size, and
// how long one redraw takes after a zoom, all 100k events in play
// (render-ms).
func BenchmarkHTMLOpen100k(b *testing.B) {
	const events = 100_000
	opts := Options{Config: evidence.DefaultConfig(), Details: true}
	opts.Config.Case.Timezone = "Europe/Lisbon"
	// The events span two weeks from 1 January; the loss window covers
	// some days of them.
	opts.Config.Case.LastBackup = time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	opts.RestoredAt = time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	tl, err := Build(context.Background(), synthRecords(events), opts)
	if err != nil {
		b.Fatal(err)
	}
	page := filepath.Join(b.TempDir(), "timeline.html")
	f, err := os.Create(page)
	if err != nil {
		b.Fatal(err)
	}
	if err := tl.WriteHTML(f); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(page)
	ctx := peer.StartChromium(b, 1400, 1000)
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	var wall, inPage, render float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.documentElement.getAttribute('data-rendered') === '1'`,
			chromedp.WithPollingTimeout(time.Minute))); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start).Seconds()
		b.StopTimer()
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.timelineRenderedAt`))
		if err != nil {
			b.Fatal(err)
		}
		inPage += ms / 1000
		drawn, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-drawn')`))
		if err != nil || !strings.Contains(drawn, "stripe:") || strings.Contains(drawn, "stripe:0") {
			b.Fatalf("the page drew %q (%v)", drawn, err)
		}
		// One redraw after a zoom, every event still in play.
		r, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const c = document.getElementById('canvas');
			c.dispatchEvent(new WheelEvent('wheel', {deltaY: -200, clientX: 700, clientY: 200, bubbles: true, cancelable: true}));
			return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(document.documentElement.getAttribute('data-render-ms')))));
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		v, _ := strconv.ParseFloat(r, 64)
		render += v
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(wall/float64(b.N), "s/open")
	b.ReportMetric(inPage/float64(b.N), "page-s/open")
	b.ReportMetric(render/float64(b.N), "render-ms")
	b.ReportMetric(float64(fi.Size())/(1<<20), "page-MB")
	b.ReportMetric(float64(len(tl.Events)), "events")
}

// BenchmarkStoreJSONL1M is BenchmarkJSONL1M through a case on disk, as
// `salvage timeline --format jsonl` runs: FromStore reads every record of
// a store holding the million events' records (1.4 million), then the
// timeline is written. Building the store is not timed. No goal: it shows
// what reading the store adds (evidence.Store.Records: SQLite and the
// facts' JSON), which dominates at this size.
func BenchmarkStoreJSONL1M(b *testing.B) {
	const events = 1_000_000
	ctx := context.Background()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	s, err := evidence.Init(ctx, b.TempDir(), cfg, evidence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	job, err := s.StartJob(ctx, "synthetic", evidence.Stripe, nil)
	if err != nil {
		b.Fatal(err)
	}
	sink := sources.NewBatchSink(s, job, sources.BatchOptions{MaxRecords: 5000})
	raw := []byte(`{"synthetic":true}`)
	for r, err := range synthRecords(events) {
		if err != nil {
			b.Fatal(err)
		}
		r.Version, r.Raw = 0, raw
		if err := sink.Put(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.FinishJob(ctx, job, evidence.JobDone, nil); err != nil {
		b.Fatal(err)
	}
	n := 0
	b.ResetTimer()
	for b.Loop() {
		tl, err := FromStore(ctx, s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tl.WriteJSONL(io.Discard); err != nil {
			b.Fatal(err)
		}
		n = len(tl.Events)
	}
	if n < events {
		b.Fatalf("%d events, want at least %d", n, events)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
