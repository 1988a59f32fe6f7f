package extract

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// symbols maps currency signs to ISO 4217 codes. Signs shared by several
// currencies ("$", "kr") map to "" and take the case's currency when it is
// one of them.
var symbols = []struct {
	sign string
	code string
	any  []string // for shared signs: the codes it may stand for
}{
	{"R$", "BRL", nil}, {"US$", "USD", nil}, {"A$", "AUD", nil}, {"C$", "CAD", nil}, {"NZ$", "NZD", nil},
	{"HK$", "HKD", nil}, {"€", "EUR", nil}, {"£", "GBP", nil}, {"₹", "INR", nil}, {"₩", "KRW", nil},
	{"₺", "TRY", nil}, {"₪", "ILS", nil}, {"zł", "PLN", nil}, {"Kč", "CZK", nil}, {"Fr.", "CHF", nil},
	{"¥", "", []string{"JPY", "CNY"}}, {"$", "", []string{"USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD"}},
	{"kr", "", []string{"SEK", "NOK", "DKK", "ISK"}},
}

var (
	isoCode = regexp.MustCompile(`\b[A-Z]{3}\b`)
	number  = regexp.MustCompile(`[-−]?\d(?:[\d.,'’\x{00a0}\x{202f} ]*\d)?`)
)

// currencyCode finds the currency an amount is written in: an ISO code, or a
// sign. A shared sign takes def when def is one of its currencies, else its
// most common one.
func currencyCode(s, def string) (string, bool) {
	for _, m := range isoCode.FindAllString(s, -1) {
		if _, err := currency.ParseISO(m); err == nil {
			return m, true
		}
	}
	for _, sym := range symbols {
		if !strings.Contains(s, sym.sign) {
			continue
		}
		if sym.code != "" {
			return sym.code, true
		}
		for _, c := range sym.any {
			if c == def {
				return def, true
			}
		}
		return sym.any[0], true
	}
	return "", false
}

// scale is the number of minor-unit digits of cur (2 for EUR, 0 for JPY).
func scale(cur string) int {
	u, err := currency.ParseISO(cur)
	if err != nil {
		return 2
	}
	s, _ := currency.Standard.Rounding(u)
	return s
}

var errAmbiguous = errors.New("cannot tell the decimal separator")

// ParseAmount reads an amount as people write it ("€1,184.50",
// "1184,50 €", "EUR 1184.50", "1.184,50 EUR", "¥12,000", "CHF 1'184.50")
// into minor units of its currency (def when it names none). The decimal
// separator is told from the currency's minor units: in EUR "1,184" is one
// thousand one hundred and eighty-four, "1,18" is one euro eighteen.
func ParseAmount(s, def string) (minor int64, cur string, err error) {
	cur, _ = currencyCode(s, def)
	if cur == "" {
		cur = def
	}
	loc := number.FindStringIndex(s)
	if loc == nil {
		return 0, "", errors.New("no number")
	}
	num := s[loc[0]:loc[1]]
	neg := strings.HasPrefix(num, "-") || strings.HasPrefix(num, "−") || signBefore(s[:loc[0]])
	num = strings.TrimLeft(num, "-−")
	// Spaces and apostrophes only ever group thousands.
	num = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "'", "", "’", "").Replace(num)
	digits := scale(cur)
	whole, frac, err := splitDecimal(num, digits)
	if err != nil {
		return 0, "", err
	}
	if len(frac) > digits {
		if strings.TrimRight(frac[digits:], "0") != "" {
			return 0, "", fmt.Errorf("%d decimals, %s has %d", len(frac), cur, digits)
		}
		frac = frac[:digits]
	}
	frac += strings.Repeat("0", digits-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("amount out of range")
	}
	if neg {
		v = -v
	}
	return v, cur, nil
}

// splitDecimal splits "1.184,50" into "1184" and "50".
func splitDecimal(num string, digits int) (whole, frac string, err error) {
	last := strings.LastIndexAny(num, ".,")
	if last < 0 {
		return num, "", nil
	}
	sep := num[last]
	other := byte(',')
	if sep == ',' {
		other = '.'
	}
	after := num[last+1:]
	switch {
	case strings.IndexByte(num, other) >= 0:
		// Both kinds: the last one is the decimal separator, and it may
		// appear only once ("1.184,50", not "1,184.50,20").
		if strings.Count(num, string(sep)) > 1 {
			return "", "", errAmbiguous
		}
		return strip(num[:last]), after, nil
	case strings.Count(num, string(sep)) > 1:
		// "1.184.500": only thousands.
		return strip(num), "", nil
	case len(after) == 3 && digits != 3:
		return strip(num), "", nil // "1,184" in a 2-decimal currency
	case digits == 0:
		return strip(num), "", nil
	case len(after) <= digits:
		return num[:last], after, nil
	default:
		return "", "", errAmbiguous
	}
}

func strip(s string) string { return strings.NewReplacer(".", "", ",", "").Replace(s) }

// signBefore reports whether a minus stands just before a number, with only
// a currency sign or spaces between ("-€20.00", "− $ 5").
func signBefore(prefix string) bool {
	p := strings.TrimRightFunc(prefix, func(r rune) bool {
		return r == ' ' || strings.ContainsRune("€£¥$₹₩₺₪", r)
	})
	return strings.HasSuffix(p, "-") || strings.HasSuffix(p, "−")
}
