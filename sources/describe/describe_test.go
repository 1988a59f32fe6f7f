package describe

import (
	"path/filepath"
	"strings"
	"testing"

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
			name:        "stripe: type, id and description; the fields that hold something",
			r:           evidence.Record{ID: "stripe:pi_123", Source: evidence.Stripe, Kind: "payment_intent", Raw: []byte(`{"id": "pi_123", "description": "Booking ACH-7K2Q9", "amount": 24050, "customer": null, "metadata": {"booking_ref": "ACH-7K2Q9"}}`)},
			title:       "payment_intent pi_123: Booking ACH-7K2Q9",
			textHas:     []string{"amount: 24050", "metadata:\n  booking_ref: ACH-7K2Q9"},
			textHasNone: []string{"customer", `"`},
		},
		{
			name:    "stripe: what is no JSON, as it is",
			r:       evidence.Record{ID: "stripe:ch_1", Source: evidence.Stripe, Kind: "charge", Raw: []byte("id,amount\nch_1,5")},
			title:   "charge ch_1",
			textHas: []string{"id,amount\nch_1,5"},
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

// TestReadableIsWhatDecodingShows imports the committed scenario's mail
// and Stripe objects: what the importers store for people to read is what
// decoding the raw bytes again shows, title and text.
func TestReadableIsWhatDecodingShows(t *testing.T) {
	records, _ := scenariotest.RecordsWithRaw(t, filepath.Join("..", "..", "fixtures", "scenario"))
	n := map[evidence.Source]int{}
	for _, r := range records {
		if r.Source != evidence.Mail && r.Source != evidence.Stripe {
			continue
		}
		if r.Readable == nil {
			t.Fatalf("%s: the importer stored nothing readable", r.ID)
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
		n[r.Source]++
	}
	if n[evidence.Mail] < 100 || n[evidence.Stripe] < 100 {
		t.Fatalf("%v records in the scenario, want hundreds of mail and of Stripe", n)
	}
}

// Title is Text's title, whatever the record.
func FuzzTitle(f *testing.F) {
	for _, s := range []string{
		"BEGIN:VEVENT\r\nSUMMARY:ACH-1\\, Ana\r\nEND:VEVENT\r\n",
		"BEGIN:VEVENT\r\nSUMMARY;LANGUAGE=pt:Reserva \r\n ACH-2\r\nDESCRIPTION:x\r\nBEGIN:VALARM\r\nsummary:alarm\r\nEND:VALARM\r\n",
		"ſummary:long s\nSUMMARYX:no\nSUMMARY\nsummary;x=1:yes\\nno\n",
		`{"summary": "json", "description": "d"}`,
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, source := range []evidence.Source{evidence.Calendar, evidence.Mail, evidence.Stripe} {
			r := evidence.Record{ID: "x:1", Source: source, Kind: "event", Raw: []byte(raw)}
			want, _ := Text(r)
			if got := Title(r); got != want {
				t.Fatalf("%s %q: Title %q, Text's title %q", source, raw, got, want)
			}
		}
	})
}

// Title gives the title the importer stored, when there is no Readable.
func TestTitleStored(t *testing.T) {
	r := evidence.Record{Source: evidence.Calendar, Kind: "event", Raw: []byte(`{"summary": "from the JSON"}`), Title: "stored"}
	if got := Title(r); got != "stored" {
		t.Errorf("Title = %q, want the stored one", got)
	}
	r.Readable = &evidence.Readable{Title: "readable"}
	if got := Title(r); got != "readable" {
		t.Errorf("Title = %q, want Readable's", got)
	}
}
