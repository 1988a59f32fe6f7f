package xlsx

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
	"github.com/xuri/excelize/v2"
)

// The Bookings columns, in order. Their headers are how `review import`
// finds them, so a reviewer may move or add columns.
const (
	colRef = iota
	colDecision
	colNotes
	colNeedsReview
	colReasons
	colStatus
	colName
	colEmail
	colPhone
	colItem
	colStart
	colEnd
	colAmount
	colPaid
	colRefunded
	colCurrency
	colConfidence
	colSources
	colEvidence
	colRestored
	colConflicts
	colKey
	nBookingCols
)

// Bookings headers.
const (
	HeaderRef       = "Reference"
	HeaderDecision  = "Decision"
	HeaderNotes     = "Notes"
	HeaderName      = "Customer"
	HeaderEmail     = "Email"
	HeaderPhone     = "Phone"
	HeaderItem      = "Item"
	HeaderStart     = "Start"
	HeaderEnd       = "End"
	HeaderAmount    = "Amount"
	HeaderKey       = "salvage key (do not edit)"
	HeaderNeeds     = "Needs review"
	headerRestored  = "Restored database"
	headerConflicts = "Conflicting fields"
)

var bookingCols = [nBookingCols]column{
	colRef:         {header: HeaderRef, width: 14},
	colDecision:    {header: HeaderDecision, width: 11},
	colNotes:       {header: HeaderNotes, width: 30, wrap: true},
	colNeedsReview: {header: HeaderNeeds, width: 8},
	colReasons:     {header: "Why review", width: 48, wrap: true},
	colStatus:      {header: "Status", width: 15},
	colName:        {header: HeaderName, width: 20},
	colEmail:       {header: HeaderEmail, width: 26},
	colPhone:       {header: HeaderPhone, width: 16},
	colItem:        {header: HeaderItem, width: 22},
	colStart:       {header: HeaderStart, width: 17},
	colEnd:         {header: HeaderEnd, width: 17},
	colAmount:      {header: HeaderAmount, width: 14},
	colPaid:        {header: "Paid", width: 14},
	colRefunded:    {header: "Refunded", width: 14},
	colCurrency:    {header: "Currency", width: 9},
	colConfidence:  {header: "Confidence", width: 10},
	colSources:     {header: "Sources", width: 20},
	colEvidence:    {header: "Evidence", width: 12},
	colRestored:    {header: headerRestored, width: 18},
	colConflicts:   {header: headerConflicts, width: 22},
	colKey:         {header: HeaderKey, width: 10, hidden: true},
}

// The Conflicts columns.
var conflictCols = []column{
	{header: "Booking", width: 14},
	{header: "Field", width: 16},
	{header: "Chosen value", width: 30, wrap: true},
	{header: "Chosen from", width: 30, wrap: true},
	{header: "Every value and its sources", width: 70, wrap: true},
}

// original is what salvage wrote in a Bookings row, kept in the hidden key
// column: the reference and each correctable field in the form of
// evidence.Review.Corrections.
type original struct {
	Ref      string            `json:"ref"`
	Fields   map[string]string `json:"fields"`
	Currency string            `json:"currency,omitempty"`
	AllDay   bool              `json:"all_day,omitempty"`
}

// bookings writes the Bookings and Conflicts sheets: the bookings that need
// review, then the others.
func (w *writer) bookings(ctx context.Context) error {
	cols := bookingCols[:]
	cols = append([]column(nil), cols...)
	for col, n := range w.widths {
		cols[col].width = min(max(cols[col].width, float64(n)+2), 45)
	}
	decision := excelize.NewDataValidation(true)
	if err := decision.SetDropList(evidence.Decisions); err != nil {
		return err
	}
	decision.SetError(excelize.DataValidationErrorStyleStop, "Decision", "approve, reject or fix")
	decision.SetInput("Decision", "approve: restore it as shown; fix: restore it with your corrections; reject: leave it out")
	highlight, err := w.f.NewConditionalStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FCE4D6"}}})
	if err != nil {
		return err
	}
	needs, _ := excelize.ColumnNumberToName(colNeedsReview + 1)
	lastCol, _ := excelize.ColumnNumberToName(colConflicts + 1)
	decisionCol, _ := excelize.ColumnNumberToName(colDecision + 1)
	bs := w.newStream(SheetBookings, cols, func(sheet string, last int) error {
		dv := *decision
		dv.Sqref = fmt.Sprintf("%s2:%s%d", decisionCol, decisionCol, last)
		if err := w.f.AddDataValidation(sheet, &dv); err != nil {
			return err
		}
		return w.f.SetConditionalFormat(sheet, fmt.Sprintf("A2:%s%d", lastCol, last), []excelize.ConditionalFormatOptions{
			{Type: "formula", Criteria: fmt.Sprintf(`$%s2="yes"`, needs), Format: &highlight},
		})
	})
	// The Conflicts sheet is written alongside.
	cs := w.newStream(SheetConflicts, conflictCols, nil)
	if err := bs.next(); err != nil {
		return err
	}
	if err := cs.next(); err != nil {
		return err
	}
	bar := w.bar("workbook: bookings", w.n)
	defer bar.Done()
	// The bookings that need review, then the others; each decoded and
	// built on every core.
	type item struct {
		i   int32
		raw []byte
	}
	items := func(yield func(item, error) bool) {
		for _, first := range []bool{true, false} {
			var at []int // this pass's bookings
			for i, r := range w.review {
				if r == first {
					at = append(at, i)
				}
			}
			if w.c.BookingsAt != nil && 2*len(at) < w.n {
				// A few of many (those that need review, usually):
				// found by their places, not by reading every booking.
				k := 0
				for raw, err := range w.c.BookingsAt(at) {
					if err == nil && k >= len(at) {
						err = fmt.Errorf("more bookings than the %d asked for", len(at))
					}
					if err != nil {
						yield(item{}, err)
						return
					}
					if !yield(item{int32(at[k]), raw}, nil) {
						return
					}
					k++
				}
				if k != len(at) {
					yield(item{}, fmt.Errorf("the bookings changed while the workbook was written (%d of %d found): write it again", k, len(at)))
					return
				}
				continue
			}
			i := -1
			// Only this pass's bookings are copied out of the store.
			keep := func(k int) bool { return k < w.n && w.review[k] == first }
			for raw, err := range w.c.Bookings(keep) {
				if err != nil {
					yield(item{}, err)
					return
				}
				i++
				if i >= w.n || w.review[i] != first {
					continue
				}
				if !yield(item{int32(i), raw}, nil) {
					return
				}
			}
			if i+1 != w.n {
				yield(item{}, fmt.Errorf("the bookings changed while the workbook was written (%d, then %d): write it again", w.n, i+1))
				return
			}
		}
	}
	err = encodeRows(ctx, bs, items, func(_ int, it item, row []cell) ([][]cell, error) {
		var bj bookingJSON
		if err := gojson.Unmarshal(it.raw, &bj); err != nil {
			return nil, fmt.Errorf("booking %s: %w", w.refs[it.i], err)
		}
		b := &bj.Booking
		if len(b.Conflicts) > 0 { // what each field was chosen from
			var p struct {
				Provenance map[string]reconcile.Source `json:"provenance"`
			}
			if err := gojson.Unmarshal(it.raw, &p); err != nil {
				return nil, fmt.Errorf("booking %s: %w", w.refs[it.i], err)
			}
			b.Provenance = p.Provenance
		}
		if err := w.bookingRow(row, it.i, b); err != nil {
			return nil, err
		}
		return w.conflictRows(it.i, b), nil
	}, func(conflicts [][]cell) error {
		for _, c := range conflicts {
			if err := cs.add(c); err != nil {
				return err
			}
		}
		return nil
	}, nil, bar)
	if err != nil {
		return err
	}
	w.stats.Bookings = bs.written
	for _, r := range w.review {
		if r {
			w.stats.NeedsReview++
		}
	}
	if err := bs.close(); err != nil {
		return err
	}
	w.stats.Conflicts = cs.written
	return cs.close()
}

// bookingJSON is a booking as the Bookings sheet decodes it: without its
// links (the sheet shows none) and its provenance (only the Conflicts
// sheet shows it, read again for the bookings that have conflicts). They
// are most of a booking's JSON: 250,000 bookings decode in 1.3 s instead
// of 2.3. Their types hold nothing, so the decoder skips what they hold
// (a json.Unmarshaler would be handed a copy of it).
type bookingJSON struct {
	reconcile.Booking
	Links      []struct{} `json:"links"`
	Provenance struct{}   `json:"provenance"`
}

// bookingRow fills row with booking i.
func (w *writer) bookingRow(row []cell, i int32, b *reconcile.Booking) error {
	limit := w.opt.MaxCellChars
	key := original{Ref: b.Ref, Currency: b.Currency, AllDay: b.AllDay, Fields: map[string]string{}}
	for _, field := range evidence.CorrectableFields {
		v := b.FieldText(field)
		if strings.HasPrefix(field, "customer.") || field == "item" {
			v = redact(v) // as shown: what the reviewer's cell is compared with
		}
		key.Fields[field] = v
	}
	keyJSON, err := gojson.Marshal(key) // sorted keys, HTML escaped, as encoding/json
	if err != nil {
		return err
	}
	// What the reviewer decided before, if anything, is shown again.
	decision := ""
	if !b.NeedsReview {
		decision = evidence.Approve
	}
	notes := ""
	if r, ok := w.c.Reviews[b.Ref]; ok {
		decision, notes = r.Decision, r.Notes
		if err := b.ApplyReview(r); err != nil {
			return err
		}
	}
	row[colRef] = text(redact(b.Ref), limit)
	row[colDecision] = text(decision, limit)
	row[colNotes] = w.wrapped(notes)
	row[colNeedsReview] = textCell(yesNo(b.NeedsReview))
	reasons := make([]string, len(b.Reasons))
	for k, r := range b.Reasons {
		reasons[k] = r.Code + ": " + r.Detail
	}
	row[colReasons] = w.wrapped(strings.Join(reasons, "\n"))
	row[colStatus] = textCell(b.Status)
	row[colName] = text(redact(b.Customer.Name), limit)
	row[colEmail] = text(redact(b.Customer.Email), limit)
	row[colPhone] = text(redact(b.Customer.Phone), limit)
	row[colItem] = text(redact(b.Item), limit)
	row[colStart] = w.when(b.Start, b.AllDay)
	row[colEnd] = w.when(b.End, b.AllDay)
	for col, v := range map[int]*int64{colAmount: b.AmountMinor, colPaid: b.PaidMinor, colRefunded: b.RefundedMinor} {
		cell, err := w.money(v, b.Currency)
		if err != nil {
			return err
		}
		row[col] = cell
	}
	row[colCurrency] = text(b.Currency, limit)
	row[colConfidence] = cell{kind: cellNumber, style: w.styles.confidence, num: math.Round(b.Confidence*100) / 100}
	row[colSources] = textCell(strings.Join(b.Sources, ", "))
	if k := w.firstRow[i]; k >= 0 && len(b.Evidence) > 0 {
		sheet, r := w.evidenceAt(int(k))
		row[colEvidence] = link(sheet, r, fmt.Sprintf("%d %s →", len(b.Evidence), plural(len(b.Evidence), "record", "records")), w.styles.link)
	}
	if d, ok := w.c.Dispositions[b.Ref]; ok {
		state := d.State
		if len(d.Fields) > 0 {
			state += ": " + strings.Join(d.Fields, ", ")
		}
		row[colRestored] = textCell(state)
	}
	fields := make([]string, len(b.Conflicts))
	for k, c := range b.Conflicts {
		fields[k] = c.Field
	}
	row[colConflicts] = text(strings.Join(fields, ", "), limit)
	row[colKey] = textCell(string(keyJSON))
	return nil
}

// conflictRows are the Conflicts rows of b: one per conflicting field.
func (w *writer) conflictRows(i int32, b *reconcile.Booking) [][]cell {
	if len(b.Conflicts) == 0 {
		return nil
	}
	sheet, r := w.bookingAt(i)
	rows := make([][]cell, 0, len(b.Conflicts))
	for _, c := range b.Conflicts {
		chosenFrom := b.Provenance[c.Field]
		from := chosenFrom.Evidence
		if chosenFrom.Rule != "" {
			from += " (" + chosenFrom.Rule + ")"
		}
		var all strings.Builder
		for k, v := range c.Values {
			if k > 0 {
				all.WriteString("\n")
			}
			fmt.Fprintf(&all, "%s ← %s", w.showValue(c.Field, v.Value), strings.Join(v.Evidence, ", "))
		}
		rows = append(rows, []cell{
			link(sheet, r, fit(redact(b.Ref), 200), w.styles.link),
			textCell(c.Field),
			w.wrapped(redact(w.showValue(c.Field, c.Chosen))),
			w.wrapped(from),
			w.wrapped(redact(all.String())),
		})
	}
	return rows
}

// showValue is a conflict value as the reviewer reads it: times in the
// case's zone.
func (w *writer) showValue(field, v string) string {
	switch field {
	case "start", "end", "created_at":
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.In(w.c.Zone).Format("2006-01-02 15:04 MST")
		}
	}
	return v
}

// wrapped is outside text in a wrapping cell.
func (w *writer) wrapped(s string) cell {
	if s == "" {
		return cell{}
	}
	return cell{kind: cellText, style: w.styles.wrap, str: fit(s, w.opt.MaxCellChars)}
}

// when is a time as a real date-time cell in the case's zone (a date for
// all-day bookings).
func (w *writer) when(t *time.Time, allDay bool) cell {
	if t == nil {
		return cell{}
	}
	style := w.styles.dateTime
	local := t.In(w.c.Zone)
	if allDay {
		style = w.styles.date
		local = time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	}
	return cell{kind: cellNumber, style: style, num: Serial(local)}
}

// Serial is the Excel serial number (days since 1899-12-30) of t's wall
// clock, whatever its zone, to the second, rounded to the 15 significant
// digits a workbook keeps. (excelize cuts longer numbers off rather than
// rounding them, and a spreadsheet program that floors to the second would
// then show 17:30 as 17:29:59.)
func Serial(t time.Time) float64 {
	// The wall clock's seconds since 1970, then since Excel's day 0
	// (25,569 days before): a workbook has millions of these, and six
	// calendar computations each (Year, Month, …) were most of their cost.
	_, offset := t.Zone()
	v := float64(t.Unix()+int64(offset)+excelEpochUnix) / 86400
	scale := math.Pow10(15 - intDigits(int(v)))
	return math.Round(v*scale) / scale
}

// excelEpochUnix is Excel's day 0, 1899-12-30, in seconds from 1970.
const excelEpochUnix = 25569 * 86400

// intDigits is len(strconv.Itoa(n)), without making the string.
func intDigits(n int) int {
	d := 1
	if n < 0 {
		d++
		n = -n
	}
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// FromSerial is the wall clock of an Excel serial number, in loc, to the
// second.
func FromSerial(v float64, loc *time.Location) time.Time {
	d := time.Duration(math.Round(v*86400)) * time.Second
	wall := excelEpoch.Add(d)
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
}

var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// money is an amount in minor units as a number of major units, in the
// currency's format.
func (w *writer) money(v *int64, cur string) (cell, error) {
	if v == nil {
		return cell{}, nil
	}
	style, err := w.moneyStyle(cur)
	if err != nil {
		return cell{}, err
	}
	return cell{kind: cellNumber, style: style, num: Major(*v, cur)}, nil
}

// Major is minor units as major units: 12050 EUR is 120.5.
func Major(minor int64, cur string) float64 {
	return float64(minor) / math.Pow10(Digits(cur))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// redact shows every secret in s as its fingerprint.
func redact(s string) string { return evidence.Redact(s) }
