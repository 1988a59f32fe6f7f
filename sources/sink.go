package sources

import (
	"context"
	"errors"
	"maps"
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
// the checkpoints saved after its records.
//
// A full batch is committed in the background while the importer fills the
// next one, so reading and writing overlap; batches are committed strictly
// in the order they were filled, so a checkpoint is never stored before the
// records it covers. If a commit fails, the batches after it are held back
// and Put returns the error; Flush tries them again, in order.
//
// It is safe for concurrent use.
type BatchSink struct {
	store *evidence.Store
	job   *evidence.Job
	opts  BatchOptions

	mu      sync.Mutex
	batch   evidence.Batch // being filled
	bytes   int
	first   time.Time         // when the oldest queued item arrived; zero if none
	pending map[string]string // the newest checkpoint saved under each key, committed or not
	counts  evidence.Counts   // committed so far
	ignored map[string]int64  // committed so far, by reason
	err     error             // the first failed commit
	held    []evidence.Batch  // batches not committed because of err, in order

	// sending serialises hand-offs. Each background commit waits for the
	// one before it, which keeps batches in order; inflight holds, oldest
	// first, the channels closed as they finish.
	sending  sync.Mutex
	inflight []chan struct{}
}

// queuedCommits is how many full batches may wait for or be in a commit
// while the importer fills the next: two smooths out batches that take
// longer to write than others to read.
const queuedCommits = 2

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
	// Validate, hash and encode here, in the importer's goroutine, so the
	// one committing does SQL only. A record that does not validate is
	// kept as rejected input.
	if err := r.Prepare(); err != nil {
		return s.Reject(ctx, evidence.Rejected{Source: r.Source, Via: r.Via, Locator: r.Locator, Reason: err.Error(), Raw: r.Raw})
	}
	s.mu.Lock()
	s.batch.Records = append(s.batch.Records, r)
	return s.queued(len(r.Raw))
}

// Reject implements Sink.
func (s *BatchSink) Reject(ctx context.Context, r evidence.Rejected) error {
	if !r.Source.Valid() {
		r.Source = s.job.Source
	}
	s.mu.Lock()
	s.batch.Rejected = append(s.batch.Rejected, r)
	return s.queued(len(r.Raw))
}

// Ignore implements Sink.
func (s *BatchSink) Ignore(ctx context.Context, reason string) error {
	s.mu.Lock()
	if s.batch.Ignored == nil {
		s.batch.Ignored = map[string]int64{}
	}
	s.batch.Ignored[reason]++
	return s.queued(0)
}

// SaveCheckpoint implements Sink.
func (s *BatchSink) SaveCheckpoint(ctx context.Context, key, value string) error {
	s.mu.Lock()
	s.batch.Checkpoints = append(s.batch.Checkpoints, evidence.Checkpoint{Key: key, Value: value})
	s.pending[key] = value
	return s.queued(0)
}

// queued is called with s.mu held, and releases it. It hands the batch off
// when a bound is reached.
func (s *BatchSink) queued(n int) error {
	s.bytes += n
	now := s.opts.Now()
	if s.first.IsZero() {
		s.first = now
	}
	full := s.batch.Len() >= s.opts.MaxRecords || s.bytes >= s.opts.MaxBytes || now.Sub(s.first) >= s.opts.MaxAge
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if full {
		return s.handOff()
	}
	return nil
}

// handOff starts committing the batch being filled, once the previous
// commit has finished.
func (s *BatchSink) handOff() error {
	s.sending.Lock()
	defer s.sending.Unlock()
	for len(s.inflight) >= queuedCommits {
		<-s.inflight[0]
		s.inflight = s.inflight[1:]
	}
	s.mu.Lock()
	b := s.batch
	s.batch = evidence.Batch{}
	s.bytes, s.first = 0, time.Time{}
	err := s.err
	if err != nil && b.Len()+len(b.Checkpoints) > 0 {
		s.held = append(s.held, b)
	}
	s.mu.Unlock()
	if err != nil || b.Len()+len(b.Checkpoints) == 0 {
		return err
	}
	var prev chan struct{}
	if n := len(s.inflight); n > 0 {
		prev = s.inflight[n-1]
	}
	done := make(chan struct{})
	s.inflight = append(s.inflight, done)
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		s.mu.Lock()
		failed := s.err != nil
		s.mu.Unlock()
		if failed { // an earlier batch failed: this one waits for Flush
			s.committed(b, evidence.Counts{}, errHeld)
			return
		}
		// Commits outlive the import's context: what was read completely
		// is stored even after Ctrl-C.
		c, err := s.store.Commit(context.Background(), s.job, b)
		s.committed(b, c, err)
	}()
	return nil
}

// committed records the outcome of one commit.
func (s *BatchSink) committed(b evidence.Batch, c evidence.Counts, err error) {
	s.mu.Lock()
	if err != nil {
		if s.err == nil && err != errHeld {
			s.err = err
		}
		s.held = append(s.held, b)
		s.mu.Unlock()
		return
	}
	s.add(b, c)
	s.mu.Unlock()
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(c)
	}
}

// add counts a committed batch; s.mu is held.
func (s *BatchSink) add(b evidence.Batch, c evidence.Counts) {
	s.counts = s.counts.Add(c)
	for r, n := range b.Ignored {
		if s.ignored == nil {
			s.ignored = map[string]int64{}
		}
		s.ignored[r] += n
	}
}

// errHeld marks a batch not tried because an earlier one failed.
var errHeld = errors.New("held back after a failed commit")

// wait waits for every background commit.
func (s *BatchSink) wait() {
	s.sending.Lock()
	defer s.sending.Unlock()
	for _, c := range s.inflight {
		<-c
	}
	s.inflight = nil
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

// Flush commits everything queued and waits for it. Call it when the
// importer returns, with a context that is not cancelled, so that an
// interrupted import keeps everything it read completely. Batches held back
// by a failed commit are tried again, in order.
func (s *BatchSink) Flush(ctx context.Context) error {
	s.handOff()
	s.wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 {
		b := s.held[0]
		c, err := s.store.Commit(ctx, s.job, b)
		if err != nil {
			return err
		}
		s.held = s.held[1:]
		s.add(b, c)
	}
	s.err = nil
	return nil
}

// IgnoredReasons returns the committed ignored counts by reason.
func (s *BatchSink) IgnoredReasons() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ignored)
}

// Counts returns what has been committed so far.
func (s *BatchSink) Counts() evidence.Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}
