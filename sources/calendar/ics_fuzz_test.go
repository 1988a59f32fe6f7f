package calendar

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// FuzzICS feeds anything to the parse path (split, unfold, properties,
// zones, recurrence, overrides, records): it must not panic or hang, every
// record it makes must validate, and every rejection must say why.
func FuzzICS(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(icsTestdata, "*.ics"))
	broken, _ := filepath.Glob(filepath.Join(icsTestdata, "broken", "*.ics"))
	for _, p := range append(paths, broken...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1\nEXDATE;VALUE=DATE:20260130,20260227\nEND:VEVENT\n",
		"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nBEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nRRULE:FREQ=DAILY\nEND:DAYLIGHT\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:c\nDTSTART;TZID=X:20260301T100000\nEND:VEVENT\nEND:VCALENDAR\n",
	} {
		f.Add([]byte(s))
	}
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	conv, err := NewConverter(cfg)
	if err != nil {
		f.Fatal(err)
	}
	lisbon := cfg.Location()
	// A month and a few instances per series keep each run short: the
	// extraction rules Converter.Record runs are most of the cost.
	w := icsWindow{since: utcAt("2026-09-01T00:00:00Z"), until: utcAt("2026-10-01T00:00:00Z"), max: 20}
	statuses := []string{"confirmed", "tentative", "cancelled"}
	f.Fuzz(func(t *testing.T, data []byte) {
		began := time.Now()
		order := 0
		read, err := readICS(context.Background(), data, "fuzz.ics", icsReadOptions{caseLoc: lisbon, caseZone: "Europe/Lisbon"}, &order, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range read.rejects {
			if r.Reason == "" || r.Locator == "" {
				t.Errorf("rejection without a reason or locator: %+v", r)
			}
		}
		set := newICSSet()
		set.add(read.events)
		res := set.resolve(w)
		for _, r := range res.rejects {
			if r.reason == "" {
				t.Error("rejection without a reason")
			}
		}
		outs := res.outs
		if len(outs) > 100 {
			outs = outs[:100]
		}
		err = recordsICS(context.Background(), conv, outs, func(r evidence.Record) error {
			if err := r.Prepare(); err != nil {
				t.Errorf("record does not validate: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.outs {
			e := o.ev
			if e.End.Before(e.Start) || !slices.Contains(statuses, e.Status) || e.UID == "" {
				t.Errorf("bad event %s: %v → %v, status %q", e.ID(), e.Start, e.End, e.Status)
			}
			if !strings.HasPrefix(string(o.raw), "BEGIN:") && !strings.HasPrefix(strings.ToUpper(string(o.raw)), "BEGIN:") {
				t.Errorf("raw of %s is not the VEVENT", e.ID())
			}
		}
		if took := time.Since(began); took > 10*time.Second {
			t.Errorf("%d bytes took %v", len(data), took)
		}
	})
}
