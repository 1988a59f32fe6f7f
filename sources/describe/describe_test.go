package describe

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/scenariotest"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name        string
		r           evidence.Record
		title       string
		textHas     []string
		textHasNone []string
	}{
		{
			name: "mail: quoted-printable latin-1 body, encoded subject",
			r: evidence.Record{Source: evidence.Mail, Kind: "email", Raw: []byte("From: =?utf-8?q?Jo=C3=A3o?= <joao@example.com>\r\n" +
				"To: bookings@carhire.example\r\nSubject: =?iso-8859-1?q?Altera=E7=E3o_da_reserva?=\r\nDate: Mon, 14 Sep 2026 10:00:00 +0100\r\n" +
				"Message-ID: <a@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Bom dia, queria alterar a reserva ACH-7K2Q9 para s=E1bado.\r\n")},
			title:   "Alteração da reserva",
			textHas: []string{"From: João <joao@example.com>", "To: bookings@carhire.example", "Date: Mon, 14 Sep 2026 10:00 +0100", "para sábado."},
		},
		{
			name:    "stripe: type, id and description; the object as given",
			r:       evidence.Record{ID: "stripe:pi_123", Source: evidence.Stripe, Kind: "payment_intent", Raw: []byte(`{"id": "pi_123", "description": "Booking ACH-7K2Q9", "amount": 24050}`)},
			title:   "payment_intent pi_123: Booking ACH-7K2Q9",
			textHas: []string{`"amount": 24050`},
		},
		{
			name: "google calendar event",
			r: evidence.Record{Source: evidence.Calendar, Kind: "event", Raw: []byte(`{"summary": "ACH-7K2Q9 · Ana Sousa", "description": "Pick-up 10:00",
				"location": "Lisbon airport", "status": "confirmed", "attendees": [{"email": "ana@example.com", "displayName": "Ana"}]}`)},
			title:   "ACH-7K2Q9 · Ana Sousa",
			textHas: []string{"Status: confirmed", "Location: Lisbon airport", "Attendee: Ana <ana@example.com>", "Pick-up 10:00"},
		},
		{
			name: "iCalendar event: folded lines, escapes",
			r: evidence.Record{Source: evidence.Calendar, Kind: "event", Raw: []byte("BEGIN:VEVENT\r\nUID:1@x\r\nSUMMARY:ACH-7K2Q9\\, Ana\r\n" +
				"DESCRIPTION:Line one\\nline two\\; wrapped \r\n here\r\nEND:VEVENT\r\n")},
			title:       "ACH-7K2Q9, Ana",
			textHas:     []string{"UID: 1@x", "DESCRIPTION: Line one\nline two; wrapped here"},
			textHasNone: []string{"BEGIN:", "END:"},
		},
		{
			name:    "not what its source says: shown as it is",
			r:       evidence.Record{Source: evidence.Mail, Kind: "email", Raw: []byte("\x00\x01 not mail")},
			title:   "email",
			textHas: []string{"not mail"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title, text := Text(tc.r)
			if title != tc.title {
				t.Errorf("title %q, want %q", title, tc.title)
			}
			for _, s := range tc.textHas {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tc.textHasNone {
				if strings.Contains(text, s) {
					t.Errorf("text has %q:\n%s", s, text)
				}
			}
		})
	}
}

func FuzzText(f *testing.F) {
	f.Add("mail", []byte("Subject: hi\r\n\r\nbody"))
	f.Add("stripe", []byte(`{"id":"pi_1","description":"x"}`))
	f.Add("calendar", []byte(`{"summary":"x"}`))
	f.Add("calendar", []byte("BEGIN:VEVENT\r\nSUMMARY:x\r\n y\r\nEND:VEVENT\r\n"))
	f.Fuzz(func(t *testing.T, source string, raw []byte) {
		Text(evidence.Record{ID: "x:1", Source: evidence.Source(source), Kind: "k", Raw: raw})
	})
}

// TestReadableIsWhatDecodingShows imports the committed scenario's mail:
// what the importer stores for people to read is what decoding the raw
// bytes again shows, title and text.
func TestReadableIsWhatDecodingShows(t *testing.T) {
	records, _ := scenariotest.RecordsWithRaw(t, filepath.Join("..", "..", "fixtures", "scenario"))
	n := 0
	for _, r := range records {
		if r.Source != evidence.Mail {
			continue
		}
		if r.Readable == nil {
			t.Fatalf("%s: the mail importer stored nothing readable", r.ID)
		}
		title, text := Text(r)
		stored := r.Readable
		r.Readable = nil
		if wantTitle, wantText := Text(r); title != wantTitle || text != wantText {
			t.Errorf("%s: stored %q / %q, decoding shows %q / %q", r.ID, title, text, wantTitle, wantText)
		}
		if *stored != (evidence.Readable{Title: title, Text: text}) {
			t.Errorf("%s: Text did not show what was stored", r.ID)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("%d mail records in the scenario, want hundreds", n)
	}
}

func TestIndentedMember(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      string
		ok        bool
	}{
		{"a list's object", "{\n      \"id\": \"ch_1\",\n      \"description\": \"Rental ACH-1\",\n      \"metadata\": {\n        \"description\": \"no\"\n      }\n    }", "Rental ACH-1", true},
		{"first member", "{\n  \"description\": \"x \\\"y\\\"\",\n  \"id\": 1\n}", `x "y"`, true},
		{"null", "{\n  \"id\": \"ch_1\",\n  \"description\": null\n}", "", true},
		{"only nested", "{\n  \"id\": \"evt_1\",\n  \"data\": {\n    \"description\": \"nested\"\n  }\n}\n", "", true},
		{"compact", `{"id":"pi_1","description":"x"}`, "", false},
		{"a number", "{\n  \"description\": 5\n}", "", false},
		{"twice", "{\n  \"description\": \"a\",\n  \"description\": \"b\"\n}", "", false},
		{"an escaped key", "{\n  \"descr\\u0069ption\": \"a\"\n}", "", false},
		{"unclosed string", "{\n  \"description\": \"abc", "", false},
		{"not closed", "{\n  \"id\": 1,\n", "", false},
		{"ragged", "{\n    \"id\": 1,\n  \"description\": \"x\"\n    }", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := indentedMember([]byte(tc.raw), "description")
			if got != tc.want || ok != tc.ok {
				t.Errorf("indentedMember = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzIndentedMember: on any JSON object indented as an encoder indents
// it, whatever it holds, the member found without decoding is the one
// decoding finds (exact key, the last of duplicates, escapes read); on
// anything else it may decline, never fail.
func FuzzIndentedMember(f *testing.F) {
	f.Add([]byte(`{"id":"ch_1","description":"Rental","metadata":{"description":"no"}}`), 6)
	f.Add([]byte(`{"data":{"object":{"description":"x"}},"id":"evt_1"}`), 0)
	f.Add([]byte(`{"description":null}`), 2)
	f.Add([]byte(`{"description":"a","description":"b"}`), 2)
	f.Add([]byte(`{"Description":"a","x":["description",{"description":1}]}`), 4)
	f.Fuzz(func(t *testing.T, raw []byte, prefix int) {
		indentedMember(raw, "description")
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return
		}
		var buf bytes.Buffer
		if json.Indent(&buf, raw, strings.Repeat(" ", prefix&15), "  ") != nil {
			return
		}
		got, ok := indentedMember(buf.Bytes(), "description")
		if !ok {
			return
		}
		want := ""
		if m, has := members["description"]; has {
			if err := json.Unmarshal(m, &want); err != nil {
				t.Fatalf("found %q where the member is %s", got, m)
			}
		}
		if got != want {
			t.Fatalf("found %q, decoding finds %q, in\n%s", got, want, buf.Bytes())
		}
	})
}

// BenchmarkStripeDescription: a charge's description found from its
// indentation, and by decoding the charge.
func BenchmarkStripeDescription(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "scenario", "stripe", "charges-001.json"))
	if err != nil {
		b.Fatal(err)
	}
	// The first charge of the list, as the importer keeps it.
	start := bytes.Index(raw, []byte("{\n      \"id\": \"ch_"))
	end := bytes.Index(raw[start:], []byte("\n    }"))
	if start < 0 || end < 0 {
		b.Fatal("no charge in the list")
	}
	charge := raw[start : start+end+6]
	b.Run("indented", func(b *testing.B) {
		b.SetBytes(int64(len(charge)))
		for b.Loop() {
			stripeDescription(charge)
		}
	})
	b.Run("decoded", func(b *testing.B) {
		b.SetBytes(int64(len(charge)))
		for b.Loop() {
			var obj struct {
				Description string `json:"description"`
			}
			gojson.Unmarshal(charge, &obj)
		}
	})
}
