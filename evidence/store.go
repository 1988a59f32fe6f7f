package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/salvagehq/salvage/internal/safefile"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// DBFile is the name of the case database inside the case directory.
const DBFile = "case.db"

const locksDir = "locks"

var (
	// ErrNoCase means the directory holds no case.
	ErrNoCase = errors.New("no case")
	// ErrCaseExists means init found a case already there.
	ErrCaseExists = errors.New("case already exists")
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives what the store has to say (stale jobs found, …).
	Log *slog.Logger
}

// Store is an open case: its directory, configuration and database. It is
// safe for concurrent use, and several processes may import into one case at
// once (SQLite serialises their transactions).
type Store struct {
	dir    string
	db     *sql.DB
	raw    *packReader
	config Config
	now    func() time.Time
	log    *slog.Logger

	// Warnings found when the case was opened (unknown config keys).
	Warnings []string
}

// Init creates a case in dir with cfg: the directory (0700, it holds personal
// data), its salvage.toml and its database (0600). It refuses a directory that
// already holds a case.
func Init(ctx context.Context, dir string, cfg Config, opts Options) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrCaseExists)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create case directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create case directory: %w", err)
	}
	b, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	if err := safefile.WriteFile(filepath.Join(dir, ConfigFile), b, 0o600, false); err != nil {
		return nil, fmt.Errorf("write case configuration: %w", err)
	}
	// Create the database file ourselves so it is 0600 whatever the umask;
	// SQLite gives its -wal and -shm files the mode of the database.
	f, err := os.OpenFile(filepath.Join(dir, DBFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create case database: %w", err)
	}
	f.Close()
	s, err := Open(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Format(time.RFC3339Nano)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('created_at', ?)`, now); err != nil {
		s.Close()
		return nil, fmt.Errorf("initialise case: %w", err)
	}
	if _, err := s.CaseID(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("initialise case: %w", err)
	}
	return s, nil
}

// Open opens the case in dir, migrating its schema forward if this build is
// newer. It returns ErrNoCase if dir holds no case and ErrNewerCase if the
// case was written by a newer salvage.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(abs, DBFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (create one with: salvage init)", abs, ErrNoCase)
	}
	cfg, warnings, err := LoadConfig(abs)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(dbPath))
	if err != nil {
		return nil, fmt.Errorf("open case database: %w", err)
	}
	// One connection: SQLite writes are serial anyway, and a single
	// connection keeps prepared statements and the WAL snapshot simple.
	db.SetMaxOpenConns(1)
	s := &Store{dir: abs, db: db, config: cfg, now: opts.Now, log: opts.Log, Warnings: warnings,
		raw: &packReader{dir: filepath.Join(abs, rawDir), files: map[string]*packFile{}}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := migrate(ctx, db, migrations); err != nil {
		db.Close()
		return nil, err
	}
	for _, d := range []string{locksDir, rawDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			db.Close()
			return nil, fmt.Errorf("open case: %w", err)
		}
	}
	if err := s.markStaleJobs(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func dsn(path string) string {
	q := url.Values{}
	q.Set("_pragma", "busy_timeout(30000)")
	// Only takes effect when the database is created, and must come before
	// journal_mode (the driver applies _pragma values first, the named keys
	// after). Evidence rows are raw messages of a few KB: larger pages mean
	// fewer WAL frames to write.
	q.Add("_pragma", "page_size(16384)")
	// Checkpoint the WAL into the database every 8000 pages (128 MiB)
	// rather than 1000: an index page changed by many batches is then
	// copied once instead of many times.
	q.Add("_pragma", "wal_autocheckpoint(8000)")
	// Read the database through a memory map (up to 64 GiB of address
	// space, not memory): scanning a million records in id order looks
	// rows up all over the table, and each page read was a system call.
	q.Add("_pragma", "mmap_size(68719476736)")
	q.Set("_journal_mode", "WAL")
	// FULL: a committed batch and its checkpoint survive a power cut, not
	// only a crash of the process.
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Dir returns the case directory (absolute).
func (s *Store) Dir() string { return s.dir }

// Config returns the case configuration as it was when the case was opened.
func (s *Store) Config() Config { return s.config }

// DB exposes the case database to the packages that keep their own tables in
// it (reconcile, review). Evidence tables must be treated as read-only.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the case database.
func (s *Store) Close() error {
	s.raw.close()
	return s.db.Close()
}

func (s *Store) nowNanos() int64 { return s.now().UTC().UnixNano() }
