package extract

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, def string
		minor   int64
		cur     string
		ok      bool
	}{
		{"€1,184.50", "", 118450, "EUR", true},
		{"1184,50 €", "", 118450, "EUR", true},
		{"1.184,50 EUR", "", 118450, "EUR", true},
		{"EUR 1184.50", "", 118450, "EUR", true},
		{"1184,50 EUR", "", 118450, "EUR", true},
		{"€ 184.5", "", 18450, "EUR", true},
		{"€1,184", "", 118400, "EUR", true}, // three digits after the only separator: thousands
		{"€1,18", "", 118, "EUR", true},
		{"1 184,50 €", "", 118450, "EUR", true},
		{"CHF 1'184.50", "", 118450, "CHF", true},
		{"¥12,000", "", 12000, "JPY", true},
		{"JPY 12000", "", 12000, "JPY", true},
		{"$99.99", "CAD", 9999, "CAD", true},
		{"$99.99", "EUR", 9999, "USD", true},
		{"US$ 1,234.56", "", 123456, "USD", true},
		{"R$ 1.234,56", "", 123456, "BRL", true},
		{"-€20.00", "", -2000, "EUR", true},
		{"Pick-up total: €20", "", 2000, "EUR", true},
		{"184.50", "EUR", 18450, "EUR", true},
		{"Amount due: EUR 1184.50 (incl. VAT)", "", 118450, "EUR", true},
		{"KWD 1.250", "", 1250, "KWD", true}, // three decimals
		{"€1.2345", "", 0, "", false},
		{"€1,184.50,20", "", 0, "", false},
		{"free", "EUR", 0, "", false},
	}
	for _, tt := range tests {
		minor, cur, err := ParseAmount(tt.in, tt.def)
		if (err == nil) != tt.ok || (tt.ok && (minor != tt.minor || cur != tt.cur)) {
			t.Errorf("ParseAmount(%q, %q) = %d %s %v; want %d %s ok=%v", tt.in, tt.def, minor, cur, err, tt.minor, tt.cur, tt.ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, mi int) time.Time {
		return time.Date(y, m, d, h, mi, 0, 0, loc).UTC()
	}
	tests := []struct {
		in       string
		loc      *time.Location
		layouts  []string
		dayFirst bool
		want     time.Time
		allDay   bool
		ok       bool
	}{
		{"2026-10-03 10:00, Lisbon Airport", lisbon, nil, true, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"2026-10-03 10:00", lisbon, nil, false, at(lisbon, 2026, 10, 3, 10, 0), false, true}, // ISO is year first whatever the order
		{"2026-10-03T09:00:00Z", lisbon, nil, true, at(time.UTC, 2026, 10, 3, 9, 0), false, true},
		{"2026-10-03T10:00:00-04:00", lisbon, nil, true, at(time.UTC, 2026, 10, 3, 14, 0), false, true},
		{"2026-10-03", lisbon, nil, true, at(lisbon, 2026, 10, 3, 0, 0), true, true},
		{"03/10/2026 10:00, Lisboa Aeroporto", lisbon, nil, true, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"Sat 03/10/2026 10h00 - Lisboa Aeroporto", lisbon, nil, true, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"10/3/2026 at 9:30 pm", ny, nil, false, at(ny, 2026, 10, 3, 21, 30), false, true},
		{"3.10.26 10.00", lisbon, nil, true, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"25/10/2026 01:30", lisbon, nil, true, at(lisbon, 2026, 10, 25, 1, 30), false, true}, // the DST night
		{"03/10/2026 10:00", lisbon, []string{"02/01/2006 15:04"}, false, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"Thu 12 Nov 2026, 10:00, Lisbon Airport", lisbon, nil, true, at(lisbon, 2026, 11, 12, 10, 0), false, true},
		{"3 de outubro de 2026, 10:00", lisbon, nil, true, at(lisbon, 2026, 10, 3, 10, 0), false, true},
		{"12 March 2026", lisbon, nil, true, at(lisbon, 2026, 3, 12, 0, 0), true, true},
		{"31/02/2026", lisbon, nil, true, time.Time{}, false, false},
		{"13/13/2026", lisbon, nil, true, time.Time{}, false, false},
		{"next Tuesday", lisbon, nil, true, time.Time{}, false, false},
		{"12 March", lisbon, nil, true, time.Time{}, false, false}, // no year: refused, never guessed
		{"Lisbon Airport", lisbon, nil, true, time.Time{}, false, false},
	}
	for _, tt := range tests {
		got, allDay, err := parseDate(tt.in, tt.loc, tt.layouts, tt.dayFirst)
		if (err == nil) != tt.ok || (tt.ok && (!got.Equal(tt.want) || allDay != tt.allDay || got.Location() != time.UTC)) {
			t.Errorf("parseDate(%q) = %v allDay=%v %v; want %v allDay=%v ok=%v", tt.in, got, allDay, err, tt.want, tt.allDay, tt.ok)
		}
	}
}

func newExtractor(t testing.TB, rules ...evidence.RuleConfig) *Extractor {
	t.Helper()
	cfg := evidence.Config{Case: evidence.CaseConfig{Timezone: "Europe/Lisbon", Currency: "EUR"}, Rules: rules}
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExtractDefaults(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	x := newExtractor(t)
	tests := []struct {
		name string
		in   Input
		want map[string]string // field → value as fmtFact shows it
	}{
		{"English labelled confirmation", Input{Source: evidence.Mail,
			Subject: "Booking confirmed – ACH-7K2Q9",
			Text: "Dear Ana,\n\nBooking reference: ACH-7K2Q9\nName: Ana Sousa\nEmail: ana.sousa@example.com\nPhone: +351 912 345 678\n" +
				"Vehicle: Renault Clio (AB-12-CD)\nPick-up: 2026-10-03 10:00, Lisbon Airport\nReturn: 2026-10-06 10:00, Lisbon Airport\nTotal: €1,184.50\n\n" +
				"Atlântico Car Hire · +351 213 555 010\n"},
			map[string]string{"ref": "ACH-7K2Q9", "name": "Ana Sousa", "email": "ana.sousa@example.com", "phone": "+351 912 345 678",
				"item": "Renault Clio (AB-12-CD)", "start": at(lisbon, 2026, 10, 3, 10), "end": at(lisbon, 2026, 10, 6, 10),
				"amount": "118450 EUR", "status": "confirmed"}},
		{"older template, reference with a space", Input{Source: evidence.Mail, Subject: "Reservation ach7k2q9 confirmed",
			Text: "Reservation no.: ACH 7K2Q9\nCar: Clio / AB-12-CD\nAmount due: EUR 1184.50\n"},
			// The labelled line in the body wins over the subject.
			map[string]string{"ref": "ACH 7K2Q9", "item": "Clio / AB-12-CD", "amount": "118450 EUR", "status": "confirmed"}},
		{"cancellation wins over the word confirmation", Input{Source: evidence.Mail, Subject: "Cancellation of your confirmed booking ACH-7K2Q9"},
			map[string]string{"ref": "ACH-7K2Q9", "status": "cancelled"}},
		{"change", Input{Source: evidence.Mail, Subject: "Your booking ACH-7K2Q9 has been changed"},
			map[string]string{"ref": "ACH-7K2Q9", "status": "changed"}},
		{"receipt", Input{Source: evidence.Mail, Subject: "Your receipt from Atlântico Car Hire #1234-5678"},
			map[string]string{"status": "paid"}},
		{"Stripe description in Portuguese", Input{Source: evidence.Stripe, Text: "Reserva ACH 7K2Q9 - Ana Sousa"},
			map[string]string{"ref": "ACH 7K2Q9"}},
		{"Stripe description, lower case", Input{Source: evidence.Stripe, Text: "booking ach-7k2q9 (3 days)"},
			map[string]string{"ref": "ach-7k2q9"}},
		{"numeric booking number", Input{Source: evidence.Stripe, Text: "Order #4821337"},
			map[string]string{"ref": "4821337"}},
		{"a year or a day is not a reference", Input{Source: evidence.Stripe, Text: "Booking for 12 March 2026, order 2026"},
			map[string]string{}},
		{"Stripe text never implies a status", Input{Source: evidence.Stripe, Subject: "", Text: "Booking ACH-1A2B3 cancelled"},
			map[string]string{"ref": "ACH-1A2B3"}},
		{"unrelated mail", Input{Source: evidence.Mail, Subject: "Our autumn newsletter", Text: "Ten roads to drive this autumn.\n"},
			map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := x.Extract(tt.in)
			got := facts(res.Facts)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (problems %v)", k, got[k], v, res.Problems)
				}
			}
			for k, v := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected %s = %q (by %s)", k, v, res.By[k])
				}
			}
		})
	}
}

func TestCaseRulesComeFirst(t *testing.T) {
	x := newExtractor(t, evidence.RuleConfig{
		Name: "pt confirmation", Sources: []string{"mail"}, Subject: `(?i)reserva .*confirmada`, Status: "confirmed",
		Patterns: []string{
			`(?i)Refer[êe]ncia da reserva:\s*(?P<ref>\S+)`,
			`(?i)Nome:\s*(?P<name>[^\n]+)`,
			`(?i)Levantamento:\s*(?P<start>[^\n]+)`,
			`(?i)Total:\s*(?P<amount>[^\n]+)`,
		},
		DateLayouts: []string{"02/01/2006 15:04"},
	})
	in := Input{Source: evidence.Mail, Subject: "Reserva ACH-7K2Q9 confirmada",
		Text: "Referência da reserva: ACH-7K2Q9\nNome: Ana Sousa\nLevantamento: 03/10/2026 10:00, Aeroporto de Lisboa\nTotal: 1184,50 €\n"}
	res := x.Extract(in)
	if res.Facts.Ref != "ACH-7K2Q9" || res.Facts.Name != "Ana Sousa" || *res.Facts.AmountMinor != 118450 || res.Facts.Status != evidence.Confirmed {
		t.Errorf("facts %+v problems %v", res.Facts, res.Problems)
	}
	for _, f := range []string{"ref", "name", "start", "amount", "status"} {
		if res.By[f] != "pt confirmation" {
			t.Errorf("%s by %q, want the case's rule", f, res.By[f])
		}
	}
	// The rule does not apply to another sender's subject.
	other := x.Extract(Input{Source: evidence.Mail, Subject: "Newsletter", Text: in.Text})
	if other.By["name"] == "pt confirmation" {
		t.Error("a rule applied where its subject filter does not match")
	}
}

func TestCompileErrorsNameTheProblem(t *testing.T) {
	tests := []struct {
		rule evidence.RuleConfig
		want string
	}{
		{evidence.RuleConfig{Name: "a", Patterns: []string{`(?P<ref>[`}}, `rule "a": patterns[0]`},
		{evidence.RuleConfig{Name: "b", Patterns: []string{`Ref: (\S+)`}}, "no named group"},
		{evidence.RuleConfig{Name: "c", Patterns: []string{`(?P<booking>\S+)`}}, "(?P<booking>…) is not a fact"},
		{evidence.RuleConfig{Name: "d", Subject: `(`}, `rule "d": subject`},
		{evidence.RuleConfig{Name: "e", Sources: []string{"fax"}}, `unknown source "fax"`},
		{evidence.RuleConfig{Name: "f", Status: "booked"}, `status "booked"`},
		{evidence.RuleConfig{Name: "g", DateLayouts: []string{"02/01 15:04"}}, "has no year"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.rule)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%+v) = %v, want an error containing %q", tt.rule, err, tt.want)
		}
	}
}

func TestProblemsAreReported(t *testing.T) {
	x := newExtractor(t)
	res := x.Extract(Input{Source: evidence.Mail, Text: "Pick-up: 31/02/2026 10:00\nTotal: lots\n"})
	if res.Facts.Start != nil || res.Facts.AmountMinor != nil || len(res.Problems) != 2 {
		t.Errorf("facts %+v problems %q", res.Facts, res.Problems)
	}
}

func at(loc *time.Location, y int, m time.Month, d, h int) string {
	return time.Date(y, m, d, h, 0, 0, 0, loc).UTC().Format(time.RFC3339)
}

// facts shows the facts set, as strings.
func facts(f evidence.Facts) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("ref", f.Ref)
	set("name", f.Name)
	set("email", f.Email)
	set("phone", f.Phone)
	set("item", f.Item)
	set("status", string(f.Status))
	if f.Start != nil {
		m["start"] = f.Start.Format(time.RFC3339)
	}
	if f.End != nil {
		m["end"] = f.End.Format(time.RFC3339)
	}
	if f.AmountMinor != nil {
		m["amount"] = strconv.FormatInt(*f.AmountMinor, 10) + " " + f.Currency
	}
	return m
}

// FuzzExtract: any text gives facts or nothing, never a panic, and every
// fact it sets is one Validate accepts.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"Booking reference: ACH-7K2Q9\nPick-up: 2026-10-03 10:00\nTotal: €1,184.50\n",
		"Reservation no.: ACH 7K2Q9\nCollect: Sat 03/10/2026 10h00 - Lisboa\nAmount due: EUR 1184.50",
		"Levantamento: 3 de outubro de 2026, 10:00\nTotal: 1.184,50 €",
		"Total: ¥12,000\nReturn: 10/3/26 9pm",
	} {
		f.Add("Booking confirmed", s)
	}
	x := newExtractor(f)
	f.Fuzz(func(t *testing.T, subject, text string) {
		res := x.Extract(Input{Source: evidence.Mail, Subject: subject, Text: text})
		r := evidence.Record{ID: "mail:<fuzz>", Source: evidence.Mail, Via: "eml", Kind: "email", Raw: []byte(text), Facts: res.Facts}
		if err := r.Validate(); err != nil {
			t.Errorf("extracted facts do not validate: %v (%+v)", err, res.Facts)
		}
	})
}
