package evidence

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigRoundTrip(t *testing.T) {
	tests := []Config{
		DefaultConfig(),
		{Case: CaseConfig{Timezone: "Europe/Lisbon", Currency: "EUR",
			LastBackup: time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC), IncidentAt: time.Date(2026, 11, 18, 14, 23, 5, 0, time.UTC)}},
		{Case: CaseConfig{Timezone: "America/New_York", LastBackup: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{Case: CaseConfig{Timezone: "UTC"}, Stripe: StripeConfig{MetadataKeys: []string{"reserva"}},
			Rules: []RuleConfig{{Name: "pt", Sources: []string{"mail"}, Subject: `(?i)reserva`, Patterns: []string{`Ref: (?P<ref>\S+)`, `'quoted'`},
				DateLayouts: []string{"02/01/2006 15:04"}, DateOrder: "day-first", Status: "confirmed"}}},
	}
	for _, want := range tests {
		dir := t.TempDir()
		b, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o600)
		got, warnings, err := LoadConfig(dir)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("load what Marshal wrote: %v %v\n%s", err, warnings, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct{ toml, want string }{
		{"[case]\ntimezone = \"Europe/Lisbn\"\n", "case.timezone"},
		{"[case]\ntimezone = \"UTC\"\ncurrency = \"euro\"\n", "case.currency"},
		{"[case]\ntimezone = \"UTC\"\nlast_backup = 2026-11-20T00:00:00Z\nincident_at = 2026-11-18T00:00:00Z\n", "case.last_backup"},
		{"[case\n", "salvage.toml"},
		{"[case]\ntimezone = \"UTC\"\n[[rules]]\nname = \"x\"\nstatus = \"done\"\n", "rules[0] (x).status"},
		{"[case]\ntimezone = \"UTC\"\n[[rules]]\nsources = [\"fax\"]\n", "rules[0].sources"},
		{"[case]\ntimezone = \"UTC\"\n[[rules]]\ndate_order = \"yyyy\"\n", "date_order"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tt.toml), 0o600)
		_, _, err := LoadConfig(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one naming %s", tt.toml, err, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-08-20T02:00:00Z", time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC), true},
		{"2026-08-20T03:00:00+01:00", time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC), true},
		{"2026-08-20 03:00", time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC), true},  // WEST, in the case's zone
		{"2026-12-20 03:00", time.Date(2026, 12, 20, 3, 0, 0, 0, time.UTC), true}, // WET
		{"2026-08-20", time.Date(2026, 8, 19, 23, 0, 0, 0, time.UTC), true},
		{" 2026-08-20T02:00:00.5Z ", time.Date(2026, 8, 20, 2, 0, 0, 5e8, time.UTC), true},
		{"yesterday", time.Time{}, false},
		{"20/08/2026", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, lisbon)
		if (err == nil) != tt.ok || !got.Equal(tt.want) || (tt.ok && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzLoadConfig: a hand-edited salvage.toml, whatever it holds, gives a
// config or an error, never a panic.
func FuzzLoadConfig(f *testing.F) {
	b, _ := DefaultConfig().Marshal()
	f.Add(b)
	f.Add([]byte("[case]\ntimezone = \"Europe/Lisbon\"\nlast_backup = 2026-08-20T02:00:00Z\n[[rules]]\nname = 1\n"))
	f.Add([]byte("[case]\nlast_backup = 1979-05-27\nincident_at = 07:32:00\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o600)
		cfg, _, err := LoadConfig(dir)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Errorf("LoadConfig accepted a config that does not validate: %v", verr)
			}
		}
	})
}

// FuzzParseTime: any string parses to a UTC time or an error.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-08-20T02:00:00Z", "2026-08-20 03:00", "2026-08-20", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, time.UTC)
		if err == nil && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) not in UTC: %v", s, got)
		}
	})
}
