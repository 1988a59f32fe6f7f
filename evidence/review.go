package evidence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// CaseID returns the case's random identifier, which every workbook it
// writes carries so that a review is never read into another case. A case
// created before ids existed gets one on first use.
func (s *Store) CaseID(ctx context.Context) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("case id: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta(key, value) VALUES ('case_id', ?)`, hex.EncodeToString(b[:])); err != nil {
		return "", fmt.Errorf("case id: %w", err)
	}
	var id string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'case_id'`).Scan(&id); err != nil {
		return "", fmt.Errorf("case id: %w", err)
	}
	return id, nil
}

// Review decisions a reviewer can give a booking.
const (
	Approve = "approve"
	Reject  = "reject"
	Fix     = "fix"
)

// Decisions are the review decisions, in the order the workbook lists them.
var Decisions = []string{Approve, Reject, Fix}

// CorrectableFields are the booking fields a reviewer may correct, as
// Review.Corrections names them.
var CorrectableFields = []string{"customer.name", "customer.email", "customer.phone", "item", "start", "end", "amount_minor"}

// Review is a person's decision on one booking, read from the workbook.
type Review struct {
	Ref string
	// Decision is Approve, Reject, Fix or empty (not decided yet).
	Decision string
	Notes    string
	// Corrections maps a field of CorrectableFields to the value the
	// reviewer typed in place of salvage's: text as typed, "start" and
	// "end" in RFC 3339 UTC, "amount_minor" an integer in minor units.
	Corrections map[string]string
	// DecidedAt is when the review was imported; Workbook the SHA-256 (hex)
	// of the file it came from.
	DecidedAt time.Time
	Workbook  string
}

// Empty reports whether r says nothing: no decision, notes or correction.
func (r Review) Empty() bool {
	return r.Decision == "" && r.Notes == "" && len(r.Corrections) == 0
}

// same reports whether r and o say the same thing, whenever and from
// whichever workbook they were read.
func (r Review) same(o Review) bool {
	return r.Decision == o.Decision && r.Notes == o.Notes && maps.Equal(r.Corrections, o.Corrections)
}

// Reviews returns the current review of every booking that has one, by
// reference.
func (s *Store) Reviews(ctx context.Context) (map[string]Review, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ref, decision, notes, corrections, decided_at, workbook FROM reviews`)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	defer rows.Close()
	out := map[string]Review{}
	for rows.Next() {
		var (
			r           Review
			corrections string
			at          int64
		)
		if err := rows.Scan(&r.Ref, &r.Decision, &r.Notes, &corrections, &at, &r.Workbook); err != nil {
			return nil, fmt.Errorf("read reviews: %w", err)
		}
		if err := json.Unmarshal([]byte(corrections), &r.Corrections); err != nil {
			return nil, fmt.Errorf("read review of %s: %w", r.Ref, err)
		}
		if len(r.Corrections) == 0 {
			r.Corrections = nil
		}
		r.DecidedAt = time.Unix(0, at).UTC()
		out[r.Ref] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	return out, nil
}

// ApplyReviews stores the reviews that differ from the booking's current
// one, each with its time in the audit log, in one transaction, and returns
// the references that changed, sorted. A review equal to the current one
// (or an empty review of a booking that has none) changes nothing, so
// importing the same workbook twice is harmless.
func (s *Store) ApplyReviews(ctx context.Context, reviews []Review) ([]string, error) {
	current, err := s.Reviews(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store reviews: %w", err)
	}
	defer tx.Rollback()
	var changed []string
	for _, r := range reviews {
		if cur, ok := current[r.Ref]; (ok && cur.same(r)) || (!ok && r.Empty()) {
			continue
		}
		if r.DecidedAt.IsZero() {
			r.DecidedAt = s.now()
		}
		corrections, err := json.Marshal(r.Corrections)
		if err != nil {
			return nil, fmt.Errorf("store review of %s: %w", r.Ref, err)
		}
		if r.Corrections == nil {
			corrections = []byte("{}")
		}
		args := []any{r.Ref, r.Decision, r.Notes, string(corrections), r.DecidedAt.UTC().UnixNano(), r.Workbook}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reviews(ref, decision, notes, corrections, decided_at, workbook) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(ref) DO UPDATE SET decision = excluded.decision, notes = excluded.notes, corrections = excluded.corrections,
			decided_at = excluded.decided_at, workbook = excluded.workbook`, args...); err != nil {
			return nil, fmt.Errorf("store review of %s: %w", r.Ref, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO review_log(ref, decision, notes, corrections, decided_at, workbook) VALUES (?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return nil, fmt.Errorf("log review of %s: %w", r.Ref, err)
		}
		current[r.Ref] = r
		changed = append(changed, r.Ref)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store reviews: %w", err)
	}
	slices.Sort(changed)
	return changed, nil
}

// Disposition states: how a booking stands against the restored database.
const (
	DispositionNew     = "new"
	DispositionPresent = "present"
	DispositionDiffers = "differs"
)

// Disposition is one booking checked against the restored database.
type Disposition struct {
	Ref string
	// State is DispositionNew, DispositionPresent or DispositionDiffers.
	State string
	// Fields names the booking fields whose values differ from the
	// database's (only for DispositionDiffers), sorted.
	Fields    []string
	CheckedAt time.Time
	// Against names the database checked, without credentials.
	Against string
}

// ReplaceDispositions stores the result of one check against the restored
// database in place of the previous check's, in one transaction.
func (s *Store) ReplaceDispositions(ctx context.Context, ds []Disposition) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store dispositions: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM dispositions`); err != nil {
		return fmt.Errorf("store dispositions: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO dispositions(ref, state, fields, checked_at, against) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store dispositions: %w", err)
	}
	defer stmt.Close()
	for _, d := range ds {
		switch d.State {
		case DispositionNew, DispositionPresent, DispositionDiffers:
		default:
			return fmt.Errorf("store dispositions: %s: unknown state %q", d.Ref, d.State)
		}
		fields := d.Fields
		if fields == nil {
			fields = []string{}
		}
		fj, _ := json.Marshal(fields)
		at := d.CheckedAt
		if at.IsZero() {
			at = s.now()
		}
		if _, err := stmt.ExecContext(ctx, d.Ref, d.State, string(fj), at.UTC().UnixNano(), d.Against); err != nil {
			return fmt.Errorf("store disposition of %s: %w", d.Ref, err)
		}
	}
	return tx.Commit()
}

// Dispositions returns the newest check of every booking, by reference;
// empty if the case was never checked against a database.
func (s *Store) Dispositions(ctx context.Context) (map[string]Disposition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ref, state, fields, checked_at, against FROM dispositions`)
	if err != nil {
		return nil, fmt.Errorf("read dispositions: %w", err)
	}
	defer rows.Close()
	out := map[string]Disposition{}
	for rows.Next() {
		var (
			d      Disposition
			fields string
			at     int64
		)
		if err := rows.Scan(&d.Ref, &d.State, &fields, &at, &d.Against); err != nil {
			return nil, fmt.Errorf("read dispositions: %w", err)
		}
		if err := json.Unmarshal([]byte(fields), &d.Fields); err != nil {
			return nil, fmt.Errorf("read disposition of %s: %w", d.Ref, err)
		}
		if len(d.Fields) == 0 {
			d.Fields = nil
		}
		d.CheckedAt = time.Unix(0, at).UTC()
		out[d.Ref] = d
	}
	return out, rows.Err()
}
