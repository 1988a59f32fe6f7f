package sources

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

func newCase(t testing.TB) *evidence.Store {
	t.Helper()
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), evidence.DefaultConfig(), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mailRecord(i int) evidence.Record {
	return evidence.Record{
		ID: fmt.Sprintf("mail:<%d@test.example>", i), Source: evidence.Mail, Via: "mbox", Kind: "email",
		Raw: []byte(fmt.Sprintf("Message-ID: <%d@test.example>\n\nbody %d\n", i, i)), Locator: fmt.Sprintf("test.mbox:%d", i),
	}
}

func countRecords(t testing.TB, s *evidence.Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM records`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBatchSinkCommitsInBatches(t *testing.T) {
	store := newCase(t)
	ctx := context.Background()
	job, _ := store.StartJob(ctx, "test", evidence.Mail, nil)
	var commits []evidence.Counts
	sink := NewBatchSink(store, job, BatchOptions{MaxRecords: 3, MaxAge: time.Hour,
		OnCommit: func(c evidence.Counts) { commits = append(commits, c) }})

	for i := range 7 {
		if err := sink.Put(ctx, mailRecord(i)); err != nil {
			t.Fatal(err)
		}
		if err := sink.SaveCheckpoint(ctx, "test.mbox", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	sink.wait()
	if got := countRecords(t, store); got != 6 {
		t.Errorf("%d records committed before Flush, want 6 (two full batches)", got)
	}
	// The store has the checkpoint of the last committed batch; the sink
	// answers with the newest one it holds.
	if v, _, _ := store.Checkpoint(ctx, "test.mbox"); v != "4" {
		t.Errorf("stored checkpoint %q, want 4 (saved after record 4, committed with record 5)", v)
	}
	if v, _, _ := sink.Checkpoint(ctx, "test.mbox"); v != "6" {
		t.Errorf("sink checkpoint %q, want 6", v)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := store.Checkpoint(ctx, "test.mbox"); v != "6" {
		t.Errorf("stored checkpoint after flush %q, want 6", v)
	}
	if got := sink.Counts(); got != (evidence.Counts{New: 7}) {
		t.Errorf("counts %+v", got)
	}
	if len(commits) != 3 {
		t.Errorf("%d commits, want 3", len(commits))
	}
}

func TestBatchSinkCommitsOldInput(t *testing.T) {
	store := newCase(t)
	ctx := context.Background()
	job, _ := store.StartJob(ctx, "test", evidence.Mail, nil)
	now := time.Date(2026, 11, 19, 9, 0, 0, 0, time.UTC)
	sink := NewBatchSink(store, job, BatchOptions{MaxAge: 2 * time.Second, Now: func() time.Time { return now }})
	sink.Put(ctx, mailRecord(1))
	now = now.Add(time.Second)
	sink.Put(ctx, mailRecord(2))
	sink.wait()
	if got := countRecords(t, store); got != 0 {
		t.Fatalf("committed after 1 s: %d", got)
	}
	now = now.Add(time.Second)
	sink.Put(ctx, mailRecord(3))
	sink.wait()
	if got := countRecords(t, store); got != 3 {
		t.Errorf("%d records committed once the oldest waited 2 s, want 3", got)
	}
}

func TestBatchSinkRejectsInvalidRecords(t *testing.T) {
	store := newCase(t)
	ctx := context.Background()
	job, _ := store.StartJob(ctx, "test", evidence.Mail, nil)
	sink := NewBatchSink(store, job, BatchOptions{})
	bad := mailRecord(1)
	bad.ID = "no scheme"
	if err := sink.Put(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rej, err := store.RejectedInputs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].Locator != "test.mbox:1" || string(rej[0].Raw) != string(bad.Raw) || rej[0].Reason == "" {
		t.Errorf("rejected = %+v", rej)
	}
	if sink.Counts().Rejected != 1 {
		t.Errorf("counts %+v", sink.Counts())
	}
}

func TestBatchSinkConcurrentPuts(t *testing.T) {
	store := newCase(t)
	ctx := context.Background()
	job, _ := store.StartJob(ctx, "test", evidence.Mail, nil)
	sink := NewBatchSink(store, job, BatchOptions{MaxRecords: 50})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				n := w*1000 + i
				if err := sink.Put(ctx, mailRecord(n)); err != nil {
					t.Error(err)
					return
				}
				sink.SaveCheckpoint(ctx, fmt.Sprint("worker", w), fmt.Sprint(n))
			}
		}()
	}
	wg.Wait()
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRecords(t, store); got != 1000 {
		t.Errorf("%d records, want 1000", got)
	}
	for w := range 4 {
		if v, _, _ := store.Checkpoint(ctx, fmt.Sprint("worker", w)); v != fmt.Sprint(w*1000+249) {
			t.Errorf("worker %d checkpoint %q", w, v)
		}
	}
}

func TestBatchSinkCountsIgnored(t *testing.T) {
	store := newCase(t)
	ctx := context.Background()
	job, _ := store.StartJob(ctx, "test", evidence.Stripe, nil)
	sink := NewBatchSink(store, job, BatchOptions{MaxRecords: 2})
	for _, r := range []string{"test mode", "test mode", "test mode", "deleted"} {
		if err := sink.Ignore(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	jobs, _ := store.Jobs(ctx)
	if jobs[0].Counts.Ignored != 4 || jobs[0].IgnoredReasons["test mode"] != 3 || jobs[0].IgnoredReasons["deleted"] != 1 {
		t.Errorf("job %+v", jobs[0])
	}
	if sink.Counts().Ignored != 4 {
		t.Errorf("sink counts %+v", sink.Counts())
	}
}
