package sources

import (
	"context"
	"sync"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// BatchOptions bound a BatchSink's batches. A batch is committed when any
// bound is reached.
type BatchOptions struct {
	// MaxRecords is the number of inputs per batch (default 1000).
	MaxRecords int
	// MaxBytes is the raw bytes per batch (default 16 MiB).
	MaxBytes int
	// MaxAge is how long an input may wait before it is committed (default
	// 2 s), so a slow source still commits often and an interruption loses
	// little work.
	MaxAge time.Duration
	// OnCommit, if set, is called after each commit with what it stored.
	OnCommit func(evidence.Counts)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// BatchSink is the Sink every import runs with: it queues what the importer
// Puts and commits it to the store in batches, each in one transaction with
// the checkpoints saved after its records. It is safe for concurrent use.
type BatchSink struct {
	store *evidence.Store
	job   *evidence.Job
	opts  BatchOptions

	mu      sync.Mutex
	batch   evidence.Batch
	bytes   int
	first   time.Time         // when the oldest queued item arrived; zero if none
	pending map[string]string // checkpoints queued with the batch
	counts  evidence.Counts   // committed so far
}

var _ Sink = (*BatchSink)(nil)

// NewBatchSink returns a sink that commits into store for job.
func NewBatchSink(store *evidence.Store, job *evidence.Job, opts BatchOptions) *BatchSink {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 1000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 16 << 20
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &BatchSink{store: store, job: job, opts: opts, pending: map[string]string{}}
}

// Put implements Sink.
func (s *BatchSink) Put(ctx context.Context, r evidence.Record) error {
	if err := r.Validate(); err != nil {
		return s.Reject(ctx, evidence.Rejected{Source: r.Source, Via: r.Via, Locator: r.Locator, Reason: err.Error(), Raw: r.Raw})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Records = append(s.batch.Records, r)
	return s.queued(ctx, len(r.Raw))
}

// Reject implements Sink.
func (s *BatchSink) Reject(ctx context.Context, r evidence.Rejected) error {
	if !r.Source.Valid() {
		r.Source = s.job.Source
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Rejected = append(s.batch.Rejected, r)
	return s.queued(ctx, len(r.Raw))
}

func (s *BatchSink) queued(ctx context.Context, n int) error {
	s.bytes += n
	if s.batch.Len() >= s.opts.MaxRecords || s.bytes >= s.opts.MaxBytes {
		return s.flush(ctx)
	}
	return s.flushIfOld(ctx)
}

// flushIfOld commits when the oldest queued item has waited MaxAge.
func (s *BatchSink) flushIfOld(ctx context.Context) error {
	now := s.opts.Now()
	if s.first.IsZero() {
		s.first = now
	}
	if now.Sub(s.first) >= s.opts.MaxAge {
		return s.flush(ctx)
	}
	return nil
}

// SaveCheckpoint implements Sink.
func (s *BatchSink) SaveCheckpoint(ctx context.Context, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch.Checkpoints = append(s.batch.Checkpoints, evidence.Checkpoint{Key: key, Value: value})
	s.pending[key] = value
	return s.flushIfOld(ctx)
}

// Checkpoint implements Sink.
func (s *BatchSink) Checkpoint(ctx context.Context, key string) (string, bool, error) {
	s.mu.Lock()
	v, ok := s.pending[key]
	s.mu.Unlock()
	if ok {
		return v, true, nil
	}
	return s.store.Checkpoint(ctx, key)
}

// Flush commits whatever is queued. Call it when the importer returns,
// with a context that is not cancelled, so that an interrupted import keeps
// everything it read completely.
func (s *BatchSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flush(ctx)
}

func (s *BatchSink) flush(ctx context.Context) error {
	if s.batch.Len() == 0 && len(s.batch.Checkpoints) == 0 {
		return nil
	}
	c, err := s.store.Commit(ctx, s.job, s.batch)
	if err != nil {
		return err // the batch stays queued for the next attempt
	}
	s.counts = s.counts.Add(c)
	clear(s.batch.Records) // let the raw bytes go
	clear(s.batch.Rejected)
	s.batch = evidence.Batch{Records: s.batch.Records[:0], Rejected: s.batch.Rejected[:0]}
	s.bytes = 0
	s.first = time.Time{}
	clear(s.pending)
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(c)
	}
	return nil
}

// Counts returns what has been committed so far.
func (s *BatchSink) Counts() evidence.Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}
