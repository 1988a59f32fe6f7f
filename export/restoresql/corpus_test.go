package restoresql

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// adversarial is text a customer could type into an email or a booking
// form, chosen to break out of a literal, a comment, a COPY line or a
// client's own commands, or to be mangled on the way: quotes, backslashes,
// comment markers, statement ends, every control character, the planes of
// Unicode, marks that reorder text, long text.
func adversarial() []string {
	s := []string{
		`'`, `''`, `'''`, `\'`, `\\'`, `"`, `""`, "`", "``", `\`, `\\`, `\\\`, `a\`, `\a`, `\0`, `\n`, `\t`, `\r`, `\x00`, `\u0000`, `\U0001F600`,
		`'); DROP TABLE bookings;--`, `'; DELETE FROM customers; --`, `"; DROP TABLE "bookings"; --`, "`); DROP TABLE `bookings`; --",
		`' OR '1'='1`, `" OR ""="`, `1; TRUNCATE payments`, `'||(SELECT version())||'`, `' UNION SELECT * FROM customers --`,
		`--`, `-- comment`, `---`, `/*`, `*/`, `/* x */`, `/*! DROP TABLE x */`, `*/ DROP TABLE bookings; /*`, `#`, `# mysql comment`, `;`, `;;`,
		`$$`, `$tag$`, `$1`, `$$ DROP TABLE x $$`, `E'x'`, `U&'\0041'`, `N'x'`, `_utf8mb4'x'`, `X'41'`, `0x41`, `b'1'`,
		`:var`, `:'var'`, `:"var"`, `\set x y`, `\! rm -rf /`, `\copy bookings to '/tmp/x'`, `\g`, `\G`, `\c other`, `\q`, `\.`, "\\.\n", "\n\\.\n", "a\n\\.", `\N`, `\\N`,
		`delimiter //`, "\ndelimiter //\n", `.bail off`, "\n.shell rm -rf /\n", "\n.read /etc/passwd\n", ".quit", "\n.quit\n",
		`%`, `%%`, `%s%s%s%n`, `_`, `?`, `??`, `{{`, `${x}`, `$(rm -rf /)`, "`rm -rf /`", `<script>alert(1)</script>`, `=HYPERLINK("http://x","y")`,
		"NULL", "null", "\\\\\\N", "0", "-0", "1e309", "NaN", "true", "false", " ", "  ", "\t", " leading", "trailing ", "in  side",
		"\r\n", "\n", "\r", "line1\nline2", "line1\r\nline2", "a\x00b", "\x00", "\x00\x00", "x\x00", "\x00x",
		"😀", "👨‍👩‍👧‍👦", "🇵🇹", "👍🏽", "🏳️‍🌈", "e\u0301", "\u0301", "Zoë Ñúñez-Çağlar", "Ἀθῆναι", "Москва", "東京都", "서울", "ไทย", "हिन्दी",
		"עברית", "العربية", "\u200e", "\u200f", "\u202e", "a\u202eb\u202cc", "\u2066x\u2069", "\u061c", "\u202a\u202b\u202d", "\u200b", "\u200d", "\u00ad",
		"\ufeff", "x\ufeff", "\u2028", "\u2029", "\u0085", "\u00a0", "\u3000", "\ufffd", "\ufffe", "\uffff", "\U0010FFFF", "\U000E0001", "\uE000", "\U000F0000",
		"\u0080\u009f", "\ud7ff", "x\ue000y", "ﷺ", "𝕳𝖊𝖑𝖑𝖔", "𝟘𝟙", "ǅ", "ß", "ẞ", "İ", "ı", "\u212b", "\u00c5", "A\u030a",
	}
	// Every control character, alone and inside text.
	for c := 0; c < 0x20; c++ {
		s = append(s, fmt.Sprintf("a%cb", c))
	}
	s = append(s, "a\x7fb")
	var all strings.Builder
	for c := 0; c < 0x20; c++ {
		all.WriteByte(byte(c))
	}
	s = append(s, all.String()+"\x7f")
	// A character of every plane of Unicode.
	for p := rune(0); p <= 16; p++ {
		s = append(s, fmt.Sprintf("plane %d: %c", p, p<<16|0x1234))
	}
	// Quotes and backslashes next to one another, and with other marks.
	for _, a := range []string{`'`, `\`, `"`, "`", "\n", "\x00", "*/", "--", "\u202e", "😀"} {
		for _, b := range []string{`'`, `\`, `"`, "\n", ";", "\\.", "\x00"} {
			s = append(s, a+b, "x"+a+"y"+b+"z")
		}
	}
	// Long text: 1 MiB of text with every sort of character in it, and 1 MiB
	// of one quote after another.
	var long strings.Builder
	for long.Len() < 1<<20-64 {
		long.WriteString("Ana's \"car\" \\ back-slash; -- */ \t\n\r 😀 \u202e ü 東 ")
	}
	s = append(s, long.String(), strings.Repeat("'", 1<<20), strings.Repeat(`\`, 1<<20-1))
	// Each once.
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// truncRunes cuts s to at most n runes.
func truncRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// corpusItems puts each string into every text field of a booking; its
// reference starts with its number, so that it is unique in any collation.
func corpusItems(corpus []string) []Item {
	items := make([]Item, len(corpus))
	for i, s := range corpus {
		b := reconcile.Booking{Ref: fmt.Sprintf("R%03d|", i) + truncRunes(s, 40), Status: s,
			Customer: reconcile.Customer{Name: s, Email: s, Phone: s}, Item: s, Currency: "EUR",
			Sources: []string{s}, Evidence: []string{s}, Provenance: map[string]reconcile.Source{s: {Evidence: s, Rule: s}}}
		if len(s) > 64<<10 {
			// Long text in two fields only: a statement stays within
			// MariaDB's max_allowed_packet.
			b.Status, b.Customer.Email, b.Customer.Phone, b.Item = "x", "x", "x", "x"
			b.Sources, b.Evidence, b.Provenance = []string{"x"}, []string{"x"}, nil
		}
		items[i] = Item{Booking: b, Review: &evidence.Review{Ref: b.Ref, Decision: evidence.Approve, Notes: s}}
	}
	return items
}

// TestCorpusRoundTrips writes the adversarial corpus into salvage_bookings,
// loads it with each database's client and reads it back: every string
// comes back byte for byte, or (NUL, in PostgreSQL) is refused with a clear
// reason and left out of the file.
func TestCorpusRoundTrips(t *testing.T) {
	corpus := adversarial()
	if len(corpus) < 200 {
		t.Fatalf("corpus of %d strings, want at least 200", len(corpus))
	}
	items := corpusItems(corpus)
	dir := t.TempDir()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			var b bytes.Buffer
			res, err := Write(&b, items, Options{Dialect: d, Case: testCase(len(items))})
			if err != nil {
				t.Fatal(err)
			}
			refused := map[string]bool{}
			for _, l := range res.Left {
				refused[l.Ref] = true
				if d != Postgres || !strings.Contains(l.Reason, ErrNUL.Error()) {
					t.Errorf("%q left out: %s", l.Ref, l.Reason)
				}
			}
			for i, s := range corpus {
				if nul := strings.IndexByte(s, 0) >= 0; (d == Postgres && nul) != refused[items[i].Booking.Ref] {
					t.Errorf("%q: refused %v", s, refused[items[i].Booking.Ref])
				}
			}
			path := filepath.Join(dir, string(d)+".sql")
			if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			checkFileShape(t, d, b.String())
			srv := startServer(t, d)
			x := srv.fresh(t, false)
			x.mustLoad(t, path)
			x.mustLoad(t, path) // twice: nothing changes, nothing fails
			got := map[string][]string{}
			for _, r := range x.rows(t, "SELECT ref, customer_name, customer_email, customer_phone, item, status, review_notes, sources, provenance FROM salvage_bookings") {
				got[r[0]] = r
			}
			n := 0
			for i, s := range corpus {
				it := &items[i]
				if refused[it.Booking.Ref] {
					continue
				}
				r, ok := got[it.Booking.Ref]
				if !ok {
					t.Errorf("%q: no row (ref %q)", short(s), it.Booking.Ref)
					continue
				}
				want := []string{it.Booking.Ref, it.Booking.Customer.Name, it.Booking.Customer.Email, it.Booking.Customer.Phone, it.Booking.Item,
					it.Booking.Status, it.Review.Notes, jsonOf(it.Booking.Sources).S, jsonOf(it.Booking.Provenance).S}
				for k := range want {
					if r[k] != want[k] {
						t.Errorf("%q: column %d came back as %q", short(s), k, short(r[k]))
					}
				}
				n++
			}
			if len(got) != n {
				t.Errorf("%d rows for %d strings", len(got), n)
			}
			t.Logf("%s: %d of %d strings round-trip byte for byte in 9 text columns; %d refused (NUL)", d, n, len(corpus), len(refused))
		})
	}
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s… (%d bytes)", truncRunes(s, 60), len(s))
	}
	return s
}

// checkFileShape checks what the file holds outside its literals: no
// statement that changes or removes a row, and comments that stay comments.
func checkFileShape(t *testing.T, d Dialect, sql string) {
	t.Helper()
	inCopy := false
	for i, line := range strings.Split(sql, "\n") {
		if inCopy {
			inCopy = line != `\.`
			continue
		}
		if strings.HasPrefix(line, "COPY ") {
			inCopy = true
		}
		up := strings.ToUpper(strings.TrimSpace(line))
		for _, bad := range []string{"UPDATE ", "DELETE ", "DROP ", "TRUNCATE ", "ALTER ", "REPLACE ", "GRANT ", "MERGE "} {
			if strings.HasPrefix(up, bad) {
				t.Errorf("line %d: %s", i+1, line)
			}
		}
		if strings.HasPrefix(line, "--") && !utf8.ValidString(line) {
			t.Errorf("line %d: comment not UTF-8", i+1)
		}
		// A line starts with SQL, a comment, a row, or (SQLite) .bail on.
		if strings.HasPrefix(line, ".") && line != ".bail on" || strings.HasPrefix(line, `\`) {
			t.Errorf("line %d starts a client command: %q", i+1, short(line))
		}
	}
}
