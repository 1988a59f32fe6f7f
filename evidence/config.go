package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"
)

// ConfigFile is the name of a case's configuration file.
const ConfigFile = "salvage.toml"

// Config is a case's salvage.toml.
type Config struct {
	Case     CaseConfig     `toml:"case"`
	Stripe   StripeConfig   `toml:"stripe"`
	Calendar CalendarConfig `toml:"calendar"`
	// Rules extract booking facts from free text (email subject and body,
	// calendar title and description, Stripe description). A case's rules
	// are tried before the built-in ones, in order.
	Rules []RuleConfig `toml:"rules"`
}

// StripeConfig is the [stripe] section.
type StripeConfig struct {
	// MetadataKeys are the metadata keys that may hold a booking reference,
	// tried in order.
	MetadataKeys []string `toml:"metadata_keys"`
}

// CalendarConfig is the [calendar] section.
type CalendarConfig struct {
	// PropertyKeys are the event properties (Google's extendedProperties,
	// an ICS's X- fields) that may hold a booking reference, tried in order.
	PropertyKeys []string `toml:"property_keys"`
}

// PropertyKeys returns the case's calendar property keys, or the defaults
// (the same names as Stripe's metadata keys).
func (c Config) PropertyKeys() []string {
	if len(c.Calendar.PropertyKeys) > 0 {
		return c.Calendar.PropertyKeys
	}
	return DefaultMetadataKeys
}

// DefaultMetadataKeys are the metadata keys tried when a case names none.
var DefaultMetadataKeys = []string{"booking_id", "booking_ref", "booking", "reservation_id", "reservation", "order_id", "reference"}

// RuleConfig is one [[rules]] entry: where it applies, the patterns whose
// named groups become facts, how to read dates, and the status a match
// implies. sources/extract compiles and applies it.
type RuleConfig struct {
	// Name identifies the rule in provenance and in `salvage rules test`.
	Name string `toml:"name"`
	// Sources it applies to ("mail", "calendar", "stripe"); empty: all.
	Sources []string `toml:"sources"`
	// From and Subject are regular expressions the sender and the subject
	// (or calendar title) must match; empty: any.
	From    string `toml:"from"`
	Subject string `toml:"subject"`
	// Patterns are regular expressions with named groups: ref, name, email,
	// phone, item, start, end, amount, currency.
	Patterns []string `toml:"patterns"`
	// In says what the patterns read: "subject" (an email's subject, an
	// event's title), "text" (the body, the description), or both (empty).
	In string `toml:"in"`
	// Labels name, for each fact, the labels it follows in "Label: value"
	// lines ("Booking reference", "Pick-up"), matched without regard to
	// case: the simplest way to read a template.
	Labels map[string][]string `toml:"labels"`
	// DateLayouts are Go time layouts for start and end ("02/01/2006 15:04");
	// DateOrder says how to read numeric dates no layout fits: "day-first"
	// or "month-first".
	DateLayouts []string `toml:"date_layouts"`
	DateOrder   string   `toml:"date_order"`
	// Status is what a match implies: requested, confirmed, changed,
	// cancelled, paid, refunded.
	Status string `toml:"status"`
}

// MetadataKeys returns the case's Stripe metadata keys, or the defaults.
func (c Config) MetadataKeys() []string {
	if len(c.Stripe.MetadataKeys) > 0 {
		return c.Stripe.MetadataKeys
	}
	return DefaultMetadataKeys
}

// CaseConfig is the [case] section: facts about the business and the loss.
type CaseConfig struct {
	// Timezone is the business's IANA zone; times are shown in it.
	Timezone string `toml:"timezone"`
	// LastBackup is the newest backup that can be restored; zero if unknown.
	LastBackup time.Time `toml:"last_backup"`
	// IncidentAt is when the data was lost; zero if unknown.
	IncidentAt time.Time `toml:"incident_at"`
	// Currency is used for amounts whose source gives none (ISO 4217).
	Currency string `toml:"currency"`
}

// DefaultConfig is what a case starts with when init is given nothing.
func DefaultConfig() Config {
	return Config{Case: CaseConfig{Timezone: "UTC"}}
}

// Location returns the case's time zone.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Case.Timezone)
	if err != nil || c.Case.Timezone == "" {
		return time.UTC
	}
	return loc
}

// Validate reports what is wrong with c, naming the key to fix.
func (c Config) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(c.Case.Timezone); err != nil || c.Case.Timezone == "" {
		errs = append(errs, fmt.Errorf("case.timezone %q is not an IANA time zone (such as \"Europe/Lisbon\" or \"UTC\")", c.Case.Timezone))
	}
	if cur := c.Case.Currency; cur != "" && !isCurrency(cur) {
		errs = append(errs, fmt.Errorf("case.currency %q is not an upper-case ISO 4217 code (such as \"EUR\")", cur))
	}
	if lb, in := c.Case.LastBackup, c.Case.IncidentAt; !lb.IsZero() && !in.IsZero() && !lb.Before(in) {
		errs = append(errs, fmt.Errorf("case.last_backup (%s) is not before case.incident_at (%s)",
			lb.UTC().Format(time.RFC3339), in.UTC().Format(time.RFC3339)))
	}
	for i, r := range c.Rules {
		name := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			name = fmt.Sprintf("rules[%d] (%s)", i, r.Name)
		}
		for _, src := range r.Sources {
			if !Source(src).Valid() {
				errs = append(errs, fmt.Errorf("%s.sources: unknown source %q (want stripe, calendar, mail)", name, src))
			}
		}
		if !Status(r.Status).Valid() {
			errs = append(errs, fmt.Errorf("%s.status %q: want one of %v", name, r.Status, Statuses))
		}
		if in := r.In; in != "" && in != "subject" && in != "text" {
			errs = append(errs, fmt.Errorf("%s.in %q: want subject or text (or nothing for both)", name, in))
		}
		if o := r.DateOrder; o != "" && o != "day-first" && o != "month-first" {
			errs = append(errs, fmt.Errorf("%s.date_order %q: want day-first or month-first", name, o))
		}
	}
	return errors.Join(errs...)
}

// LoadConfig reads dir's salvage.toml. Keys it does not know are returned as
// warnings, not errors, so a case written by a newer salvage still opens.
func LoadConfig(dir string) (Config, []string, error) {
	path := filepath.Join(dir, ConfigFile)
	cfg := DefaultConfig()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var warnings []string
	for _, k := range md.Undecoded() {
		warnings = append(warnings, fmt.Sprintf("%s: unknown key %s (ignored)", path, k))
	}
	cfg.Case.LastBackup = utcOrZero(cfg.Case.LastBackup)
	cfg.Case.IncidentAt = utcOrZero(cfg.Case.IncidentAt)
	if err := cfg.Validate(); err != nil {
		return cfg, warnings, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, warnings, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
	"ts":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`# salvage case configuration, written by "salvage init".
# Edit it, then re-run the step that reads it. Times are RFC 3339, in UTC
# (2026-08-20T02:00:00Z) or with an offset (2026-08-20T03:00:00+01:00).

[case]
# The business's IANA time zone. salvage stores times in UTC and shows them
# in this zone.
timezone = {{quote .Timezone}}

# The newest backup that can be restored. Bookings made or changed after it
# are the ones to rebuild.
{{if .LastBackup.IsZero}}# last_backup = 2026-08-20T02:00:00Z{{else}}last_backup = {{ts .LastBackup}}{{end}}

# When the data was lost, if known. An agent transcript can tell it.
{{if .IncidentAt.IsZero}}# incident_at = 2026-11-18T14:23:05Z{{else}}incident_at = {{ts .IncidentAt}}{{end}}

# ISO 4217 currency for amounts whose source does not give one.
{{if eq .Currency ""}}# currency = "EUR"{{else}}currency = {{quote .Currency}}{{end}}

# Stripe metadata keys that may hold a booking reference, tried in order.
# The default list is below; set your own keys to replace it.
# [stripe]
# metadata_keys = ["booking_id", "booking_ref", "booking", "reservation_id", "reservation", "order_id", "reference"]

# Calendar event properties (Google's extendedProperties, an ICS's X- fields)
# that may hold a booking reference; the same defaults.
# [calendar]
# property_keys = ["booking_id", "booking_ref", "booking", "reservation_id", "reservation", "order_id", "reference"]

# Extraction rules: how to read booking facts from free text (email subject
# and body, calendar title and description, Stripe description). Your rules
# are tried first, in order, then the built-in ones (labelled confirmations
# in English, Portuguese, Spanish, French, German and Italian: "Booking
# reference: …", "Pick-up: …", "Total: €…"; common calendar titles).
# The facts: ref, name, email, phone, item, start, end, amount, currency.
#
# The simplest rule names the labels of "Label: value" lines:
#
# [[rules]]
# name = "our confirmation"
# from = '@our-company\.example$'
# status = "confirmed"
# [rules.labels]
# ref = ["Confirmation code"]
# name = ["Lead driver"]
# start = ["Collection"]
# end = ["Drop-off"]
# amount = ["Price"]
#
# Patterns (regular expressions whose named groups become facts) read
# anything else:
#
# [[rules]]
# name = "Portuguese confirmation"
# sources = ["mail", "calendar"]
# from = '@atlantico-carhire\.example$'
# subject = '(?i)reserva.*confirmada'
# patterns = [
#   '(?i)Refer[êe]ncia da reserva:\s*(?P<ref>\S+)',
#   '(?i)Levantamento:\s*(?P<start>\d{2}/\d{2}/\d{4} \d{2}:\d{2})',
#   '(?i)Total:\s*(?P<amount>[0-9.,]+\s*€)',
# ]
# date_layouts = ["02/01/2006 15:04"]
# date_order = "day-first"
# status = "confirmed"
`))

// Marshal renders c as a commented salvage.toml.
func (c Config) Marshal() ([]byte, error) {
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, c.Case); err != nil {
		return nil, err
	}
	// The template writes [case] and the commented defaults; sections the
	// case has set are written after it.
	rest := struct {
		Stripe   *StripeConfig   `toml:"stripe,omitempty"`
		Calendar *CalendarConfig `toml:"calendar,omitempty"`
		Rules    []RuleConfig    `toml:"rules,omitempty"`
	}{Rules: c.Rules}
	if len(c.Stripe.MetadataKeys) > 0 {
		rest.Stripe = &c.Stripe
	}
	if len(c.Calendar.PropertyKeys) > 0 {
		rest.Calendar = &c.Calendar
	}
	if rest.Stripe != nil || rest.Calendar != nil || len(rest.Rules) > 0 {
		b.WriteString("\n# Set for this case:\n")
		if err := toml.NewEncoder(&b).Encode(rest); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// ParseTime reads a time given on the command line or in a file: RFC 3339,
// or a date-time without offset (taken in loc), or a bare date (midnight in
// loc).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-08-20T02:00:00Z) or a date (2026-08-20)", s)
}
