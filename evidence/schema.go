package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations build the case database, one schema version each. The case's
// version is SQLite's user_version: the number of migrations applied. Append
// only; never edit a migration that has been released.
var migrations = []string{
	// 1: evidence, jobs, checkpoints.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- One import run. Counts are kept in the same transaction as the records.
CREATE TABLE jobs (
	id          INTEGER PRIMARY KEY,
	importer    TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	args        TEXT    NOT NULL,            -- JSON array; never credentials
	status      TEXT    NOT NULL,            -- running, done, failed, interrupted
	started_at  INTEGER NOT NULL,            -- unix nanoseconds, UTC
	finished_at INTEGER,
	new         INTEGER NOT NULL DEFAULT 0,
	unchanged   INTEGER NOT NULL DEFAULT 0,
	new_version INTEGER NOT NULL DEFAULT 0,
	rejected    INTEGER NOT NULL DEFAULT 0,
	error       TEXT    NOT NULL DEFAULT '',
	pid         INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Every version of every record, never updated.
CREATE TABLE records (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL,
	version     INTEGER NOT NULL,
	source      TEXT    NOT NULL,
	via         TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	occurred_at INTEGER,                     -- unix nanoseconds, UTC; NULL if unknown
	zone        TEXT    NOT NULL,
	facts       TEXT    NOT NULL,            -- JSON
	digest      TEXT    NOT NULL,
	sha256      BLOB    NOT NULL,            -- of the raw bytes
	raw_pack    TEXT    NOT NULL,            -- where the raw bytes are: pack file under raw/,
	raw_off     INTEGER NOT NULL,            -- offset
	raw_len     INTEGER NOT NULL,            -- and length
	locator     TEXT    NOT NULL,
	job_id      INTEGER NOT NULL REFERENCES jobs(id),
	imported_at INTEGER NOT NULL,
	UNIQUE (id, version)
) STRICT;
CREATE INDEX records_source ON records(source);

-- The same version of a record seen through another channel (an email read
-- over IMAP after it came from an mbox). Its raw bytes are kept when they
-- differ from the record's; raw_pack is NULL when they are the same.
CREATE TABLE sightings (
	seq        INTEGER PRIMARY KEY,
	record_seq INTEGER NOT NULL REFERENCES records(seq),
	via        TEXT    NOT NULL,
	locator    TEXT    NOT NULL,
	sha256     BLOB    NOT NULL,
	raw_pack   TEXT,
	raw_off    INTEGER,
	raw_len    INTEGER,
	job_id     INTEGER NOT NULL REFERENCES jobs(id),
	seen_at    INTEGER NOT NULL,
	UNIQUE (record_seq, via)
) STRICT;

-- Input that could not become a record, kept with the reason.
CREATE TABLE rejected (
	seq         INTEGER PRIMARY KEY,
	source      TEXT    NOT NULL,
	via         TEXT    NOT NULL,
	locator     TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	sha256      BLOB    NOT NULL,
	raw_pack    TEXT    NOT NULL,
	raw_off     INTEGER NOT NULL,
	raw_len     INTEGER NOT NULL,
	job_id      INTEGER NOT NULL REFERENCES jobs(id),
	rejected_at INTEGER NOT NULL,
	UNIQUE (source, via, locator, sha256)
) STRICT;

-- Where an importer got to, per scope it names ("stripe/charges").
-- Written in the same transaction as the records before it.
CREATE TABLE checkpoints (
	key        TEXT    PRIMARY KEY,
	value      TEXT    NOT NULL,
	job_id     INTEGER NOT NULL REFERENCES jobs(id),
	updated_at INTEGER NOT NULL
) STRICT;
`,
	// 2: objects an import read and deliberately left out (a Stripe object of
	// the other mode), counted by reason.
	`
ALTER TABLE jobs ADD COLUMN ignored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN ignored_reasons TEXT NOT NULL DEFAULT '{}';  -- JSON {"reason": count}
`,
	// 3: the bookings of the latest reconcile run, and every run.
	`
-- One reconcile run. Kept for every run; the newest is the one whose
-- bookings the bookings table holds.
CREATE TABLE reconcile_runs (
	id          INTEGER PRIMARY KEY,
	started_at  INTEGER NOT NULL,            -- unix nanoseconds, UTC
	finished_at INTEGER NOT NULL,
	since       INTEGER,                     -- the window; NULL when unbounded
	until       INTEGER,
	bookings    INTEGER NOT NULL,
	summary     TEXT    NOT NULL             -- JSON, the reconciler's own
) STRICT;

-- The bookings of the newest run, in the reconciler's order, each as the
-- reconciler's JSON. Replaced as a whole by every run.
CREATE TABLE bookings (
	seq  INTEGER PRIMARY KEY,
	ref  TEXT    NOT NULL,
	json BLOB    NOT NULL
) STRICT;
`,
	// 4: the case's id, review decisions read back from the workbook, and
	// each booking's disposition against the restored database.
	`
-- The current review of each booking, by reference: kept across reconcile
-- runs (a reference is stable), replaced only by a changed review.
CREATE TABLE reviews (
	ref         TEXT    PRIMARY KEY,
	decision    TEXT    NOT NULL,            -- approve, reject, fix, or '' (none)
	notes       TEXT    NOT NULL,
	corrections TEXT    NOT NULL,            -- JSON {"field": "value"}
	decided_at  INTEGER NOT NULL,            -- unix nanoseconds, UTC
	workbook    TEXT    NOT NULL             -- SHA-256 of the workbook it came from
) STRICT;

-- Every review change ever imported, oldest first: the audit trail.
CREATE TABLE review_log (
	id          INTEGER PRIMARY KEY,
	ref         TEXT    NOT NULL,
	decision    TEXT    NOT NULL,
	notes       TEXT    NOT NULL,
	corrections TEXT    NOT NULL,
	decided_at  INTEGER NOT NULL,
	workbook    TEXT    NOT NULL
) STRICT;

-- Each booking against the restored database, from the newest check
-- (salvage export sql --against): new, present or differs.
CREATE TABLE dispositions (
	ref        TEXT    PRIMARY KEY,
	state      TEXT    NOT NULL,
	fields     TEXT    NOT NULL,             -- JSON array of the differing fields
	checked_at INTEGER NOT NULL,
	against    TEXT    NOT NULL              -- the database, without credentials
) STRICT;
`,
	// 5: what a person reads of a record, as the importer that decoded it
	// worked it out, in a table of its own. (Superseded by 6: kept so that
	// a case this version made still opens.)
	`
CREATE TABLE readable (
	record_seq INTEGER PRIMARY KEY REFERENCES records(seq),
	title      TEXT    NOT NULL,
	text       TEXT    NOT NULL
) STRICT;
`,
	// 6: what a person reads of a record (an email's subject, headers and
	// text) is kept in the pack right after its raw bytes, read like them
	// on every core: joining a table to every record read cost more than
	// decoding saved. Texts of the table of 5 are let go (they are derived:
	// the workbook decodes those emails again).
	`
DROP TABLE readable;
ALTER TABLE records ADD COLUMN readable_len INTEGER NOT NULL DEFAULT 0; -- bytes after the raw ones; 0: none
`,
	// 7: the title of what a person reads of a record (an email's
	// subject) in its row as well: a reader of every record's title and
	// of few texts (the review workbook) need not read the packs for
	// them. NULL where the record has none, and in rows stored before.
	`
ALTER TABLE records ADD COLUMN title TEXT;
`,
	// 8: each booking's brief (StoredBooking.Brief) in a table of its own:
	// a reader of every booking's reference, evidence and state (the
	// workbook's first pass, the timeline, status) reads a tenth of the
	// bytes. Empty for bookings stored before, and whenever a run stored
	// bookings without briefs: readers then read the JSON.
	`
CREATE TABLE booking_briefs (
	seq   INTEGER PRIMARY KEY,               -- the booking's seq in bookings
	ref   TEXT    NOT NULL,
	brief BLOB    NOT NULL                   -- JSON: some of the booking's fields, as its JSON has them
) STRICT;
`,
}

// SchemaVersion is the case schema this build writes.
var SchemaVersion = len(migrations)

// ErrNewerCase means the case was written by a newer salvage.
var ErrNewerCase = errors.New("case written by a newer salvage")

// migrate applies the migrations in steps that db has not had yet.
func migrate(ctx context.Context, db *sql.DB, steps []string) error {
	var have int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(steps) {
		return fmt.Errorf("%w: its schema is version %d, this salvage knows up to %d; use a newer salvage", ErrNewerCase, have, len(steps))
	}
	for v := have; v < len(steps); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate case to schema %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate case to schema %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate case to schema %d: %w", v+1, err)
		}
	}
	return nil
}
