package restoresql

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Options say what to write and what the header tells.
type Options struct {
	Dialect Dialect
	// Mapping is where the bookings go; nil: Standalone.
	Mapping *Mapping
	Case    Case
	// Chosen says which bookings were given to Write and why ("approved in
	// review"); Skipped lists the case's other bookings with the reason
	// each was not given. Both only go into the header.
	Chosen  string
	Skipped []Skipped
	// Against, when set, is the check made against the database first.
	Against *CheckSummary
	// FileName names the file in the load instructions ("" for FILE).
	FileName string
	// BatchRows and BatchBytes bound one INSERT of MySQL and SQLite (0:
	// 500 rows, 1 MiB).
	BatchRows, BatchBytes int
}

// Skipped is a booking not written, and why.
type Skipped struct {
	Ref, Reason string
}

// Result is what Write wrote.
type Result struct {
	// Written counts the bookings in the file; Left lists those given to
	// Write that it left out, with the reason, in the order given.
	Written int
	Left    []Skipped
}

// CheckSummary is what a check against the database found, for the header.
type CheckSummary struct {
	Against              string // the database, without credentials
	New, Present, Differ int
	Differs              []Skipped // ref and the differing fields
	Unresolved           []Skipped // new bookings whose required lookups found nothing
	Warnings             []string
}

// Write writes the SQL that inserts items into the database (o.Mapping's
// tables) to w. The same items and options give the same bytes.
//
// A booking that the mapping cannot write (a required value missing, a key
// missing, a value not in a map, a text a dialect cannot hold such as NUL
// in PostgreSQL) is left out and listed in the header and in Result.Left; so
// is a booking with the same key in the booking table as an earlier one.
// Rows of other tables that share a key (two bookings of one customer) are
// written once, the first booking's.
func Write(w io.Writer, items []Item, o Options) (Result, error) {
	m := o.Mapping
	if m == nil {
		m = Standalone()
	}
	switch o.Dialect {
	case Postgres, MySQL, SQLite:
	default:
		return Result{}, fmt.Errorf("unknown dialect %q", o.Dialect)
	}
	p := newPlan(o.Dialect, m)
	if err := p.checkConstants(); err != nil {
		return Result{}, err
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 500
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}

	// First pass: which bookings, and which of their rows, go in.
	nt := len(p.tables)
	has := make([]bool, len(items)*nt)
	ok := make([]bool, len(items))
	var res Result
	seen := make([]map[string]bool, nt)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	bi := p.booking.n - 1
	// Checked on every core: each booking's error or the keys of its rows.
	errs := make([]error, len(items))
	keys := make([]string, len(items)*nt)
	present := make([]bool, len(items)*nt)
	_ = inOrder(len(items), 1024, func(lo, hi int, _ []byte) ([]byte, error) {
		for i := lo; i < hi; i++ {
			r, err := p.check(&items[i], &o.Case)
			if err != nil {
				errs[i] = err
				continue
			}
			for ti, tp := range p.tables {
				if r[ti] != nil {
					present[i*nt+ti] = true
					keys[i*nt+ti] = tp.keyOf(r[ti])
				}
			}
		}
		return nil, nil
	}, func([]byte) error { return nil })
	for i := range items {
		if errs[i] != nil {
			res.Left = append(res.Left, Skipped{items[i].Booking.Ref, errs[i].Error()})
			continue
		}
		if k := keys[i*nt+bi]; seen[bi][k] {
			res.Left = append(res.Left, Skipped{items[i].Booking.Ref, "same " + strings.Join(p.booking.t.Key, ", ") + " as an earlier booking"})
			continue
		}
		ok[i] = true
		res.Written++
		for ti := range p.tables {
			if !present[i*nt+ti] {
				continue
			}
			k := keys[i*nt+ti]
			if seen[ti][k] {
				continue
			}
			seen[ti][k] = true
			has[i*nt+ti] = true
		}
	}

	bw := bufio.NewWriterSize(w, 256<<10)
	ww := &writer{w: bw, p: p, o: &o}
	ww.header(&res)
	var err error
	if o.Dialect == Postgres {
		err = ww.postgres(items, ok, has)
	} else {
		err = ww.batched(items, ok, has)
	}
	if err != nil {
		return res, err
	}
	if ww.err != nil {
		return res, ww.err
	}
	return res, bw.Flush()
}

type writer struct {
	w   *bufio.Writer
	p   *plan
	o   *Options
	err error
}

func (w *writer) s(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// comment writes one comment line; text from outside goes through
// commentText first.
func (w *writer) comment(s string) {
	if s == "" {
		w.s("--\n")
		return
	}
	w.s("-- " + s + "\n")
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func (w *writer) header(res *Result) {
	o, p := w.o, w.p
	c := &o.Case
	w.comment(fmt.Sprintf("salvage restore SQL for %s: bookings rebuilt by salvage, inserted into %s.",
		o.Dialect.Name(), commentText(tableList(p.m))))
	w.comment("")
	window := "from " + showTime(c.Since) + " to " + showTime(c.Until)
	switch {
	case c.Since.IsZero() && c.Until.IsZero():
		window = "all the evidence, no window"
	case c.Until.IsZero():
		window = "from " + showTime(c.Since) + ", no end"
	case c.Since.IsZero():
		window = "up to " + showTime(c.Until)
	}
	w.comment("Case " + commentText(c.ID) + ": bookings rebuilt " + showTime(c.ReconciledAt) + " for the loss window " + window + ".")
	w.comment("Mapping: " + commentText(p.m.Source) + ".")
	if o.Chosen != "" {
		w.comment("Chosen: " + commentText(o.Chosen) + ".")
	}
	w.comment(fmt.Sprintf("Bookings: %d in the case, %d written, %d left out (listed below).",
		c.Bookings, res.Written, len(o.Skipped)+len(res.Left)))
	if a := o.Against; a != nil {
		w.comment(fmt.Sprintf("Checked against %s: %d new, %d present, %d differ; only the new ones are written.",
			commentText(a.Against), a.New, a.Present, a.Differ))
		for _, warn := range a.Warnings {
			w.comment("Warning: " + commentText(warn))
		}
	}
	w.comment("")
	w.comment("It only inserts. A row whose key is already in its table is skipped, never changed:")
	for _, t := range p.m.Tables {
		w.comment("  " + commentText(t.Name) + " by " + commentText(strings.Join(t.Key, ", ")))
	}
	w.comment("Everything runs in one transaction: the file loads whole or not at all, and loading")
	w.comment("it again changes nothing. Times are UTC. Stop other writers to these tables while it")
	w.comment("loads: ids are the largest id plus one.")
	w.comment("")
	w.comment("Load it with the database's own client:")
	file := "FILE"
	if o.FileName != "" && commentText(o.FileName) == o.FileName && !strings.HasPrefix(o.FileName, "-") {
		file = o.FileName
	}
	switch o.Dialect {
	case Postgres:
		w.comment("  psql -X -v ON_ERROR_STOP=1 -d DATABASE -f " + file)
		w.comment("(psql reads the rows from the file itself: COPY ... FROM STDIN. The temporary table")
		w.comment("salvage_stage holds them until COMMIT, which drops it.)")
	case MySQL:
		w.comment("  mariadb --default-character-set=utf8mb4 DATABASE < " + file + "   (or mysql)")
		w.comment("Never with --force: the client must stop at the first error, so that nothing is")
		w.comment("committed. The tables must be InnoDB (transactional).")
	case SQLite:
		w.comment("  sqlite3 DATABASE.db < " + file)
		w.comment("(.bail on below makes sqlite3 stop at the first error; the transaction is then")
		w.comment("rolled back.)")
	}
	left := append(append([]Skipped{}, o.Skipped...), res.Left...)
	if len(left) > 0 {
		w.comment("")
		w.comment("Left out:")
		for _, s := range left {
			w.comment("  " + commentText(s.Ref) + ": " + commentText(s.Reason))
		}
	}
	if a := o.Against; a != nil && len(a.Differs) > 0 {
		w.comment("")
		w.comment("In the database with other values (not written; review them):")
		for _, s := range a.Differs {
			w.comment("  " + commentText(s.Ref) + ": " + commentText(s.Reason))
		}
	}
	w.s("\n")
}

func tableList(m *Mapping) string {
	names := make([]string, len(m.Tables))
	for i, t := range m.Tables {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// bookingComment is the comment line of one booking.
func bookingComment(b *Item) string {
	return "-- " + commentText(b.Booking.Ref) + " confidence " + strconv.FormatFloat(b.Booking.Confidence, 'f', 2, 64) +
		" sources " + commentText(strings.Join(b.Booking.Sources, ","))
}

// postgres writes: the rows into a temporary table with COPY, then one
// INSERT ... SELECT per table.
func (w *writer) postgres(items []Item, ok, has []bool) error {
	p := w.p
	nt := len(p.tables)
	w.s("SET client_encoding = 'UTF8';\nBEGIN;\n")
	if p.m.standalone {
		w.s(standaloneDDL(Postgres))
	}
	var targets []string
	for _, tp := range p.tables {
		targets = append(targets, p.q(tp.t.Name))
	}
	w.s("LOCK TABLE " + strings.Join(targets, ", ") + " IN SHARE ROW EXCLUSIVE MODE;\n\n")

	// The stage: typed like the columns it feeds.
	var sel, cols []string
	sel = append(sel, "CAST(NULL AS bigint) AS salvage_seq")
	cols = append(cols, "salvage_seq")
	var from []string
	alias := map[string]string{}
	for _, tp := range p.tables {
		alias[tp.t.Name] = fmt.Sprintf("t%d", tp.n)
		from = append(from, p.q(tp.t.Name)+" AS "+alias[tp.t.Name])
	}
	for _, tp := range p.tables {
		for _, sc := range tp.stage {
			a, ok := alias[sc.typeTable]
			if !ok {
				a = fmt.Sprintf("r%d", len(alias)-nt+1)
				alias[sc.typeTable] = a
				from = append(from, p.q(sc.typeTable)+" AS "+a)
			}
			sel = append(sel, a+"."+p.q(sc.typeColumn)+" AS "+sc.name)
			cols = append(cols, sc.name)
		}
	}
	for _, tp := range p.tables {
		sel = append(sel, fmt.Sprintf("CAST(NULL AS boolean) AS w%d", tp.n))
		cols = append(cols, fmt.Sprintf("w%d", tp.n))
	}
	w.s("CREATE TEMP TABLE salvage_stage ON COMMIT DROP AS\nSELECT " + strings.Join(sel, ",\n       ") +
		"\nFROM " + strings.Join(from, ", ") + "\nWHERE false;\n\n")

	w.s("-- The bookings, in the order of the data lines below:\n")
	for i := range items {
		if ok[i] {
			w.s(bookingComment(&items[i]) + "\n")
		}
	}
	w.s("COPY salvage_stage (" + strings.Join(cols, ", ") + ") FROM STDIN;\n")
	// The data lines, made by every core a chunk at a time, written in order.
	var idx []int
	for i := range items {
		if ok[i] {
			idx = append(idx, i)
		}
	}
	err := inOrder(len(idx), 1024, func(lo, hi int, buf []byte) ([]byte, error) {
		for k := lo; k < hi; k++ {
			i := idx[k]
			r, err := p.eval(&items[i], &w.o.Case)
			if err != nil {
				return buf, fmt.Errorf("booking %s: %w", items[i].Booking.Ref, err)
			}
			buf = strconv.AppendInt(buf, int64(k+1), 10)
			for ti, tp := range p.tables {
				for si := range tp.stage {
					buf = append(buf, '\t')
					if r[ti] == nil || !has[i*nt+ti] {
						buf = append(buf, `\N`...)
						continue
					}
					if buf, err = appendCopy(buf, r[ti][si]); err != nil {
						return buf, fmt.Errorf("booking %s: %w", items[i].Booking.Ref, err)
					}
				}
			}
			for ti := range p.tables {
				if has[i*nt+ti] {
					buf = append(buf, "\tt"...)
				} else {
					buf = append(buf, "\tf"...)
				}
			}
			buf = append(buf, '\n')
		}
		return buf, nil
	}, func(b []byte) error {
		if w.err == nil {
			_, w.err = w.w.Write(b)
		}
		return w.err
	})
	if err != nil {
		return err
	}
	w.s("\\.\n\n")
	for _, tp := range p.tables {
		w.s(p.insertSQL(tp, "salvage_stage", fmt.Sprintf("x.w%d", tp.n)))
		w.s("\n")
	}
	w.s("COMMIT;\n")
	return nil
}

// batched writes MySQL's and SQLite's batches: per batch of bookings, one
// INSERT ... SELECT per table, from the rows written out in the statement.
// GCPercent is the garbage collector's setting salvage export sql writes
// with: every booking stays in memory while the file is written and the
// literals are garbage at once, so it collects less often than Go's 100.
const GCPercent = 400

func (w *writer) batched(items []Item, ok, has []bool) error {
	p, d := w.p, w.p.d
	nt := len(p.tables)
	if d == MySQL {
		w.s("SET NAMES utf8mb4;\nSET time_zone = '+00:00';\n")
		if p.m.standalone {
			w.s("-- MySQL commits before CREATE TABLE: it comes before the transaction, and only\n-- creates the table when it is missing.\n")
			w.s(standaloneDDL(MySQL))
		}
		w.s("START TRANSACTION;\n\n")
	} else {
		w.s(".bail on\nBEGIN IMMEDIATE;\n")
		if p.m.standalone {
			w.s(standaloneDDL(SQLite))
		}
		w.s("\n")
	}
	rows := make([][]string, nt) // per table: its rows in this batch
	size, n := 0, 0
	flush := func() {
		for ti, tp := range p.tables {
			if len(rows[ti]) > 0 {
				w.s(p.insertSQL(tp, w.source(tp, rows[ti]), extraBatched(d)...))
				w.s("\n")
			}
			rows[ti] = rows[ti][:0]
		}
		size, n = 0, 0
	}
	// Each written booking's number in the file, in order.
	seqOf := make([]int, len(items))
	seq := 0
	for i := range items {
		if ok[i] {
			seq++
			seqOf[i] = seq
		}
	}
	bi := p.booking.n - 1
	// The rows' literals are made on every core, a chunk of bookings at a
	// time (per booking, per table; "" for none), and batched in order.
	encode := func(lo, hi int) ([]string, error) {
		out := make([]string, (hi-lo)*nt)
		var lits strings.Builder
		for i := lo; i < hi; i++ {
			if !ok[i] {
				continue
			}
			r, err := p.eval(&items[i], &w.o.Case)
			if err != nil {
				return nil, fmt.Errorf("booking %s: %w", items[i].Booking.Ref, err)
			}
			for ti, tp := range p.tables {
				if !has[i*nt+ti] {
					continue
				}
				lits.Reset()
				if ti == bi {
					lits.WriteString(bookingComment(&items[i]))
					lits.WriteByte('\n')
				}
				if d == MySQL {
					lits.WriteString("SELECT ")
				} else {
					lits.WriteString("(")
				}
				lits.WriteString(strconv.Itoa(seqOf[i]))
				for si := range tp.stage {
					lits.WriteString(", ")
					if err := appendLiteral(&lits, d, r[ti][si]); err != nil {
						return nil, fmt.Errorf("booking %s: %w", items[i].Booking.Ref, err)
					}
				}
				if d == SQLite {
					lits.WriteString(")")
				}
				out[(i-lo)*nt+ti] = lits.String()
			}
		}
		return out, nil
	}
	const chunk = 256
	err := inOrderOf(len(items), chunk, encode, func(lo int, lits []string) error {
		for k := 0; k < len(lits)/nt; k++ {
			if !ok[lo+k] {
				continue
			}
			for ti := range p.tables {
				if l := lits[k*nt+ti]; l != "" {
					rows[ti] = append(rows[ti], l)
					size += len(l)
				}
			}
			n++
			if n >= w.o.BatchRows || size >= w.o.BatchBytes {
				flush()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	w.s("COMMIT;\n")
	return nil
}

func extraBatched(d Dialect) []string {
	if d == MySQL {
		return []string{"x.salvage_rn = 1"}
	}
	return nil
}

// source is the derived table of one batch's rows of tp: MySQL's UNION ALL
// (its first branch names the columns and has no row), numbered by key so
// that rows its collation holds equal go in once; SQLite's VALUES.
func (w *writer) source(tp *tablePlan, rows []string) string {
	p := w.p
	var b strings.Builder
	if p.d == MySQL {
		var part []string
		for _, ci := range tp.keys {
			if tp.t.Columns[ci].Kind == FromField {
				part = append(part, "y."+tp.stage[tp.col[ci]].name)
			}
		}
		over := "ORDER BY y.salvage_seq"
		if len(part) > 0 {
			over = "PARTITION BY " + strings.Join(part, ", ") + " " + over
		}
		b.WriteString("(SELECT y.*, ROW_NUMBER() OVER (" + over + ") AS salvage_rn FROM (\n")
		b.WriteString("SELECT NULL AS salvage_seq")
		for _, sc := range tp.stage {
			b.WriteString(", NULL AS " + sc.name)
		}
		b.WriteString(" FROM DUAL WHERE 1 = 0")
		for _, r := range rows {
			b.WriteString(" UNION ALL\n")
			b.WriteString(r)
		}
		b.WriteString("\n) AS y)")
		return b.String()
	}
	b.WriteString("(SELECT column1 AS salvage_seq")
	for i, sc := range tp.stage {
		fmt.Fprintf(&b, ", column%d AS %s", i+2, sc.name)
	}
	b.WriteString(" FROM (VALUES\n")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(r)
	}
	b.WriteString("\n))")
	return b.String()
}

// inOrder runs encode on chunks of [0, n) on every core and hands each
// chunk's bytes to emit in order.
func inOrder(n, chunk int, encode func(lo, hi int, buf []byte) ([]byte, error), emit func([]byte) error) error {
	return inOrderOf(n, chunk, func(lo, hi int) ([]byte, error) { return encode(lo, hi, nil) },
		func(_ int, b []byte) error { return emit(b) })
}

// inOrderOf runs encode on chunks of [0, n) on every core and hands each
// chunk's result, with the chunk's start, to emit in order.
func inOrderOf[T any](n, chunk int, encode func(lo, hi int) (T, error), emit func(lo int, v T) error) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), 8))
	type result struct {
		v   T
		err error
	}
	chunks := (n + chunk - 1) / chunk
	slots := make([]chan result, chunks)
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	next := make(chan int)
	done := make(chan struct{})
	defer close(done)
	// At most 2*workers chunks ahead of the writer.
	window := make(chan struct{}, 2*workers)
	go func() {
		defer close(next)
		for c := 0; c < chunks; c++ {
			select {
			case window <- struct{}{}:
			case <-done:
				return
			}
			select {
			case next <- c:
			case <-done:
				return
			}
		}
	}()
	for range workers {
		go func() {
			for c := range next {
				lo := c * chunk
				v, err := encode(lo, min(lo+chunk, n))
				slots[c] <- result{v, err}
			}
		}()
	}
	for c := 0; c < chunks; c++ {
		r := <-slots[c]
		<-window
		if r.err != nil {
			return r.err
		}
		if err := emit(c*chunk, r.v); err != nil {
			return err
		}
	}
	return nil
}
