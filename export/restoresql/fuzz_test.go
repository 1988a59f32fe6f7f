package restoresql

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStringLiteral encodes outside text as a literal of each dialect and
// checks it cannot break out: SQLite (in process) reads the SQLite literal
// back byte for byte as one value; the PostgreSQL and MySQL literals are
// one token whose decoding gives the text back; the COPY field holds no tab,
// line break or lone end marker.
func FuzzStringLiteral(f *testing.F) {
	for _, s := range adversarial() {
		if len(s) < 4096 {
			f.Add(s)
		}
	}
	f.Add("\xff\xfe")
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range Dialects {
			lit, err := StringLiteral(d, s)
			switch {
			case !utf8.ValidString(s):
				if err == nil {
					t.Fatalf("%s: invalid UTF-8 %q accepted", d, s)
				}
				continue
			case d == Postgres && strings.IndexByte(s, 0) >= 0:
				if err == nil {
					t.Fatalf("postgres: NUL accepted in %q", s)
				}
				continue
			case err != nil:
				t.Fatalf("%s: %q: %v", d, s, err)
			}
			if strings.ContainsAny(lit, "\n\r\x00") {
				t.Fatalf("%s: literal of %q holds a line break or NUL: %q", d, s, lit)
			}
			if got, ok := decodeLiteral(d, lit); !ok || got != s {
				t.Fatalf("%s: literal %q decodes to %q (%v), want %q", d, lit, got, ok, s)
			}
		}
		if utf8.ValidString(s) {
			var got string
			if err := db.QueryRowContext(context.Background(), "SELECT "+mustLit(t, SQLite, s)+" || ''").Scan(&got); err != nil {
				t.Fatalf("sqlite: %q: %v", s, err)
			}
			if got != s {
				t.Fatalf("sqlite reads %q back as %q", s, got)
			}
			if strings.IndexByte(s, 0) < 0 {
				b, err := appendCopy(nil, TextValue(s))
				if err != nil {
					t.Fatal(err)
				}
				if strings.ContainsAny(string(b), "\t\n\r") || string(b) == `\.` {
					t.Fatalf("COPY field %q of %q", b, s)
				}
				if got := decodeCopy(string(b)); got != s {
					t.Fatalf("COPY field %q decodes to %q, want %q", b, got, s)
				}
			}
		}
	})
}

func mustLit(t *testing.T, d Dialect, s string) string {
	l, err := StringLiteral(d, s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// decodeLiteral reads a literal as the database would, and reports whether
// it is exactly one literal.
func decodeLiteral(d Dialect, lit string) (string, bool) {
	hexOf := func(h string) (string, bool) {
		if len(h)%2 != 0 {
			return "", false
		}
		b := make([]byte, len(h)/2)
		for i := range b {
			x := strings.IndexByte(hexDigits, h[2*i])
			y := strings.IndexByte(hexDigits, h[2*i+1])
			if x < 0 || y < 0 {
				return "", false
			}
			b[i] = byte(x<<4 | y)
		}
		return string(b), true
	}
	switch {
	case strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2:
		body := lit[1 : len(lit)-1]
		if strings.Contains(strings.ReplaceAll(body, "''", ""), "'") || strings.Contains(body, `\`) {
			return "", false
		}
		return strings.ReplaceAll(body, "''", "'"), true
	case d == MySQL && strings.HasPrefix(lit, "_utf8mb4 X'") && strings.HasSuffix(lit, "'"):
		return hexOf(lit[len("_utf8mb4 X'") : len(lit)-1])
	case d == SQLite && strings.HasPrefix(lit, "CAST(X'") && strings.HasSuffix(lit, "' AS TEXT)"):
		return hexOf(lit[len("CAST(X'") : len(lit)-len("' AS TEXT)")])
	case d == Postgres && strings.HasPrefix(lit, "E'") && strings.HasSuffix(lit, "'"):
		body := lit[2 : len(lit)-1]
		var b strings.Builder
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch {
			case c == '\'' && i+1 < len(body) && body[i+1] == '\'':
				b.WriteByte('\'')
				i++
			case c == '\'':
				return "", false
			case c == '\\' && i+1 < len(body):
				i++
				switch body[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '\\':
					b.WriteByte('\\')
				case 'x':
					v, ok := hexOf(body[i+1 : i+3])
					if !ok {
						return "", false
					}
					b.WriteString(v)
					i += 2
				case 'u', 'U':
					n := 4
					if body[i] == 'U' {
						n = 8
					}
					var r rune
					for _, h := range body[i+1 : i+1+n] {
						r = r<<4 | rune(strings.IndexRune(hexDigits, h))
					}
					b.WriteRune(r)
					i += n
				default:
					return "", false
				}
			default:
				b.WriteByte(c)
			}
		}
		return b.String(), true
	}
	return "", false
}

// decodeCopy reads one field of COPY's text format.
func decodeCopy(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '\\' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x':
			x := strings.IndexByte(hexDigits, f[i+1])
			y := strings.IndexByte(hexDigits, f[i+2])
			b.WriteByte(byte(x<<4 | y))
			i += 2
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// FuzzParseMapping reads outside TOML as a mapping: it never panics, and
// a mapping it accepts writes SQL for a booking in every dialect.
func FuzzParseMapping(f *testing.F) {
	for _, seed := range []string{
		mustRead(f, "../../fixtures/scenario/restored/mapping.toml"),
		"[[tables]]\nname = \"t\"\nkey = [\"k\"]\n[tables.columns]\nk = \"ref\"\n",
		"[[tables]]\nname = \"t\"\nkey = [\"k\"]\nwhen = [\"paid_minor\"]\n[tables.columns]\nk = { field = \"item\", pattern = '(x)', map = { x = 1 }, map_else = 2 }\nid = { generate = \"max+1\" }\nc = { value = \"'; DROP TABLE t; --\" }\n",
		"booking_table = 1", "[[tables]]", "tables = 3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		m, err := ParseMapping([]byte(data))
		if err != nil {
			return
		}
		items := corpusItems([]string{"x", "'; DROP TABLE t; --"})
		for _, d := range Dialects {
			var b strings.Builder
			if _, err := Write(&b, items, Options{Dialect: d, Mapping: m, Case: testCase(2)}); err != nil && !strings.Contains(err.Error(), "constant") {
				t.Fatalf("%s: %v", d, err)
			}
		}
	})
}
