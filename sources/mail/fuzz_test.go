package mail

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/fixtures"
)

// FuzzParse: any bytes as a message give a record that validates (with its
// calendar invitations), or ErrNotMail; never a panic or a hang.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/broken/*.eml")
	more, _ := filepath.Glob(filepath.Join(mailScenario, "mail", "Maildir", "cur", "*"))
	if len(more) > 20 {
		more = more[:20]
	}
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	p, err := NewParser(cfg, func() time.Time { return time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC) })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		parsed, err := p.Parse(context.Background(), raw, "eml", "fuzz", nil)
		if err != nil {
			return
		}
		if err := parsed.Record.Validate(); err != nil {
			t.Fatalf("record does not validate: %v", err)
		}
		for _, c := range parsed.Calendar {
			if err := c.Validate(); err != nil {
				t.Fatalf("invitation record does not validate: %v", err)
			}
		}
	})
}

// benchMbox is a generated scenario's mailbox, made once per test binary.
var benchMbox = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "salvage-mail-bench-")
	if err != nil {
		return "", err
	}
	benchDirs = append(benchDirs, dir)
	if _, err := fixtures.Generate(fixtures.Config{Seed: 11, Bookings: 4000, Out: dir}); err != nil {
		return "", err
	}
	return filepath.Join(dir, "mail", "mailbox.mbox"), nil
})

var benchDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// BenchmarkMbox: an mbox read, parsed and its facts extracted (the import
// without the store). Goal: ≥ 5,000 messages/s.
func BenchmarkMbox(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as cmd/salvage runs
	path, err := benchMbox()
	if err != nil {
		b.Fatal(err)
	}
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	p, err := NewParser(cfg, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	messages := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := &mboxReader{br: newReader(f)}
		for {
			msg, _, err := r.next()
			if err != nil {
				break
			}
			parsed, err := p.Parse(context.Background(), msg, "mbox", "bench", nil)
			if err == nil {
				parsed.Record.Prepare()
			}
			messages++
		}
		f.Close()
	}
	b.ReportMetric(float64(messages)/b.Elapsed().Seconds(), "messages/s")
}
