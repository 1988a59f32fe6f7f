package evidence

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Checkpoint is where an importer got to within one scope it names, such as
// "stripe/charges" or "imap/alice@example.com/INBOX". The value is the
// importer's own; the store only keeps the newest per key.
type Checkpoint struct {
	Key   string
	Value string
}

// Batch is what an importer read since its last commit.
type Batch struct {
	Records     []Record
	Rejected    []Rejected
	Checkpoints []Checkpoint
	// Ignored counts objects read and deliberately not stored, by reason.
	Ignored map[string]int64
}

// Len is the number of inputs in b.
func (b *Batch) Len() int {
	n := len(b.Records) + len(b.Rejected)
	for _, c := range b.Ignored {
		n += int(c)
	}
	return n
}

// Commit stores b for job in one transaction: every record (as new, as a new
// version of a known id, or as nothing at all when unchanged), every rejected
// input, the checkpoints and the job's counts. Either all of it is stored or
// none, so a checkpoint never gets ahead of the records it covers and a
// crash at any moment loses nothing that a resume will not read again.
//
// Commit is idempotent: committing the same batch twice stores nothing the
// second time and counts its records as unchanged.
func (s *Store) Commit(ctx context.Context, job *Job, b Batch) (Counts, error) {
	for i := range b.Records {
		r := &b.Records[i]
		if r.factsJSON == nil { // not prepared, so not validated either
			if err := r.Prepare(); err != nil {
				return Counts{}, fmt.Errorf("commit: %w", err)
			}
		}
	}
	pack, err := s.openPack(job)
	if err != nil {
		return Counts{}, fmt.Errorf("commit: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Counts{}, fmt.Errorf("commit: %w", err)
	}
	defer tx.Rollback()
	c, err := s.commit(ctx, tx, job, pack, &b)
	if err != nil {
		return Counts{}, fmt.Errorf("commit: %w", err)
	}
	// The bytes are durable before any row refers to them.
	if err := pack.sync(); err != nil {
		return Counts{}, fmt.Errorf("commit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Counts{}, fmt.Errorf("commit: %w", err)
	}
	job.Counts = job.Counts.Add(c)
	return c, nil
}

func (s *Store) commit(ctx context.Context, tx *sql.Tx, job *Job, pack *packWriter, b *Batch) (Counts, error) {
	var c Counts
	now := s.nowNanos()
	if len(b.Records) > 0 {
		known, err := latestVersions(ctx, tx, b.Records)
		if err != nil {
			return c, err
		}
		insert, err := tx.PrepareContext(ctx, `INSERT INTO records(id, version, source, via, kind, occurred_at, zone,
			facts, digest, sha256, raw_pack, raw_off, raw_len, readable_len, title, locator, job_id, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return c, err
		}
		defer insert.Close()
		sight, err := tx.PrepareContext(ctx, `INSERT INTO sightings(record_seq, via, locator, sha256, raw_pack, raw_off, raw_len, job_id, seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_seq, via) DO NOTHING`)
		if err != nil {
			return c, err
		}
		defer sight.Close()

		for i := range b.Records {
			r := &b.Records[i]
			sum, digest := r.SHA256, r.Digest
			h := known[r.ID]
			same := h.find(digest)
			switch {
			case same != nil:
				// The content of a stored version (not always the newest:
				// an old export read after the API): nothing to store, but
				// note a channel it had not come through.
				c.Unchanged++
				if !slices.Contains(same.vias, r.Via) {
					// Bytes that differ from the record's are kept too.
					var packName, off, n any
					if same.sum != sum {
						o, err := pack.add(r.Raw)
						if err != nil {
							return c, err
						}
						packName, off, n = pack.name, o, len(r.Raw)
					}
					if _, err := sight.ExecContext(ctx, same.seq, r.Via, r.Locator, sum[:], packName, off, n, job.ID, now); err != nil {
						return c, fmt.Errorf("record sighting of %s: %w", r.ID, err)
					}
					same.vias = append(same.vias, r.Via)
				}
				continue
			case h == nil:
				c.New++
				h = &history{}
				known[r.ID] = h
			default:
				c.NewVersion++
			}
			var occurred any
			if !r.OccurredAt.IsZero() {
				occurred = r.OccurredAt.UTC().UnixNano()
			}
			off, err := pack.add(r.Raw)
			if err != nil {
				return c, err
			}
			// What a person reads of it, right after the raw bytes.
			readableLen := 0
			var title any // NULL: none
			if r.Title != "" {
				title = r.Title
			}
			if r.Readable != nil {
				title = r.Readable.Title
				b := encodeReadable(r.Readable)
				if at, err := pack.add(b); err != nil {
					return c, err
				} else if at != off+int64(len(r.Raw)) {
					return c, fmt.Errorf("store %s: pack %s: readable text at %d, not after the raw bytes", r.ID, pack.name, at)
				}
				readableLen = len(b)
			}
			res, err := insert.ExecContext(ctx, r.ID, h.latest+1, string(r.Source), r.Via, r.Kind, occurred, r.Zone,
				string(r.factsJSON), digest, sum[:], pack.name, off, len(r.Raw), readableLen, title, r.Locator, job.ID, now)
			if err != nil {
				return c, fmt.Errorf("store %s: %w", r.ID, err)
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return c, fmt.Errorf("store %s: %w", r.ID, err)
			}
			// A later arrival of the same id in this batch compares with this one.
			h.latest++
			h.versions = append(h.versions, &version{digest: digest, seq: seq, sum: sum, vias: []string{r.Via}})
		}
	}
	if len(b.Rejected) > 0 {
		rej, err := tx.PrepareContext(ctx, `INSERT INTO rejected(source, via, locator, reason, sha256, raw_pack, raw_off, raw_len, job_id, rejected_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, via, locator, sha256) DO NOTHING`)
		if err != nil {
			return c, err
		}
		defer rej.Close()
		for _, r := range b.Rejected {
			c.Rejected++
			sum := Hash(r.Raw)
			// The same bad input rejected again is counted, not stored again.
			var known int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rejected WHERE source = ? AND via = ? AND locator = ? AND sha256 = ?`,
				string(r.Source), r.Via, r.Locator, sum[:]).Scan(&known)
			if err != nil {
				return c, fmt.Errorf("store rejected input %s: %w", r.Locator, err)
			}
			if known > 0 {
				continue
			}
			off, err := pack.add(r.Raw)
			if err != nil {
				return c, err
			}
			if _, err := rej.ExecContext(ctx, string(r.Source), r.Via, r.Locator, r.Reason, sum[:], pack.name, off, len(r.Raw), job.ID, now); err != nil {
				return c, fmt.Errorf("store rejected input %s: %w", r.Locator, err)
			}
		}
	}
	for _, cp := range b.Checkpoints {
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints(key, value, job_id, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, job_id = excluded.job_id, updated_at = excluded.updated_at`,
			cp.Key, cp.Value, job.ID, now); err != nil {
			return c, fmt.Errorf("save checkpoint %s: %w", cp.Key, err)
		}
	}
	if len(b.Ignored) > 0 {
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT ignored_reasons FROM jobs WHERE id = ?`, job.ID).Scan(&stored); err != nil {
			return c, fmt.Errorf("read ignored counts: %w", err)
		}
		reasons := map[string]int64{}
		if err := json.Unmarshal([]byte(stored), &reasons); err != nil {
			return c, fmt.Errorf("read ignored counts: %w", err)
		}
		for reason, n := range b.Ignored {
			reasons[reason] += n
			c.Ignored += n
		}
		merged, err := json.Marshal(reasons)
		if err != nil {
			return c, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET ignored_reasons = ? WHERE id = ?`, string(merged), job.ID); err != nil {
			return c, fmt.Errorf("update ignored counts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET new = new + ?, unchanged = unchanged + ?, new_version = new_version + ?,
		rejected = rejected + ?, ignored = ignored + ? WHERE id = ?`, c.New, c.Unchanged, c.NewVersion, c.Rejected, c.Ignored, job.ID); err != nil {
		return c, fmt.Errorf("update job counts: %w", err)
	}
	return c, nil
}

// history is what commit needs to know of the stored versions of an id.
type history struct {
	latest   int
	versions []*version
}

type version struct {
	digest string
	seq    int64
	sum    [32]byte
	vias   []string // the record's own via and its sightings
}

// find returns the stored version with digest, or nil.
func (h *history) find(digest string) *version {
	if h == nil {
		return nil
	}
	for _, v := range h.versions {
		if v.digest == digest {
			return v
		}
	}
	return nil
}

// latestVersions looks up, in one query, the stored versions of every id in
// recs, with the channels each was seen through.
func latestVersions(ctx context.Context, tx *sql.Tx, recs []Record) (map[string]*history, error) {
	ids := make([]string, len(recs))
	for i := range recs {
		ids[i] = recs[i].ID
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT r.seq, r.id, r.version, r.digest, r.via, r.sha256,
			(SELECT group_concat(g.via, char(0)) FROM sightings g WHERE g.record_seq = r.seq)
		FROM (SELECT DISTINCT value AS id FROM json_each(?)) j JOIN records r ON r.id = j.id`, string(list))
	if err != nil {
		return nil, fmt.Errorf("look up stored versions: %w", err)
	}
	defer rows.Close()
	known := make(map[string]*history, len(recs))
	for rows.Next() {
		var (
			id, via string
			n       int
			sum     []byte
			seen    sql.NullString
		)
		v := &version{}
		if err := rows.Scan(&v.seq, &id, &n, &v.digest, &via, &sum, &seen); err != nil {
			return nil, fmt.Errorf("look up stored versions: %w", err)
		}
		copy(v.sum[:], sum)
		v.vias = []string{via}
		if seen.Valid {
			v.vias = append(v.vias, strings.Split(seen.String, "\x00")...)
		}
		h := known[id]
		if h == nil {
			h = &history{}
			known[id] = h
		}
		h.latest = max(h.latest, n)
		h.versions = append(h.versions, v)
	}
	return known, rows.Err()
}
