package xlsx

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

// The rows of the big sheets are not written through excelize's
// StreamWriter, whose per-cell work (reflection, XML escaping twice over,
// a regular expression per string) was most of a workbook's time. Each
// sheet is still made by excelize (columns, panes, header row, autofilter,
// validations), with one placeholder row where the data goes; the rows
// are encoded here as SpreadsheetML, compressed as they come into a
// temporary file, and put in place of the placeholder when the archive is
// written (sortedZip).

// sheetRows is the data rows of one sheet: deflate data, ended by a sync
// flush so that more deflate data may follow it in the same zip entry.
// The rows are compressed on a goroutine of their own, a megabyte at a
// time, while the next are encoded.
type sheetRows struct {
	marker string
	file   *os.File
	bw     *bufio.Writer // to file
	fw     *flate.Writer // to bw
	crc    uint32
	size   int64 // uncompressed bytes
	buf    []byte
	placed bool // put in its sheet (sortedZip)

	full chan []byte // to the compressor
	free chan []byte // back from it
	done chan error
}

// rowSet is every sheet's rows, by placeholder marker.
type rowSet struct {
	byMarker map[string]*sheetRows
}

func newRowSet() *rowSet { return &rowSet{byMarker: map[string]*sheetRows{}} }

// open starts the rows of a new sheet, to replace the row holding marker.
func (rs *rowSet) open(marker string) (*sheetRows, error) {
	f, err := os.CreateTemp("", "salvage-xlsx-rows-*")
	if err != nil {
		return nil, err
	}
	// The compressor writes a few hundred bytes at a time: a system call
	// each was 0.6 s of CPU for a 284 MB workbook.
	bw := bufio.NewWriterSize(f, 1<<20)
	fw, err := flate.NewWriter(bw, flate.BestSpeed)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	r := &sheetRows{marker: marker, file: f, bw: bw, fw: fw,
		full: make(chan []byte, 2), free: make(chan []byte, 3), done: make(chan error, 1)}
	for range 2 {
		r.free <- make([]byte, 0, rowFlush+64<<10)
	}
	r.buf = make([]byte, 0, rowFlush+64<<10)
	rs.byMarker[marker] = r
	go r.compress(r.full)
	return r, nil
}

// compress compresses each buffer it is given; the first error stops it
// from writing (it still hands buffers back).
func (r *sheetRows) compress(full <-chan []byte) {
	var err error
	for b := range full {
		if err == nil {
			r.crc = crc32.Update(r.crc, crc32.IEEETable, b)
			r.size += int64(len(b))
			_, err = r.fw.Write(b)
		}
		r.free <- b[:0]
	}
	if err == nil {
		err = r.fw.Flush()
	}
	if err == nil {
		err = r.bw.Flush()
	}
	// The compressor's tables and buffers are not kept until the archive
	// is written: a few MB a sheet.
	r.fw, r.bw = nil, nil
	r.done <- err
}

// close removes every temporary file.
func (rs *rowSet) close() {
	for _, r := range rs.byMarker {
		r.stop()
		r.file.Close()
		os.Remove(r.file.Name())
	}
}

// rowFlush is how much encoded XML is gathered before it is compressed.
const rowFlush = 1 << 20

// add encodes one row (its 1-based number) of cells.
func (r *sheetRows) add(row int, cells []cell) error {
	var err error
	r.buf, err = appendRow(r.buf, row, cells)
	if err != nil {
		return err
	}
	if len(r.buf) >= rowFlush {
		r.flush()
	}
	return nil
}

// write adds rows already encoded (appendRow).
func (r *sheetRows) write(enc []byte) {
	r.buf = append(r.buf, enc...)
	if len(r.buf) >= rowFlush {
		r.flush()
	}
}

func (r *sheetRows) flush() {
	r.full <- r.buf
	r.buf = <-r.free
}

// finish compresses what is left and ends the deflate data with a sync
// flush (not a final block).
func (r *sheetRows) finish() error {
	if len(r.buf) > 0 {
		r.flush()
	}
	r.buf = nil
	return r.stop()
}

// stop ends the compressor, once, and gives its error.
func (r *sheetRows) stop() error {
	if r.full == nil {
		return nil
	}
	close(r.full)
	r.full = nil
	err := <-r.done
	r.free = nil // the buffers it handed back
	return err
}

// colNames are the column letters of the first columns.
var colNames = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i], _ = excelize.ColumnNumberToName(i + 1)
	}
	return out
}()

// cellKind is what a data cell holds.
type cellKind uint8

const (
	cellEmpty  cellKind = iota // nothing: left out, unless it has a style
	cellText                   // str as an inline string (never a formula, whatever it starts with)
	cellNumber                 // num
	cellLink                   // a link to row num of sheet, showing str (a formula of salvage's own)
	cellCut                    // str, then the marker saying num characters were cut
)

// cell is one cell of a data row, as appendRow writes it: a value, not an
// interface (a million rows of them were as many allocations).
type cell struct {
	kind  cellKind
	style int32
	num   float64
	str   string
	sheet string // cellLink's
}

// textCell is s as a string cell, uncut ("" is no cell).
func textCell(s string) cell {
	if s == "" {
		return cell{}
	}
	return cell{kind: cellText, str: s}
}

// appendRow appends the SpreadsheetML of one row: strings as inline
// strings (never formulas), numbers as numbers, links as formulas of
// salvage's own making; empty cells without a style are left out at the
// end of the row, and are a bare <c/> before a cell that is written.
//
// Cells carry no reference (r="B7"): ECMA-376 §18.3.1.4 makes it
// optional, a cell without one being the next column of its row, and
// Excel, LibreOffice, Google Sheets and excelize read it so. The reference
// held a new row number in every cell, which the compressor could not
// match: without it a sheet's XML is 15 % smaller and compresses in 40 %
// less time to a third less.
func appendRow(buf []byte, row int, cells []cell) ([]byte, error) {
	if len(cells) > len(colNames) {
		return buf, fmt.Errorf("row %d: %d columns, at most %d", row, len(cells), len(colNames))
	}
	buf = append(buf, `<row r="`...)
	buf = strconv.AppendInt(buf, int64(row), 10)
	buf = append(buf, `">`...)
	gap := 0 // empty cells not yet written
	for i := range cells {
		c := &cells[i]
		if c.kind == cellEmpty && c.style == 0 {
			gap++
			continue
		}
		for ; gap > 0; gap-- {
			buf = append(buf, `<c/>`...)
		}
		buf = append(buf, `<c`...)
		if c.style != 0 {
			buf = append(buf, ` s="`...)
			buf = strconv.AppendInt(buf, int64(c.style), 10)
			buf = append(buf, '"')
		}
		switch c.kind {
		case cellEmpty:
			buf = append(buf, `/>`...)
		case cellText:
			buf = appendInlineString(buf, c.str)
		case cellCut:
			// Head and marker, as appendInlineString writes head+marker.
			buf = append(buf, ` t="inlineStr"><is><t`...)
			if c.str == "" || isSpace(c.str[0]) {
				// The marker starts with a line feed.
				buf = append(buf, ` xml:space="preserve"`...)
			}
			buf = append(buf, '>')
			buf = appendXMLText(buf, c.str)
			buf = appendXMLText(buf, cutMarkerStart)
			buf = strconv.AppendInt(buf, int64(c.num), 10)
			buf = appendXMLText(buf, cutMarkerEnd)
			buf = append(buf, `</t></is></c>`...)
		case cellNumber:
			if math.IsNaN(c.num) || math.IsInf(c.num, 0) {
				return buf, fmt.Errorf("row %d column %s: %v is not a number a cell can hold", row, colNames[i], c.num)
			}
			buf = append(buf, `><v>`...)
			buf = strconv.AppendFloat(buf, c.num, 'f', -1, 64)
			buf = append(buf, `</v></c>`...)
		case cellLink:
			// HYPERLINK("#'sheet'!A<row>","label"), quotes doubled; the
			// cached value is the label.
			buf = append(buf, ` t="str"><f>HYPERLINK("#'`...)
			buf = appendXMLText(buf, doubled(c.sheet, "'"))
			buf = append(buf, `'!A`...)
			buf = strconv.AppendInt(buf, int64(c.num), 10)
			buf = append(buf, `","`...)
			buf = appendXMLText(buf, doubled(c.str, `"`))
			buf = append(buf, `")</f><v>`...)
			buf = appendXMLText(buf, c.str)
			buf = append(buf, `</v></c>`...)
		default:
			return buf, fmt.Errorf("row %d column %s: a cell of kind %d cannot be written", row, colNames[i], c.kind)
		}
	}
	return append(buf, `</row>`...), nil
}

// doubled is s with each quote doubled, as a formula's string holds it.
func doubled(s, quote string) string {
	if !strings.Contains(s, quote) {
		return s
	}
	return strings.ReplaceAll(s, quote, quote+quote)
}

// appendInlineString appends the rest of a cell holding s as an inline
// string, cut to Excel's limit; leading or trailing white space is kept.
func appendInlineString(buf []byte, s string) []byte {
	if len(s) > MaxCellChars && utf16Len(s) > MaxCellChars {
		s, _ = splitUnits(s, MaxCellChars)
	}
	buf = append(buf, ` t="inlineStr"><is><t`...)
	if s != "" && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
		buf = append(buf, ` xml:space="preserve"`...)
	}
	buf = append(buf, '>')
	buf = appendXMLText(buf, s)
	return append(buf, `</t></is></c>`...)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// xmlPlain marks the ASCII bytes that stand for themselves in XML text.
var xmlPlain = func() (t [128]bool) {
	for b := 0x20; b < 0x80; b++ {
		t[b] = true
	}
	t['&'], t['<'], t['>'], t['_'] = false, false, false, false
	t['\t'], t['\n'] = true, true
	return t
}()

// appendXMLText appends s as XML character data: markup characters
// escaped, a carriage return as a reference (a parser would make it a
// line feed), characters XML cannot hold (controls, invalid UTF-8,
// U+FFFE/U+FFFF) as U+FFFD; and, since Excel reads "_xHHHH_" as an
// escaped character, such a sequence written as "_x005F_xHHHH_" to be
// read back as itself.
func appendXMLText(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time up to the next that may not stand for
		// itself (a workbook's text is gigabytes, mostly plain).
		if i+8 <= len(s) {
			if i += plainPrefix(s[i:]); i == len(s) {
				break
			}
		}
		// Then that byte (or character) by the rules.
		b := s[i]
		if b < utf8.RuneSelf {
			// A '_' is only escaped before "x": snake_case runs on.
			if xmlPlain[b] || b == '_' && (i+1 == len(s) || s[i+1] != 'x') {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '&':
				buf = append(buf, "&amp;"...)
			case '<':
				buf = append(buf, "&lt;"...)
			case '>':
				buf = append(buf, "&gt;"...)
			case '\r':
				buf = append(buf, "&#xD;"...)
			case '_':
				if isEscapeSeq(s[i:]) {
					buf = append(buf, "_x005F"...)
				}
				buf = append(buf, '_')
			default:
				buf = append(buf, "\uFFFD"...)
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\uFFFD"...)
			i += n
			start = i
			continue
		}
		i += n
	}
	return append(buf, s[start:]...)
}

// load64 is the eight bytes of s at i, the first the lowest.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Masks of eight bytes.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// below marks (0x80) the bytes of w under n (n ≤ 0x80). A byte's mark is
// exact up to the first non-ASCII byte; past it, a carry may blur them.
func below(w uint64, n byte) uint64 { return ^(w + ones*uint64(0x80-n)) & highs }

// equal marks the bytes of w equal to c (ASCII), exact as below's.
func equal(w uint64, c byte) uint64 { return below(w^(ones*uint64(c)), 1) }

// plainPrefix is how many bytes at the start of s surely stand for
// themselves in XML text, taken eight at a time: it stops at a byte
// xmlPlain does not mark, a '_' before an "x" or last of its eight (the
// byte after is not in them), or a non-ASCII byte; the byte it stops at
// may yet stand for itself (a '_' not before "x"): the caller looks. It
// leaves the last bytes, fewer than eight, to the caller too.
func plainPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		bad := w & highs
		bad |= below(w, 0x20) &^ (equal(w, '\t') | equal(w, '\n'))
		bad |= equal(w, '&') | equal(w, '<') | equal(w, '>')
		u := equal(w, '_')
		bad |= equal(w, 'x')>>8&u | u&(0x80<<56)
		if bad != 0 {
			return i + bits.TrailingZeros64(bad)>>3
		}
	}
	return i
}

// isEscapeSeq says whether s starts with "_xHHHH_".
func isEscapeSeq(s string) bool {
	if len(s) < 7 || s[1] != 'x' || s[6] != '_' {
		return false
	}
	for _, c := range []byte(s[2:6]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// spliceRows finds the placeholder row of a sheet part: the bytes before
// and after it, and the rows that replace it. ok is false when the part
// holds no placeholder.
func (rs *rowSet) spliceRows(part []byte) (before, after []byte, r *sheetRows, ok bool) {
	if rs == nil || len(rs.byMarker) == 0 {
		return nil, nil, nil, false
	}
	i := bytes.Index(part, []byte("<t>"+markerPrefix))
	if i < 0 {
		return nil, nil, nil, false
	}
	end := bytes.IndexByte(part[i+3:], '<')
	if end < 0 {
		return nil, nil, nil, false
	}
	if r, ok = rs.byMarker[string(part[i+3:i+3+end])]; !ok {
		return nil, nil, nil, false
	}
	from := bytes.LastIndex(part[:i], []byte("<row "))
	to := bytes.Index(part[i:], []byte("</row>"))
	if from < 0 || to < 0 {
		return nil, nil, nil, false
	}
	return part[:from], part[i+to+len("</row>"):], r, true
}

// markerPrefix starts a placeholder cell's text.
const markerPrefix = "salvage-rows-placeholder:"

// crc32Combine is the CRC-32 (IEEE) of A followed by B from the CRCs of
// each and the length of B (zlib's crc32_combine).
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return multModP(x8nModP(lenB), crcA) ^ crcB
}

// multModP multiplies a and b modulo the CRC-32 polynomial (reflected).
func multModP(a, b uint32) uint32 {
	m := uint32(1) << 31
	p := uint32(0)
	for {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = (b >> 1) ^ crc32.IEEE
		} else {
			b >>= 1
		}
	}
	return p
}

// x8nModP is x^(8n) modulo the CRC-32 polynomial.
func x8nModP(n int64) uint32 {
	p := uint32(1) << 31 // x^0
	k := 3
	for n > 0 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
		n >>= 1
		k++
	}
	return p
}

// x2nTable[k] is x^(2^k) modulo the CRC-32 polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < 32; k++ {
		p = multModP(p, p)
		t[k] = p
	}
	return t
}()
