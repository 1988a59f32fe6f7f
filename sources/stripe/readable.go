package stripe

import (
	"encoding/binary"
	stdjson "encoding/json"
	"unicode/utf8"
	"unsafe"

	"github.com/salvagehq/salvage/evidence"
)

// Readable is a Stripe object as a person reads it: its type and id, and
// its description when it has one, as the title; as the text, every field
// that holds something, one a line, nested fields indented under their
// parent's name, list items marked "- " (the way YAML writes it):
//
//	amount: 20950
//	billing_details:
//	  address:
//	    city: Faro
//	metadata:
//	  booking_ref: ACH-D8KCX
//	refunds:
//	  data:
//	    - amount: 5000
//	      status: succeeded
//
// Fields that are null, empty strings, {} or [] are left out: an object's
// JSON is mostly those, quotes and indentation, so that the fields that
// say something went past the cut of a spreadsheet cell. A charge's 3 KB
// of JSON read in 1.5 KB. kind is the object's type and id its Stripe id.
// raw that is no JSON is shown as it is.
func Readable(kind, id string, raw []byte) evidence.Readable {
	rd, _ := readable(kind, id, raw, nil)
	return rd
}

// readable is Readable, and whether raw is JSON; then raw without the
// spaces between its tokens is added to compact, when not nil.
func readable(kind, id string, raw []byte, compact *[]byte) (evidence.Readable, bool) {
	title := kind + " " + id
	text, description, ok := flatten(raw, compact)
	if !ok {
		return evidence.Readable{Title: title, Text: string(raw)}, false
	}
	if description != "" {
		title += ": " + description
	}
	return evidence.Readable{Title: title, Text: text}, true
}

// maxDepth is how deeply flatten follows nested values: encoding/json's
// limit, so that what it calls JSON, flatten reads.
const maxDepth = 10000

// flatten is raw's fields, one a line (see Readable), and its top-level
// "description" (the last string, when given twice); when compact is not
// nil, raw without the spaces between its tokens is added to it (what
// json.Compact writes). ok is false when raw is not one JSON value
// (encoding/json's rules: strings with invalid UTF-8 have it replaced, as
// encoding/json decodes them).
func flatten(raw []byte, compact *[]byte) (text, description string, ok bool) {
	var pending [16]opener
	f := flattener{in: raw, out: make([]byte, 0, len(raw)/2), pending: pending[:0], compact: compact}
	if compact != nil {
		f.from = -1
	}
	f.space()
	if !f.value(0) {
		return "", "", false
	}
	f.space()
	if f.i != len(f.in) {
		return "", "", false
	}
	if compact != nil && f.from >= 0 {
		*compact = append(*compact, raw[f.from:]...)
	}
	if n := len(f.out); n > 0 && f.out[n-1] == '\n' {
		f.out = f.out[:n-1]
	}
	if len(f.out) == 0 {
		return "", f.description, true
	}
	return unsafe.String(&f.out[0], len(f.out)), f.description, true // out is not written again
}

type flattener struct {
	in          []byte
	i           int
	out         []byte
	description string
	// The value being read: a member's (key set), a list item's (item),
	// or the top one (neither); its line's indentation.
	key    []byte
	item   bool
	indent int
	// pending are the lines that open the containers being read: written
	// before the first line inside them, if one comes (an object of
	// nulls has none); the first flushed of them are written.
	pending []opener
	flushed int
	// prefix is what the next line starts with instead of its
	// indentation: a list item's "- ", its first line on the same line.
	prefix []byte
	// compact, when not nil, gets in without its spaces: in[from:f.i]
	// is the tokens not yet added (from is -1 before the first).
	compact *[]byte
	from    int
}

// opener opens a container: "key:", or a list item's "- ", at indent.
type opener struct {
	indent int
	key    []byte
	item   bool
}

// space skips the white space at f.i; with compact set, the tokens before
// it go there (skipped).
func (f *flattener) space() {
	in, i := f.in, f.i
	start := i
loop:
	for i < len(in) {
		switch in[i] {
		case ' ', '\t', '\n', '\r':
			i++
			// An indentation: a run of spaces, eight at a time.
			for i+8 <= len(in) && binary.LittleEndian.Uint64(in[i:]) == lows*' ' {
				i += 8
			}
			for i < len(in) && in[i] == ' ' {
				i++
			}
		default:
			break loop
		}
	}
	f.i = i
	if f.compact != nil {
		f.skipped(start)
	}
}

// skipped notes that space() moved from start to f.i: the tokens before
// go to compact.
func (f *flattener) skipped(start int) {
	if f.i == start {
		if f.from < 0 {
			f.from = start
		}
		return
	}
	if f.from >= 0 {
		*f.compact = append(*f.compact, f.in[f.from:start]...)
	}
	f.from = f.i
}

// value reads the value at f.i, writing its lines: a member's (f.key set)
// or a list item's.
func (f *flattener) value(depth int) bool {
	if f.i >= len(f.in) {
		return false
	}
	switch c := f.in[f.i]; {
	case c == '{':
		return f.object(depth + 1)
	case c == '[':
		return f.array(depth + 1)
	case c == '"':
		s, ok := f.str()
		if ok && len(s) > 0 {
			f.leaf(s)
		}
		return ok
	case c == 'n':
		return f.literal("null", false)
	case c == 't':
		return f.literal("true", true)
	case c == 'f':
		return f.literal("false", true)
	default:
		start := f.i
		if !f.number() {
			return false
		}
		f.leaf(f.in[start:f.i])
		return true
	}
}

func (f *flattener) literal(word string, show bool) bool {
	if len(f.in)-f.i < len(word) || string(f.in[f.i:f.i+len(word)]) != word {
		return false
	}
	f.i += len(word)
	if show {
		f.leaf(f.in[f.i-len(word) : f.i])
	}
	return true
}

// digits is the end of the decimal digits of in from i.
func digits(in []byte, i int) int {
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	return i
}

// number reads a JSON number.
func (f *flattener) number() bool {
	in, i := f.in, f.i
	if i < len(in) && in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && in[i] >= '1' && in[i] <= '9':
		i = digits(in, i)
	default:
		return false
	}
	if i < len(in) && in[i] == '.' {
		d := i + 1
		if i = digits(in, d); i == d {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		d := i
		if i = digits(in, d); i == d {
			return false
		}
	}
	f.i = i
	return true
}

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// str reads a string, decoded: in place when it needs no decoding.
func (f *flattener) str() ([]byte, bool) {
	in := f.in
	start := f.i + 1
	i := start
	// Eight bytes at a time while none is a quote, a backslash, a
	// control character or not ASCII.
	for i+8 <= len(in) {
		x := binary.LittleEndian.Uint64(in[i:])
		q, b := x^(lows*'"'), x^(lows*'\\')
		if ((q-lows)&^q|(b-lows)&^b|(x-lows*0x20)|x)&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(in) {
		c := in[i]
		if c == '"' {
			break
		}
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			// Escapes, and anything that is not ASCII (invalid UTF-8 is
			// replaced), decoded as encoding/json decodes them.
			return f.slowStr()
		}
		i++
	}
	if i >= len(in) {
		return nil, false
	}
	f.i = i + 1
	return in[start:i], true
}

// slowStr reads a string with escapes or non-ASCII bytes.
func (f *flattener) slowStr() ([]byte, bool) {
	in := f.in
	i := f.i + 1
	plain := true // no escape, valid UTF-8: the bytes are the string
	for i < len(in) && in[i] != '"' {
		c := in[i]
		switch {
		case c < 0x20:
			return nil, false
		case c == '\\':
			plain = false
			i += 2
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n == 1 {
				plain = false
			}
			i += n
		default:
			i++
		}
	}
	if i >= len(in) {
		return nil, false
	}
	tok := in[f.i : i+1]
	f.i = i + 1
	if plain {
		return tok[1 : len(tok)-1], true
	}
	var s string
	if err := stdjson.Unmarshal(tok, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

func (f *flattener) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	f.i++ // {
	f.space()
	if f.i < len(f.in) && f.in[f.i] == '}' {
		f.i++
		return true
	}
	mark, indent := f.open()
	for {
		if f.i >= len(f.in) || f.in[f.i] != '"' {
			return false
		}
		key, ok := f.str()
		if !ok {
			return false
		}
		f.space()
		if f.i >= len(f.in) || f.in[f.i] != ':' {
			return false
		}
		f.i++
		f.space()
		f.key, f.item, f.indent = key, false, indent
		if depth == 1 && string(key) == "description" && f.i < len(f.in) && f.in[f.i] == '"' {
			from := len(f.out)
			if !f.value(depth) {
				return false
			}
			f.description = ""
			if len(f.out) > from { // "description: …\n"
				f.description = string(f.out[from+len("description: ") : len(f.out)-1])
			}
		} else if !f.value(depth) {
			return false
		}
		if more, ok := f.after('}', mark); !more {
			return ok
		}
	}
}

func (f *flattener) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	f.i++ // [
	f.space()
	if f.i < len(f.in) && f.in[f.i] == ']' {
		f.i++
		return true
	}
	mark, indent := f.open()
	for {
		f.key, f.item, f.indent = nil, true, indent
		if !f.value(depth) {
			return false
		}
		if more, ok := f.after(']', mark); !more {
			return ok
		}
	}
}

// after reads what follows a member or list item: a comma (more to come)
// or end, which closes the container opened at mark.
func (f *flattener) after(end byte, mark int) (more, ok bool) {
	f.space()
	if f.i >= len(f.in) {
		return false, false
	}
	switch f.in[f.i] {
	case ',':
		f.i++
		f.space()
		return true, true
	case end:
		f.i++
		f.close(mark)
		return false, true
	}
	return false, false
}

// open notes the line that opens the container being read (none at the
// top) and returns the pending lines before it and its contents'
// indentation.
func (f *flattener) open() (mark, indent int) {
	mark = len(f.pending)
	if f.key == nil && !f.item {
		return mark, f.indent
	}
	f.pending = append(f.pending, opener{indent: f.indent, key: f.key, item: f.item})
	return mark, f.indent + 2
}

// close ends a container opened at mark.
func (f *flattener) close(mark int) {
	f.pending = f.pending[:mark]
	f.flushed = min(f.flushed, mark)
}

// leaf writes a scalar's line, "key: value" or "- value" (the value alone
// at the top), after the lines that open its containers.
func (f *flattener) leaf(v []byte) {
	for ; f.flushed < len(f.pending); f.flushed++ {
		p := f.pending[f.flushed]
		if p.item {
			if f.prefix == nil {
				f.prefix = appendSpaces(f.prefix, p.indent)
			}
			f.prefix = append(f.prefix, "- "...)
			continue
		}
		out := f.line(f.out, p.indent)
		out = append(out, p.key...)
		f.out = append(out, ":\n"...)
	}
	out := f.out
	if n := len(out) + f.indent + len(f.prefix) + len(f.key) + len(v) + 4; n > cap(out) {
		out = append(out[:cap(out)], make([]byte, n-cap(out))...)[:len(out)]
	}
	out = f.line(out, f.indent)
	switch {
	case f.key != nil:
		out = append(out, f.key...)
		out = append(out, ": "...)
	case f.item:
		out = append(out, "- "...)
	}
	out = append(out, v...)
	f.out = append(out, '\n')
}

// line starts a line of out at indent, or with the list items' dashes
// waiting.
func (f *flattener) line(out []byte, indent int) []byte {
	if f.prefix != nil {
		out = append(out, f.prefix...)
		f.prefix = nil
		return out
	}
	return appendSpaces(out, indent)
}

// spaces indent lines.
const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	return append(b, spaces[:n]...)
}
