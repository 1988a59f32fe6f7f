package xlsx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/extract"
	"github.com/xuri/excelize/v2"
)

// ReviewCase is what reading a review needs to know of the case.
type ReviewCase struct {
	ID   string
	Zone *time.Location
	// Known reports whether ref is one of the case's bookings.
	Known func(ref string) bool
}

// Problem is one thing wrong in a reviewed workbook, where it is.
type Problem struct {
	Sheet  string
	Row    int
	Column string // letter, such as "K"; empty for the whole row or sheet
	Header string // the column's header
	Msg    string
}

func (p Problem) String() string {
	at := p.Sheet
	if p.Row > 0 {
		at = fmt.Sprintf("%s!%s%d", p.Sheet, p.Column, p.Row)
		if p.Column == "" {
			at = fmt.Sprintf("%s row %d", p.Sheet, p.Row)
		}
	}
	if p.Header != "" {
		at += " (" + p.Header + ")"
	}
	return at + ": " + p.Msg
}

// ReviewError lists everything wrong in a workbook; nothing of it is read
// into the case.
type ReviewError struct {
	Problems []Problem
	// More counts the problems found beyond those listed.
	More int
}

// maxProblems is how many problems a ReviewError lists.
const maxProblems = 50

func (e *ReviewError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the workbook has %d %s; nothing was imported:", len(e.Problems)+e.More, plural(len(e.Problems)+e.More, "problem", "problems"))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", e.More)
	}
	return b.String()
}

// ErrOtherCase means the workbook was written from another case.
var ErrOtherCase = errors.New("the workbook was written from another case")

// ErrNotWorkbook means the file is not a salvage review workbook.
var ErrNotWorkbook = errors.New("not a salvage review workbook")

// ReadReview reads the Decision, Notes and corrected cells of every
// Bookings row (on every Bookings sheet) of the workbook in r. It returns
// one review per booking row, in sheet and row order, without DecidedAt
// and Workbook, which the caller sets. It reads nothing if anything is
// wrong: a *ReviewError says what and where.
func ReadReview(r io.Reader, c ReviewCase) ([]evidence.Review, error) {
	if c.Zone == nil {
		c.Zone = time.UTC
	}
	// A workbook of a million bookings unzips to a few GB; a bigger one is
	// not a review workbook (or is a zip bomb).
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: 8 << 30})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotWorkbook, err)
	}
	defer f.Close()
	id, err := workbookCase(f)
	if err != nil {
		return nil, err
	}
	if id != c.ID {
		return nil, fmt.Errorf("%w: it belongs to case %s, this case is %s; export a workbook from this case (salvage export xlsx)", ErrOtherCase, id, c.ID)
	}
	rd := &reader{c: c, seen: map[string]string{}}
	var sheets []string
	for _, name := range f.GetSheetList() {
		if name == SheetBookings || bookingsSheet.MatchString(name) {
			sheets = append(sheets, name)
		}
	}
	if len(sheets) == 0 {
		return nil, fmt.Errorf("%w: it has no %s sheet", ErrNotWorkbook, SheetBookings)
	}
	var out []evidence.Review
	for _, sheet := range sheets {
		got, err := rd.sheet(f, sheet)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	if len(rd.problems) > 0 {
		return nil, &ReviewError{Problems: rd.problems, More: rd.more}
	}
	return out, nil
}

var bookingsSheet = regexp.MustCompile(`^` + SheetBookings + ` \([0-9]+\)$`)

// workbookCase is the case id the workbook carries: on its Summary sheet,
// or failing that in its document properties.
func workbookCase(f *excelize.File) (string, error) {
	if rows, err := f.GetRows(SheetSummary); err == nil {
		for _, row := range rows {
			if len(row) >= 2 && strings.TrimSpace(row[0]) == CaseLabel {
				return strings.TrimSpace(row[1]), nil
			}
		}
	}
	if props, err := f.GetCustomProps(); err == nil {
		for _, p := range props {
			if p.Name == "salvage case" {
				if s, ok := p.Value.(string); ok && s != "" {
					return s, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%w: no case id on its %s sheet", ErrNotWorkbook, SheetSummary)
}

type reader struct {
	c        ReviewCase
	problems []Problem
	more     int
	seen     map[string]string // ref → where it was first seen
}

func (rd *reader) problem(p Problem) {
	if len(rd.problems) == maxProblems {
		rd.more++
		return
	}
	rd.problems = append(rd.problems, p)
}

// sheet reads one Bookings sheet.
func (rd *reader) sheet(f *excelize.File, sheet string) ([]evidence.Review, error) {
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	col := map[string]int{}
	var out []evidence.Review
	n := 0
	for rows.Next() {
		n++
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", sheet, n, err)
		}
		if n == 1 {
			for i, h := range cells {
				col[strings.TrimSpace(h)] = i
			}
			for _, h := range []string{HeaderRef, HeaderDecision, HeaderNotes, HeaderKey} {
				if _, ok := col[h]; !ok {
					rd.problem(Problem{Sheet: sheet, Row: 1, Msg: fmt.Sprintf("no %q column: the header row must keep salvage's headers", h)})
				}
			}
			if len(rd.problems) > 0 {
				return nil, &ReviewError{Problems: rd.problems, More: rd.more}
			}
			continue
		}
		if r, ok := rd.row(sheet, n, cells, col); ok {
			out = append(out, r)
		}
	}
	return out, rows.Error()
}

// readCell is one cell of a row being read.
type readCell struct {
	sheet  string
	row    int
	col    int
	header string
	value  string
}

func (c readCell) problem(msg string, args ...any) Problem {
	letter, _ := excelize.ColumnNumberToName(c.col + 1)
	return Problem{Sheet: c.sheet, Row: c.row, Column: letter, Header: c.header, Msg: fmt.Sprintf(msg, args...)}
}

// row reads one Bookings row into a review; false for a row to skip.
func (rd *reader) row(sheet string, n int, cells []string, col map[string]int) (evidence.Review, bool) {
	get := func(header string) (readCell, bool) {
		i, ok := col[header]
		if !ok {
			return readCell{}, false
		}
		c := readCell{sheet: sheet, row: n, col: i, header: header}
		if i < len(cells) {
			c.value = strings.TrimSpace(cells[i])
		}
		return c, true
	}
	ref, _ := get(HeaderRef)
	key, _ := get(HeaderKey)
	if key.value == "" {
		if ref.value != "" {
			rd.problem(ref.problem("unknown reference %q: this row was not written by salvage (its hidden key is empty); bookings can only be reviewed, not added, here", ref.value))
		}
		return evidence.Review{}, false
	}
	var orig original
	if err := json.Unmarshal([]byte(key.value), &orig); err != nil || orig.Ref == "" {
		rd.problem(key.problem("the hidden key was changed; export a fresh workbook"))
		return evidence.Review{}, false
	}
	if ref.value != orig.Ref {
		rd.problem(ref.problem("the reference was changed from %q to %q; a reference identifies the booking and cannot be edited (write the right one in Notes)", orig.Ref, ref.value))
		return evidence.Review{}, false
	}
	if rd.c.Known != nil && !rd.c.Known(orig.Ref) {
		rd.problem(ref.problem("unknown reference %q: the case has no such booking (was the workbook written before the last salvage reconcile?)", orig.Ref))
		return evidence.Review{}, false
	}
	if where, dup := rd.seen[orig.Ref]; dup {
		rd.problem(ref.problem("booking %s appears twice (first at %s); keep one row", orig.Ref, where))
		return evidence.Review{}, false
	}
	rd.seen[orig.Ref] = fmt.Sprintf("%s row %d", sheet, n)

	r := evidence.Review{Ref: orig.Ref}
	if d, ok := get(HeaderDecision); ok {
		r.Decision = strings.ToLower(d.value)
		if r.Decision != "" && !slices.Contains(evidence.Decisions, r.Decision) {
			rd.problem(d.problem("%q is not a decision: use approve, reject or fix", d.value))
		}
	}
	if notes, ok := get(HeaderNotes); ok {
		r.Notes = notes.value
	}
	corrections := map[string]string{}
	for _, fc := range []struct{ field, header string }{
		{"customer.name", HeaderName}, {"customer.email", HeaderEmail}, {"customer.phone", HeaderPhone},
		{"item", HeaderItem}, {"start", HeaderStart}, {"end", HeaderEnd}, {"amount_minor", HeaderAmount},
	} {
		c, ok := get(fc.header)
		if !ok {
			continue
		}
		was := orig.Fields[fc.field]
		now, err := rd.value(fc.field, c, orig)
		if err != nil {
			rd.problem(c.problem("%v", err))
			continue
		}
		if now != was {
			corrections[fc.field] = now
		}
	}
	if len(corrections) > 0 {
		r.Corrections = corrections
	}
	return r, true
}

// value is a cell's value in the form of evidence.Review.Corrections, or
// what is wrong with it. A value equal to what salvage wrote comes back
// exactly as it was written.
func (rd *reader) value(field string, c readCell, orig original) (string, error) {
	v := c.value
	switch field {
	case "customer.email":
		if v == "" || v == orig.Fields[field] {
			return v, nil
		}
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v {
			return "", fmt.Errorf("%q is not an email address (write it bare: ana@example.com)", v)
		}
		return v, nil
	case "start", "end":
		if v == "" {
			return "", nil
		}
		var t time.Time
		if num, err := strconv.ParseFloat(v, 64); err == nil {
			if num < 1 || num > 2958465 { // 1900-01-01 … 9999-12-31
				return "", fmt.Errorf("%s is not a date-time", v)
			}
			t = FromSerial(num, rd.c.Zone)
		} else {
			p, err := evidence.ParseTime(v, rd.c.Zone)
			if err != nil {
				return "", fmt.Errorf("%q is not a date-time: type it as 2026-11-20 10:00 (in %s) or use a date cell", v, rd.c.Zone)
			}
			t = p.In(rd.c.Zone)
		}
		if was, err := time.Parse(time.RFC3339, orig.Fields[field]); err == nil {
			w := was.In(rd.c.Zone)
			if orig.AllDay && t.Year() == w.Year() && t.YearDay() == w.YearDay() && t.Hour() == 0 && t.Minute() == 0 {
				return orig.Fields[field], nil
			}
			if t.Equal(was) {
				return orig.Fields[field], nil
			}
		}
		return t.UTC().Format(time.RFC3339), nil
	case "amount_minor":
		if v == "" {
			return "", nil
		}
		var minor float64
		if num, err := strconv.ParseFloat(v, 64); err == nil {
			// A number cell: major units.
			if math.IsInf(num, 0) || math.IsNaN(num) {
				return "", fmt.Errorf("%q is not an amount: type a number such as 120.50", v)
			}
			minor = math.Round(num * math.Pow10(Digits(orig.Currency)))
		} else {
			// Text as people write amounts: "1.234,50 €", "EUR 1,234.50".
			m, cur, err := extract.ParseAmount(v, orig.Currency)
			if err != nil {
				return "", fmt.Errorf("%q is not an amount (%v): type a number such as 120.50", v, err)
			}
			if orig.Currency != "" && cur != orig.Currency {
				return "", fmt.Errorf("%q is in %s; the booking is in %s", v, cur, orig.Currency)
			}
			minor = float64(m)
		}
		if minor < 0 {
			return "", fmt.Errorf("%s: an amount cannot be negative", v)
		}
		if minor > 1e15 {
			return "", fmt.Errorf("%s is too large an amount", v)
		}
		return strconv.FormatInt(int64(minor), 10), nil
	}
	return v, nil
}
