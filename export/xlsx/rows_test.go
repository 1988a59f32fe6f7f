package xlsx

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {100, 3}, {3, 100}, {4096, 70000}, {1 << 20, 12345}} {
		a, b := make([]byte, n[0]), make([]byte, n[1])
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("%d+%d bytes: combined %08x, want %08x", n[0], n[1], got, want)
		}
	}
}

func TestAppendXMLText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text, é, 日本, 🚗", "plain text, é, 日本, 🚗"},
		{`a & b < c > d "q" 'a'`, `a &amp; b &lt; c &gt; d "q" 'a'`},
		{"line\nline\ttab", "line\nline\ttab"},
		{"cr\r\nlf", "cr&#xD;\nlf"},
		{"nul\x00bell\x07esc\x1b", "nul\uFFFDbell\uFFFDesc\uFFFD"},
		{"bad \xff utf8 \xc3", "bad \uFFFD utf8 \uFFFD"},
		{"\uFFFE\uFFFF", "\uFFFD\uFFFD"},
		{"_x0041_ stays", "_x005F_x0041_ stays"},
		{"re_3xpeQK3 _x12_ _xZZZZ_ _x00", "re_3xpeQK3 _x12_ _xZZZZ_ _x00"},
		{"]]> end", "]]&gt; end"},
		{"snake_case_key trailing_", "snake_case_key trailing_"},
		{"__x0041_ and end _x0041_", "__x005F_x0041_ and end _x005F_x0041_"},
	} {
		if got := string(appendXMLText(nil, tc.in)); got != tc.want {
			t.Errorf("appendXMLText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAppendRow(t *testing.T) {
	row, err := appendRow(nil, 7, []cell{
		textCell("=HYPERLINK(\"http://x\",\"y\")"),
		{},
		{kind: cellNumber, style: 3, num: 46240.5},
		link("Bookings", 2, "ACH-1", 5),
		textCell(" padded "),
		{kind: cellNumber, num: 42},
		link("It's (2)", 9, `say "hi" & <go>`, 5),
		{style: 2},
		{kind: cellCut, style: 4, str: " head", num: 1234},
		{}, {}, // an empty end is left out
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<row r="7">` +
		`<c t="inlineStr"><is><t>=HYPERLINK("http://x","y")</t></is></c>` +
		`<c/>` +
		`<c s="3"><v>46240.5</v></c>` +
		`<c s="5" t="str"><f>HYPERLINK("#'Bookings'!A2","ACH-1")</f><v>ACH-1</v></c>` +
		`<c t="inlineStr"><is><t xml:space="preserve"> padded </t></is></c>` +
		`<c><v>42</v></c>` +
		`<c s="5" t="str"><f>HYPERLINK("#'It''s (2)'!A9","say ""hi"" &amp; &lt;go&gt;")</f><v>say "hi" &amp; &lt;go&gt;</v></c>` +
		`<c s="2"/>` +
		`<c s="4" t="inlineStr"><is><t xml:space="preserve"> head` + "\n… [cut: 1234 more characters; the full text is in the case]" + `</t></is></c>` +
		`</row>`
	if string(row) != want {
		t.Errorf("row:\n got %s\nwant %s", row, want)
	}
	for _, bad := range []cell{{kind: cellKind(99)}, {kind: cellNumber, num: math.NaN()}} {
		if _, err := appendRow(nil, 2, []cell{bad}); err == nil {
			t.Errorf("%+v was written", bad)
		}
	}
}

var escapeSeq = regexp.MustCompile(`_x[0-9A-Fa-f]{4}_`)

// FuzzAppendXMLText: whatever the text, the cell is well-formed XML whose
// character data is the text, with what XML cannot hold as U+FFFD and
// "_xHHHH_" sequences escaped as Excel expects.
func FuzzAppendXMLText(f *testing.F) {
	for _, s := range []string{"", "a&b", "x\r\ny", "_x0041_", "\x00\xff", "]]>", "_x005F_x0041_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := "<t>" + string(appendXMLText(nil, s)) + "</t>"
		d := xml.NewDecoder(strings.NewReader(doc))
		var got struct {
			Text string `xml:",chardata"`
		}
		if err := d.Decode(&got); err != nil {
			t.Fatalf("%q: not XML: %v (%q)", s, err, doc)
		}
		want := strings.Map(func(r rune) rune {
			if r == utf8.RuneError || r == 0xFFFE || r == 0xFFFF || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
				return utf8.RuneError
			}
			return r
		}, s)
		want = escapeSeq.ReplaceAllStringFunc(want, func(m string) string { return "_x005F" + m })
		if got.Text != want {
			// Overlapping sequences ("_x0041_x0042_") are escaped where
			// each starts: compare with that rule.
			if strings.ReplaceAll(got.Text, "_x005F", "") != strings.ReplaceAll(want, "_x005F", "") {
				t.Fatalf("%q: read back %q, want %q", s, got.Text, want)
			}
		}
	})
}

// The rows take the place of their placeholder row inside the zip entry:
// the entry reads back whole, its CRC right; rows that find no
// placeholder are an error, not an empty sheet.
func TestSplice(t *testing.T) {
	part := func(marker string) string {
		return `<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>H</t></is></c></row>` +
			`<row r="2"><c r="A2" t="inlineStr"><is><t>` + marker + `</t></is></c></row></sheetData><autoFilter ref="A1:A3"/></worksheet>`
	}
	rs := newRowSet()
	defer rs.close()
	r, err := rs.open(markerPrefix + "0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 4; i++ {
		if err := r.add(i, []cell{textCell("v" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	z := newSortedZip(&buf, rs)
	w, err := z.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, part(markerPrefix+"0"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f) // checks the CRC at the end
	if err != nil {
		t.Fatal(err)
	}
	want := `<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>H</t></is></c></row>` +
		`<row r="2"><c t="inlineStr"><is><t>v2</t></is></c></row><row r="3"><c t="inlineStr"><is><t>v3</t></is></c></row>` +
		`</sheetData><autoFilter ref="A1:A3"/></worksheet>`
	if string(got) != want {
		t.Errorf("sheet:\n got %s\nwant %s", got, want)
	}

	// Rows whose placeholder never comes.
	rs2 := newRowSet()
	defer rs2.close()
	r2, _ := rs2.open(markerPrefix + "7")
	r2.finish()
	z2 := newSortedZip(io.Discard, rs2)
	w2, _ := z2.Create("xl/worksheets/sheet1.xml")
	io.WriteString(w2, part("no marker here"))
	if err := z2.Close(); err == nil || !strings.Contains(err.Error(), "no placeholder") {
		t.Errorf("rows without a placeholder: %v, want an error", err)
	}
}

// TestUnitsAgreeRuneByRune checks the ASCII fast paths of utf16Len and
// splitUnits against counting rune by rune.
func TestUnitsAgreeRuneByRune(t *testing.T) {
	slow := func(s string) int {
		n := 0
		for _, r := range s {
			n += max(utf16.RuneLen(r), 1)
		}
		return n
	}
	texts := []string{"", "a", "plain ASCII text that runs past eight bytes", "é", "ab😀cd", "12345678😀", "1234567😀8",
		strings.Repeat("x", 17) + "\xff" + strings.Repeat("y", 9), "ünïcödé and ASCII mixed, 日本語 too", "\xf0\x9f\x98", "😀😀😀"}
	for _, s := range texts {
		if got, want := utf16Len(s), slow(s); got != want {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
		for n := 0; n <= slow(s)+1; n++ {
			head, rest := splitUnits(s, n)
			if head+rest != s || slow(head) > n || !utf8.ValidString(head) && utf8.ValidString(s) {
				t.Errorf("splitUnits(%q, %d) = %q, %q", s, n, head, rest)
			}
			// The head is the longest that fits: one more rune would not.
			if rest != "" {
				_, size := utf8.DecodeRuneInString(rest)
				if slow(s[:len(head)+size]) <= n {
					t.Errorf("splitUnits(%q, %d) = %q: stops short", s, n, head)
				}
			}
		}
	}
}

// decodeAll keeps the order across batches decoded on every core, ends
// with the first error after what came before it, and stops when asked.
func TestDecodeAll(t *testing.T) {
	ctx := context.Background()
	n := 5*rowBatch + 3
	items := func(failAt int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := range n {
				if i == failAt {
					yield(0, errors.New("read failed"))
					return
				}
				if !yield(i*10, nil) {
					return
				}
			}
		}
	}
	double := func(i, v int) (int, error) {
		if v != i*10 {
			return 0, fmt.Errorf("item %d is %d", i, v)
		}
		if v == 10*(3*rowBatch+1) {
			return 0, errors.New("bad item")
		}
		return 2 * v, nil
	}
	for _, tc := range []struct {
		failAt, want int
		err          string
	}{
		{n, 3*rowBatch + 1, "bad item"},
		{2*rowBatch + 5, 2*rowBatch + 5, "read failed"},
	} {
		got := 0
		var gotErr error
		for v, err := range decodeAll(ctx, items(tc.failAt), double) {
			if err != nil {
				gotErr = err
				break
			}
			if v != 20*got {
				t.Fatalf("item %d: %d", got, v)
			}
			got++
		}
		if got != tc.want || gotErr == nil || gotErr.Error() != tc.err {
			t.Errorf("fail at %d: %d items then %v; want %d then %s", tc.failAt, got, gotErr, tc.want, tc.err)
		}
	}
	// Stopping early.
	seen := 0
	for range decodeAll(ctx, items(n), func(_, v int) (int, error) { return v, nil }) {
		if seen++; seen == rowBatch+7 {
			break
		}
	}
}

// TestIndexFind checks the index's Find, which looks at the last id found
// first, then in its hash table, against a binary search of the ids,
// asked in order, in reverse and at random, for ids it has and ids
// between them.
func TestIndexFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for i := range 3000 {
		ids = append(ids, fmt.Sprintf("rec:%05d", i*3+rng.IntN(3)))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var arena []byte
	var u []used
	for i, id := range ids {
		off := uint32(len(arena))
		arena = append(arena, id...)
		u = append(u, used{off: off, end: uint32(len(arena)), booking: int32(i / 7)})
	}
	seed := maphash.MakeSeed()
	u, hashes := sortedByHash(u, arena, seed)
	text := func(j int) bool { return j%5 == 0 }
	x := newBookingIndex(u, arena, nil, seed, hashes, text)
	var asks []string
	for i := range 9100 {
		asks = append(asks, fmt.Sprintf("rec:%05d", i))
	}
	asks = append(asks, "a", "z", "")
	reversed := slices.Clone(asks)
	slices.Reverse(reversed)
	shuffled := slices.Clone(asks)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, order := range [][]string{asks, reversed, shuffled} {
		for _, id := range order {
			j, ok := x.Find(id)
			_, wok := slices.BinarySearch(ids, id)
			if ok != wok {
				t.Fatalf("Find(%q) = %d, %v; want found %v", id, j, ok, wok)
			}
			if ok && x.ID(j) != id {
				t.Fatalf("ID(%d) = %q, want %q", j, x.ID(j), id)
			}
			// Every used record may be there, with its text bit; of the
			// others, none here shares 32 bits of hash with one.
			if may, mayText := x.mayHave(id); may != ok || mayText != (ok && text(j)) {
				t.Fatalf("mayHave(%q) = %v, %v; want %v, %v", id, may, mayText, ok, ok && text(j))
			}
		}
	}
}

// FuzzKeyJSON: the hidden key column is written with go-json (quicker);
// its bytes are encoding/json's, whatever the text (HTML, control
// characters, invalid UTF-8, line separators).
func FuzzKeyJSON(f *testing.F) {
	for _, s := range []string{"a<b>&c", "bad\xff\xfeutf8", "line\u2028sep\u2029", "ctl\x01\x1f\"\\", "émoji 😀", "\xed\xa0\x80"} {
		f.Add(s, "customer.name", false)
	}
	f.Fuzz(func(t *testing.T, s, field string, allDay bool) {
		o := original{Ref: s, Fields: map[string]string{field: s, "item": "x" + s, "start": ""}, Currency: s, AllDay: allDay}
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gojson.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("go-json %s\nencoding/json %s", got, want)
		}
	})
}

// appendXMLTextByte is appendXMLText a byte at a time, as it was before
// it took eight plain bytes at once: the reference FuzzAppendXMLTextWords
// holds it to.
func appendXMLTextByte(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
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

// FuzzAppendXMLTextWords: taking eight plain bytes at once writes what a
// byte at a time writes.
func FuzzAppendXMLTextWords(f *testing.F) {
	for _, s := range []string{
		"plain words and more plain words\n\tindented",
		`{"amount_captured": 35541, "_x0041_": "a_xb", "x_": "<&>"}`,
		"0123456_x0041_ 01234567_", "1234567_x", "Ação ☃ \xff\xfe \r\n \x00\x1f\x7f _x00",
		"\uFFFE\uFFFF abcdefgh",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendXMLText(nil, s), appendXMLTextByte(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendXMLText(%q)\n = %q\nwant %q", s, got, want)
		}
	})
}

// TestPlainPrefix checks the eight-byte test against xmlPlain for every
// byte in every place, among plain bytes and among others.
func TestPlainPrefix(t *testing.T) {
	for _, base := range []string{"abcdefgh", "a\xc3\xa7\x00b<_x", "\x80\xff\x7f\x00\x80\xff\x7f\x00"} {
		for pos := range 8 {
			for b := range 256 {
				w := []byte(base)
				w[pos] = byte(b)
				want := 8
				for k, c := range w {
					if c >= utf8.RuneSelf || !xmlPlain[c] && (c != '_' || k == 7 || w[k+1] == 'x') {
						want = k
						break
					}
				}
				// Early is allowed next to a non-ASCII byte (the caller
				// looks at the byte), late never is.
				ascii := !slices.ContainsFunc(w, func(c byte) bool { return c >= utf8.RuneSelf })
				if got := plainPrefix(string(w)); got > want || ascii && got != want {
					t.Errorf("plainPrefix(%q) = %d, want %d", w, got, want)
				}
			}
		}
	}
}

func BenchmarkAppendXMLText(b *testing.B) {
	text := strings.Repeat(`      "billing_details": {
        "address": {
          "city": "Faro",
          "line1": "Rua de Santo António 49",
          "postal_code": "8000-150",
        },
        "email": "s.mendes@sapo.example",
`, 40)
	b.SetBytes(int64(len(text)))
	var buf []byte
	for b.Loop() {
		buf = appendXMLText(buf[:0], text)
	}
}

// sortedByHash sorts like one sort of it all, by each id's hash, then id,
// then booking, however many records and however the halves fall, and
// gives each one's hash.
func TestSortedByHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 4095, 4096, 10001} {
		var arena []byte
		var u []used
		for i := range n {
			id := fmt.Sprintf("rec:%d", rng.IntN(n/2+1)) // many used twice
			off := uint32(len(arena))
			arena = append(arena, id...)
			u = append(u, used{off: off, end: uint32(len(arena)), booking: int32(i)})
		}
		seed := maphash.MakeSeed()
		hash := func(x used) uint64 { return maphash.Bytes(seed, arena[x.off:x.end]) }
		want := slices.Clone(u)
		slices.SortStableFunc(want, func(a, b used) int {
			return cmp.Or(cmp.Compare(hash(a), hash(b)), bytes.Compare(arena[a.off:a.end], arena[b.off:b.end]))
		})
		got, hashes := sortedByHash(slices.Clone(u), arena, seed)
		if !slices.Equal(got, want) {
			t.Errorf("%d records: not sorted by hash, id, then booking", n)
		}
		for i, x := range got {
			if hashes[i] != hash(x) {
				t.Fatalf("%d records: hash %d of %s is not its id's", n, i, arena[x.off:x.end])
			}
		}
	}
}

// serialByCalendar is Serial as it was: the wall clock rebuilt as a UTC
// time, then its distance from Excel's day 0.
func serialByCalendar(t time.Time) float64 {
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	v := float64(wall.Sub(excelEpoch)/time.Second) / 86400
	digits := 15 - len(strconv.Itoa(int(v)))
	scale := math.Pow10(digits)
	return math.Round(v*scale) / scale
}

// Serial gives what the calendar computation gave, to the bit, for times
// from 1900 to 2150 in zones with odd offsets, nanoseconds and all.
func TestSerialAsCalendar(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", -9*3600-30*60), time.FixedZone("", 5*3600+45*60)}
	for _, name := range []string{"Europe/Lisbon", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	from, to := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 200_000 {
		u := time.Unix(from+rng.Int64N(to-from), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		if got, want := Serial(u), serialByCalendar(u); got != want {
			t.Fatalf("Serial(%v) = %v, want %v", u, got, want)
		}
	}
	for _, n := range []int{0, 9, 10, 99, 100, 46254, -1, -9, -10, -46254} {
		if intDigits(n) != len(strconv.Itoa(n)) {
			t.Errorf("intDigits(%d) = %d", n, intDigits(n))
		}
	}
}

// The booking index finds every used id, at its first use, and no other.
func TestBookingIndexFinds(t *testing.T) {
	for _, n := range []int{0, 1, 3, 1000, 5000} {
		var arena []byte
		var u []used
		for i := range n {
			id := fmt.Sprintf("mail:<20261118122404.20be5b8cbf3d2475@example>-%d", i/2) // each used twice
			off := uint32(len(arena))
			arena = append(arena, id...)
			u = append(u, used{off: off, end: uint32(len(arena)), booking: int32(i)})
		}
		seed := maphash.MakeSeed()
		u, hashes := sortedByHash(u, arena, seed)
		if n%2 == 1 {
			hashes = nil // worked out by the index
		}
		text := func(j int) bool { return j%5 == 0 }
		x := newBookingIndex(u, arena, nil, seed, hashes, text)
		for j := range u {
			id := string(arena[u[j].off:u[j].end])
			first := j
			for first > 0 && string(x.idAt(first-1)) == id {
				first--
			}
			if got, ok := x.find(id); !ok || got != first {
				t.Fatalf("%d ids: find(%s) = %d, %v; want %d", n, id, got, ok, first)
			}
			if got, ok := x.Find(id); !ok || got != first {
				t.Fatalf("%d ids: Find(%s) = %d, %v; want %d", n, id, got, ok, first)
			}
		}
		for _, id := range []string{"", "mail:<x>", fmt.Sprintf("mail:<20261118122404.20be5b8cbf3d2475@example>-%d", n)} {
			if j, ok := x.Find(id); ok {
				t.Errorf("%d ids: Find(%q) = %d, found", n, id, j)
			}
		}
	}
}
