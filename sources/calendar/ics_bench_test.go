package calendar

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// BenchmarkICSParse reads a generated Google-style export of 20,000 events
// (single events with a booking's title and description, all-day events,
// weekly series): the parse alone, and the parse with the records made
// (Converter.Record: the extraction rules, and Prepare as the sink does).
// It reports events per second.
func BenchmarkICSParse(b *testing.B) {
	// As cmd/salvage runs batch work: the heap may grow to 5× what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	const n = 20000
	data := bigICS(n)
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	conv, err := NewConverter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	lisbon := cfg.Location()
	w := icsWindow{since: utcAt("2026-01-01T00:00:00Z"), until: utcAt("2028-01-01T00:00:00Z"), max: 5000}
	parse := func(b *testing.B) []icsOut {
		order := 0
		read, err := readICS(context.Background(), data, "big.ics", icsReadOptions{caseLoc: lisbon, caseZone: "Europe/Lisbon"}, &order, func(int) {})
		if err != nil || len(read.rejects) != 0 {
			b.Fatal(err, read.rejects)
		}
		set := newICSSet()
		set.add(read.events)
		return set.resolve(w).outs
	}
	run := func(b *testing.B, records bool) {
		b.SetBytes(int64(len(data)))
		events := 0
		began := time.Now()
		for b.Loop() {
			outs := parse(b)
			events += len(outs)
			if records {
				err := recordsICS(context.Background(), conv, outs, func(r evidence.Record) error { return r.Prepare() })
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(events)/time.Since(began).Seconds(), "events/s")
	}
	b.Run("parse", func(b *testing.B) { run(b, false) })
	b.Run("parse+record", func(b *testing.B) { run(b, true) })
	// Converter.Record and Prepare alone, on one goroutine: the cost per
	// event of the extraction rules.
	b.Run("record-only", func(b *testing.B) {
		outs := parse(b)
		i := 0
		for b.Loop() {
			o := &outs[i%len(outs)]
			r := conv.Record(&o.ev, "ics", o.raw, o.locator)
			if err := r.Prepare(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
