package evidence

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// JobStatus is where an import job stands.
type JobStatus string

// Job statuses. A job whose process died is found "running" with nobody
// holding its lock, and is marked "interrupted" by the next process to open
// the case; running the same import again resumes from its checkpoints.
const (
	JobRunning     JobStatus = "running"
	JobDone        JobStatus = "done"
	JobFailed      JobStatus = "failed"
	JobInterrupted JobStatus = "interrupted"
)

// Counts is what an import did with what it read.
type Counts struct {
	// New records: ids never seen before.
	New int64 `json:"new"`
	// Unchanged: the same id and content as already stored (nothing written,
	// except a sighting when it came through a new channel).
	Unchanged int64 `json:"unchanged"`
	// NewVersion: a known id with changed content, stored beside the old.
	NewVersion int64 `json:"new_version"`
	// Rejected: input that could not become a record, kept with its reason.
	Rejected int64 `json:"rejected"`
	// Ignored: objects read and deliberately not stored (a test-mode object
	// in a live import), by reason.
	Ignored int64 `json:"ignored"`
}

// Add returns c + d.
func (c Counts) Add(d Counts) Counts {
	return Counts{New: c.New + d.New, Unchanged: c.Unchanged + d.Unchanged,
		NewVersion: c.NewVersion + d.NewVersion, Rejected: c.Rejected + d.Rejected, Ignored: c.Ignored + d.Ignored}
}

// Total is the number of inputs counted.
func (c Counts) Total() int64 { return c.New + c.Unchanged + c.NewVersion + c.Rejected + c.Ignored }

// Job is one import run.
type Job struct {
	ID         int64
	Importer   string
	Source     Source
	Args       []string
	Status     JobStatus
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	Counts     Counts
	// IgnoredReasons counts Counts.Ignored by reason.
	IgnoredReasons map[string]int64
	Error          string

	lock *os.File
	pack *packWriter // the job's raw bytes, opened by its first commit
}

var errLocked = errors.New("locked")

func (s *Store) lockPath(id int64) string {
	return filepath.Join(s.dir, locksDir, "job-"+strconv.FormatInt(id, 10)+".lock")
}

// StartJob records the start of an import by importer into source with the
// given arguments (flags and paths: never credentials). The job holds a lock
// for as long as its process lives; FinishJob releases it.
func (s *Store) StartJob(ctx context.Context, importer string, source Source, args []string) (*Job, error) {
	if !source.Valid() {
		return nil, fmt.Errorf("start job: unknown source %q", source)
	}
	if args == nil {
		args = []string{}
	}
	argsJSON, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	job := &Job{Importer: importer, Source: source, Args: args, Status: JobRunning, StartedAt: s.now().UTC()}
	// The row and the lock are taken inside one write transaction, so no
	// other process can see the job running and unlocked.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO jobs(importer, source, args, status, started_at, pid) VALUES (?, ?, ?, ?, ?, ?)`,
		importer, string(source), string(argsJSON), string(JobRunning), job.StartedAt.UnixNano(), os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if job.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if job.lock, err = tryLock(s.lockPath(job.ID)); err != nil {
		return nil, fmt.Errorf("lock job %d: %w", job.ID, err)
	}
	if err := tx.Commit(); err != nil {
		s.unlock(job)
		return nil, fmt.Errorf("start job: %w", err)
	}
	return job, nil
}

// FinishJob records how job ended: JobDone, JobFailed or JobInterrupted, with
// the error message if any. Its counts are already stored by Commit.
func (s *Store) FinishJob(ctx context.Context, job *Job, status JobStatus, cause error) error {
	if status == JobRunning {
		return errors.New("finish job: status running")
	}
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	finished := s.now().UTC()
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE id = ?`,
		string(status), finished.UnixNano(), msg, job.ID)
	if err != nil {
		return fmt.Errorf("finish job %d: %w", job.ID, err)
	}
	job.Status, job.FinishedAt, job.Error = status, finished, msg
	s.unlock(job)
	return nil
}

func (s *Store) unlock(job *Job) {
	if job.pack != nil {
		job.pack.close()
		job.pack = nil
	}
	if job.lock != nil {
		os.Remove(job.lock.Name())
		job.lock.Close()
		job.lock = nil
	}
}

// markStaleJobs finds jobs left "running" by a process that died and marks
// them interrupted.
func (s *Store) markStaleJobs(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("check stale jobs: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM jobs WHERE status = ?`, string(JobRunning))
	if err != nil {
		return fmt.Errorf("check stale jobs: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var stale []*os.File
	defer func() {
		for _, f := range stale {
			os.Remove(f.Name())
			f.Close()
		}
	}()
	for _, id := range ids {
		f, err := tryLock(s.lockPath(id))
		if errors.Is(err, errLocked) {
			continue // its process is alive
		}
		if err != nil {
			return fmt.Errorf("check job %d: %w", id, err)
		}
		stale = append(stale, f)
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = ?, finished_at = ?, error = ? WHERE id = ?`,
			string(JobInterrupted), s.nowNanos(), "the import stopped before finishing (its process ended); run it again to resume", id)
		if err != nil {
			return fmt.Errorf("mark job %d interrupted: %w", id, err)
		}
		s.log.Info("found an interrupted import", "job", id)
	}
	if len(stale) == 0 {
		return nil
	}
	return tx.Commit()
}

// Jobs returns every job, oldest first.
func (s *Store) Jobs(ctx context.Context) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, importer, source, args, status, started_at, finished_at,
		new, unchanged, new_version, rejected, ignored, ignored_reasons, error FROM jobs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		var args, reasons string
		var started int64
		var finished sql.NullInt64
		if err := rows.Scan(&j.ID, &j.Importer, &j.Source, &args, &j.Status, &started, &finished,
			&j.Counts.New, &j.Counts.Unchanged, &j.Counts.NewVersion, &j.Counts.Rejected, &j.Counts.Ignored, &reasons, &j.Error); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		if err := json.Unmarshal([]byte(args), &j.Args); err != nil {
			return nil, fmt.Errorf("job %d args: %w", j.ID, err)
		}
		if err := json.Unmarshal([]byte(reasons), &j.IgnoredReasons); err != nil {
			return nil, fmt.Errorf("job %d ignored reasons: %w", j.ID, err)
		}
		j.StartedAt = time.Unix(0, started).UTC()
		if finished.Valid {
			j.FinishedAt = time.Unix(0, finished.Int64).UTC()
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// Checkpoint returns the value last saved under key, and whether there was
// one.
func (s *Store) Checkpoint(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM checkpoints WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read checkpoint %s: %w", key, err)
	}
	return v, true, nil
}
