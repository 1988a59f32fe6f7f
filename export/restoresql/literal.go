package restoresql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Dialect is the SQL dialect of the restored database.
type Dialect string

// The dialects.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql" // MySQL and MariaDB
	SQLite   Dialect = "sqlite"
)

// Dialects lists the dialects, in the order help texts give them.
var Dialects = []Dialect{Postgres, MySQL, SQLite}

// ParseDialect reads a dialect name (postgres, postgresql, mysql, mariadb,
// sqlite, sqlite3).
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "postgres", "postgresql", "pg":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	}
	return "", fmt.Errorf("unknown dialect %q: want postgres, mysql or sqlite", s)
}

// Name is the dialect as people call it.
func (d Dialect) Name() string {
	switch d {
	case Postgres:
		return "PostgreSQL"
	case MySQL:
		return "MySQL/MariaDB"
	case SQLite:
		return "SQLite"
	}
	return string(d)
}

// Errors of values a dialect cannot hold.
var (
	// ErrNUL: PostgreSQL text cannot hold the character U+0000.
	ErrNUL = errors.New("text holds a NUL character (U+0000), which PostgreSQL text cannot store")
	// ErrInvalidUTF8: text must be valid UTF-8.
	ErrInvalidUTF8 = errors.New("text is not valid UTF-8")
	// ErrIdentifier: an identifier is empty or holds a character no
	// identifier may hold.
	ErrIdentifier = errors.New("bad identifier")
)

// Kind is the kind of a Value.
type Kind uint8

// The kinds of values.
const (
	Null Kind = iota
	Text
	Int
	Decimal // exact decimal text: -?digits[.digits]
	Bool
	Time // written as UTC date and time
)

// Value is one value to write.
type Value struct {
	Kind Kind
	S    string // Text; Decimal
	I    int64  // Int
	B    bool   // Bool
	T    time.Time
}

// TextValue, IntValue, BoolValue and TimeValue make values.
func TextValue(s string) Value    { return Value{Kind: Text, S: s} }
func IntValue(i int64) Value      { return Value{Kind: Int, I: i} }
func BoolValue(b bool) Value      { return Value{Kind: Bool, B: b} }
func TimeValue(t time.Time) Value { return Value{Kind: Time, T: t.UTC()} }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == Null }

// String is v's text form: what value maps and patterns read, and what
// reports show. NULL is "".
func (v Value) String() string {
	switch v.Kind {
	case Text, Decimal:
		return v.S
	case Int:
		return strconv.FormatInt(v.I, 10)
	case Bool:
		return strconv.FormatBool(v.B)
	case Time:
		return v.T.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// dateTime is a time as the restored databases take it: UTC, seconds,
// fractions only when there are some.
func dateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999999")
}

// pgDateTime carries the zone: a timestamptz column reads the instant
// whatever the session's TimeZone, and a timestamp column ignores it.
func pgDateTime(t time.Time) string { return dateTime(t) + "+00" }

// checkText reports whether a dialect can hold s.
func checkText(d Dialect, s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	if d == Postgres && strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	return nil
}

// plainRune reports whether r may stand as itself inside a quoted literal
// of any dialect: printable, not a backslash (an escape in MySQL's default
// mode and in PostgreSQL's E” strings), and nothing a reader of the file
// could not see (control and format characters, line and paragraph
// separators, which also covers the bidirectional overrides).
func plainRune(r rune) bool {
	if r < 0x80 {
		return r >= 0x20 && r != 0x7f && r != '\\'
	}
	if r == utf8.RuneError {
		return false
	}
	return !unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs) && r != 0xfeff
}

// plain reports whether every rune of s is plainRune.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return false
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !plainRune(r) {
			return false
		}
		i += n - 1
	}
	return true
}

const hexDigits = "0123456789ABCDEF"

// StringLiteral returns s as a string literal of dialect d: '...' with
// quotes doubled when every character is plain, else PostgreSQL's E'...'
// with escapes, MySQL's _utf8mb4 X'...' or SQLite's CAST(X'...' AS TEXT).
// None of those forms depends on a session setting
// (standard_conforming_strings, NO_BACKSLASH_ESCAPES, ANSI_QUOTES).
func StringLiteral(d Dialect, s string) (string, error) {
	var b strings.Builder
	if err := appendString(&b, d, s); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendString(b *strings.Builder, d Dialect, s string) error {
	if err := checkText(d, s); err != nil {
		return err
	}
	if plain(s) {
		b.Grow(len(s) + 2)
		b.WriteByte('\'')
		for {
			i := strings.IndexByte(s, '\'')
			if i < 0 {
				break
			}
			b.WriteString(s[:i+1])
			b.WriteByte('\'')
			s = s[i+1:]
		}
		b.WriteString(s)
		b.WriteByte('\'')
		return nil
	}
	switch d {
	case Postgres:
		b.WriteString("E'")
		for _, r := range s {
			switch {
			case r == '\'':
				b.WriteString("''")
			case r == '\\':
				b.WriteString(`\\`)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x80 && !plainRune(r):
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[r>>4])
				b.WriteByte(hexDigits[r&0xf])
			case !plainRune(r) && r <= 0xffff:
				fmt.Fprintf(b, `\u%04X`, r)
			case !plainRune(r):
				fmt.Fprintf(b, `\U%08X`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('\'')
	case MySQL:
		b.WriteString("_utf8mb4 X'")
		appendHex(b, s)
		b.WriteByte('\'')
	case SQLite:
		b.WriteString("CAST(X'")
		appendHex(b, s)
		b.WriteString("' AS TEXT)")
	default:
		return fmt.Errorf("unknown dialect %q", d)
	}
	return nil
}

func appendHex(b *strings.Builder, s string) {
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteByte(hexDigits[s[i]>>4])
		b.WriteByte(hexDigits[s[i]&0xf])
	}
}

// Literal returns v as a literal of dialect d.
func Literal(d Dialect, v Value) (string, error) {
	var b strings.Builder
	if err := appendLiteral(&b, d, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendLiteral(b *strings.Builder, d Dialect, v Value) error {
	switch v.Kind {
	case Null:
		b.WriteString("NULL")
	case Text:
		return appendString(b, d, v.S)
	case Int:
		b.WriteString(strconv.FormatInt(v.I, 10))
	case Decimal:
		if !isDecimal(v.S) {
			return fmt.Errorf("not a decimal number: %q", v.S)
		}
		b.WriteString(v.S)
	case Bool:
		switch {
		case d == Postgres && v.B:
			b.WriteString("TRUE")
		case d == Postgres:
			b.WriteString("FALSE")
		case v.B:
			b.WriteString("1")
		default:
			b.WriteString("0")
		}
	case Time:
		b.WriteByte('\'')
		if d == Postgres {
			b.WriteString(pgDateTime(v.T))
		} else {
			b.WriteString(dateTime(v.T))
		}
		b.WriteByte('\'')
	default:
		return fmt.Errorf("unknown value kind %d", v.Kind)
	}
	return nil
}

// isDecimal reports whether s is -?digits(.digits)?.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, dot := strings.Cut(s, ".")
	digits := func(p string) bool {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
		return true
	}
	return digits(intPart) && (!dot || digits(frac))
}

// appendCopy appends v as one field of PostgreSQL's COPY text format: \N
// for NULL; backslash, tab, newline and carriage return escaped; every other
// character that is not plain (control and format characters) written as
// \xHH bytes of its UTF-8 form, which PostgreSQL puts back together and
// checks as UTF-8. A data line can thus never be the end marker \. nor hold
// a raw tab or line break.
func appendCopy(b []byte, v Value) ([]byte, error) {
	switch v.Kind {
	case Null:
		return append(b, `\N`...), nil
	case Text:
		if err := checkText(Postgres, v.S); err != nil {
			return b, err
		}
		s := v.S
		if plain(s) {
			return append(b, s...), nil
		}
		for i := 0; i < len(s); {
			c := s[i]
			if c < 0x80 {
				switch {
				case c == '\\':
					b = append(b, `\\`...)
				case c == '\n':
					b = append(b, `\n`...)
				case c == '\r':
					b = append(b, `\r`...)
				case c == '\t':
					b = append(b, `\t`...)
				case c < 0x20 || c == 0x7f:
					b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
				default:
					b = append(b, c)
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if plainRune(r) {
				b = append(b, s[i:i+n]...)
			} else {
				for j := i; j < i+n; j++ {
					b = append(b, '\\', 'x', hexDigits[s[j]>>4], hexDigits[s[j]&0xf])
				}
			}
			i += n
		}
		return b, nil
	case Int:
		return strconv.AppendInt(b, v.I, 10), nil
	case Decimal:
		if !isDecimal(v.S) {
			return b, fmt.Errorf("not a decimal number: %q", v.S)
		}
		return append(b, v.S...), nil
	case Bool:
		if v.B {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case Time:
		return append(b, pgDateTime(v.T)...), nil
	}
	return b, fmt.Errorf("unknown value kind %d", v.Kind)
}

// QuoteIdent quotes a name (a table or column; "schema.table" is quoted
// part by part): "name" with quotes doubled, or `name` with backquotes
// doubled for MySQL. It refuses an empty part and any control or format
// character, which no sane schema uses and which could hide what the file
// does.
func QuoteIdent(d Dialect, name string) (string, error) {
	parts := strings.Split(name, ".")
	var b strings.Builder
	for i, p := range parts {
		if p == "" || !utf8.ValidString(p) {
			return "", fmt.Errorf("%w %q", ErrIdentifier, name)
		}
		for _, r := range p {
			if !plainRune(r) && r != '\\' {
				return "", fmt.Errorf("%w %q: holds the character %U", ErrIdentifier, name, r)
			}
		}
		if i > 0 {
			b.WriteByte('.')
		}
		q := "\""
		if d == MySQL {
			q = "`"
		}
		b.WriteString(q)
		b.WriteString(strings.ReplaceAll(p, q, q+q))
		b.WriteString(q)
	}
	return b.String(), nil
}

// commentText makes s safe and legible in a -- comment of any dialect and
// its client (psql, mysql, sqlite3): letters, digits and a few punctuation
// marks stand as they are; every other byte, including line breaks, quotes,
// semicolons, backslashes and stars, is written %XX.
func commentText(s string) string {
	safe := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(" .,:@+=_-()[]<>/", c) >= 0
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !safe(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; safe(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return b.String()
}
