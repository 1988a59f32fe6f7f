package xlsx

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/xuri/excelize/v2"
)

var evidenceCols = []column{
	{header: "Evidence id", width: 34},
	{header: "Booking", width: 14},
	{header: "Source", width: 9},
	{header: "Via", width: 8},
	{header: "Kind", width: 14},
	{header: "Time", width: 17},
	{header: "Reference", width: 14},
	{header: "Name", width: 20},
	{header: "Email", width: 26},
	{header: "Phone", width: 16},
	{header: "Item", width: 22},
	{header: "Start", width: 17},
	{header: "End", width: 17},
	{header: "Amount", width: 14},
	{header: "Currency", width: 9},
	{header: "Status", width: 11},
	{header: "Title", width: 40, wrap: true},
	{header: "Text", width: 80, wrap: true},
}

// evidenceSheet writes one row per record a booking uses (its newest
// version), in the order the case stored them, each linking back to its
// booking, then a row for each the case lacks. Every record the case
// holds is read, each version added to the timeline tl (when not nil).
// It notes each booking's first row (w.firstRow).
func (w *writer) evidenceSheet(ctx context.Context, tl TimelineBuilder) error {
	es := w.newStream(SheetEvidence, evidenceCols, nil)
	bar := w.bar("workbook: evidence", len(w.evidence))
	defer bar.Done()
	// An item is a row to write: used record u (of w.evidence), and the
	// record by value (a pointer would be an allocation a row) when the
	// case holds it.
	type item struct {
		u     int
		found bool
		r     evidence.Record
		// once: the record has this row only, whose raw bytes go back to
		// the store when it is written (a record used twice keeps its).
		once bool
	}
	idx := w.index()
	w.firstRow = make([]int32, w.n)
	for i := range w.firstRow {
		w.firstRow[i] = -1
	}
	written := make([]bool, len(w.evidence)) // used records with a row
	items := func(yield func(item, error) bool) {
		rows := 0
		emit := func(it item) bool {
			written[it.u] = true
			b := w.evidence[it.u].booking
			if w.firstRow[b] < 0 {
				w.firstRow[b] = int32(rows)
			}
			if it.found && w.showText(b) {
				w.stats.EvidenceText++
			}
			rows++
			return yield(it, nil)
		}
		var cur evidence.Record // one variable handed to tl, not one a record
		// The raw bytes of a record are read only when a booking uses
		// it, its text only when a row shows it: taking a record for
		// another whose id's hash is much the same reads a few bytes
		// too many, and spares looking at the ids.
		rawOf := func(id string) bool { ok, _ := idx.mayHave(id); return ok }
		textOf := func(id string) bool { _, text := idx.mayHave(id); return text }
		for r, err := range w.c.Records(rawOf, textOf) {
			if err != nil {
				yield(item{}, err)
				return
			}
			if tl != nil {
				cur = r
				tl.Add(&cur)
			}
			j, ok := idx.Find(r.ID)
			if !ok {
				continue
			}
			if r.Version < w.newest[r.ID] { // an older version: no row of its own
				evidence.ReleaseRaw(r.Raw)
				continue
			}
			if written[j] {
				yield(item{}, fmt.Errorf("record %s: version %d comes after the version the workbook took for the newest: the case changed while the workbook was written; write it again", r.ID, r.Version))
				return
			}
			// A record used twice (it should not be) gets a row per use.
			end := j + 1
			for end < len(w.evidence) && string(w.idAt(end)) == r.ID {
				end++
			}
			for u := j; u < end; u++ {
				if !emit(item{u: u, found: true, r: r, once: end-j == 1}) {
					return
				}
			}
		}
		// Used records the case does not hold are listed as missing, by
		// id.
		var missing []int
		for u := range w.evidence {
			if !written[u] {
				missing = append(missing, u)
			}
		}
		slices.SortFunc(missing, func(a, b int) int {
			return cmp.Or(bytes.Compare(w.idAt(a), w.idAt(b)), cmp.Compare(w.evidence[a].booking, w.evidence[b].booking))
		})
		for _, u := range missing {
			if !emit(item{u: u}) {
				return
			}
		}
	}
	// Describing and redacting each record: rows are built on every core.
	err := encodeRows(ctx, es, items, func(_ int, it item, row []cell) ([][]cell, error) {
		return nil, w.evidenceRow(row, it.u, it.found, &it.r)
	}, nil, func(it item) {
		if it.once {
			evidence.ReleaseRaw(it.r.Raw)
		}
	}, bar)
	if err != nil {
		return err
	}
	w.stats.Evidence = es.written
	return es.close()
}

// evidenceRow fills row with used record u, r when found (the case holds
// it).
func (w *writer) evidenceRow(row []cell, u int, found bool, r *evidence.Record) error {
	b := w.evidence[u].booking
	sheet, at := w.bookingAt(b)
	id := r.ID
	if !found {
		id = w.evidenceID(u)
	}
	row[0] = text(redact(id), w.opt.MaxCellChars)
	row[1] = link(sheet, at, fit(redact(w.refs[b]), 200), w.styles.link)
	if !found {
		row[16] = textCell("not in the case: the record was not found (imported into another case, or the case changed since the reconcile)")
		return nil
	}
	limit := w.opt.MaxCellChars
	row[2], row[3], row[4] = textCell(string(r.Source)), textCell(r.Via), textCell(r.Kind)
	if !r.OccurredAt.IsZero() {
		t := r.OccurredAt
		row[5] = w.when(&t, false)
	}
	f := r.Facts
	row[6] = text(redact(f.Ref), limit)
	row[7] = text(redact(f.Name), limit)
	row[8] = text(redact(f.Email), limit)
	row[9] = text(redact(f.Phone), limit)
	row[10] = text(redact(f.Item), limit)
	row[11] = w.when(f.Start, f.AllDay)
	row[12] = w.when(f.End, f.AllDay)
	amount := f.AmountMinor
	if amount == nil {
		amount = f.PaidMinor
	}
	money, err := w.money(amount, f.Currency)
	if err != nil {
		return err
	}
	row[13] = money
	row[14] = text(f.Currency, limit)
	row[15] = text(string(f.Status), limit)
	if w.showText(b) {
		title, body := w.c.Describe(*r)
		row[16] = w.excerptCell(title, w.opt.MaxTextChars)
		row[17] = w.excerptCell(body, w.opt.MaxTextChars)
	} else {
		row[16] = w.excerptCell(w.c.Title(*r), w.opt.MaxTextChars)
	}
	return nil
}

// summary writes the Summary sheet: what the workbook is, the window, the
// incident, the counts, the imports, and how to review.
func (w *writer) summary() error {
	const sheet = SheetSummary
	f, zone, s := w.f, w.c.Zone, w.c.Summary
	show := func(t time.Time) string {
		if t.IsZero() {
			return "open"
		}
		return t.In(zone).Format("2006-01-02 15:04 MST")
	}
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Vertical: "top"}})
	if err != nil {
		return err
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	indent, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Indent: 2, Vertical: "top"}})
	if err != nil {
		return err
	}
	row := 1
	// long puts a sentence beside its label, across the sheet, wrapped.
	long := func(label, text string) error {
		if err := put1(f, sheet, row, label, bold); err != nil {
			return err
		}
		b, h := fmt.Sprintf("B%d", row), fmt.Sprintf("H%d", row)
		if err := f.SetCellStr(sheet, b, text); err != nil {
			return err
		}
		if err := f.MergeCell(sheet, b, h); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, b, h, wrap); err != nil {
			return err
		}
		if lines := len([]rune(text))/110 + 1; lines > 1 {
			if err := f.SetRowHeight(sheet, row, float64(15*lines)); err != nil {
				return err
			}
		}
		row++
		return nil
	}
	// sub puts a count under the line above, indented.
	sub := func(label string, v any) error {
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &[]any{label, v}); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("A%d", row), indent); err != nil {
			return err
		}
		row++
		return nil
	}
	put := func(label string, values ...any) error {
		cells := append([]any{label}, values...)
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &cells); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("A%d", row), bold); err != nil {
			return err
		}
		row++
		return nil
	}
	heading := func(label string) error {
		row++
		if err := f.SetCellStr(sheet, fmt.Sprintf("A%d", row), label); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("A%d", row), title); err != nil {
			return err
		}
		row++
		return nil
	}
	if err := f.SetCellStr(sheet, "A1", "salvage review workbook: rebuilt bookings to check before they are restored"); err != nil {
		return err
	}
	if err := f.MergeCell(sheet, "A1", "H1"); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", "A1", title); err != nil {
		return err
	}
	row = 3
	c := s.Counts
	steps := []func() error{
		func() error { return put(CaseLabel, w.c.ID) },
		func() error { return put("Reconciled", show(s.Reconciled)) },
		func() error {
			if s.Until.IsZero() {
				return long("Loss window", fmt.Sprintf("from %s (the last backup), still open: no end given", show(s.Since)))
			}
			return long("Loss window", fmt.Sprintf("from %s to %s", show(s.Since), show(s.Until)))
		},
		func() error {
			if s.Incident == "" {
				return long("Incident", "no incident found in the evidence")
			}
			return long("Incident", show(s.IncidentAt)+": "+redact(s.Incident))
		},
		func() error { return heading("Counts") },
		func() error { return put("Bookings rebuilt", w.stats.Bookings) },
		func() error { return put("To review", w.stats.NeedsReview) },
		func() error {
			for _, code := range sortedKeys(c.Review) {
				if err := sub(code, c.Review[code]); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return put("By status", "") },
		func() error {
			for _, st := range sortedKeys(c.ByStatus) {
				if err := sub(st, c.ByStatus[st]); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return put("Conflicting fields", w.stats.Conflicts) },
		func() error {
			what := fmt.Sprintf("%d records behind the bookings, on the Evidence sheet", w.stats.Evidence)
			if w.opt.EvidenceText == TextAll {
				return long("Evidence", what+", each with its text")
			}
			return long("Evidence", what+fmt.Sprintf("; the text of the %d behind the bookings to review, and the facts and title of the others (salvage export xlsx --evidence-text all shows every record's text)", w.stats.EvidenceText))
		},
		func() error {
			if w.c.Timeline == nil {
				return nil
			}
			return long("Timeline", fmt.Sprintf("%d events and markers, in order, on the Timeline sheet", w.stats.Timeline))
		},
		func() error {
			if len(c.Unmatched) == 0 {
				return nil
			}
			return put("Evidence joined to no booking", "")
		},
		func() error {
			for _, src := range sortedKeys(c.Unmatched) {
				if err := sub(src, c.Unmatched[src]); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if len(w.c.Dispositions) == 0 {
				return long("Restored database", "not checked yet (salvage export sql --against DSN)")
			}
			n := map[string]int{}
			for _, d := range w.c.Dispositions {
				n[d.State]++
			}
			return long("Restored database", fmt.Sprintf("%d new, %d present, %d differ (see the Bookings sheet's Restored database column)", n[evidence.DispositionNew], n[evidence.DispositionPresent], n[evidence.DispositionDiffers]))
		},
		func() error { return heading("Sources imported") },
		func() error {
			return put("Import", "Source", "Started", "Finished", "Status", "New", "New versions", "Rejected")
		},
		func() error {
			for _, j := range w.c.Summary.Jobs {
				finished := ""
				if !j.FinishedAt.IsZero() {
					finished = show(j.FinishedAt)
				}
				if err := put(j.Importer, string(j.Source), show(j.StartedAt), finished, string(j.Status), j.Counts.New, j.Counts.NewVersion, j.Counts.Rejected); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return heading("How to review") },
		func() error {
			for _, line := range howTo {
				if err := f.SetCellStr(sheet, fmt.Sprintf("A%d", row), line); err != nil {
					return err
				}
				if err := f.MergeCell(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("H%d", row)); err != nil {
					return err
				}
				if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("A%d", row), wrap); err != nil {
					return err
				}
				if err := f.SetRowHeight(sheet, row, 32); err != nil {
					return err
				}
				row++
			}
			return nil
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if err := f.SetColWidth(sheet, "A", "A", 26); err != nil {
		return err
	}
	return f.SetColWidth(sheet, "B", "H", 18)
}

// CaseLabel labels the Summary cell that holds the case id.
const CaseLabel = "Case"

var howTo = []string{
	"1. On Bookings, the rows that need review come first and are highlighted; 'Why review' says what to check, and Evidence links to the first record the booking was built from (filter the Evidence sheet's Booking column for all of them).",
	"2. Set Decision to approve (restore as shown), fix (restore with your corrections: type them into Customer, Email, Phone, Item, Start, End or Amount) or reject (leave it out), and write anything worth keeping in Notes.",
	"3. Save the file and run salvage review import on it: your decisions go into the case, and the restore SQL includes only approved and fixed bookings.",
}

// put1 writes a label in column A of row, in style.
func put1(f *excelize.File, sheet string, row int, label string, style int) error {
	cell := fmt.Sprintf("A%d", row)
	if err := f.SetCellStr(sheet, cell, label); err != nil {
		return err
	}
	return f.SetCellStyle(sheet, cell, cell, style)
}
