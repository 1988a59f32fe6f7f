package reconcile

import (
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// NormRef normalizes a booking reference: upper case, any dash or space
// between its parts made one ASCII dash ("ach 2dhb4", "ACH‑2DHB4" and
// "ACH-2DHB4" are one reference).
func NormRef(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToUpper(r))
		case r == '/' || r == '.' || r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default: // dashes of any kind, spaces
			dash = true
		}
	}
	return b.String()
}

// RefKey is a reference as compared: its letters and digits only, upper
// case, so "ACHCA7EZ", "ach ca7ez" and "ACH-CA7EZ" are one reference.
func RefKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// normEmail is an address as compared: trimmed, lower case.
func normEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Trim(s, "<>")
	if !strings.Contains(s, "@") {
		return ""
	}
	return s
}

// phoneNormalizer turns phone numbers into E.164, with the region most of
// the evidence's international numbers come from as the default.
type phoneNormalizer struct {
	region string
	cache  map[string]string
}

// phoneSamples is how many phone numbers newPhoneNormalizer needs: enough
// to tell where most customers are.
const phoneSamples = 5000

func newPhoneNormalizer(samples []string) *phoneNormalizer {
	counts := map[int32]int{}
	if len(samples) > phoneSamples {
		samples = samples[:phoneSamples]
	}
	for _, s := range samples {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "+") {
			continue
		}
		if n, err := phonenumbers.Parse(s, "ZZ"); err == nil {
			counts[n.GetCountryCode()]++
		}
	}
	best, n := int32(0), 0
	for cc, c := range counts {
		if c > n || c == n && cc < best {
			best, n = cc, c
		}
	}
	region := "ZZ"
	if best != 0 {
		region = phonenumbers.GetRegionCodeForCountryCode(int(best))
	}
	return &phoneNormalizer{region: region, cache: map[string]string{}}
}

// e164 returns s as +CCNNN…, or "" when it is not a phone number.
func (p *phoneNormalizer) e164(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	// "+351963033809 | 963 033 809": the first number.
	if i := strings.IndexAny(s, "|/,;"); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	if v, ok := p.cache[s]; ok {
		return v
	}
	if e164Shape(s) {
		return s // already +CCNNN…: most of what Stripe holds
	}
	out := ""
	if n, err := phonenumbers.Parse(s, p.region); err == nil && phonenumbers.IsPossibleNumber(n) {
		out = phonenumbers.Format(n, phonenumbers.E164)
	}
	p.cache[s] = out
	return out
}

// e164Shape reports whether s is written as E.164 already: + and 8 to 15
// digits.
func e164Shape(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newStripMarks makes a transformer that removes accents. A transformer
// keeps state between calls: one per goroutine.
func newStripMarks() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// normName is a name as compared: accents removed (by stripMarks, from
// newStripMarks), lower case, "Surname, Given" turned round, words sorted,
// so word order does not matter.
func normName(s string, stripMarks transform.Transformer) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if a, b, ok := strings.Cut(s, ","); ok {
		s = strings.TrimSpace(b) + " " + strings.TrimSpace(a)
	}
	t, _, err := transform.String(stripMarks, s)
	if err == nil {
		s = t
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	sort.Strings(words)
	return strings.Join(words, " ")
}

// plateRE finds a registration plate in an item ("Renault Clio
// (AB-12-CD)", "500 / ZE-40-VA"): groups of letters and digits joined by
// dashes, or, failing that, by spaces.
var (
	plateDashed = regexp.MustCompile(`\b[A-Z0-9]{1,4}(?:-[A-Z0-9]{1,4}){1,3}\b`)
	plateSpaced = regexp.MustCompile(`\b[A-Z0-9]{1,4}(?: [A-Z0-9]{1,4}){1,2}\b`)
)

// itemKey is what identifies the booked item: its plate when it has one,
// else its words lower case.
func itemKey(item string) string {
	item = strings.TrimSpace(item)
	if item == "" {
		return ""
	}
	paren := ""
	if i := strings.LastIndexByte(item, '('); i >= 0 {
		paren = item[i:]
	}
	// Spaced groups ("AB 12 CD") only in parentheses: a model name
	// such as "308 SW" looks the same.
	for _, try := range []struct {
		re   *regexp.Regexp
		text string
	}{{plateDashed, item}, {plateSpaced, paren}} {
		ms := try.re.FindAllString(try.text, -1)
		for i := len(ms) - 1; i >= 0; i-- { // the plate comes after the model
			m := ms[i]
			if strings.ContainsAny(m, "0123456789") && strings.ContainsAny(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				return strings.ReplaceAll(m, " ", "-")
			}
		}
	}
	return strings.Join(strings.Fields(strings.ToLower(item)), " ")
}
