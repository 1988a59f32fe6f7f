package reconcile

import (
	"context"
	"runtime"
	"runtime/debug"

	"github.com/salvagehq/salvage/evidence"
)

// Read reads every version of every record of the case, as Reconcile
// takes them, each trimmed as it is read (Trim).
func Read(ctx context.Context, s *evidence.Store) ([]evidence.Record, error) {
	// Room for them all at once: a slice of a million records doubling
	// as it grows held two copies, half empty, at its peak. Versions is
	// a look at the end of the table (Stats counted the records of each
	// source: 7 s of a 1.57-million-record case's read).
	n, err := s.Versions(ctx)
	if err != nil {
		return nil, err
	}
	records := make([]evidence.Record, 0, n)
	// Reconcile picks the version that describes each object best; it
	// needs nothing of a record's provenance (locator, hash, job).
	for r, err := range s.Records(ctx, evidence.Query{AllVersions: true, Lean: true}) {
		if err != nil {
			return nil, err
		}
		Trim(&r)
		records = append(records, r)
	}
	return records, nil
}

// bytesPerRecord is about what a record read from a case holds in memory,
// trimmed (measured: 1,274 bytes).
const bytesPerRecord = 1300

// LimitMemory sets the soft memory limit for reconciling a case of n record
// versions and returns a function that puts the previous limit back.
// MemoryLimit keeps a million records within 2 GB, the collector working
// harder near it; but a limit below what must stay in memory only makes the
// collector run flat out, so a bigger case gets room for its records and
// half as much again. Fit raises it once the records are read, by the heap
// they really take.
func LimitMemory(n int64) (fit, restore func()) {
	prev := debug.SetMemoryLimit(max(int64(MemoryLimit), n*bytesPerRecord*3/2))
	fit = func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if need := int64(ms.HeapAlloc) * 3 / 2; need > debug.SetMemoryLimit(-1) {
			debug.SetMemoryLimit(need)
		}
	}
	return fit, func() { debug.SetMemoryLimit(prev) }
}
