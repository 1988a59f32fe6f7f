package evidence

import (
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// decodeFacts sets f to the facts b holds in stored form (see
// Record.Prepare), as gojson.Unmarshal into a zero Facts sets them: a
// large case's workbook reads millions of them, and the reflective decoder
// took an eighth of its time. It reads what Prepare writes (an object of
// Facts' keys, each once, in any order, with their plain values) and
// leaves anything else (null, a key unknown or of another case, a
// duplicate, a number that is not a plain integer, invalid UTF-8, a
// syntax error) to gojson.Unmarshal, whose result and error are then
// decodeFacts'. The strings are f's own, not parts of b.
func decodeFacts(b []byte, f *Facts) error { return decodeFactsIn(b, f, nil) }

// decodeFactsIn is decodeFacts with the strings many records share (see
// factsDecoder.common) taken from common: the attributes of a thousand
// records have the same keys, and many the same values.
func decodeFactsIn(b []byte, f *Facts, common *commonStrings) error {
	*f = Facts{}
	d := factsDecoder{b: b, shared: common}
	if d.facts(f) {
		return nil
	}
	*f = Facts{}
	return gojson.Unmarshal(b, f)
}

// factsDecoder reads one stored Facts from b, from i on. Its methods
// report false for anything but the stored form, and leave f then half
// set: decodeFacts starts again with gojson.
type factsDecoder struct {
	b      []byte
	i      int
	shared *commonStrings // or nil
}

// The bits of the keys a Facts object has had, to find a duplicate.
const (
	keyRef = 1 << iota
	keyName
	keyEmail
	keyPhone
	keyItem
	keyStart
	keyEnd
	keyAllDay
	keyZone
	keyAmount
	keyPaid
	keyRefunded
	keyCurrency
	keyStatus
	keyLinks
	keyAttrs
)

func (d *factsDecoder) facts(f *Facts) bool {
	if !d.eat('{') {
		return false
	}
	var (
		seen       uint
		start, end time.Time
		amounts    [3]int64 // amount, paid, refunded
	)
	if !d.eat('}') {
		for {
			key, ok := d.key()
			if !ok {
				return false
			}
			var bit uint
			switch string(key) {
			case "ref":
				bit = keyRef
				f.Ref, ok = d.str()
			case "name":
				bit = keyName
				f.Name, ok = d.str()
			case "email":
				bit = keyEmail
				f.Email, ok = d.str()
			case "phone":
				bit = keyPhone
				f.Phone, ok = d.str()
			case "item":
				bit = keyItem
				f.Item, ok = d.str()
			case "start":
				bit = keyStart
				ok = d.time(&start)
			case "end":
				bit = keyEnd
				ok = d.time(&end)
			case "all_day":
				bit = keyAllDay
				f.AllDay, ok = d.bool()
			case "zone":
				bit = keyZone
				f.Zone, ok = d.common()
			case "amount_minor":
				bit = keyAmount
				amounts[0], ok = d.int()
			case "paid_minor":
				bit = keyPaid
				amounts[1], ok = d.int()
			case "refunded_minor":
				bit = keyRefunded
				amounts[2], ok = d.int()
			case "currency":
				bit = keyCurrency
				f.Currency, ok = d.common()
			case "status":
				bit = keyStatus
				var s string
				s, ok = d.common()
				f.Status = Status(s)
			case "links":
				bit = keyLinks
				f.Links, ok = d.links()
			case "attrs":
				bit = keyAttrs
				f.Attrs, ok = d.attrs()
			}
			if !ok || bit == 0 || seen&bit != 0 {
				return false
			}
			seen |= bit
			if d.eat(',') {
				continue
			}
			if d.eat('}') {
				break
			}
			return false
		}
	}
	if d.ws(); d.i != len(d.b) {
		return false
	}
	// The values a record points to are allocated together: they live
	// as long as one another, and a record is fewer allocations.
	switch seen & (keyStart | keyEnd) {
	case keyStart:
		t := start
		f.Start = &t
	case keyEnd:
		t := end
		f.End = &t
	case keyStart | keyEnd:
		t := [2]time.Time{start, end}
		f.Start, f.End = &t[0], &t[1]
	}
	if k := bits.OnesCount(seen & (keyAmount | keyPaid | keyRefunded)); k > 0 {
		vals := make([]int64, 0, k)
		for j, p := range [...]**int64{&f.AmountMinor, &f.PaidMinor, &f.RefundedMinor} {
			if seen&(keyAmount<<j) != 0 {
				vals = append(vals, amounts[j])
				*p = &vals[len(vals)-1]
			}
		}
	}
	return true
}

// ws skips JSON whitespace.
func (d *factsDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// eat reports whether c comes next, after whitespace, and reads it if so.
func (d *factsDecoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c { // the stored form has no whitespace
		d.i++
		return true
	}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// key reads an object key and its colon. The key is as it is in b: one
// with an escape is not one of Facts' or Link's.
func (d *factsDecoder) key() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	j := plainEnd(d.b, d.i)
	if j == len(d.b) || d.b[j] != '"' {
		return nil, false
	}
	key := d.b[d.i:j]
	d.i = j + 1
	return key, d.eat(':')
}

// plain marks the bytes a string holds as they are: not its quote, not
// an escape, not a control byte and not one of a multi-byte UTF-8
// sequence, which must be checked.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainEnd returns where the plain bytes from b[j] on end: at the first
// byte that is not, or at the end of b. It looks at eight at a time.
func plainEnd(b []byte, j int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for ; j+8 <= len(b); j += 8 {
		// The top bit of each byte that is the quote, the backslash,
		// below 0x20 or above 0x7f: exact up to the first, which is all
		// that is read (a borrow past it may set others).
		w := binary.LittleEndian.Uint64(b[j:])
		q, e := w^(lsb*'"'), w^(lsb*'\\')
		if stop := ((q-lsb)&^q | (e-lsb)&^e | (w - lsb*0x20) | w) & msb; stop != 0 {
			return j + bits.TrailingZeros64(stop)/8
		}
	}
	for j < len(b) && plain[b[j]] {
		j++
	}
	return j
}

// str reads a string.
func (d *factsDecoder) str() (string, bool) { return d.quoted(false) }

// common reads a string that many records share (an attribute's key or
// value, a link's relation, a status, a currency, a zone): with
// commonStrings, one string for them all instead of one each.
func (d *factsDecoder) common() (string, bool) { return d.quoted(d.shared != nil) }

// quoted reads a string, from the shared strings if common.
func (d *factsDecoder) quoted(common bool) (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	j := plainEnd(d.b, d.i)
	if j == len(d.b) {
		return "", false
	}
	if d.b[j] != '"' {
		return d.strRest(j, common)
	}
	lit := d.b[d.i:j]
	d.i = j + 1
	if common {
		return d.shared.get(lit), true
	}
	return string(lit), true
}

// strRest reads the rest of the string quoted read up to j, which holds
// an escape, a byte of another UTF-8 sequence than ASCII, or a control
// byte. Escapes are decoded as gojson decodes them: a \u escape of a
// surrogate is U+FFFD unless it is the first of a pair. Invalid UTF-8,
// which gojson replaces byte by byte, is left to it.
func (d *factsDecoder) strRest(j int, common bool) (string, bool) {
	var scratch [128]byte
	var out []byte // what is decoded, once an escape is met
	b, start, from := d.b, d.i, d.i
	multi := false
	for j < len(b) {
		switch c := b[j]; {
		case plain[c]:
			j = plainEnd(b, j+1)
		case c >= 0x80:
			multi = true
			j++
		case c == '"':
			if multi && !utf8.Valid(b[start:j]) {
				return "", false
			}
			d.i = j + 1
			s := b[start:j]
			if out != nil {
				s = append(out, b[from:j]...)
			}
			if common {
				return d.shared.get(s), true
			}
			return string(s), true
		case c == '\\':
			if out == nil {
				out = scratch[:0]
			}
			out = append(out, b[from:j]...)
			if j+1 == len(b) {
				return "", false
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, j+2)
				if !ok {
					return "", false
				}
				if r >= 0xd800 && r < 0xdc00 && j+12 <= len(b) && b[j+6] == '\\' && b[j+7] == 'u' {
					if lo, ok := hex4(b, j+8); ok && lo >= 0xdc00 && lo < 0xe000 {
						r = (r-0xd800)<<10 | (lo - 0xdc00) + 0x10000
						j += 6
					}
				}
				out = utf8.AppendRune(out, r)
				j += 4
			default:
				return "", false
			}
			j += 2
			from = j
		default: // a control byte
			return "", false
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape at b[j:].
func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// time reads an instant as time.Time's UnmarshalJSON, which gojson
// calls, reads it: from the string's bytes as they are.
func (d *factsDecoder) time(t *time.Time) bool {
	if !d.eat('"') {
		return false
	}
	j := plainEnd(d.b, d.i)
	if j == len(d.b) || d.b[j] != '"' {
		return false
	}
	lit := d.b[d.i-1 : j+1]
	d.i = j + 1
	return t.UnmarshalJSON(lit) == nil
}

// int reads an integer in its shortest form that fits an int64.
func (d *factsDecoder) int() (int64, bool) {
	d.ws()
	b, j := d.b, d.i
	neg := j < len(b) && b[j] == '-'
	if neg {
		j++
	}
	first := j
	var u uint64
	for ; j < len(b) && b[j]-'0' <= 9 && j-first < 19; j++ {
		u = u*10 + uint64(b[j]-'0')
	}
	switch {
	case j == first, j < len(b) && b[j]-'0' <= 9: // none, or more than 19 digits
		return 0, false
	case b[first] == '0' && (j-first > 1 || neg): // 01, -0
		return 0, false
	case neg && u > 1<<63, !neg && u > 1<<63-1:
		return 0, false
	}
	d.i = j
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// bool reads true or false.
func (d *factsDecoder) bool() (bool, bool) {
	d.ws()
	switch rest := d.b[d.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// links reads an array of links.
func (d *factsDecoder) links() ([]Link, bool) {
	if !d.eat('[') {
		return nil, false
	}
	if d.eat(']') {
		return []Link{}, true
	}
	var buf [8]Link
	links := buf[:0]
	for {
		l, ok := d.link()
		if !ok {
			return nil, false
		}
		links = append(links, l)
		if d.eat(',') {
			continue
		}
		if d.eat(']') {
			break
		}
		return nil, false
	}
	out := make([]Link, len(links))
	copy(out, links)
	return out, true
}

// link reads a link's object.
func (d *factsDecoder) link() (Link, bool) {
	var l Link
	if !d.eat('{') {
		return l, false
	}
	if d.eat('}') {
		return l, true
	}
	var rel, id bool
	for {
		key, ok := d.key()
		if !ok {
			return l, false
		}
		switch string(key) {
		case "rel":
			if rel {
				return l, false
			}
			rel = true
			l.Rel, ok = d.common()
		case "id":
			if id {
				return l, false
			}
			id = true
			l.ID, ok = d.str()
		default:
			return l, false
		}
		if !ok {
			return l, false
		}
		if d.eat(',') {
			continue
		}
		return l, d.eat('}')
	}
}

// attrs reads an object of strings. A key given twice has its last
// value, as in gojson.
func (d *factsDecoder) attrs() (map[string]string, bool) {
	if !d.eat('{') {
		return nil, false
	}
	if d.eat('}') {
		return map[string]string{}, true
	}
	// The pairs are kept until the last, so that the map is made for as
	// many: most records have a few.
	var buf [16]struct{ k, v string }
	n := 0
	var m map[string]string
	for {
		k, ok := d.common()
		if !ok || !d.eat(':') {
			return nil, false
		}
		v, ok := d.common()
		if !ok {
			return nil, false
		}
		switch {
		case m != nil:
			m[k] = v
		case n < len(buf):
			buf[n].k, buf[n].v = k, v
			n++
		default:
			m = make(map[string]string, 2*len(buf))
			for _, kv := range buf {
				m[kv.k] = kv.v
			}
			m[k] = v
		}
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			break
		}
		return nil, false
	}
	if m == nil {
		m = make(map[string]string, n)
		for _, kv := range buf[:n] {
			m[kv.k] = kv.v
		}
	}
	return m, true
}

// commonStrings gives one string for each of the values many records
// share, as interner does, but by a table: a look-up is a few
// nanoseconds, not a map's, and a value that takes another's slot costs
// a string, no more.
type commonStrings [256]string

func (c *commonStrings) get(b []byte) string {
	slot := &c[commonHash(b)]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

// commonHash is a hash of b's length and first and last eight bytes, to
// 8 bits.
func commonHash(b []byte) uint8 {
	var lo, hi uint64
	if len(b) >= 8 {
		lo, hi = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for i, c := range b {
			lo |= uint64(c) << (8 * i)
		}
	}
	h := (lo ^ hi*0x9e3779b97f4a7c15 ^ uint64(len(b))) * 0xbf58476d1ce4e5b9
	return uint8(h >> 56)
}
