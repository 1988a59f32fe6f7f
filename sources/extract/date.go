package extract

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	dateparser "github.com/markusmobius/go-dateparser"
)

var (
	// 2026-10-03, 2026-10-03 10:00, 2026-10-03T10:00:00+01:00: always year first.
	isoDate = regexp.MustCompile(`(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]+(\d{1,2})[:h.](\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?)?`)
	// 03/10/2026 10:00, 3.10.26 10h00, 10/3/2026 at 9:30 pm.
	numDate = regexp.MustCompile(`(?i)\b(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\b(?:,?\s*(?:at|às|as|um|à|a|@)?\s*(\d{1,2})(?:[:h.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?\b)?`)
)

// parseDate reads a date, and a time of day if given, from s: first the
// rule's own layouts, then ISO dates (year first, always), numeric dates in
// the rule's day/month order, and last a multilingual parser for dates with
// month names ("3 de outubro de 2026, 10:00", "Thu 12 Mar 2026"). Times
// without a zone are in loc. allDay is true when s gives no time of day.
func parseDate(s string, loc *time.Location, layouts []string, dayFirst bool) (t time.Time, allDay bool, err error) {
	s = collapseSpace(s)
	for _, l := range layouts {
		for _, cand := range prefixes(s) {
			if t, err := time.ParseInLocation(l, cand, loc); err == nil {
				return t.UTC(), !hasClock(l), nil
			}
		}
	}
	if m := isoDate.FindStringSubmatch(s); m != nil {
		return build(m[1], m[2], m[3], m[4], m[5], m[6], "", m[7], loc)
	}
	if m := numDate.FindStringSubmatch(s); m != nil {
		day, month := m[1], m[2]
		if !dayFirst {
			day, month = month, day
		}
		year := m[3]
		if len(year) == 2 {
			year = "20" + year
		}
		return build(year, month, day, m[4], m[5], "", m[6], "", loc)
	}
	return parseWords(s, loc, dayFirst)
}

// prefixes lists s and its shorter forms cut at a comma or " - ", longest
// first: a layout must match a value exactly, and labels often run on
// ("03/10/2026 10:00, Lisbon Airport").
func prefixes(s string) []string {
	out := []string{s}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == ',' || (s[i] == '-' && i > 0 && s[i-1] == ' ') {
			out = append(out, strings.TrimSpace(s[:i]))
		}
	}
	return out
}

// hasClock reports whether a Go layout has a time of day (its minutes).
func hasClock(layout string) bool { return strings.Contains(layout, "04") }

var errNoSuchDate = errors.New("no such date")

func build(y, mo, d, h, mi, sec, ampm, zone string, loc *time.Location) (time.Time, bool, error) {
	year, _ := strconv.Atoi(y)
	month, _ := strconv.Atoi(mo)
	day, _ := strconv.Atoi(d)
	allDay := h == ""
	hour, _ := strconv.Atoi(h)
	minute, _ := strconv.Atoi(mi)
	second, _ := strconv.Atoi(sec)
	switch strings.ToLower(strings.ReplaceAll(ampm, ".", "")) {
	case "pm":
		if hour < 12 {
			hour += 12
		}
	case "am":
		if hour == 12 {
			hour = 0
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1900 || year > 2200 {
		return time.Time{}, false, errNoSuchDate
	}
	if zone != "" {
		if zone == "Z" {
			loc = time.UTC
		} else {
			z := strings.ReplaceAll(zone, ":", "")
			hh, _ := strconv.Atoi(z[1:3])
			mm, _ := strconv.Atoi(z[3:5])
			off := hh*3600 + mm*60
			if z[0] == '-' {
				off = -off
			}
			loc = time.FixedZone(zone, off)
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, loc)
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, false, errNoSuchDate // 31/02
	}
	return t.UTC(), allDay, nil
}

var (
	wordParser   dateparser.Parser
	wordParserMu sync.Mutex
)

// parseWords is the slow path, for dates written with words in any of the
// languages go-dateparser knows. It never guesses a year: a date without
// one is refused.
// yearLike finds a four-digit year: a date written with words must have one
// (salvage never guesses a year), and without one the slow parser need not
// run.
var yearLike = regexp.MustCompile(`\b(?:19|20|21)\d\d\b`)

func parseWords(s string, loc *time.Location, dayFirst bool) (time.Time, bool, error) {
	if !yearLike.MatchString(s) {
		return time.Time{}, false, errors.New("not a date: no year")
	}
	order := dateparser.DMY
	if !dayFirst {
		order = dateparser.MDY
	}
	cfg := &dateparser.Configuration{
		DateOrder:       order,
		DefaultTimezone: loc,
		// A fixed "now" keeps results independent of the clock; dates
		// without a year are refused below anyway.
		CurrentTime:         time.Date(2000, 1, 1, 0, 0, 0, 0, loc),
		StrictParsing:       true,
		ReturnTimeAsPeriod:  true,
		RequiredParts:       []string{"year", "month", "day"},
		SkipTokens:          []string{"at", "às", "um", "à", "le", "el"},
		PreferredDayOfMonth: dateparser.First,
	}
	wordParserMu.Lock()
	defer wordParserMu.Unlock()
	var lastErr error
	for i, cand := range prefixes(s) {
		if i == 3 {
			break
		}
		d, err := wordParser.Parse(cfg, cand)
		if err != nil || d.Time.IsZero() {
			lastErr = err
			continue
		}
		return d.Time.UTC(), !d.Period.IsTime(), nil
	}
	if lastErr == nil {
		lastErr = errors.New("no date")
	}
	return time.Time{}, false, fmt.Errorf("not a date: %w", lastErr)
}
