package evidence

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
)

// Mismatch is stored bytes that no longer match the SHA-256 taken when they
// were imported, or that are gone.
type Mismatch struct {
	// What is "record", "sighting" or "rejected".
	What string `json:"what"`
	// ID names it: the record id and version, or the rejected input's locator.
	ID     string `json:"id"`
	Stored string `json:"stored_sha256"`
	// Actual is the hash of the bytes found; empty when they are missing.
	Actual string `json:"actual_sha256"`
	// Problem says what is wrong: "altered" or "raw bytes missing: <why>".
	Problem string `json:"problem"`
}

func (m Mismatch) String() string {
	if m.Actual == "" {
		return fmt.Sprintf("%s %s: %s", m.What, m.ID, m.Problem)
	}
	return fmt.Sprintf("%s %s: raw bytes hash to %s…, stored SHA-256 is %s…", m.What, m.ID, m.Actual[:12], m.Stored[:12])
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Records    int64      `json:"records"`
	Sightings  int64      `json:"sightings"`
	Rejected   int64      `json:"rejected"`
	Mismatches []Mismatch `json:"mismatches"`
	// Integrity lists problems SQLite's own check found in the database file.
	Integrity []string `json:"integrity"`
}

// OK reports whether nothing was found wrong.
func (r VerifyReport) OK() bool { return len(r.Mismatches) == 0 && len(r.Integrity) == 0 }

// Verify re-reads every stored raw byte string (records, sightings, rejected
// inputs) from its pack, compares its hash with the SHA-256 taken at import,
// and runs SQLite's integrity check. progress, if not nil, is called with the number of items
// checked so far.
func (s *Store) Verify(ctx context.Context, progress func(done int64)) (VerifyReport, error) {
	rep := VerifyReport{Mismatches: []Mismatch{}, Integrity: []string{}}
	rows, err := s.db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return rep, fmt.Errorf("check database: %w", err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return rep, err
		}
		if line != "ok" {
			rep.Integrity = append(rep.Integrity, line)
		}
	}
	rows.Close()

	var done int64
	check := func(what, query string, count *int64, id func(a, b string) string) error {
		rows, err := s.db.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("verify %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a, b, pack string
				stored     []byte
				off, n     int64
			)
			if err := rows.Scan(&a, &b, &stored, &pack, &off, &n); err != nil {
				return fmt.Errorf("verify %s: %w", what, err)
			}
			m := Mismatch{What: what, ID: id(a, b), Stored: hex.EncodeToString(stored)}
			raw, err := s.raw.read(pack, off, n)
			switch {
			case errors.Is(err, errRawMissing):
				m.Problem = err.Error() // "raw bytes missing: …"
				rep.Mismatches = append(rep.Mismatches, m)
			case err != nil:
				return fmt.Errorf("verify %s %s: %w", what, m.ID, err)
			default:
				if sum := Hash(raw); !bytes.Equal(sum[:], stored) {
					m.Actual, m.Problem = hex.EncodeToString(sum[:]), "altered"
					rep.Mismatches = append(rep.Mismatches, m)
				}
			}
			*count++
			if done++; progress != nil && done%1000 == 0 {
				progress(done)
			}
		}
		return rows.Err()
	}
	if err := check("record", `SELECT id, version, sha256, raw_pack, raw_off, raw_len FROM records ORDER BY seq`, &rep.Records,
		func(id, v string) string { return id + " v" + v }); err != nil {
		return rep, err
	}
	// A sighting without bytes of its own had the record's bytes.
	if err := check("sighting", `SELECT r.id, g.via, g.sha256,
			COALESCE(g.raw_pack, r.raw_pack), COALESCE(g.raw_off, r.raw_off), COALESCE(g.raw_len, r.raw_len)
		FROM sightings g JOIN records r ON r.seq = g.record_seq ORDER BY g.seq`, &rep.Sightings,
		func(id, via string) string { return id + " via " + via }); err != nil {
		return rep, err
	}
	if err := check("rejected", `SELECT locator, source, sha256, raw_pack, raw_off, raw_len FROM rejected ORDER BY seq`, &rep.Rejected,
		func(loc, src string) string { return src + " " + loc }); err != nil {
		return rep, err
	}
	if progress != nil {
		progress(done)
	}
	return rep, nil
}
