// Package xlsx writes the review workbook staff work through in a
// spreadsheet program (Excel, LibreOffice, Google Sheets), and reads their
// review back.
//
// The workbook has four kinds of sheet: Summary (the case, the loss window,
// the incident, the counts, the imports, how to review), Bookings (one row
// per rebuilt booking, needing review first, with a Decision and a Notes
// column for the reviewer), Conflicts (one row per field the sources
// disagree on) and Evidence (one row per record a booking was built from,
// redacted). A sheet that reaches Excel's 1,048,576 rows continues on
// "Bookings (2)", "Evidence (2)", …
//
// Everything that came from outside is written as a text cell, so an email
// that says "=HYPERLINK(…)" shows those characters and never runs; every
// text is redacted (secrets shown as fingerprints) and cut, with a visible
// marker, to Excel's 32,767 characters a cell. Each Bookings row carries,
// in a hidden column, the values salvage wrote, so that `salvage review
// import` can tell which cells the reviewer corrected, whatever order the
// rows were sorted into.
package xlsx

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"maps"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/psort"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources/describe"
	"github.com/salvagehq/salvage/timeline"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/currency"
)

// Sheet names.
const (
	SheetSummary   = "Summary"
	SheetBookings  = "Bookings"
	SheetConflicts = "Conflicts"
	SheetEvidence  = "Evidence"
)

// MemoryLimit is the least soft memory limit (runtime/debug.SetMemoryLimit)
// salvage export xlsx runs under (LimitMemory): the collector works harder
// as the heap nears it rather than let garbage pile up. The heap stays
// under it (the limit counts the runtime's other memory too), and under
// the 500 MB the workbook of 250,000 bookings is held to; at 480 MB the
// collector ran all but flat out near the end of the Evidence sheet, with
// 420 MB live (250k, alternated: 21.1-22.2 s at 480 MB, 19.8-20.0 s at
// 495 MB). The Timeline sheet gets 25 MB less (LimitMemory).
const MemoryLimit = 495 << 20

// liveBytes is the memory that stays live while a workbook is written,
// for each record version of the case: the timeline's events (kept
// without pointers, see the timeline package) and the index of the
// records the bookings use. Measured at 250,000 bookings: ~415 MB live
// at the end of the Evidence sheet for 1.6 million versions.
const liveBytes = 250

// LimitMemory sets the soft memory limit for writing the workbook of a
// case of n record versions (and GOGC 100, unless the environment sets
// it; 300 once the timeline's memory is free, for the Bookings sheet:
// about 70 MB stay live then, and collecting every 70 MB was 1.5 s of
// CPU at 250k bookings), and returns a function that puts the previous
// settings back. The limit is MemoryLimit, or what stays live and a
// fifth as much again: a limit below what must stay in memory only makes
// the collector run flat out, and little room costs little now that what
// stays live has nothing for the collector to mark.
func LimitMemory(n int64) (restore func()) {
	limit := max(MemoryLimit, n*liveBytes*6/5)
	prev := debug.SetMemoryLimit(limit)
	// The timeline's last steps allocate in a burst (its sort keys, 46 MB
	// at 250k, and its events on every core) while 400 MB stay live: with
	// the Evidence sheet's limit the collector let the heap reach 490-524
	// MB. 25 MB less for the Timeline sheet kept it under 465 MB.
	timelineLimit.Store(limit - 25<<20)
	// Before the timeline fills the heap, the garbage of reading the
	// bookings three times would grow up to the limit (GOGC 400 for batch
	// work), and past it: the collector starts late while the readers
	// allocate on (peaks of 470-510 MB at 250k). Twice what is live is
	// room enough then (447-448 MB, no slower). GOGC, when set, rules.
	if os.Getenv("GOGC") != "" {
		return func() {
			timelineLimit.Store(0)
			debug.SetMemoryLimit(prev)
		}
	}
	prevPercent := debug.SetGCPercent(100)
	lastGCPercent.Store(300)
	return func() {
		lastGCPercent.Store(0)
		timelineLimit.Store(0)
		debug.SetMemoryLimit(prev)
		debug.SetGCPercent(prevPercent)
	}
}

// timelineLimit is the memory limit for the Timeline sheet (LimitMemory);
// 0 leaves the limit alone.
var timelineLimit atomic.Int64

// lastGCPercent is GOGC for the last sheets, once the timeline is written
// (LimitMemory); 0 leaves GOGC alone.
var lastGCPercent atomic.Int32

// Case is what a workbook is written from.
type Case struct {
	// ID identifies the case; the workbook carries it so that its review
	// is never read into another case.
	ID string
	// Zone is the case's time zone: every time is shown in it.
	Zone    *time.Location
	Summary Summary
	// Bookings yields each booking's JSON (reconcile.Booking) in the
	// reconciler's order; nil for the i-th (from 0) when keep, if set,
	// refuses it. It is called more than once and must yield the same
	// bookings each time.
	Bookings func(keep func(i int) bool) iter.Seq2[[]byte, error]
	// BookingsAt, when set, yields the JSON of the bookings at indices
	// (ascending, as Bookings counts them), each found by its place: for
	// a few of many, quicker than reading them all.
	BookingsAt func(indices []int) iter.Seq2[[]byte, error]
	// Briefs, when set, yields each booking's brief (reconcile.Brief),
	// or its JSON, in the order of Bookings: the first pass reads them
	// instead of every booking's whole JSON.
	Briefs func() iter.Seq2[[]byte, error]
	// Records yields every version of every record of the case in the
	// order the case stored them (each record's versions oldest first),
	// each with what a person reads of it (Record.Readable) where the case
	// holds that, else its raw bytes, but only when rawOf accepts its id;
	// a Readable's text only when textOf accepts it too (its title
	// always). rawOf and textOf may be called on any goroutine. It is
	// called once: its records make the Evidence sheet (the newest
	// version of each record a booking uses, in the order they come) and
	// the timeline.
	Records func(rawOf, textOf func(id string) bool) iter.Seq2[evidence.Record, error]
	// Newest is the newest version of each record Records yields more than
	// one version of (evidence.Store.NewestVersions); nil when every
	// record has one.
	Newest func() (map[string]int, error)
	// Describe gives a record's title and text as a person reads them.
	Describe func(evidence.Record) (title, text string)
	// Title gives Describe's title alone, for a row without the text;
	// nil asks Describe.
	Title func(evidence.Record) string
	// Reviews are the decisions already read back, by reference: the
	// workbook shows them, so a new workbook never loses a review.
	Reviews map[string]evidence.Review
	// Dispositions are the bookings checked against the restored
	// database, by reference; empty when never checked.
	Dispositions map[string]evidence.Disposition
	// Timeline starts the timeline of the Timeline sheet (nil writes no
	// such sheet): every record Records yields is added to it, and once
	// the Evidence sheet is written its rows are written. known is the
	// records the bookings use and the booking that holds each (the
	// workbook knows them already), kept until the rows are written;
	// newest is what Newest gave.
	Timeline func(known timeline.Known, newest map[string]int) (TimelineBuilder, error)
}

// FromStore is the part of a workbook's input that comes straight from a
// case store: its zone, its bookings, its records (described as a person
// reads them) and its timeline. The caller adds the ID, the Summary, the
// reviews and the dispositions.
func FromStore(ctx context.Context, s *evidence.Store) Case {
	return Case{
		Zone: s.Config().Location(),
		Bookings: func(keep func(int) bool) iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for b, err := range s.BookingsKept(ctx, keep) {
					if !yield(b.JSON, err) {
						return
					}
				}
			}
		},
		BookingsAt: func(indices []int) iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for b, err := range s.BookingsAt(ctx, indices) {
					if !yield(b.JSON, err) {
						return
					}
				}
			}
		},
		Briefs: func() iter.Seq2[[]byte, error] {
			return func(yield func([]byte, error) bool) {
				for b, err := range s.BookingBriefs(ctx) {
					if !yield(b.JSON, err) {
						return
					}
				}
			}
		},
		Records: func(rawOf, textOf func(string) bool) iter.Seq2[evidence.Record, error] {
			// A read of the table from start to end: by id, each row
			// would be a seek (a third of the read).
			return s.Records(ctx, evidence.Query{AllVersions: true, WithRaw: true, Lean: true, Readable: true, RawOf: rawOf, TextOf: textOf, InStoreOrder: true})
		},
		Newest:   func() (map[string]int, error) { return s.NewestVersions(ctx) },
		Describe: describe.Text,
		Title:    describe.Title,
		Timeline: func(known timeline.Known, newest map[string]int) (TimelineBuilder, error) {
			opts, err := timeline.StoreOptions(ctx, s, timeline.Options{Known: known, Newest: newest})
			if err != nil {
				return nil, err
			}
			return storeTimeline{timeline.NewBuilder(opts)}, nil
		},
	}
}

// TimelineBuilder builds the Timeline sheet's timeline: it is given every
// record version, then asked for the rows (markers and events, in order).
type TimelineBuilder interface {
	Add(*evidence.Record)
	Rows() iter.Seq[timeline.Row]
}

// storeTimeline gives the rows straight from the builder: the events are
// never all Events at once.
type storeTimeline struct{ *timeline.Builder }

// Summary is what the Summary sheet says besides the counts it takes from
// the bookings.
type Summary struct {
	Reconciled time.Time
	// Since and Until bound the loss window; zero is open.
	Since, Until time.Time
	// IncidentAt and Incident are the incident's time and one line on
	// what happened; Incident is empty when no incident is known.
	IncidentAt time.Time
	Incident   string
	// Counts is the reconciler's summary.
	Counts reconcile.Summary
	Jobs   []evidence.Job
}

// Options tune the writer; the zero value means Excel's limits.
type Options struct {
	// MaxRows is the rows a sheet holds, header included (tests make it
	// small to see sheets continue).
	MaxRows int
	// MaxCellChars is the characters a cell holds.
	MaxCellChars int
	// Bar, when set, is given a progress bar per sheet written (total 0
	// when not known ahead).
	Bar func(name string, total int64) Bar
	// MaxTextChars is how much of a record's text the Evidence sheet shows
	// (default 2,000 characters; the rest is in the case, and the cut is
	// marked). A workbook of a million records stays quick to write and to
	// open.
	MaxTextChars int
	// EvidenceText says which Evidence rows show their record's text:
	// those of the bookings that need review (TextToReview, the default)
	// or all (TextAll).
	EvidenceText EvidenceText
}

// EvidenceText says which rows of the Evidence sheet show their record's
// text. Every row shows the record's facts (reference, customer, item,
// dates, amount, status) and its title (an email's subject, a Stripe
// object's kind and id, an event's summary).
type EvidenceText uint8

const (
	// TextToReview shows the text of the records behind the bookings
	// that need review: what a person reads to decide them. A workbook
	// with the text of every record opens slowly, if at all: LibreOffice
	// took 44 s and 3.4 GB of memory to open one of 25,000 bookings
	// (157,000 records), and 12 s and 0.9 GB without the text of the
	// 89 % of bookings that need no review.
	TextToReview EvidenceText = iota
	// TextAll shows the text of every record.
	TextAll
)

// EvidenceTexts are the names of the EvidenceText values, as the command
// line takes them.
var EvidenceTexts = []string{"review", "all"}

func (t EvidenceText) String() string {
	if int(t) < len(EvidenceTexts) {
		return EvidenceTexts[t]
	}
	return fmt.Sprintf("EvidenceText(%d)", uint8(t))
}

// ParseEvidenceText is the EvidenceText named s ("review" or "all").
func ParseEvidenceText(s string) (EvidenceText, error) {
	if i := slices.Index(EvidenceTexts, s); i >= 0 {
		return EvidenceText(i), nil
	}
	return 0, fmt.Errorf("%q: the evidence text to show is one of %s", s, strings.Join(EvidenceTexts, ", "))
}

// Bar is a progress bar: rows written, then done.
type Bar interface {
	Add(n int64)
	Done()
}

type noBar struct{}

func (noBar) Add(int64) {}
func (noBar) Done()     {}

// bar starts the progress bar of one sheet.
func (w *writer) bar(name string, total int) Bar {
	if w.opt.Bar == nil {
		return noBar{}
	}
	return w.opt.Bar(name, int64(total))
}

// Stats counts what a workbook holds.
type Stats struct {
	Bookings, NeedsReview, Conflicts, Evidence, Timeline int
	// EvidenceText is the Evidence rows that show their record's text.
	EvidenceText int
	// Sheets lists every sheet written, in order.
	Sheets []string
}

// used is one evidence record used by a booking: its id is
// writer.ids[off:end]. Ids live in one byte arena, not a million strings,
// so that the collector has nothing to scan in them.
type used struct {
	off, end uint32
	booking  int32
}

// writer holds one workbook being written.
type writer struct {
	c    Case
	opt  Options
	f    *excelize.File
	rows *rowSet

	// from the first pass
	n        int
	review   []bool
	pos      []int32 // booking index → row position in Bookings
	refs     []string
	evidence []used // sorted by their ids' hashes (sortedByHash)
	ids      []byte // the arena of evidence ids
	hashes   []uint64
	seed     maphash.Seed // of the hashes
	newest   map[string]int
	idx      *bookingIndex

	// from the Evidence sheet: booking index → its first evidence row
	// (a data row index of the sheet), -1 for none
	firstRow []int32
	widths   map[int]int
	perPage  int
	stats    Stats
	styles   styles
	// mu guards styles.money.
	mu sync.Mutex
	// sealed: no more money styles are made (rows are built on several
	// cores, and styles made in the order rows happen to be built would
	// number differently from one run to the next).
	sealed bool
}

type styles struct {
	header                                 int
	dateTime, date, confidence, link, wrap int32
	money                                  map[string]int32
}

// Write writes the workbook of c to w.
func Write(ctx context.Context, w io.Writer, c Case, opt Options) (Stats, error) {
	if opt.MaxRows <= 0 || opt.MaxRows > MaxRows {
		opt.MaxRows = MaxRows
	}
	if opt.MaxRows < 2 {
		opt.MaxRows = 2
	}
	if opt.MaxCellChars <= 0 || opt.MaxCellChars > MaxCellChars {
		opt.MaxCellChars = MaxCellChars
	}
	if opt.MaxTextChars <= 0 {
		opt.MaxTextChars = 2000
	}
	opt.MaxTextChars = min(opt.MaxTextChars, opt.MaxCellChars)
	if c.Zone == nil {
		c.Zone = time.UTC
	}
	if c.Describe == nil {
		c.Describe = func(r evidence.Record) (string, string) {
			if r.Readable != nil {
				return r.Readable.Title, r.Readable.Text
			}
			return r.Kind, string(r.Raw)
		}
	}
	if c.Title == nil {
		describe := c.Describe
		c.Title = func(r evidence.Record) string {
			title, _ := describe(r)
			return title
		}
	}
	f := excelize.NewFile(excelize.Options{})
	defer f.Close()
	rows := newRowSet()
	defer rows.close()
	wr := &writer{c: c, opt: opt, f: f, rows: rows, perPage: opt.MaxRows - 1, widths: map[int]int{}}
	if err := wr.newStyles(); err != nil {
		return Stats{}, err
	}
	if err := wr.scan(ctx); err != nil {
		return Stats{}, err
	}
	if err := wr.sheets(); err != nil {
		return Stats{}, err
	}
	if c.Newest != nil {
		var err error
		if wr.newest, err = c.Newest(); err != nil {
			return Stats{}, err
		}
	}
	// The timeline is built from the records the Evidence sheet reads.
	var tl TimelineBuilder
	if c.Timeline != nil {
		var err error
		if tl, err = c.Timeline(wr.index(), wr.newest); err != nil {
			return Stats{}, fmt.Errorf("timeline: %w", err)
		}
	}
	// The Evidence sheet comes first: it finds each booking's first
	// evidence row, which the Bookings sheet links to.
	if err := wr.evidenceSheet(ctx, tl); err != nil {
		return Stats{}, err
	}
	// The timeline builder keeps the index until it is done reading.
	wr.evidence, wr.ids, wr.newest, wr.idx = nil, nil, nil, nil
	if l := timelineLimit.Load(); l > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(l))
	}
	if err := wr.timelineSheet(ctx, tl); err != nil {
		return Stats{}, err
	}
	// The bookings are read again once the timeline's memory is free.
	tl = nil
	if p := lastGCPercent.Load(); p > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(int(p)))
	}
	if err := wr.bookings(ctx); err != nil {
		return Stats{}, err
	}
	if err := wr.summary(); err != nil {
		return Stats{}, err
	}
	if err := f.SetCustomProps(excelize.CustomProperty{Name: "salvage case", Value: c.ID}); err != nil {
		return Stats{}, err
	}
	if err := f.SetDocProps(&excelize.DocProperties{
		Title: "salvage review workbook", Creator: "salvage", Description: "Rebuilt bookings to review. Case " + c.ID + ".",
		Created: c.Summary.Reconciled.UTC().Format(time.RFC3339), Modified: c.Summary.Reconciled.UTC().Format(time.RFC3339),
	}); err != nil {
		return Stats{}, err
	}
	f.SetActiveSheet(0)
	wr.stats.Sheets = f.GetSheetList()
	// The archive goes straight to w, parts in name order (see sortedZip);
	// excelize's own buffer stays empty.
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return newSortedZip(w, rows) })
	if err := f.Write(io.Discard); err != nil {
		return Stats{}, fmt.Errorf("write workbook: %w", err)
	}
	return wr.stats, nil
}

// sheets makes the sheets in reading order, the first of each stream and
// those it is known to continue on (the Evidence sheet, written first,
// would come before the Bookings sheet otherwise); a stream that runs
// longer adds its next sheets after them.
func (w *writer) sheets() error {
	if err := w.f.SetSheetName("Sheet1", SheetSummary); err != nil {
		return err
	}
	streams := []struct {
		base string
		rows int
	}{{SheetBookings, w.n}, {SheetConflicts, 0}, {SheetEvidence, len(w.evidence)}}
	if w.c.Timeline != nil {
		streams = append(streams, struct {
			base string
			rows int
		}{SheetTimeline, 0})
	}
	for _, st := range streams {
		for k := range max(1, (st.rows+w.perPage-1)/w.perPage) {
			if _, err := w.f.NewSheet(sheetName(st.base, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) newStyles() error {
	var err error
	s := &w.styles
	mk := func(st *excelize.Style) int32 {
		if err != nil {
			return 0
		}
		var id int
		id, err = w.f.NewStyle(st)
		return int32(id)
	}
	s.header = int(mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{Vertical: "center"}}))
	fmtDT, fmtD, fmtC := "yyyy-mm-dd hh:mm", "yyyy-mm-dd", "0.00"
	s.dateTime = mk(&excelize.Style{CustomNumFmt: &fmtDT, Alignment: &excelize.Alignment{Vertical: "top"}})
	s.date = mk(&excelize.Style{CustomNumFmt: &fmtD, Alignment: &excelize.Alignment{Vertical: "top"}})
	s.confidence = mk(&excelize.Style{CustomNumFmt: &fmtC, Alignment: &excelize.Alignment{Vertical: "top"}})
	s.link = mk(&excelize.Style{Font: &excelize.Font{Color: "0563C1", Underline: "single"}, Alignment: &excelize.Alignment{Vertical: "top"}})
	s.wrap = mk(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	s.money = map[string]int32{}
	return err
}

// moneyStyle is the number format of an amount in cur: two decimals (or
// the currency's own) and the code.
func (w *writer) moneyStyle(cur string) (int32, error) {
	if w.sealed {
		// The styles are all made (the first pass made one for every
		// booking's currency, and the unnamed one): read on every core,
		// unlocked. A currency no booking has (a record's) gets its
		// amount with two decimals; the Currency column beside it says
		// which.
		if id, ok := w.styles.money[cur]; ok {
			return id, nil
		}
		return w.styles.money[""], nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.styles.money[cur]; ok {
		return id, nil
	}
	digits := Digits(cur)
	format := "#,##0"
	if digits > 0 {
		format += "." + strings.Repeat("0", digits)
	}
	if cur != "" {
		format += ` "` + strings.ReplaceAll(cur, `"`, "") + `"`
	}
	id, err := w.f.NewStyle(&excelize.Style{CustomNumFmt: &format, Alignment: &excelize.Alignment{Vertical: "top"}})
	if err != nil {
		return 0, err
	}
	w.styles.money[cur] = int32(id)
	return int32(id), nil
}

// Digits is the number of minor-unit digits of an ISO 4217 currency: 2
// for EUR, 0 for JPY, 2 when unknown.
func Digits(cur string) int {
	u, err := currency.ParseISO(cur)
	if err != nil {
		return 2
	}
	d, _ := currency.Standard.Rounding(u)
	return d
}

// idChunkSize is the bytes of ids the first pass gathers in a chunk (a
// variable for the tests).
var idChunkSize = 4 << 20

// scan is the first pass: which bookings need review (they come first),
// which evidence each uses, and how wide the text columns are.
func (w *writer) scan(ctx context.Context) error {
	currencies := map[string]bool{}
	// Bookings are read on one goroutine and decoded on every core.
	briefs := w.c.Bookings(nil)
	if w.c.Briefs != nil {
		briefs = w.c.Briefs()
	}
	decoded := decodeAll(ctx, briefs, func(i int, raw []byte) (reconcile.Brief, error) {
		var b reconcile.Brief
		if err := gojson.Unmarshal(raw, &b); err != nil {
			return b, fmt.Errorf("booking %d: %w", i+1, err)
		}
		return b, nil
	})
	// The ids are gathered in chunks, then joined: an arena grown by
	// append was copied over and over (0.8 s for 70 MB of ids).
	idChunk := idChunkSize
	var (
		chunks [][]byte
		ids    []byte
		base   int // bytes in chunks
	)
	for b, err := range decoded {
		if err != nil {
			return err
		}
		i := int32(w.n)
		w.n++
		w.review = append(w.review, b.NeedsReview)
		w.refs = append(w.refs, b.Ref)
		for _, id := range b.Evidence {
			if base+len(ids)+len(id) > math.MaxUint32 || len(w.evidence)+1 >= textBit {
				return fmt.Errorf("more evidence than a workbook can hold (4 GB of ids, or 2 billion records)")
			}
			if len(ids)+len(id) > cap(ids) {
				if len(ids) > 0 {
					chunks, base = append(chunks, ids), base+len(ids)
				}
				ids = make([]byte, 0, max(idChunk, len(id)))
			}
			off := uint32(base + len(ids))
			ids = append(ids, id...)
			w.evidence = append(w.evidence, used{off: off, end: uint32(base + len(ids)), booking: i})
		}
		w.widen(colRef, b.Ref)
		w.widen(colName, b.Customer.Name)
		w.widen(colEmail, b.Customer.Email)
		w.widen(colItem, b.Item)
		currencies[b.Currency] = true
	}
	// Every booking's currency gets its style now, in order, and an
	// unnamed one for any other.
	currencies[""] = true
	for _, cur := range sortedKeys(currencies) {
		if _, err := w.moneyStyle(cur); err != nil {
			return err
		}
	}
	w.sealed = true
	// Bookings that need review first, each group in the reconciler's
	// order.
	w.pos = make([]int32, w.n)
	p := int32(0)
	for _, first := range []bool{true, false} {
		for i, r := range w.review {
			if r == first {
				w.pos[i] = p
				p++
			}
		}
	}
	// One arena of the ids, no bigger than they are, and the references
	// without room left over from growing them: they live until the
	// timeline has read every record, as does the index (sortedByHash
	// makes a new slice).
	w.ids = make([]byte, 0, base+len(ids))
	for _, c := range append(chunks, ids) {
		w.ids = append(w.ids, c...)
	}
	chunks, ids = nil, nil
	w.seed = maphash.MakeSeed()
	w.evidence, w.hashes = sortedByHash(w.evidence, w.ids, w.seed)
	w.refs = slices.Clone(w.refs)
	return nil
}

// sortedByHash is u sorted by the hash of each id under seed (ids is
// their arena), then by id, a record used twice in booking order, in a
// new slice, with each one's hash: the order of the booking index's table,
// each id hashed once. Hashes and ids are compared on two cores (by id
// alone, 1.57 million ids that share long prefixes took 0.6 s).
func sortedByHash(u []used, ids []byte, seed maphash.Seed) ([]used, []uint64) {
	type keyed struct {
		h uint64
		u used
	}
	k := make([]keyed, len(u))
	hash := func(from, to int) {
		for i := from; i < to; i++ {
			k[i] = keyed{maphash.Bytes(seed, ids[u[i].off:u[i].end]), u[i]}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { hash(0, len(u)/2) })
	hash(len(u)/2, len(u))
	wg.Wait()
	k = psort.Sorted(k, func(a, b keyed) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Or(bytes.Compare(ids[a.u.off:a.u.end], ids[b.u.off:b.u.end]), cmp.Compare(a.u.booking, b.u.booking))
	})
	out, hs := make([]used, len(k)), make([]uint64, len(k))
	for i, x := range k {
		out[i], hs[i] = x.u, x.h
	}
	return out, hs
}

func (w *writer) widen(col int, s string) {
	if n := len([]rune(s)); n > w.widths[col] {
		w.widths[col] = n
	}
}

// showText says whether the Evidence rows of booking b show their
// record's text.
func (w *writer) showText(b int32) bool {
	return w.opt.EvidenceText == TextAll || w.review[b]
}

// textOf says whether an Evidence row of used record j (the first of its
// id) shows its text: whether a booking using it shows the text.
func (w *writer) textOf(j int) bool {
	for u := j; u < len(w.evidence); u++ {
		if u > j && !bytes.Equal(w.idAt(u), w.idAt(j)) {
			break
		}
		if w.showText(w.evidence[u].booking) {
			return true
		}
	}
	return false
}

// bookingAt is the sheet and row of booking i.
func (w *writer) bookingAt(i int32) (string, int) {
	return locate(SheetBookings, w.perPage, int(w.pos[i]))
}

// evidenceAt is the sheet and row of the Evidence sheet's k-th data row.
func (w *writer) evidenceAt(k int) (string, int) {
	return locate(SheetEvidence, w.perPage, k)
}

// idAt is the id of the j-th used record, in the arena.
func (w *writer) idAt(j int) []byte {
	u := w.evidence[j]
	return w.ids[u.off:u.end]
}

// evidenceID is the id of the j-th used record.
func (w *writer) evidenceID(j int) string {
	u := w.evidence[j]
	return string(w.ids[u.off:u.end])
}

// sortedKeys is m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
