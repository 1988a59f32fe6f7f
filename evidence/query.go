package evidence

import (
	"context"
	"database/sql"
	"fmt"
	gojson "github.com/goccy/go-json"
	"iter"
	"strings"
	"time"
)

// Stats counts what a case holds, by source.
type Stats struct {
	// Records is the number of distinct record ids.
	Records map[Source]int64
	// Versions is the number of stored versions (≥ Records).
	Versions map[Source]int64
	// Sightings is the number of extra channels records were seen through.
	Sightings map[Source]int64
	// Rejected is the number of distinct rejected inputs.
	Rejected map[Source]int64
}

// AllVersions is the number of stored versions of every source.
func (st Stats) AllVersions() int64 {
	var n int64
	for _, v := range st.Versions {
		n += v
	}
	return n
}

func zeroBySource() map[Source]int64 {
	m := make(map[Source]int64, len(Sources))
	for _, s := range Sources {
		m[s] = 0
	}
	return m
}

// Stats counts the case's evidence. Every source appears, with 0 if empty.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Records: zeroBySource(), Versions: zeroBySource(), Sightings: zeroBySource(), Rejected: zeroBySource()}
	type q struct {
		sql  string
		cols []map[Source]int64
	}
	for _, q := range []q{
		{`SELECT source, COUNT(DISTINCT id), COUNT(*) FROM records GROUP BY source`, []map[Source]int64{st.Records, st.Versions}},
		{`SELECT r.source, COUNT(*) FROM sightings g JOIN records r ON r.seq = g.record_seq GROUP BY r.source`, []map[Source]int64{st.Sightings}},
		{`SELECT source, COUNT(*) FROM rejected GROUP BY source`, []map[Source]int64{st.Rejected}},
	} {
		rows, err := s.db.QueryContext(ctx, q.sql)
		if err != nil {
			return st, fmt.Errorf("count evidence: %w", err)
		}
		for rows.Next() {
			var src Source
			n := make([]int64, len(q.cols))
			dest := []any{&src}
			for i := range n {
				dest = append(dest, &n[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return st, fmt.Errorf("count evidence: %w", err)
			}
			for i, m := range q.cols {
				m[src] = n[i]
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("count evidence: %w", err)
		}
	}
	return st, nil
}

// Query selects records.
type Query struct {
	// Sources restricts to these sources; empty means all.
	Sources []Source
	// AllVersions returns every version; otherwise only the newest of each id.
	AllVersions bool
	// WithRaw loads the raw bytes (otherwise Record.Raw is nil).
	WithRaw bool
}

// Records returns the records q selects, ordered by id then version, so the
// same case always yields the same sequence.
func (s *Store) Records(ctx context.Context, q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		var where []string
		var args []any
		if len(q.Sources) > 0 {
			// One source may be a small part of the case: its index finds
			// it. Several are most of it: walking the (id, version) index
			// in order beats sorting a million rows (the unary + keeps
			// SQLite off the source index).
			col := "source"
			if len(q.Sources) > 1 {
				col = "+source"
			}
			where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.Sources)), ",")+")")
			for _, src := range q.Sources {
				args = append(args, string(src))
			}
		}
		if !q.AllVersions {
			where = append(where, "version = (SELECT MAX(version) FROM records m WHERE m.id = records.id)")
		}
		stmt := `SELECT id, version, source, via, kind, occurred_at, zone, facts, digest, sha256, raw_pack, raw_off, raw_len, locator, job_id, imported_at FROM records`
		if len(where) > 0 {
			stmt += " WHERE " + strings.Join(where, " AND ")
		}
		stmt += " ORDER BY id, version"
		rows, err := s.db.QueryContext(ctx, stmt, args...)
		if err != nil {
			yield(Record{}, fmt.Errorf("read records: %w", err))
			return
		}
		defer rows.Close()
		// The few values many records share (source, channel, kind, zone,
		// pack file) are one string each, not one per record; the facts
		// are decoded from the driver's bytes, not copied twice first.
		var in interner
		for rows.Next() {
			var (
				r                     Record
				occurred              sql.NullInt64
				src, via, kind, zone  sql.RawBytes
				facts, sum, packBytes sql.RawBytes
				imported              int64
				off, size             int64
			)
			if err := rows.Scan(&r.ID, &r.Version, &src, &via, &kind, &occurred, &zone, &facts, &r.Digest,
				&sum, &packBytes, &off, &size, &r.Locator, &r.JobID, &imported); err != nil {
				yield(Record{}, fmt.Errorf("read records: %w", err))
				return
			}
			r.Source, r.Via, r.Kind, r.Zone = Source(in.get(src)), in.get(via), in.get(kind), in.get(zone)
			pack := in.get(packBytes)
			if q.WithRaw {
				var err error
				if r.Raw, err = s.raw.read(pack, off, size); err != nil {
					yield(Record{}, fmt.Errorf("record %s v%d: %w", r.ID, r.Version, err))
					return
				}
			}
			if occurred.Valid {
				r.OccurredAt = time.Unix(0, occurred.Int64).UTC()
			}
			r.ImportedAt = time.Unix(0, imported).UTC()
			copy(r.SHA256[:], sum)
			if err := gojson.Unmarshal(facts, &r.Facts); err != nil {
				yield(Record{}, fmt.Errorf("record %s v%d: facts: %w", r.ID, r.Version, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Record{}, fmt.Errorf("read records: %w", err))
		}
	}
}

// RejectedInputs returns every rejected input, oldest first, without raw
// bytes unless withRaw.
func (s *Store) RejectedInputs(ctx context.Context, withRaw bool) ([]Rejected, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, via, locator, reason, raw_pack, raw_off, raw_len, job_id FROM rejected ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read rejected inputs: %w", err)
	}
	defer rows.Close()
	var out []Rejected
	for rows.Next() {
		var (
			r         Rejected
			pack      string
			off, size int64
		)
		if err := rows.Scan(&r.Source, &r.Via, &r.Locator, &r.Reason, &pack, &off, &size, &r.JobID); err != nil {
			return nil, fmt.Errorf("read rejected inputs: %w", err)
		}
		if withRaw {
			if r.Raw, err = s.raw.read(pack, off, size); err != nil {
				return nil, fmt.Errorf("rejected input %s: %w", r.Locator, err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// interner gives one string for each of a few values seen again and again.
type interner map[string]string

// maxInterned bounds an interner: past it, values are not kept.
const maxInterned = 4096

func (in *interner) get(b []byte) string {
	if s, ok := (*in)[string(b)]; ok {
		return s
	}
	s := string(b)
	if *in == nil {
		*in = interner{}
	}
	if len(*in) < maxInterned {
		(*in)[s] = s
	}
	return s
}
