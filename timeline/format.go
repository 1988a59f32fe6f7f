package timeline

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/salvagehq/salvage/evidence"
)

// minorDigits is the number of decimals of a currency's minor unit, for
// the currencies that do not have two (ISO 4217, as Stripe lists them).
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "MGA": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// amount shows minor units as "1,234.50 EUR"; empty when there is none.
func amount(minor *int64, currency string) string {
	if minor == nil {
		return ""
	}
	digits, ok := minorDigits[strings.ToUpper(currency)]
	if !ok {
		digits = 2
	}
	v := *minor
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for len(s) <= digits {
		s = "0" + s
	}
	whole, frac := s[:len(s)-digits], s[len(s)-digits:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if digits > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	if currency != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ToUpper(currency))
	}
	return b.String()
}

// person is the customer a record names: "Name <email>", or either.
func person(f *evidence.Facts) string {
	name, email := oneLine(f.Name), oneLine(f.Email)
	switch {
	case name != "" && email != "":
		return name + " <" + email + ">"
	case name != "":
		return name
	}
	return email
}

func joinNonEmpty(sep string, parts ...string) string {
	var buf [8]string
	keep := buf[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// oneLine makes s one line: every run of spaces, tabs and line ends one
// space, control characters dropped.
func oneLine(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c == ' ' && i+1 < len(s) && s[i+1] == ' ' {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
		case unicode.IsControl(r) || r == utf8.RuneError:
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clip shortens s to at most n runes, ending in "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	if i >= len(s) {
		return s
	}
	return strings.TrimRight(s[:i], " ") + "…"
}

// localTime shows t in loc: "2026-11-18 14:28:32 WET".
func localTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "(no time)"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// localTimeUTC is localTime with the UTC time beside it when the zone is
// not UTC at t: "2026-08-20 03:00:00 WEST (02:00:00 UTC)".
func localTimeUTC(t time.Time, loc *time.Location) string {
	s := localTime(t, loc)
	if t.IsZero() {
		return s
	}
	if _, off := t.In(loc).Zone(); off != 0 || t.In(loc).Format("MST") != "UTC" {
		if t.In(loc).Format("2006-01-02") == t.UTC().Format("2006-01-02") {
			return s + t.UTC().Format(" (15:04:05 UTC)")
		}
		return s + t.UTC().Format(" (2006-01-02 15:04:05 UTC)")
	}
	return s
}

// maxDetailValue bounds one attribute's text in the evidence panel: the
// whole of it is in the case.
const maxDetailValue = 1500

// detail describes a record for the HTML report's evidence panel: what
// salvage read from it, where it was found, and its hash. Not redacted
// here: Build redacts every detail at the end.
func (b *builder) detail(r *evidence.Record) string {
	var s strings.Builder
	w := b.witnessOf(new(b.witness(r)))
	fmt.Fprintf(&s, "%s · %s · via %s", w.String(), r.Kind, strings.Join(w.Via, ", "))
	if !r.OccurredAt.IsZero() {
		fmt.Fprintf(&s, "\noccurred %s", localTimeUTC(r.OccurredAt, b.loc))
		if r.Zone != "" {
			fmt.Fprintf(&s, " (given in %s)", r.Zone)
		}
	}
	if r.Locator != "" {
		fmt.Fprintf(&s, "\nfound at %s", clip(oneLine(r.Locator), 300))
	}
	if r.SHA256 != ([32]byte{}) {
		fmt.Fprintf(&s, "\nsha256 %s", hex.EncodeToString(r.SHA256[:]))
	}
	f := &r.Facts
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&s, "\n%s: %s", k, clip(oneLine(v), maxDetailValue))
		}
	}
	line("ref", f.Ref)
	line("name", f.Name)
	line("email", f.Email)
	line("phone", f.Phone)
	line("item", f.Item)
	if f.Start != nil {
		line("start", localTimeUTC(*f.Start, b.loc))
	}
	if f.End != nil {
		line("end", localTimeUTC(*f.End, b.loc))
	}
	line("amount", amount(f.AmountMinor, f.Currency))
	line("paid", amount(f.PaidMinor, f.Currency))
	line("refunded", amount(f.RefundedMinor, f.Currency))
	line("status", string(f.Status))
	if len(f.Links) > 0 {
		var ls []string
		for _, l := range f.Links {
			ls = append(ls, l.Rel+" "+l.ID)
		}
		line("links", strings.Join(ls, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(f.Attrs)) {
		line(k, f.Attrs[k])
	}
	return s.String()
}
