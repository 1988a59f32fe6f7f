package evidence

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
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

func zeroBySource() map[Source]int64 {
	m := make(map[Source]int64, len(Sources))
	for _, s := range Sources {
		m[s] = 0
	}
	return m
}

// Versions is the number of record versions the case holds, found at once
// (records are never deleted: the last row's number is their count); Stats
// counts them by source, which takes seconds on a large case.
func (s *Store) Versions(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count record versions: %w", err)
	}
	return n.Int64, nil
}

// NewestVersions gives the newest version of each record that has more
// than one; a record it does not name has one version. A reader of every
// record in store order (Query.InStoreOrder) knows from it which version
// of a record is the last it will see. It reads the (id, version) index
// only: 0.07 s for 1.57 million records.
func (s *Store) NewestVersions(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, version FROM records WHERE version > 1`)
	if err != nil {
		return nil, fmt.Errorf("read record versions: %w", err)
	}
	defer rows.Close()
	newest := map[string]int{}
	for rows.Next() {
		var id string
		var v int
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("read record versions: %w", err)
		}
		newest[id] = max(newest[id], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read record versions: %w", err)
	}
	return newest, nil
}

// Stats counts the case's evidence. Every source appears, with 0 if empty.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Records: zeroBySource(), Versions: zeroBySource(), Sightings: zeroBySource(), Rejected: zeroBySource()}
	type q struct {
		sql  string
		cols []map[Source]int64
	}
	for _, q := range []q{
		// A record's first version is 1 (Commit): counting those counts
		// the records, in one read of the table from start to end. By the
		// source index, COUNT(DISTINCT id) looked up each row in the
		// table: 7 s of 1.57 million records.
		{`SELECT source, SUM(version = 1), COUNT(*) FROM records NOT INDEXED GROUP BY source`, []map[Source]int64{st.Records, st.Versions}},
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
	// Lean reads only what describes an object (ID, Version, Source, Via,
	// Kind, OccurredAt, Zone, Facts, and Raw WithRaw): Digest, SHA256,
	// Locator, JobID and ImportedAt are left zero. A million rows read
	// quicker for it.
	Lean bool
	// RawOf, when set, says which records' raw bytes WithRaw loads (the
	// others are read without): a reader that needs the bytes of a few
	// of many records. It is called on the goroutines that decode.
	RawOf func(id string) bool
	// Readable loads Record.Readable where the importer stored one; with
	// WithRaw, the raw bytes are then loaded only for the records without
	// one: what a person reads of a record is there without them.
	Readable bool
	// TextOf, when set, says which records' Readable comes whole; the
	// others' has its title only (Text empty), and the others without
	// Readable but with a Title come without their raw bytes: a reader
	// that shows the text of a few of many records and the title of each.
	// It is called on the goroutines that decode.
	TextOf func(id string) bool
	// InStoreOrder yields the records in the order the case stored them
	// (import order) instead of by id: a read of the table from start to
	// end, without a seek per row (a 157k-record read: 1.06 → 0.76 s),
	// for readers that do not care for the order.
	InStoreOrder bool
}

// Records returns the records q selects, ordered by id then version, so the
// same case always yields the same sequence.
//
// The rows are read on a goroutine of their own and their facts decoded
// (and raw bytes loaded) on every core, a batch at a time, while the
// caller works through the batches before: reading a million records is
// not one core's work followed by the caller's. The query is over, and
// the store free for the next, when the range over Records ends, early
// or not.
func (s *Store) Records(ctx context.Context, q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stmt, args := recordsQuery(q)
		workers := runtime.GOMAXPROCS(0)
		ordered := make(chan *recordBatch, 2*workers+2) // to the caller, in order
		work := make(chan *recordBatch, 2*workers+2)    // to the decoders
		var decoders sync.WaitGroup
		for range workers {
			decoders.Go(func() {
				for b := range work {
					b.decode(s, &q)
					close(b.done)
				}
			})
		}
		free := make(chan *recordBatch, 4) // batches the caller is done with
		var complete bool                  // every row handed over (or the failure that ended them)
		go func() {
			defer close(work)
			defer close(ordered)
			complete = s.scanRecords(ctx, stmt, args, q, free, func(b *recordBatch) bool {
				select {
				case ordered <- b:
				case <-ctx.Done():
					return false
				}
				work <- b // never blocks long: the decoders take every batch
				return true
			})
		}()
		defer func() {
			cancel()
			for b := range ordered { // the reader ends its query before the store is used again
				<-b.done
			}
			decoders.Wait()
		}()
		for b := range ordered {
			if ctx.Err() != nil { // the caller's context ended: not another batch
				yield(Record{}, fmt.Errorf("read records: %w", context.Cause(ctx)))
				return
			}
			<-b.done
			for _, r := range b.recs {
				if !yield(r, nil) {
					return
				}
			}
			if b.err != nil {
				yield(Record{}, b.err)
				return
			}
			select { // every record of it handed over by value: its arrays serve again
			case free <- b:
			default:
			}
		}
		if !complete { // the context ended before every row was handed over
			yield(Record{}, fmt.Errorf("read records: %w", context.Cause(ctx)))
		}
	}
}

// recordsQuery is the SQL of q.
func recordsQuery(q Query) (string, []any) {
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
	stmt := `SELECT id, version, source, via, kind, occurred_at, zone, facts, raw_pack, raw_off, raw_len, readable_len, digest, sha256, locator, job_id, imported_at, title FROM records`
	if q.Lean {
		// salvage's own values (source, channel, pack file) and the
		// numbers come packed in one column (leanPacked): the driver
		// takes a lock three times for each column of each row, and a
		// million rows of twelve columns were a third of the read.
		// Everything else too: a row of one column is a third of the
		// driver's work of one of five.
		const locate = ` || x'1f' || raw_pack || x'1f' || raw_off || x'1f' || raw_len || x'1f' || readable_len`
		switch {
		case q.Readable: // and the title of what a person reads
			stmt = `SELECT ` + leanHead + leanTitle + leanPacked + locate + ` || x'1e' || facts FROM records`
		case q.WithRaw:
			stmt = `SELECT ` + leanHead + leanPacked + locate + ` || x'1e' || facts FROM records`
		default: // nor where the raw bytes are
			stmt = `SELECT ` + leanHead + leanPacked + ` || x'1e' || facts FROM records`
		}
	}
	if len(where) > 0 {
		stmt += " WHERE " + strings.Join(where, " AND ")
	}
	if q.InStoreOrder {
		return stmt + " ORDER BY seq", args
	}
	return stmt + " ORDER BY id, version", args
}

// leanHead starts the one column of a lean read: a record's id, kind and
// zone, which come from outside and may hold any character, each after its
// length in bytes and a colon (cutLean). leanPacked follows, then 0x1e and
// the facts (JSON, which holds no control character).
const leanHead = `octet_length(id) || ':' || id || octet_length(kind) || ':' || kind || octet_length(zone) || ':' || zone || `

// leanTitle follows leanHead in a read of Readable: the title, its length
// -1 where the row has none.
const leanTitle = `ifnull(octet_length(title), -1) || ':' || ifnull(title, '') || `

// cutLean splits the one column of a lean read (leanHead) into its first
// len(head) fields (the record's id, kind and zone, and leanTitle's), the
// packed fields (leanPacked) and the facts, sharing b's memory. A field
// of length -1 is nil.
func cutLean(b []byte, head [][]byte) (packed, facts []byte, err error) {
	for i := range head {
		k := bytes.IndexByte(b, ':')
		if k <= 0 {
			return nil, nil, fmt.Errorf("no length before field %d of %q", i+1, b)
		}
		n, err := atoi(b[:k])
		if err == nil && n == -1 {
			head[i], b = nil, b[k+1:]
			continue
		}
		if err != nil || n < 0 || n > int64(len(b)-k-1) {
			return nil, nil, fmt.Errorf("bad length %q of field %d", b[:k], i+1)
		}
		b = b[k+1:]
		head[i], b = b[:n:n], b[n:]
	}
	packed, facts, ok := bytes.Cut(b, []byte{0x1e})
	if !ok {
		return nil, nil, fmt.Errorf("no facts in %q", b)
	}
	return packed, facts, nil
}

// leanPacked is the column of a lean read that holds a record's source,
// channel, version and time (empty when unknown), separated by 0x1f; then,
// when the read locates the raw bytes, its pack, offset, length and
// readable length. Only values salvage writes itself go in it (a kind or
// a zone comes from outside, and has a column of its own).
const leanPacked = `source || x'1f' || via || x'1f' || version || x'1f' || ifnull(occurred_at, '')`

// unpackLean reads the packed column of a lean read (leanPacked): r's
// version, the source, channel and time, and, when fields has room for
// them, the fields locating the raw bytes (left in fields[4:]).
func (r *Record) unpackLean(packed []byte, fields [][]byte, src, via *sql.RawBytes, occurred *sql.NullInt64) error {
	if err := unpackFields(packed, fields); err != nil {
		return err
	}
	*src, *via = fields[0], fields[1]
	v, err := atoi(fields[2])
	if err != nil {
		return err
	}
	r.Version = int(v)
	if len(fields[3]) > 0 {
		if occurred.Int64, err = atoi(fields[3]); err != nil {
			return err
		}
		occurred.Valid = true
	}
	return nil
}

// unpackFields splits the packed column of a lean read into its n fields.
func unpackFields(b []byte, fields [][]byte) error {
	for i := range len(fields) - 1 {
		k := bytes.IndexByte(b, 0x1f)
		if k < 0 {
			return fmt.Errorf("%d fields in %q, want %d", i+1, b, len(fields))
		}
		fields[i], b = b[:k], b[k+1:]
	}
	if bytes.IndexByte(b, 0x1f) >= 0 {
		return fmt.Errorf("more than %d fields in %q", len(fields), b)
	}
	fields[len(fields)-1] = b
	return nil
}

// atoi is the decimal integer in b (SQLite's text of an INTEGER), read
// without copying b.
func atoi(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errors.New("an empty integer")
	}
	n, err := strconv.ParseInt(unsafe.String(&b[0], len(b)), 10, 64)
	if err != nil { // not the error: it would keep b, which the driver reuses
		return 0, fmt.Errorf("%q is not an integer", string(b))
	}
	return n, nil
}

// recordBatchSize is how many rows a batch holds.
const recordBatchSize = 256

// recordBatch is rows as read, then (once done is closed) as records.
type recordBatch struct {
	recs  []Record // facts and raw bytes not yet in
	facts []byte   // every row's facts JSON, one after the other
	end   []int    // where each row's facts end in facts
	raw   []rawAt
	// err ends the batch: a row that could not be read (after recs), or
	// a record that could not be decoded (recs is cut before it).
	err  error
	done chan struct{}
}

type rawAt struct {
	pack      string
	off, size int64
	readable  int64 // bytes of what a person reads, after the raw ones
	// title is what a person reads's title, when the row holds it
	// (hasTitle).
	title    string
	hasTitle bool
}

// scanRecords runs the query and hands its rows over in batches; emit
// reports whether to go on. A failure is the last batch's err. It reports
// whether every batch, or the failure, was handed over.
func (s *Store) scanRecords(ctx context.Context, stmt string, args []any, q Query, free <-chan *recordBatch, emit func(*recordBatch) bool) bool {
	factsCap := 0 // the facts of the batch before: the next one's are much the same size
	newBatch := func() *recordBatch {
		select {
		case b := <-free:
			// Nothing decoded refers to the facts bytes (decodeFacts,
			// and go-json, copy the strings out of them).
			clear(b.recs)
			*b = recordBatch{recs: b.recs[:0], end: b.end[:0], raw: b.raw[:0], facts: b.facts[:0], done: make(chan struct{})}
			return b
		default:
		}
		return &recordBatch{recs: make([]Record, 0, recordBatchSize), end: make([]int, 0, recordBatchSize),
			raw: make([]rawAt, 0, recordBatchSize), facts: make([]byte, 0, factsCap), done: make(chan struct{})}
	}
	b := newBatch()
	fail := func(err error) bool {
		b.err = fmt.Errorf("read records: %w", err)
		return emit(b)
	}
	// The few values many records share (source, channel, kind, zone,
	// pack file) are one string each, not one per record; the facts are
	// decoded from one copy of the driver's bytes.
	var in interner
	var (
		r                     Record
		occurred              sql.NullInt64
		src, via, kind, zone  sql.RawBytes
		facts, sum, packBytes sql.RawBytes
		imported              int64
		off, size, readable   int64
	)
	// One set of destinations for every row: not a dozen allocations each.
	locate := !q.Lean || q.WithRaw || q.Readable
	var dest []any
	var packed sql.RawBytes
	// The id, kind, zone and title of a lean read (cutLean); title is nil
	// where the row has none.
	head := make([][]byte, 3, 4)
	if q.Readable {
		head = head[:4]
	}
	var title []byte
	var fullTitle sql.RawBytes     // a full read's, nil for NULL
	fields := make([][]byte, 4, 8) // of packed
	if q.Lean {
		dest = []any{&packed}
		if locate {
			fields = fields[:8]
		}
	} else {
		dest = []any{&r.ID, &r.Version, &src, &via, &kind, &occurred, &zone, &facts,
			&packBytes, &off, &size, &readable, &r.Digest, &sum, &r.Locator, &r.JobID, &imported, &fullTitle}
	}
	// rows goes through every row, each read into the variables above
	// by next (false at the end).
	rows := func(next func() (bool, error)) bool {
		for {
			r, occurred = Record{}, sql.NullInt64{}
			if ok, err := next(); err != nil {
				return fail(err)
			} else if !ok {
				break
			}
			title = nil
			if q.Lean {
				rest, f, err := cutLean(packed, head)
				if err != nil {
					return fail(fmt.Errorf("a record's row: %w", err))
				}
				r.ID, kind, zone, facts = string(head[0]), head[1], head[2], f
				if len(head) > 3 {
					title = head[3]
				}
				if err := r.unpackLean(rest, fields, &src, &via, &occurred); err != nil {
					return fail(fmt.Errorf("record %s: %w", r.ID, err))
				}
				if locate {
					var err error
					packBytes = fields[4]
					if off, err = atoi(fields[5]); err == nil {
						if size, err = atoi(fields[6]); err == nil {
							readable, err = atoi(fields[7])
						}
					}
					if err != nil {
						return fail(fmt.Errorf("record %s: %w", r.ID, err))
					}
				}
			}
			r.Source, r.Via, r.Kind, r.Zone = Source(in.get(src)), in.get(via), in.get(kind), in.get(zone)
			if occurred.Valid {
				r.OccurredAt = time.Unix(0, occurred.Int64).UTC()
			}
			if !q.Lean {
				r.ImportedAt = time.Unix(0, imported).UTC()
				copy(r.SHA256[:], sum)
				if q.Readable {
					title = fullTitle
				}
			}
			b.recs = append(b.recs, r)
			b.facts = append(b.facts, facts...)
			b.end = append(b.end, len(b.facts))
			if locate {
				at := rawAt{pack: in.get(packBytes), off: off, size: size, readable: readable}
				if title != nil {
					at.title, at.hasTitle = string(title), true
				}
				b.raw = append(b.raw, at)
			}
			if len(b.recs) == recordBatchSize {
				factsCap = cap(b.facts)
				if !emit(b) {
					return false
				}
				b = newBatch()
			}
		}
		return len(b.recs) == 0 || emit(b)
	}
	if q.Lean {
		// The one column, as the driver made it for this row alone:
		// database/sql would copy it again, and take its locks.
		var complete bool
		err := s.driverRows(ctx, stmt, args, func(next func([]driver.Value) (bool, error)) error {
			v := make([]driver.Value, 1)
			complete = rows(func() (bool, error) {
				ok, err := next(v)
				if !ok || err != nil {
					return ok, err
				}
				str, isStr := v[0].(string)
				if !isStr {
					return false, fmt.Errorf("a lean row is %T, not text", v[0])
				}
				packed = unsafe.Slice(unsafe.StringData(str), len(str))
				return true, nil
			})
			return nil
		})
		if err != nil {
			return fail(err)
		}
		return complete
	}
	sqlRows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return fail(err)
	}
	defer sqlRows.Close()
	return rows(func() (bool, error) {
		if !sqlRows.Next() {
			return false, sqlRows.Err()
		}
		return true, sqlRows.Scan(dest...)
	})
}

// driverRows runs query on the store's connection at the driver's level,
// and hands each to use a function that reads the next row into its
// values (false at the end): a string or []byte value is the driver's copy
// for this row alone, not copied again. use must be done with the rows
// when it returns.
func (s *Store) driverRows(ctx context.Context, query string, args []any, use func(next func([]driver.Value) (bool, error)) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the SQLite driver's connection (%T) runs no queries", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := q.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		return use(func(dest []driver.Value) (bool, error) {
			switch err := rows.Next(dest); {
			case err == io.EOF:
				return false, nil
			case err != nil:
				return false, err
			}
			return true, nil
		})
	})
}

// decode fills in the batch's facts and raw bytes as q asks.
func (b *recordBatch) decode(s *Store, q *Query) {
	var common commonStrings // of the batch's records
	from := 0
	for k := range b.recs {
		r := &b.recs[k]
		facts := b.facts[from:b.end[k]]
		from = b.end[k]
		if err := decodeFactsIn(facts, &r.Facts, &common); err != nil {
			b.recs, b.err = b.recs[:k], fmt.Errorf("record %s v%d: facts: %w", r.ID, r.Version, err)
			return
		}
		at := rawAt{}
		if len(b.raw) > 0 {
			at = b.raw[k]
		}
		wholeText := q.TextOf == nil || q.TextOf(r.ID)
		if q.Readable && at.hasTitle && at.readable == 0 {
			r.Title = at.title
		}
		if q.Readable && at.readable > 0 {
			var err error
			switch {
			case wholeText:
				r.Readable, err = s.raw.readable(at.pack, at.off+at.size, at.readable)
			case at.hasTitle: // the title, without a read of the pack
				r.Readable = &Readable{Title: at.title}
			default:
				r.Readable, err = s.raw.readableTitle(at.pack, at.off+at.size, at.readable)
			}
			if err != nil {
				b.recs, b.err = b.recs[:k], fmt.Errorf("record %s v%d: %w", r.ID, r.Version, err)
				return
			}
		}
		// A record without Readable whose title is all that is asked for
		// needs no raw bytes for it.
		titleOnly := !wholeText && r.Title != ""
		if q.WithRaw && r.Readable == nil && !titleOnly && (q.RawOf == nil || q.RawOf(r.ID)) {
			var err error
			if r.Raw, err = s.raw.readOfMany(at.pack, at.off, at.size); err != nil {
				b.recs, b.err = b.recs[:k], fmt.Errorf("record %s v%d: %w", r.ID, r.Version, err)
				return
			}
		}
	}
	// The facts bytes, ends and raw locations serve the next batch read
	// once the caller is done with this one.
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
