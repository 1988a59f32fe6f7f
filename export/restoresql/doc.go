// Package restoresql writes the SQL that puts rebuilt bookings into the
// restored database, and checks bookings against that database first.
//
// # The file
//
// One file, for one dialect (PostgreSQL, MySQL/MariaDB or SQLite), that:
//
//   - only inserts: it holds no UPDATE, DELETE, DROP or TRUNCATE;
//   - runs in one transaction, so that it loads whole or not at all;
//   - skips every row whose key (the mapping's key columns) is already in its
//     table: a row that survived is never changed, and loading the file twice
//     changes nothing;
//   - encodes every value so that no text can break out of its literal,
//     whatever a customer typed: see Literal and the COPY encoding.
//
// Without a mapping the bookings go into a table of salvage's own,
// salvage_bookings (created if missing), with every booking field and its
// provenance. With a Mapping they go into the company's own tables.
//
// # How rows are skipped
//
// Each INSERT reads its rows from a SELECT and keeps those for which NOT
// EXISTS a row with the same key in the target table. This is the same in
// every dialect, needs no unique index, and matches what Check calls
// "present". Neither PostgreSQL's ON CONFLICT DO NOTHING nor MySQL's
// INSERT IGNORE is used: both would also swallow a conflict on another
// unique index (ON CONFLICT without a target) or, for INSERT IGNORE, turn
// errors such as a truncated value, a NULL in a NOT NULL column or a
// missing foreign key into warnings, and silently drop or alter the row.
// With NOT EXISTS any such error aborts the whole transaction, loudly, and
// the database is left as it was.
//
// # Ids
//
// A column with generate = "max+1" gets, in each statement, the largest id
// of its table plus the row's number among the rows that statement inserts
// (COALESCE((SELECT MAX(id) FROM t), 0) + ROW_NUMBER() OVER (...)), inside
// an INSERT ... SELECT, which every dialect accepts (MySQL refuses a
// sub-select on the target table in VALUES, not in INSERT ... SELECT).
// PostgreSQL locks the target tables against concurrent writers (SHARE ROW
// EXCLUSIVE, reads go on) for the length of the transaction; SQLite takes
// its write lock up front (BEGIN IMMEDIATE); on MySQL a concurrent insert can
// make the load fail on a duplicate key, and then nothing is loaded.
//
// # Per dialect
//
// PostgreSQL: the rows go into a temporary table typed like the target
// columns, with COPY ... FROM STDIN inside the file (psql reads the data from
// the file), then one INSERT ... SELECT per target table: that loads in
// about 1.5 times the time of a plain COPY, where multi-row INSERT
// statements take four to five times as long. psql must be run with
// ON_ERROR_STOP; without it, PostgreSQL still refuses every statement after
// an error and COMMIT rolls back.
//
// MySQL/MariaDB: multi-row INSERT ... SELECT statements in batches, after
// SET NAMES utf8mb4 and SET time_zone = '+00:00'. String literals never hold
// a backslash (text with one, or with a control character, is written as
// _utf8mb4 X'...'), so the file means the same with or without
// NO_BACKSLASH_ESCAPES. The client stops at the first error and the
// transaction is rolled back; never load it with --force. The tables must be
// transactional (InnoDB).
//
// SQLite: the same batches, after .bail on (the sqlite3 shell would
// otherwise go on after an error and commit the rest), in BEGIN IMMEDIATE.
package restoresql
