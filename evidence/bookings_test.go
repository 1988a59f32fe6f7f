package evidence

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func storedBookings(prefix string, n int) []StoredBooking {
	out := make([]StoredBooking, n)
	for i := range out {
		// Refs deliberately out of any sorted order: the store keeps the
		// order given, not one of its own.
		ref := fmt.Sprintf("%s-%06d", prefix, (i*7919)%n)
		out[i] = StoredBooking{Ref: ref, JSON: fmt.Appendf(nil, `{"ref":%q,"n":%d}`, ref, i)}
	}
	return out
}

func readBookings(t testing.TB, s *Store) []StoredBooking {
	t.Helper()
	var out []StoredBooking
	for b, err := range s.Bookings(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func sameBookings(t testing.TB, got, want []StoredBooking) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d bookings stored, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Ref != want[i].Ref || string(got[i].JSON) != string(want[i].JSON) {
			t.Fatalf("booking %d = %s %s, want %s %s", i, got[i].Ref, got[i].JSON, want[i].Ref, want[i].JSON)
		}
	}
}

func TestReplaceBookingsKeepsOnlyTheLatestRun(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, ok, err := s.LastReconcile(ctx); err != nil || ok {
		t.Fatalf("LastReconcile of a new case = %v, %v; want none", ok, err)
	}
	if got := readBookings(t, s); len(got) != 0 {
		t.Fatalf("a new case holds %d bookings", len(got))
	}

	first := storedBookings("ACH", 500)
	since := time.Date(2026, 8, 20, 3, 0, 0, 0, time.FixedZone("WEST", 3600))
	run1, err := s.ReplaceBookings(ctx, ReconcileRun{Since: since, SummaryJSON: []byte(`{"bookings":500}`)}, first)
	if err != nil {
		t.Fatal(err)
	}
	if run1.ID == 0 || run1.Bookings != 500 || run1.FinishedAt.IsZero() || !run1.StartedAt.Equal(run1.FinishedAt) {
		t.Errorf("first run = %+v", run1)
	}
	sameBookings(t, readBookings(t, s), first)

	second := storedBookings("BKG", 37)
	started := time.Date(2026, 11, 19, 9, 0, 0, 0, time.UTC)
	until := time.Date(2026, 11, 18, 14, 28, 32, 0, time.UTC)
	run2, err := s.ReplaceBookings(ctx, ReconcileRun{StartedAt: started, FinishedAt: started.Add(2 * time.Second), Until: until,
		SummaryJSON: []byte(`{"bookings":37}`)}, second)
	if err != nil {
		t.Fatal(err)
	}
	if run2.ID <= run1.ID {
		t.Errorf("second run id %d, first %d", run2.ID, run1.ID)
	}
	sameBookings(t, readBookings(t, s), second)
	if n := count(t, s, "bookings"); n != 37 {
		t.Errorf("%d rows in bookings, want 37", n)
	}

	last, ok, err := s.LastReconcile(ctx)
	if err != nil || !ok {
		t.Fatalf("LastReconcile = %v, %v", ok, err)
	}
	want := ReconcileRun{ID: run2.ID, StartedAt: started, FinishedAt: started.Add(2 * time.Second), Until: until, Bookings: 37,
		SummaryJSON: []byte(`{"bookings":37}`)}
	if fmt.Sprintf("%+v", last) != fmt.Sprintf("%+v", want) {
		t.Errorf("LastReconcile\n got %+v\nwant %+v", last, want)
	}
	if last.StartedAt.Location() != time.UTC || !last.Since.IsZero() {
		t.Errorf("times not UTC or unbounded since not zero: %+v", last)
	}
	// Every run is kept; the bookings are the last one's.
	if n := count(t, s, "reconcile_runs"); n != 2 {
		t.Errorf("%d runs recorded, want 2", n)
	}

	// A run that rebuilt nothing leaves nothing behind.
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{SummaryJSON: []byte(`{}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if got := readBookings(t, s); len(got) != 0 {
		t.Errorf("%d bookings left after an empty run", len(got))
	}
	if last, _, _ := s.LastReconcile(ctx); last.Bookings != 0 || !last.Since.IsZero() || !last.Until.IsZero() {
		t.Errorf("empty run = %+v", last)
	}
}

func TestReplaceBookingsIsAllOrNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	kept := storedBookings("ACH", 10)
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, kept); err != nil {
		t.Fatal(err)
	}
	// A booking without JSON is refused before anything is written.
	bad := storedBookings("BAD", 300)
	bad[299].JSON = nil
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bad); err == nil || !strings.Contains(err.Error(), "BAD-") {
		t.Errorf("booking without JSON: %v, want an error naming it", err)
	}
	// A run interrupted while writing leaves the previous one whole.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ReplaceBookings(cancelled, ReconcileRun{}, storedBookings("NEW", 300)); err == nil {
		t.Error("replace with a cancelled context succeeded")
	}
	sameBookings(t, readBookings(t, s), kept)
	if n := count(t, s, "reconcile_runs"); n != 1 {
		t.Errorf("%d runs recorded, want 1", n)
	}
	// Stopping an iteration early releases the connection.
	for range s.Bookings(ctx) {
		break
	}
	if _, _, err := s.LastReconcile(ctx); err != nil {
		t.Errorf("after an early break: %v", err)
	}
}

// TestReplaceBookingsLarge stores 100,000 bookings of about 1 KB, twice,
// and reads them back in order. A million takes ten times as long (see
// BenchmarkReplaceBookings1KB).
func TestReplaceBookingsLarge(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const n = 100_000
	pad := strings.Repeat("x", 1000)
	make1KB := func(prefix string) []StoredBooking {
		bs := storedBookings(prefix, n)
		for i := range bs {
			bs[i].JSON = fmt.Appendf(nil, `{"ref":%q,"pad":%q}`, bs[i].Ref, pad)
		}
		return bs
	}
	for _, prefix := range []string{"ACH", "BKG"} {
		bs := make1KB(prefix)
		started := time.Now()
		if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bs); err != nil {
			t.Fatal(err)
		}
		t.Logf("stored %d bookings in %s", n, time.Since(started).Round(time.Millisecond))
		started = time.Now()
		got := readBookings(t, s)
		t.Logf("read them in %s", time.Since(started).Round(time.Millisecond))
		sameBookings(t, got, bs)
	}
}

func TestBookingsAfterMigrationFromVersion2(t *testing.T) {
	// A case written before bookings were stored opens, keeps its evidence
	// and takes bookings.
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Init(ctx, dir, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
		os.Remove(filepath.Join(dir, name))
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, DBFile)))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations[:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO jobs(importer, source, args, status, started_at, finished_at, new) VALUES ('mail', 'mail', '[]', 'done', 1, 2, 5)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	s.DB().QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != SchemaVersion {
		t.Errorf("schema %d after open, want %d", v, SchemaVersion)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Counts.New != 5 {
		t.Fatalf("jobs after migration = %+v, %v", jobs, err)
	}
	if _, ok, err := s.LastReconcile(ctx); ok || err != nil {
		t.Errorf("LastReconcile after migration = %v, %v", ok, err)
	}
	bs := storedBookings("ACH", 3)
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bs); err != nil {
		t.Fatal(err)
	}
	sameBookings(t, readBookings(t, s), bs)
}

// BenchmarkReplaceBookings1KB measures storing 1 KB bookings and their
// briefs, 10,000 per run. Goal: a million bookings in well under a minute.
func BenchmarkReplaceBookings1KB(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const n = 10_000
	bs := storedBookings("ACH", n)
	pad := strings.Repeat("x", 1000)
	for i := range bs {
		bs[i].JSON = fmt.Appendf(nil, `{"ref":%q,"pad":%q}`, bs[i].Ref, pad)
		// A brief of a sixth of that, as a booking's of several records.
		bs[i].Brief = fmt.Appendf(nil, `{"ref":%q,"pad":%q}`, bs[i].Ref, pad[:150])
	}
	b.SetBytes(int64(n * len(bs[0].JSON)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "bookings/s")
}

// BookingsKept copies out only the JSON of the bookings kept; the others
// come with their reference and no JSON, in the same order; kept JSON
// stays whole after the read goes on.
func TestBookingsKept(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	bs := storedBookings("ACH", 1000)
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bs); err != nil {
		t.Fatal(err)
	}
	var got []StoredBooking
	for b, err := range s.BookingsKept(ctx, func(i int) bool { return i%3 == 1 }) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if len(got) != len(bs) {
		t.Fatalf("%d bookings, want %d", len(got), len(bs))
	}
	for i, b := range got {
		if b.Ref != bs[i].Ref {
			t.Fatalf("booking %d is %s, want %s", i, b.Ref, bs[i].Ref)
		}
		if kept := i%3 == 1; kept != (b.JSON != nil) || kept && string(b.JSON) != string(bs[i].JSON) {
			t.Fatalf("booking %d (kept %v): JSON %q, want %q", i, kept, b.JSON, bs[i].JSON)
		}
	}
}

// BookingsAt gives the bookings asked for, in that order, each whole; a
// place without a booking is an error; stopping early ends the query.
func TestBookingsAt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	bs := storedBookings("ACH", 1000)
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, bs); err != nil {
		t.Fatal(err)
	}
	for _, at := range [][]int{nil, {0}, {999}, {0, 1, 2}, {3, 500, 501, 998}, func() (all []int) {
		for i := range 1000 {
			if i%7 == 3 {
				all = append(all, i)
			}
		}
		return all
	}()} {
		var got []int
		for b, err := range s.BookingsAt(ctx, at) {
			if err != nil {
				t.Fatalf("%v: %v", at, err)
			}
			i := len(got)
			if i >= len(at) || b.Ref != bs[at[i]].Ref || string(b.JSON) != string(bs[at[i]].JSON) {
				t.Fatalf("%v: booking %d is %s", at, i, b.Ref)
			}
			got = append(got, at[i])
		}
		if len(got) != len(at) {
			t.Errorf("%v: %d bookings", at, len(got))
		}
	}
	var last error
	n := 0
	for _, err := range s.BookingsAt(ctx, []int{5, 1000, 6}) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	if n != 1 || last == nil || !strings.Contains(last.Error(), "booking 1001") {
		t.Errorf("a place past the end: %d bookings, then %v", n, last)
	}
	for range s.BookingsAt(ctx, []int{1, 2, 3}) {
		break
	}
	if _, err := s.Versions(ctx); err != nil { // the store is free again
		t.Fatal(err)
	}
}

// TestBookingBriefs: the briefs of a run whose every booking has one are
// read in the bookings' order; a run where one lacks it keeps none, and
// the JSON is read in their place, as for bookings stored before briefs.
func TestBookingBriefs(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	readBriefs := func() []StoredBooking {
		t.Helper()
		var out []StoredBooking
		for b, err := range s.BookingBriefs(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	if got := readBriefs(); len(got) != 0 {
		t.Fatalf("a new case holds %d briefs", len(got))
	}
	withBriefs := func(bs []StoredBooking) []StoredBooking {
		for i := range bs {
			bs[i].Brief = fmt.Appendf(nil, `{"ref":%q}`, bs[i].Ref)
		}
		return bs
	}
	briefsOf := func(bs []StoredBooking) []StoredBooking {
		out := make([]StoredBooking, len(bs))
		for i, b := range bs {
			out[i] = StoredBooking{Ref: b.Ref, JSON: b.Brief}
		}
		return out
	}

	first := withBriefs(storedBookings("ACH", 1000)) // several statements
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, first); err != nil {
		t.Fatal(err)
	}
	sameBookings(t, readBriefs(), briefsOf(first))
	sameBookings(t, readBookings(t, s), first) // the JSON, as before

	// One booking without a brief: the run keeps none, and the last
	// run's are gone.
	second := withBriefs(storedBookings("NEW", 300))
	second[150].Brief = nil
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, second); err != nil {
		t.Fatal(err)
	}
	sameBookings(t, readBriefs(), second)

	third := withBriefs(storedBookings("THIRD", 3))
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, third); err != nil {
		t.Fatal(err)
	}
	sameBookings(t, readBriefs(), briefsOf(third))
	if _, err := s.ReplaceBookings(ctx, ReconcileRun{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := readBriefs(); len(got) != 0 {
		t.Fatalf("a run of no bookings leaves %d briefs", len(got))
	}
}
