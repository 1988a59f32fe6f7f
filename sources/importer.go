// Package sources is what every importer shares: the Importer contract, the
// Sink it writes evidence to, and the read-only guard that every request to a
// surviving system goes through.
//
// One folder below this one per kind of system (sources/stripe,
// sources/calendar, sources/mail, sources/transcript); sources/all lists
// them. Importers know nothing of reconciling or exporting.
package sources

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/spf13/pflag"
)

// Importer reads one kind of surviving system into a case. An Importer value
// is used for one run: Flags, then Import.
//
// The contract every implementation keeps:
//
//   - Read-only: it never changes what it reads. HTTP goes through
//     ReadOnlyClient, mailboxes are opened read-only, files are opened for
//     reading only.
//   - Idempotent: importing the same objects again stores nothing new; the
//     store turns repeats into no-ops and changed objects into new versions,
//     so an importer may re-read freely (for example a few minutes before its
//     checkpoint).
//   - Resumable: it reads its checkpoints from the Sink at the start and saves
//     them as it goes, after the records they cover. An import interrupted at
//     any point and run again continues where the last commit left it.
//   - Tolerant: input it cannot understand goes to Sink.Reject with a reason,
//     and the import goes on. Import returns an error only when it cannot go
//     on (the source refuses the credentials, the network is gone…).
//   - Cancellable: when ctx is cancelled it returns ctx.Err() promptly; what
//     it already Put is committed by the caller.
//   - Credentials come only from Run.Getenv (or a file named by a flag), are
//     never written to a record, a log line or an error.
type Importer interface {
	// Name is the subcommand: salvage import <Name>.
	Name() string
	// Source is the system the records belong to.
	Source() evidence.Source
	// Help describes the subcommand for --help.
	Help() Help
	// Flags declares the importer's options on fs.
	Flags(fs *pflag.FlagSet)
	// Import reads the source and writes what it finds to run.Sink.
	Import(ctx context.Context, run *Run) error
}

// Inspector is an importer that can also answer a question about its source
// without importing anything: which calendars a key may read, which
// mailboxes an account has. When Inspecting reports true (a flag such as
// --list-calendars was given), the command line calls Inspect instead of
// Import and records no job. Inspect is read-only like Import.
type Inspector interface {
	Inspecting() bool
	Inspect(ctx context.Context, run *Run, out io.Writer) error
}

// Checker is an importer that can check its flags, arguments and
// credentials before anything is read. The command line calls Check before
// it records a job, so a command line that could never work (no key, a
// path that does not exist, --plain to a remote server) leaves no failed
// job behind. Import still checks what it uses: Check is a courtesy, not a
// guard. Check neither reads the source nor writes the case.
type Checker interface {
	Check(run *Run) error
}

// Help is what --help says about an importer.
type Help struct {
	// Args is the usage of the positional arguments ("FILE|DIR...").
	Args string
	// Short is one line; Long says what it reads, how to authenticate and
	// what it needs. Example is a few command lines.
	Short, Long, Example string
	// MinArgs is the number of positional arguments required.
	MinArgs int
}

// Run is everything an importer gets for one import.
type Run struct {
	// Args are the positional arguments (paths, URLs).
	Args []string
	// Config is the case configuration.
	Config evidence.Config
	// Sink receives the evidence.
	Sink Sink
	// Log is for what the user should know (skipped objects, retries).
	Log *slog.Logger
	// Progress shows how far the import is.
	Progress Progress
	// Getenv reads the environment; credentials come from here only.
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
}

// Sink receives what an importer reads. Implementations batch records and
// commit them with the checkpoints saved after them in one transaction.
type Sink interface {
	// Put queues a record. A record that fails evidence.Record.Validate is
	// turned into a rejected input with the validation error as reason.
	Put(ctx context.Context, r evidence.Record) error
	// Reject queues input that could not become a record.
	Reject(ctx context.Context, r evidence.Rejected) error
	// Ignore counts an object read and deliberately not stored, with a short
	// reason that groups such objects ("test-mode object in a live import").
	Ignore(ctx context.Context, reason string) error
	// SaveCheckpoint records that everything before this point has been Put.
	// It is committed together with those records, never before them.
	SaveCheckpoint(ctx context.Context, key, value string) error
	// Checkpoint returns the newest value saved under key (in this run or an
	// earlier one) and whether there is one.
	Checkpoint(ctx context.Context, key string) (string, bool, error)
}

// Progress shows an import's progress. Bars are created as the importer
// discovers its work (one per object type, mailbox or file).
type Progress interface {
	// Bar starts a bar named name for total units (0 when unknown).
	Bar(name string, total int64) Bar
}

// Bar is one line of progress.
type Bar interface {
	// SetTotal changes the expected total (0 when unknown).
	SetTotal(total int64)
	// Add reports n more units done.
	Add(n int64)
	// Done marks the bar finished.
	Done()
}

// NoProgress discards progress.
var NoProgress Progress = noProgress{}

type noProgress struct{}

func (noProgress) Bar(string, int64) Bar { return noBar{} }

type noBar struct{}

func (noBar) SetTotal(int64) {}
func (noBar) Add(int64)      {}
func (noBar) Done()          {}

// ErrUsage marks an error in how the importer was called (a missing argument,
// conflicting flags). The command line reports it with exit code 2.
var ErrUsage = errors.New("usage")
