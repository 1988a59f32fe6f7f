package stripe

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"

	"github.com/salvagehq/salvage/fixtures"
	"github.com/salvagehq/salvage/sources/stripe/stripetest"
)

// benchScenario generates, once per test binary, a scenario large enough to
// measure imports (about 60,000 Stripe objects).
var benchScenario = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "salvage-stripe-bench-")
	if err != nil {
		return "", err
	}
	benchDirs = append(benchDirs, dir)
	if _, err = fixtures.Generate(fixtures.Config{Seed: 7, Bookings: 12000, Out: dir}); err != nil {
		return "", err
	}
	// The scenario is hundreds of MB: let the disk finish writing it before
	// the clock starts, or its write-back competes with the case's.
	syscall.Sync()
	return dir, nil
})

// benchDirs are removed when the test binary ends.
var benchDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func benchObjects(b *testing.B) (string, int) {
	b.Helper()
	dir, err := benchScenario()
	if err != nil {
		b.Fatal(err)
	}
	live, _ := scenarioObjectsIn(b, filepath.Join(dir, "stripe"))
	return dir, len(live)
}

// BenchmarkImportFiles: the whole --from import, into a fresh case each
// time, of a scenario's Stripe list files. Goal: ≥ 50,000 objects/s.
func BenchmarkImportFiles(b *testing.B) {
	defer asTheBinaryRuns()()
	dir, n := benchObjects(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := newHarness(b)
		b.StartTimer()
		c, err := h.run(context.Background(), New(), "--from", filepath.Join(dir, "stripe"))
		if err != nil || c.New != int64(n) {
			b.Fatalf("%+v %v, want %d new", c, err, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// asTheBinaryRuns sets the garbage collector as cmd/salvage does for batch
// work, and returns the function that restores it.
func asTheBinaryRuns() func() {
	old := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(old) }
}

// BenchmarkImportAPI: the API import of the same objects from the replay
// server on loopback, rate limiting off, into a fresh case each time.
// Goal: ≥ 5,000 objects/s.
func BenchmarkImportAPI(b *testing.B) {
	defer asTheBinaryRuns()()
	dir, n := benchObjects(b)
	srv := stripetest.NewServer(b, stripetest.LoadScenario(b, filepath.Join(dir, "stripe")), stripetest.Options{Keys: []string{liveKey}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := newHarness(b)
		h.env["STRIPE_API_KEY"] = liveKey
		b.StartTimer()
		c, err := h.run(context.Background(), New(), "--api-base", srv.URL, "--since", "all", "--max-rate", "-1")
		if err != nil || c.New != int64(n) {
			b.Fatalf("%+v %v, want %d new", c, err, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
