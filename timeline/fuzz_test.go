package timeline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"github.com/salvagehq/salvage/reconcile"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salvagehq/salvage/evidence"
)

// fuzzSeeds are texts of the kinds the evidence holds, from the committed
// scenario's transcript (its first lines) and hand-written awkward ones.
func fuzzSeeds(f *testing.F) []string {
	seeds := []string{
		"Booking confirmed – ACH-7Y2LT", "Re: Confirmação de reserva ach 8zrkb", "=cmd|' /C calc'!A0",
		"</script><script>alert(1)</script>", "a\u2028b\u2029c", "bad \xff\xfe utf-8", "line\nbreak\r\n\ttab",
		"Authorization: Bearer crl_pat_Gujlan3x7uLY5HlKiEw5qhcRi6MDcfjDHnyZgemM", "`code` **bold** | pipe # head [x](y)",
		"payment_intent.succeeded", "checkout.session.expired", "charge.refund.updated", ".", "a.b.c.d",
		"ana@customer.example", "Name <x@y>, other@z", "@", "",
	}
	fh, err := os.Open(filepath.Join(scenarioDir, "transcripts", "5a1feb51-7011-418b-b8db-b3077b943c22.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for i := 0; i < 6 && sc.Scan(); i++ {
		seeds = append(seeds, sc.Text())
	}
	return seeds
}

// FuzzBuild builds a timeline from records whose texts are arbitrary (an
// email's subject and addresses, a reference, a Stripe event type, an
// agent's command and output, a finding's explanation) and writes every
// format: nothing panics, every jsonl line decodes, the csv reads back with
// a row per line, the page's data is one valid JSON value that nothing
// closes early, and no text the secret rules would call a secret is left.
func FuzzBuild(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i, s := range seeds {
		f.Add(s, seeds[(i+1)%len(seeds)], seeds[(i+2)%len(seeds)], seeds[(i+3)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		amount := int64(len(a) * 137)
		recs := []evidence.Record{
			rec("mail:<1>", evidence.Mail, "mbox", "email", "2026-09-01T10:00:00Z",
				evidence.Facts{Ref: a, Status: evidence.Confirmed, Attrs: map[string]string{"from": b, "to": c, "cc": d, "subject": a + b, "gmail_labels": d}}),
			rec("stripe:evt_1", evidence.Stripe, "api", "event", "2026-09-01T10:01:00Z",
				evidence.Facts{Ref: b, Name: c, Email: d, AmountMinor: &amount, Currency: "EUR", Status: evidence.Paid,
					Links: []evidence.Link{{Rel: "stripe_payment_intent", ID: a}, {Rel: "stripe_charge", ID: b}}, Attrs: map[string]string{"event_type": c}}),
			rec("stripe:ch_1", evidence.Stripe, "file", "charge", "2026-09-01T10:00:30Z",
				evidence.Facts{Ref: b, RefundedMinor: &amount, Currency: "JPY", Status: evidence.Refunded, Links: []evidence.Link{{Rel: "stripe_payment_intent", ID: a}}}),
			rec("ics:1", evidence.Calendar, "ics", "event", "2026-09-01T10:02:00Z", evidence.Facts{Ref: c, Item: d, Status: evidence.Confirmed, Attrs: map[string]string{"sequence": a}}),
			rec("transcript:s:1", evidence.Transcript, "claude-code", "agent-step", "2026-11-18T14:00:00Z",
				evidence.Facts{Attrs: map[string]string{"session": a, "actor": "user", "text": b}}),
			rec("transcript:s:2", evidence.Transcript, "claude-code", "agent-step", "2026-11-18T14:28:32Z",
				evidence.Facts{Attrs: map[string]string{"session": a, "actor": "agent", "tool": d, "command": c, "path": b}}),
			rec("transcript:s:finding:destructive-shell:2", evidence.Transcript, "claude-code", "finding", "2026-11-18T14:28:32Z",
				evidence.Facts{Attrs: map[string]string{"session": a, "rule": "destructive-shell", "severity": "critical", "destructive": "true",
					"step": "transcript:s:2", "explanation": d, "credential": b, "found_in": c}}),
			rec("transcript:s:3", evidence.Transcript, "claude-code", "agent-step", "2026-11-18T15:00:00Z",
				evidence.Facts{Attrs: map[string]string{"session": a, "actor": "tool", "output": a + d, "is_error": "true"}}),
		}
		tl := build(t, Options{Details: true}, recs...)
		outs := writeAll(t, tl)

		n := 0
		for _, line := range strings.Split(strings.TrimSuffix(string(outs["jsonl"]), "\n"), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("jsonl line %q: %v", line, err)
			}
			for _, k := range []string{"subject", "booking", "summary", "basis"} {
				v, _ := m[k].(string)
				if found := evidence.FindSecrets(recordID.ReplaceAllString(v, "ID")); len(found) > 0 {
					t.Fatalf("jsonl %s %q holds a secret (%s)", k, v, found[0].Rule)
				}
				if strings.ContainsAny(v, "\n\r") && k != "basis" {
					t.Fatalf("jsonl %s %q spans lines", k, v)
				}
			}
			n++
		}
		if n != len(tl.Events)+len(tl.Markers) {
			t.Fatalf("%d jsonl lines, %d events and %d markers", n, len(tl.Events), len(tl.Markers))
		}
		rows, err := csv.NewReader(bytes.NewReader(outs["csv"])).ReadAll()
		if err != nil || len(rows) != n+1 {
			t.Fatalf("csv: %d rows (%v), want %d", len(rows), err, n+1)
		}
		for _, r := range rows[1:] {
			for _, cell := range r {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Fatalf("csv cell %q could be read as a formula", cell)
				}
			}
		}

		page := string(outs["html"])
		const open = `<script type="application/json" id="timeline-data">`
		i := strings.Index(page, open)
		j := strings.Index(page[i:], "</script>")
		if i < 0 || j < 0 {
			t.Fatal("the page has no data block")
		}
		data := page[i+len(open) : i+j]
		if !json.Valid([]byte(data)) {
			t.Fatalf("the page's data is not valid JSON: %.300s", data)
		}
		if strings.Count(page, "<script") != 2 {
			t.Fatalf("the page has %d script elements, want 2", strings.Count(page, "<script"))
		}
		if !utf8.Valid(outs["md"]) || !utf8.Valid(outs["text"]) {
			t.Fatal("md or text is not UTF-8")
		}
	})
}

// FuzzAppendJSONString: the jsonl and the page's data write strings as
// encoding/json reads them back, whatever bytes they hold.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		var want string
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q decodes to %q, encoding/json's to %q", s, got, want)
		}
		if bytes.ContainsAny(b, "<>&\n") || bytes.Contains(b, []byte("\u2028")) || bytes.Contains(b, []byte("\u2029")) {
			t.Fatalf("%q: unescaped < > & newline or line separator", b)
		}
		// The jsonl's form leaves < > & as they are, and decodes the same.
		plain := appendJSON(nil, s, false)
		var got2 string
		if err := json.Unmarshal(plain, &got2); err != nil || got2 != want {
			t.Fatalf("%q decodes to %q (%v), want %q", plain, got2, err, want)
		}
		if bytes.ContainsAny(plain, "\n\r") {
			t.Fatalf("%q spans lines", plain)
		}
	})
}

// FuzzRef: references as the filter compares them.
func FuzzRef(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := reconcile.NormRef(s)
		if reconcile.NormRef(n) != n {
			t.Fatalf("reconcile.NormRef(%q) = %q, and again %q", s, n, reconcile.NormRef(n))
		}
		if reconcile.RefKey(n) != reconcile.RefKey(s) {
			t.Fatalf("reconcile.RefKey(reconcile.NormRef(%q)) = %q, RefKey = %q", s, reconcile.RefKey(n), reconcile.RefKey(s))
		}
		o := oneLine(s)
		if strings.ContainsAny(o, "\n\r\t") || !utf8.ValidString(o) {
			t.Fatalf("oneLine(%q) = %q", s, o)
		}
		if c := clip(s, 10); utf8.RuneCountInString(c) > 10 && len(c) > 10 {
			t.Fatalf("clip(%q, 10) = %q", s, c)
		}
	})
}
