// Package extract reads booking facts out of free text: an email's subject
// and body, a calendar event's title and description, a Stripe payment's
// description. Every importer that reads text uses it, so a rule written for
// an email template also serves the same words in a calendar title.
//
// Rules come from the case's salvage.toml ([[rules]]) and are tried first, in
// order; the built-in rules (Defaults) follow. For each fact the first rule
// that yields a value wins, and the result says which rule that was.
package extract

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// Fields a pattern's named groups may set.
var Fields = []string{"ref", "name", "email", "phone", "item", "start", "end", "amount", "currency"}

// Input is the text of one record.
type Input struct {
	Source evidence.Source
	// From is the sender's address (mail only).
	From string
	// Subject is an email's subject or a calendar event's title.
	Subject string
	// Text is the body or description, as plain text.
	Text string
}

// Result is what the rules found.
type Result struct {
	Facts evidence.Facts
	// By names, for each fact set, the rule that set it ("status" included).
	By map[string]string
	// Problems lists values a rule matched but could not read ("start
	// \"31/02/2026\": no such date"), so a rule author can see them.
	Problems []string
}

// Rule is a compiled extraction rule.
type Rule struct {
	Name     string
	Sources  []evidence.Source // empty: all
	From     *regexp.Regexp    // nil: any
	Subject  *regexp.Regexp    // nil: any
	Patterns []*regexp.Regexp
	// Labels maps a normalised label ("booking reference") to the fact
	// its "Label: value" line gives.
	Labels      map[string]string
	In          string // "subject", "text" or "" for both
	DateLayouts []string
	DayFirst    bool
	// Status is what a match implies.
	Status evidence.Status

	// fields[i] are the facts pattern i can set; hints[i], when not nil,
	// are words one of which must appear (lower case) for it to match.
	fields [][]string
	hints  [][]string
	// labelFields are the facts the labels can set.
	labelFields []string
	// subjectHints, when not nil, are words one of which must appear in
	// the lower-case subject for the Subject filter to match.
	subjectHints []string
}

// Compile turns a [[rules]] entry into a Rule, naming the rule and the
// pattern in any error.
func Compile(c evidence.RuleConfig) (*Rule, error) {
	r := &Rule{Name: c.Name, In: c.In, DateLayouts: c.DateLayouts, DayFirst: c.DateOrder != "month-first", Status: evidence.Status(c.Status)}
	if r.Name == "" {
		r.Name = "unnamed rule"
	}
	if !r.Status.Valid() {
		return nil, fmt.Errorf("rule %q: status %q: want one of %v", r.Name, c.Status, evidence.Statuses)
	}
	if r.In != "" && r.In != "subject" && r.In != "text" {
		return nil, fmt.Errorf("rule %q: in %q: want subject or text", r.Name, r.In)
	}
	for _, s := range c.Sources {
		src := evidence.Source(s)
		if !src.Valid() {
			return nil, fmt.Errorf("rule %q: unknown source %q", r.Name, s)
		}
		r.Sources = append(r.Sources, src)
	}
	var err error
	if c.From != "" {
		if r.From, err = regexp.Compile(c.From); err != nil {
			return nil, fmt.Errorf("rule %q: from: %w", r.Name, err)
		}
	}
	if c.Subject != "" {
		if r.Subject, err = regexp.Compile(c.Subject); err != nil {
			return nil, fmt.Errorf("rule %q: subject: %w", r.Name, err)
		}
	}
	for i, p := range c.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("rule %q: patterns[%d]: %w", r.Name, i, err)
		}
		named := 0
		for _, g := range re.SubexpNames() {
			if g == "" {
				continue
			}
			if !slices.Contains(Fields, g) {
				return nil, fmt.Errorf("rule %q: patterns[%d]: group (?P<%s>…) is not a fact; use %s", r.Name, i, g, strings.Join(Fields, ", "))
			}
			named++
		}
		if named == 0 {
			return nil, fmt.Errorf("rule %q: patterns[%d] has no named group such as (?P<ref>…)", r.Name, i)
		}
		r.Patterns = append(r.Patterns, re)
		var fields []string
		for _, g := range re.SubexpNames() {
			if g != "" && !slices.Contains(fields, g) {
				fields = append(fields, g)
			}
		}
		r.fields = append(r.fields, fields)
		r.hints = append(r.hints, nil)
	}
	for field, labels := range c.Labels {
		if !slices.Contains(Fields, field) {
			return nil, fmt.Errorf("rule %q: labels.%s is not a fact; use %s", r.Name, field, strings.Join(Fields, ", "))
		}
		for _, l := range labels {
			n := normLabel(l)
			if n == "" {
				return nil, fmt.Errorf("rule %q: labels.%s: empty label", r.Name, field)
			}
			if r.Labels == nil {
				r.Labels = map[string]string{}
			}
			if other, ok := r.Labels[n]; ok && other != field {
				return nil, fmt.Errorf("rule %q: label %q is given for both %s and %s", r.Name, l, other, field)
			}
			r.Labels[n] = field
		}
		r.labelFields = append(r.labelFields, field)
	}
	slices.Sort(r.labelFields)
	for _, l := range c.DateLayouts {
		if !strings.Contains(l, "2006") && !strings.Contains(l, "06") {
			return nil, fmt.Errorf("rule %q: date layout %q has no year (Go layouts write the year as 2006)", r.Name, l)
		}
	}
	return r, nil
}

// Extractor applies a case's rules, then the built-in ones.
type Extractor struct {
	rules    []*Rule
	loc      *time.Location
	currency string
}

// New compiles the case's rules (cfg.Rules) ahead of Defaults. Dates
// without a zone are read in the case's zone; amounts without a currency
// take the case's currency.
func New(cfg evidence.Config) (*Extractor, error) {
	x := &Extractor{loc: cfg.Location(), currency: cfg.Case.Currency}
	for _, rc := range cfg.Rules {
		r, err := Compile(rc)
		if err != nil {
			return nil, fmt.Errorf("salvage.toml: %w", err)
		}
		x.rules = append(x.rules, r)
	}
	x.rules = append(x.rules, defaults...)
	return x, nil
}

// Rules returns the rules in the order they are tried.
func (x *Extractor) Rules() []*Rule { return x.rules }

func allSet(by map[string]string, fields []string) bool {
	for _, f := range fields {
		if _, ok := by[f]; !ok {
			return false
		}
	}
	return len(fields) > 0
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// labels reads "Label: value" lines, one pass over the text, and reports
// whether any of r's labels set a fact.
func (x *Extractor) labels(res *Result, r *Rule, text string) bool {
	matched := false
	for rest := text; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimLeft(line, " \t>*•·-")
		colon := strings.IndexAny(line, ":#")
		if colon <= 0 || colon > 60 {
			continue
		}
		field, ok := r.Labels[normLabel(line[:colon])]
		if !ok {
			continue
		}
		if _, done := res.By[field]; done {
			matched = true
			continue
		}
		value, ok := labelledValue(field, strings.TrimSpace(strings.TrimLeft(line[colon+1:], ":# \t")))
		if !ok {
			continue
		}
		if err := x.set(&res.Facts, field, value, r); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %s %q: %v", r.Name, field, value, err))
			continue
		}
		res.By[field] = r.Name
		matched = true
	}
	return matched
}

// normLabel puts a label in the form labels are compared in: lower case,
// single spaces, no trailing dots.
func normLabel(s string) string {
	return strings.TrimRight(strings.ToLower(strings.Join(strings.Fields(s), " ")), ".")
}

var (
	refValue   = regexp.MustCompile(`^#?[A-Za-z0-9][A-Za-z0-9._/-]*(?: [A-Za-z0-9][A-Za-z0-9._/-]*)?$`)
	refToken   = regexp.MustCompile(`^#?[A-Za-z0-9][A-Za-z0-9._/-]*`)
	emailValue = regexp.MustCompile(`[^\s@<>:;,()\[\]"]+@[^\s@<>;,()\[\]"]+\.[A-Za-z]{2,}`)
	phoneValue = regexp.MustCompile(`\+?[0-9(][0-9 ().\-/]{5,24}[0-9]`)
)

// labelledValue keeps of a labelled value what the fact can be: a
// reference is one or two code-like words, never part of a word; an email
// and a phone are found in the value.
func labelledValue(field, v string) (string, bool) {
	switch field {
	case "ref":
		v = strings.TrimRight(v, ".,;")
		if refValue.MatchString(v) {
			return v, true
		}
		if t := refToken.FindString(v); t != "" && (len(v) == len(t) || v[len(t)] == ' ') {
			return t, true
		}
		return "", false
	case "email":
		e := emailValue.FindString(v)
		return e, e != ""
	case "phone":
		p := phoneValue.FindString(v)
		return p, p != ""
	}
	return v, v != ""
}

// applies reports whether r is meant for in.
func (r *Rule) applies(in Input) bool {
	if len(r.Sources) > 0 && !slices.Contains(r.Sources, in.Source) {
		return false
	}
	if r.From != nil && !r.From.MatchString(in.From) {
		return false
	}
	if r.Subject != nil {
		if r.subjectHints != nil && !containsAny(strings.ToLower(in.Subject), r.subjectHints) {
			return false
		}
		if !r.Subject.MatchString(in.Subject) {
			return false
		}
	}
	return true
}

// Extract runs every applicable rule over in's subject and text.
func (x *Extractor) Extract(in Input) Result {
	res := Result{By: map[string]string{}}
	both := in.Subject + "\n" + in.Text
	for _, r := range x.rules {
		if !r.applies(in) {
			continue
		}
		text := both
		switch r.In {
		case "subject":
			text = in.Subject
		case "text":
			text = in.Text
		}
		matched := len(r.Patterns) == 0 && len(r.Labels) == 0 && (r.Subject != nil || r.From != nil)
		if len(r.Labels) > 0 && !allSet(res.By, r.labelFields) {
			matched = x.labels(&res, r, text) || matched
		}
		var lower string // text in lower case, made when a hint is checked
		for i, re := range r.Patterns {
			// The first rule to set a fact wins: a pattern whose facts are
			// all set has nothing to add.
			if allSet(res.By, r.fields[i]) {
				// Only the status it implies could still be news.
				if !matched && r.Status != "" && res.Facts.Status == "" && re.MatchString(text) {
					matched = true
				}
				continue
			}
			if hints := r.hints[i]; hints != nil {
				if lower == "" {
					lower = strings.ToLower(text)
				}
				if !containsAny(lower, hints) {
					continue
				}
			}
			m := re.FindStringSubmatchIndex(text)
			if m == nil {
				continue
			}
			for g, name := range re.SubexpNames() {
				if name == "" || m[2*g] < 0 {
					continue
				}
				value := strings.TrimSpace(text[m[2*g]:m[2*g+1]])
				if value == "" {
					continue
				}
				if _, done := res.By[name]; done {
					matched = true
					continue
				}
				if err := x.set(&res.Facts, name, value, r); err != nil {
					res.Problems = append(res.Problems, fmt.Sprintf("%s: %s %q: %v", r.Name, name, value, err))
					continue
				}
				res.By[name] = r.Name
				matched = true
			}
		}
		if matched && r.Status != "" && res.Facts.Status == "" {
			res.Facts.Status = r.Status
			res.By["status"] = r.Name
		}
	}
	// A currency found on its own applies to the amount.
	if res.Facts.Currency == "" && res.Facts.AmountMinor != nil {
		res.Facts.Currency = x.currency
	}
	if res.Facts.AmountMinor != nil && res.Facts.Currency == "" {
		res.Problems = append(res.Problems, "amount without a currency (set case.currency)")
		res.Facts.AmountMinor = nil
		delete(res.By, "amount")
	}
	return res
}

func (x *Extractor) set(f *evidence.Facts, field, value string, r *Rule) error {
	switch field {
	case "ref":
		f.Ref = cleanRef(value)
	case "name":
		f.Name = cleanName(value)
	case "email":
		f.Email = strings.Trim(value, "<>.,;:()[] ")
	case "phone":
		f.Phone = strings.TrimSpace(value)
	case "item":
		f.Item = collapseSpace(value)
	case "start", "end":
		t, allDay, err := parseDate(value, x.loc, r.DateLayouts, r.DayFirst)
		if err != nil {
			return err
		}
		if field == "start" {
			f.Start = &t
		} else {
			f.End = &t
		}
		f.AllDay = f.AllDay || allDay
		f.Zone = x.loc.String()
	case "amount":
		minor, cur, err := ParseAmount(value, x.currency)
		if err != nil {
			return err
		}
		f.AmountMinor = &minor
		if cur != "" {
			f.Currency = cur
		}
	case "currency":
		cur, ok := currencyCode(value, x.currency)
		if !ok {
			return fmt.Errorf("not a currency")
		}
		f.Currency = cur
	}
	return nil
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// cleanRef keeps a reference as written, without surrounding punctuation.
func cleanRef(s string) string { return strings.Trim(collapseSpace(s), ".,;:()[]<>\"'#") }

// cleanName drops decoration around a name: quotes, a trailing comma.
func cleanName(s string) string { return strings.Trim(collapseSpace(s), ".,;:\"'()<>") }

// RuleReport is what one rule makes of an input on its own: for a person
// writing rules, `salvage rules test` shows one per rule.
type RuleReport struct {
	Name string
	// Builtin is true for the built-in rules (after the case's own).
	Builtin bool
	// Applies is false when the rule is not meant for this input; WhyNot
	// says which filter failed.
	Applies bool
	WhyNot  string
	// Facts are the facts this rule alone reads, as text; Status the
	// status it implies.
	Facts    map[string]string
	Status   evidence.Status
	Problems []string
}

// Explain runs every rule on its own over in, in the order they are tried,
// and returns the combined result as Extract does.
func (x *Extractor) Explain(in Input) ([]RuleReport, Result) {
	var out []RuleReport
	builtin := len(x.rules) - len(defaults)
	for i, r := range x.rules {
		rep := RuleReport{Name: r.Name, Builtin: i >= builtin, Applies: true, Facts: map[string]string{}}
		switch {
		case len(r.Sources) > 0 && !slices.Contains(r.Sources, in.Source):
			rep.Applies, rep.WhyNot = false, fmt.Sprintf("for %v only", r.Sources)
		case r.From != nil && !r.From.MatchString(in.From):
			rep.Applies, rep.WhyNot = false, fmt.Sprintf("sender %q does not match %s", in.From, short(r.From.String()))
		case r.Subject != nil && !r.Subject.MatchString(in.Subject):
			rep.Applies, rep.WhyNot = false, fmt.Sprintf("subject does not match %s", short(r.Subject.String()))
		}
		if rep.Applies {
			one := &Extractor{rules: []*Rule{r}, loc: x.loc, currency: x.currency}
			res := one.Extract(in)
			for field := range res.By {
				if field != "status" {
					rep.Facts[field] = FactText(res.Facts, field, x.loc)
				}
			}
			rep.Status, rep.Problems = res.Facts.Status, res.Problems
		}
		out = append(out, rep)
	}
	return out, x.Extract(in)
}

// FactText shows one fact as a person reads it: times in loc, amounts in
// major units with their currency.
func FactText(f evidence.Facts, field string, loc *time.Location) string {
	switch field {
	case "ref":
		return f.Ref
	case "name":
		return f.Name
	case "email":
		return f.Email
	case "phone":
		return f.Phone
	case "item":
		return f.Item
	case "status":
		return string(f.Status)
	case "start", "end":
		t := f.Start
		if field == "end" {
			t = f.End
		}
		if t == nil {
			return ""
		}
		if f.AllDay {
			return t.In(loc).Format("2006-01-02 (all day)")
		}
		return t.In(loc).Format("2006-01-02 15:04 MST")
	case "amount":
		if f.AmountMinor == nil {
			return ""
		}
		d := scale(f.Currency)
		v := *f.AmountMinor
		if d == 0 {
			return fmt.Sprintf("%d %s", v, f.Currency)
		}
		p := int64(1)
		for range d {
			p *= 10
		}
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		return fmt.Sprintf("%s%d.%0*d %s", sign, v/p, d, v%p, f.Currency)
	case "currency":
		return f.Currency
	}
	return ""
}

func short(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "…"
	}
	return s
}
