package xlsx

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Excel's limits.
const (
	// MaxRows is the number of rows of a sheet, its header included.
	MaxRows = excelize.TotalRows
	// MaxCellChars is the number of characters (UTF-16 units) of a cell.
	MaxCellChars = excelize.TotalCellChars
)

// column is one column of a sheet.
type column struct {
	header string
	width  float64
	hidden bool
	// wrap makes the column's cells wrap their text.
	wrap bool
}

// stream writes one logical sheet, continuing on "Name (2)", "Name (3)",
// … when a sheet is full. Each sheet is made by excelize's StreamWriter
// (header row, widths, frozen header, autofilter, the caller's formats)
// with a placeholder row; the data rows are encoded by salvage (rows.go)
// and take the placeholder's place in the archive.
type stream struct {
	f       *excelize.File
	base    string
	cols    []column
	style   int // header style
	perPage int // data rows per sheet

	sheets  []string
	sw      *excelize.StreamWriter
	rs      *rowSet
	cur     *sheetRows // the rows of the current sheet
	row     int        // the next row to write, 1-based
	finish  func(sheet string, lastRow int) error
	written int
}

func (w *writer) newStream(base string, cols []column, finish func(sheet string, lastRow int) error) *stream {
	return &stream{f: w.f, rs: w.rows, base: base, cols: cols, style: w.styles.header, perPage: w.opt.MaxRows - 1, finish: finish}
}

// sheetName is the name of the n-th sheet (0-based) of base.
func sheetName(base string, n int) string {
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s (%d)", base, n+1)
}

// locate is the sheet and row where the i-th data row (0-based) of a
// stream of base with perPage rows a sheet is written.
func locate(base string, perPage, i int) (string, int) {
	return sheetName(base, i/perPage), i%perPage + 2
}

// add writes one data row, opening the next sheet when needed.
func (s *stream) add(cells []cell) error {
	if s.sw == nil || s.row > s.perPage+1 {
		if err := s.next(); err != nil {
			return err
		}
	}
	if err := s.cur.add(s.row, cells); err != nil {
		return fmt.Errorf("%s row %d: %w", s.sheets[len(s.sheets)-1], s.row, err)
	}
	s.row++
	s.written++
	return nil
}

// rowNumber is the row, on its sheet, of the i-th data row (0-based).
func (s *stream) rowNumber(i int) int { return i%s.perPage + 2 }

// addEncoded writes the next data row, encoded by appendRow with its
// number (rowNumber of the rows written so far).
func (s *stream) addEncoded(enc []byte) error {
	if s.sw == nil || s.row > s.perPage+1 {
		if err := s.next(); err != nil {
			return err
		}
	}
	s.cur.write(enc)
	s.row++
	s.written++
	return nil
}

// next ends the current sheet and starts the next one.
func (s *stream) next() error {
	if err := s.end(); err != nil {
		return err
	}
	name := sheetName(s.base, len(s.sheets))
	if _, err := s.f.NewSheet(name); err != nil {
		return err
	}
	sw, err := s.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	for i, c := range s.cols {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
		if c.hidden {
			if err := sw.SetColVisible(i+1, i+1, false); err != nil {
				return err
			}
		}
	}
	header := make([]any, len(s.cols))
	for i, c := range s.cols {
		header[i] = excelize.Cell{StyleID: s.style, Value: c.header}
	}
	if err := sw.SetRow("A1", header, excelize.RowOpts{Height: 20}); err != nil {
		return err
	}
	// The placeholder row the data rows replace (see rows.go).
	marker := markerPrefix + strconv.Itoa(len(s.rs.byMarker))
	if err := sw.SetRow("A2", []any{marker}); err != nil {
		return err
	}
	cur, err := s.rs.open(marker)
	if err != nil {
		return err
	}
	s.sheets = append(s.sheets, name)
	s.sw, s.cur, s.row = sw, cur, 2
	return nil
}

// end finishes the current sheet: the caller's formatting, the autofilter,
// then the stream.
func (s *stream) end() error {
	if s.sw == nil {
		return nil
	}
	name, last := s.sheets[len(s.sheets)-1], s.row-1
	lastCol, _ := excelize.ColumnNumberToName(len(s.cols))
	if err := s.f.AutoFilter(name, "A1:"+lastCol+strconv.Itoa(max(last, 2)), nil); err != nil {
		return err
	}
	if s.finish != nil && last >= 2 {
		if err := s.finish(name, last); err != nil {
			return err
		}
	}
	if err := s.cur.finish(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	err := s.sw.Flush()
	s.sw, s.cur = nil, nil
	return err
}

// close ends the stream; a stream that wrote nothing still gets its
// sheet, with the header only.
func (s *stream) close() error {
	if s.sw == nil && len(s.sheets) == 0 {
		if err := s.next(); err != nil {
			return err
		}
	}
	return s.end()
}

// cutMarker ends a text cut to fit a cell.
const (
	cutMarker      = cutMarkerStart + "%d" + cutMarkerEnd
	cutMarkerStart = "\n… [cut: "
	cutMarkerEnd   = " more characters; the full text is in the case]"
)

// fit returns s cut to at most limit UTF-16 units, with a visible marker
// saying how much is missing.
func fit(s string, limit int) string {
	head, cut := fitParts(s, limit, 0)
	if cut < 0 {
		return head
	}
	return head + fmt.Sprintf(cutMarker, cut)
}

// fitParts is fit in parts, of a text that already lost more units at its
// end: the head kept, and how many characters the marker after it says
// are missing (-1: nothing was cut).
func fitParts(s string, limit, more int) (head string, cut int) {
	if more == 0 && len(s) <= limit { // bytes ≥ UTF-16 units
		return s, -1
	}
	n := utf16Len(s)
	if more == 0 && n <= limit {
		return s, -1
	}
	marker := fmt.Sprintf(cutMarker, n+more)
	head, _ = splitUnits(s, limit-utf16Len(marker))
	return head, n - utf16Len(head) + more
}

// splitUnits splits s after at most n UTF-16 units, between runes.
func splitUnits(s string, n int) (string, string) {
	if len(s) <= n { // bytes ≥ UTF-16 units
		return s, ""
	}
	// Text is mostly ASCII, a byte a unit: its ASCII start is taken
	// whole, the rest rune by rune.
	start := asciiPrefix(s[:max(n, 0)])
	units := start
	for i, r := range s[start:] {
		u := utf16.RuneLen(r)
		if u < 0 {
			u = 1
		}
		if units+u > n {
			return s[:start+i], s[start+i:]
		}
		units += u
	}
	return s, ""
}

// excerpt is the start of outside text, redacted, cut to limit: the head
// kept and the characters cut (-1: none; a marker saying so goes after
// the head). Only a generous head is redacted, not the whole (perhaps
// huge) text: a secret that starts in what is shown is found whole, even
// a private key block.
func excerpt(s string, limit int) (head string, cut int) {
	head, rest := splitUnits(s, limit+8192)
	return fitParts(redact(head), limit, utf16Len(rest))
}

// excerptCell is excerpt as a wrapped cell; a cut text is written head
// then marker, not joined first (a million evidence texts are cut).
func (w *writer) excerptCell(s string, limit int) cell {
	head, cut := excerpt(s, limit)
	if cut < 0 {
		return w.wrapped(head)
	}
	return cell{kind: cellCut, style: w.styles.wrap, str: head, num: float64(cut)}
}

// utf16Len is the length of s in UTF-16 units (invalid UTF-8: a unit a
// byte), as Excel counts a cell's characters.
func utf16Len(s string) int {
	n := 0
	for len(s) > 0 {
		// ASCII runs: a unit a byte.
		k := asciiPrefix(s)
		n += k
		s = s[k:]
		if s == "" {
			break
		}
		r, size := utf8.DecodeRuneInString(s)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		s = s[size:]
	}
	return n
}

// asciiPrefix is the length of s's longest ASCII prefix.
func asciiPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&highs != 0 {
			break
		}
	}
	for ; i < len(s) && s[i] < utf8.RuneSelf; i++ {
	}
	return i
}

// text is outside text as a cell: always a string cell (never a formula,
// whatever it starts with), cut to fit.
func text(s string, limit int) cell {
	return textCell(fit(s, limit))
}

// link is a cell linking to a row of a sheet of the workbook, showing
// label.
func link(sheet string, row int, label string, style int32) cell {
	return cell{kind: cellLink, style: style, num: float64(row), str: label, sheet: sheet}
}
