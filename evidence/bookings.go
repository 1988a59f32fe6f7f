package evidence

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// StoredBooking is one rebuilt booking as the case keeps it: its reference
// and its JSON, which the store treats as opaque bytes (the reconciler owns
// the shape).
type StoredBooking struct {
	Ref string
	// JSON is one booking, compact, without a trailing newline.
	JSON []byte
	// Brief, when given, is a JSON object of some of the booking's
	// fields, named and valued as in JSON: what a reader of every booking
	// that needs only those fields reads (BookingBriefs). The briefs of a
	// run are kept only when every booking has one.
	Brief []byte
}

// ReconcileRun is one reconcile run: when it ran, the window it used, how
// many bookings it rebuilt and the reconciler's summary as JSON.
type ReconcileRun struct {
	ID                    int64
	StartedAt, FinishedAt time.Time
	// Since and Until bound the loss window; zero is unbounded.
	Since, Until time.Time
	Bookings     int
	SummaryJSON  []byte
}

// insertChunk is how many bookings one INSERT statement carries: fewer
// statements to step through, well under SQLite's 32,766 parameters.
const insertChunk = 128

// ReplaceBookings stores the bookings of a reconcile run in place of the
// previous run's, and records the run, in one transaction: a reader sees
// the old set or the new, never a mix, and a failure (or a cancelled ctx)
// leaves the old set as it was. Bookings keep the order given. run.Bookings
// is set to len(bookings); a zero FinishedAt is now, a zero StartedAt is
// FinishedAt. It returns run with its ID.
func (s *Store) ReplaceBookings(ctx context.Context, run ReconcileRun, bookings []StoredBooking) (ReconcileRun, error) {
	for i, b := range bookings {
		if len(b.JSON) == 0 {
			return run, fmt.Errorf("store bookings: booking %d (%q) has no JSON", i, b.Ref)
		}
	}
	run.Bookings = len(bookings)
	if run.FinishedAt.IsZero() {
		run.FinishedAt = s.now()
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = run.FinishedAt
	}
	run.StartedAt, run.FinishedAt = run.StartedAt.UTC(), run.FinishedAt.UTC()
	run.Since, run.Until = utcOrZero(run.Since), utcOrZero(run.Until)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return run, fmt.Errorf("store bookings: %w", err)
	}
	defer tx.Rollback()
	// Without a WHERE clause SQLite drops the rows page by page instead of
	// one by one: fast even for a million bookings.
	if _, err := tx.ExecContext(ctx, `DELETE FROM bookings`); err != nil {
		return run, fmt.Errorf("store bookings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM booking_briefs`); err != nil {
		return run, fmt.Errorf("store bookings: %w", err)
	}
	if err := insertRows(ctx, tx, bookings, bookingInsert); err != nil {
		return run, fmt.Errorf("store bookings: %w", err)
	}
	briefs := len(bookings) > 0
	for _, b := range bookings {
		briefs = briefs && len(b.Brief) > 0
	}
	if briefs {
		if err := insertRows(ctx, tx, bookings, briefInsert); err != nil {
			return run, fmt.Errorf("store bookings: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO reconcile_runs(started_at, finished_at, since, until, bookings, summary) VALUES (?, ?, ?, ?, ?, ?)`,
		run.StartedAt.UnixNano(), run.FinishedAt.UnixNano(), nullTime(run.Since), nullTime(run.Until), run.Bookings, string(run.SummaryJSON))
	if err != nil {
		return run, fmt.Errorf("record reconcile run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return run, fmt.Errorf("record reconcile run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return run, fmt.Errorf("store bookings: %w", err)
	}
	run.ID = id
	return run, nil
}

// rowInsert is how a table of bookings is filled: the statement of n
// rows, and the columns after seq of one booking.
type rowInsert struct {
	sql  func(n int) string
	args func(args []any, b *StoredBooking) []any
}

var (
	bookingInsert = rowInsert{
		sql:  func(n int) string { return valuesSQL(`INSERT INTO bookings(seq, ref, json) VALUES `, "(?, ?, ?)", n) },
		args: func(args []any, b *StoredBooking) []any { return append(args, b.Ref, b.JSON) },
	}
	briefInsert = rowInsert{
		sql: func(n int) string {
			return valuesSQL(`INSERT INTO booking_briefs(seq, ref, brief) VALUES `, "(?, ?, ?)", n)
		},
		args: func(args []any, b *StoredBooking) []any { return append(args, b.Ref, b.Brief) },
	}
)

// insertRows inserts a row of in for each booking, with seq 1, 2, … in
// the order given, insertChunk rows per statement.
func insertRows(ctx context.Context, tx *sql.Tx, bookings []StoredBooking, in rowInsert) error {
	var full *sql.Stmt
	if len(bookings) >= insertChunk {
		var err error
		if full, err = tx.PrepareContext(ctx, in.sql(insertChunk)); err != nil {
			return err
		}
		defer full.Close()
	}
	args := make([]any, 0, 3*insertChunk)
	for start := 0; start < len(bookings); start += insertChunk {
		chunk := bookings[start:min(start+insertChunk, len(bookings))]
		args = args[:0]
		for i := range chunk {
			args = in.args(append(args, int64(start+i+1)), &chunk[i])
		}
		var err error
		if len(chunk) == insertChunk {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, in.sql(len(chunk)), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// valuesSQL is insert followed by n times row, comma separated.
func valuesSQL(insert, row string, n int) string {
	return insert + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// Bookings returns the bookings of the latest reconcile run, in the order
// they were stored; none if no run has stored any. The store's one
// connection is busy until the iteration ends.
func (s *Store) Bookings(ctx context.Context) iter.Seq2[StoredBooking, error] {
	return s.BookingsKept(ctx, nil)
}

// BookingsAt returns the bookings at indices (from 0, as Bookings counts
// them; in that order), each found by its place instead of reading every
// booking: for a few of many. A place without a booking (the bookings
// changed) ends the sequence with an error.
func (s *Store) BookingsAt(ctx context.Context, indices []int) iter.Seq2[StoredBooking, error] {
	return func(yield func(StoredBooking, error) bool) {
		if len(indices) == 0 {
			return
		}
		// Bookings are stored with seq 1, 2, … (insertBookings).
		list := make([]byte, 0, 8*len(indices))
		list = append(list, '[')
		for k, i := range indices {
			if k > 0 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, int64(i)+1, 10)
		}
		list = append(list, ']')
		stopped := false
		err := s.driverRows(ctx, `SELECT j.value, b.ref, b.json FROM json_each(?) AS j LEFT JOIN bookings AS b ON b.seq = j.value`, []any{string(list)},
			func(next func([]driver.Value) (bool, error)) error {
				v := make([]driver.Value, 3)
				for k := 0; ; k++ {
					ok, err := next(v)
					if err != nil {
						return err
					}
					if !ok {
						if k != len(indices) {
							return fmt.Errorf("%d bookings found of %d", k, len(indices))
						}
						return nil
					}
					if k >= len(indices) {
						return fmt.Errorf("more bookings found than the %d asked for", len(indices))
					}
					if seq, _ := v[0].(int64); seq != int64(indices[k])+1 {
						return fmt.Errorf("booking %d came where booking %d was asked for", seq, indices[k]+1)
					}
					b, err := storedBooking(v[1:])
					if err != nil {
						return fmt.Errorf("booking %d: %w", indices[k]+1, err)
					}
					if !yield(b, nil) {
						stopped = true
						return nil
					}
				}
			})
		if err != nil && !stopped {
			yield(StoredBooking{}, fmt.Errorf("read bookings: %w", err))
		}
	}
}

// storedBooking is a booking as the driver gives its reference and JSON.
func storedBooking(v []driver.Value) (StoredBooking, error) {
	ref, isText := v[0].(string)
	raw, isBlob := v[1].([]byte)
	if s, isStr := v[1].(string); isStr { // stored as text
		raw, isBlob = []byte(s), true
	}
	if v[0] == nil && v[1] == nil {
		return StoredBooking{}, errors.New("not there: the bookings changed")
	}
	if !isText || !isBlob {
		return StoredBooking{}, fmt.Errorf("%T, %T: not a reference and JSON", v[0], v[1])
	}
	return StoredBooking{Ref: ref, JSON: raw}, nil
}

// BookingBriefs returns the bookings of the latest reconcile run as
// Bookings does, each with its brief in place of its JSON (StoredBooking.
// Brief), or its JSON when the run stored no briefs (bookings stored
// before there were briefs): a reader decodes the fields of a brief from
// either.
func (s *Store) BookingBriefs(ctx context.Context) iter.Seq2[StoredBooking, error] {
	return func(yield func(StoredBooking, error) bool) {
		var briefs bool
		err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM booking_briefs)`).Scan(&briefs)
		if err != nil {
			yield(StoredBooking{}, fmt.Errorf("read bookings: %w", err))
			return
		}
		// A run stored between the two statements is read whole, by its
		// briefs: salvage reconcile stores them with every run.
		query := `SELECT ref, json FROM bookings ORDER BY seq`
		if briefs {
			query = `SELECT ref, brief FROM booking_briefs ORDER BY seq`
		}
		s.bookingRows(ctx, query, nil)(yield)
	}
}

// BookingsKept is Bookings, but the JSON of the i-th booking (from 0) is
// only handed over when keep(i) says so, nil otherwise: a reader of some
// of them (the review workbook reads them a part at a time) is not handed
// them all to let go of. For a few of many, BookingsAt reads less.
func (s *Store) BookingsKept(ctx context.Context, keep func(i int) bool) iter.Seq2[StoredBooking, error] {
	return s.bookingRows(ctx, `SELECT ref, json FROM bookings ORDER BY seq`, keep)
}

// bookingRows is the bookings query gives (a reference and JSON a row),
// the JSON of the i-th only when keep(i) says so (nil keeps all).
func (s *Store) bookingRows(ctx context.Context, query string, keep func(i int) bool) iter.Seq2[StoredBooking, error] {
	return func(yield func(StoredBooking, error) bool) {
		// At the driver's level: its copy of each booking's JSON is the
		// one handed over, not copied again (893 MB of 250,000
		// bookings, read twice by a workbook).
		stopped := false
		err := s.driverRows(ctx, query, nil, func(next func([]driver.Value) (bool, error)) error {
			v := make([]driver.Value, 2)
			for i := 0; ; i++ {
				ok, err := next(v)
				if err != nil || !ok {
					return err
				}
				b, err := storedBooking(v)
				if err != nil {
					return fmt.Errorf("booking %d: %w", i+1, err)
				}
				if keep != nil && !keep(i) {
					b.JSON = nil
				}
				if !yield(b, nil) {
					stopped = true
					return nil
				}
			}
		})
		if err != nil && !stopped {
			yield(StoredBooking{}, fmt.Errorf("read bookings: %w", err))
		}
	}
}

// LastReconcile returns the newest reconcile run, and false if the case has
// never been reconciled.
func (s *Store) LastReconcile(ctx context.Context) (ReconcileRun, bool, error) {
	var (
		run               ReconcileRun
		started, finished int64
		since, until      sql.NullInt64
		summary           string
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, started_at, finished_at, since, until, bookings, summary
		FROM reconcile_runs ORDER BY id DESC LIMIT 1`).Scan(&run.ID, &started, &finished, &since, &until, &run.Bookings, &summary)
	if errors.Is(err, sql.ErrNoRows) {
		return ReconcileRun{}, false, nil
	}
	if err != nil {
		return ReconcileRun{}, false, fmt.Errorf("read the last reconcile run: %w", err)
	}
	run.StartedAt = time.Unix(0, started).UTC()
	run.FinishedAt = time.Unix(0, finished).UTC()
	if since.Valid {
		run.Since = time.Unix(0, since.Int64).UTC()
	}
	if until.Valid {
		run.Until = time.Unix(0, until.Int64).UTC()
	}
	if summary != "" {
		run.SummaryJSON = []byte(summary)
	}
	return run, true, nil
}

// nullTime is t as unix nanoseconds, or NULL when t is zero.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}
