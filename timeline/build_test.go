package timeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// seq yields records as the store does.
func seq(rs ...evidence.Record) iter.Seq2[evidence.Record, error] {
	return func(yield func(evidence.Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func rec(id string, src evidence.Source, via, kind, when string, f evidence.Facts) evidence.Record {
	r := evidence.Record{ID: id, Version: 1, Source: src, Via: via, Kind: kind, Facts: f}
	if when != "" {
		r.OccurredAt = at(when)
	}
	return r
}

func build(t *testing.T, opts Options, rs ...evidence.Record) *Timeline {
	t.Helper()
	if opts.Config.Case.Timezone == "" {
		opts.Config = evidence.DefaultConfig()
		opts.Config.Case.Timezone = "Europe/Lisbon"
	}
	tl, err := Build(context.Background(), seq(rs...), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func ids(e Event) []string {
	var out []string
	for _, w := range e.Evidence {
		out = append(out, w.String())
	}
	return out
}

// TestStripeOneHappening: a payment seen as its payment intent, its charge,
// the checkout session that paid it and the Stripe events that reported
// them is one event, at the time the Stripe event gives, with every
// record as witness; a refund seen as the refund and as the refunded charge
// is one more, at the refund's time; the refund learns the booking of its
// payment.
func TestStripeOneHappening(t *testing.T) {
	links := []evidence.Link{{Rel: "stripe_charge", ID: "ch_1"}, {Rel: "stripe_customer", ID: "cus_1"}, {Rel: "stripe_payment_intent", ID: "pi_1"}}
	paid := evidence.Facts{Ref: "ACH-1", AmountMinor: ptr(int64(12345)), PaidMinor: ptr(int64(12345)), Currency: "EUR", Status: evidence.Paid, Links: links}
	refunded := paid
	refunded.Status, refunded.RefundedMinor = evidence.Refunded, ptr(int64(12345))
	evt := paid
	evt.Attrs = map[string]string{"event_type": "payment_intent.succeeded"}
	tl := build(t, Options{},
		rec("stripe:pi_1", evidence.Stripe, "file", "payment_intent", "2026-09-01T10:00:00Z", paid),
		rec("stripe:ch_1", evidence.Stripe, "file", "charge", "2026-09-01T10:02:00Z", refunded),
		rec("stripe:evt_1", evidence.Stripe, "api", "event", "2026-09-01T10:02:01Z", evt),
		rec("stripe:cs_1", evidence.Stripe, "file", "checkout.session", "2026-09-01T09:59:00Z",
			evidence.Facts{Ref: "ACH-1", AmountMinor: ptr(int64(12345)), PaidMinor: ptr(int64(12345)), Currency: "EUR", Status: evidence.Paid,
				Links: []evidence.Link{{Rel: "stripe_payment_intent", ID: "pi_1"}}}),
		rec("stripe:re_1", evidence.Stripe, "file", "refund", "2026-09-03T08:00:00Z",
			evidence.Facts{RefundedMinor: ptr(int64(12345)), Currency: "EUR", Status: evidence.Refunded,
				Links: []evidence.Link{{Rel: "stripe_charge", ID: "ch_1"}, {Rel: "stripe_payment_intent", ID: "pi_1"}}}),
	)
	if len(tl.Events) != 2 {
		for _, e := range tl.Events {
			t.Logf("%s %s %v", e.Time, e.Action, ids(e))
		}
		t.Fatalf("%d events, want 2 (the payment, the refund)", len(tl.Events))
	}
	pay, ref := tl.Events[0], tl.Events[1]
	if pay.Action != PaymentSucceeded || !pay.Time.Equal(at("2026-09-01T10:02:01Z")) || pay.Evidence[0].ID != "stripe:evt_1" {
		t.Errorf("payment: %s at %s first witness %s; want payment.succeeded at the event's 10:02:01 from stripe:evt_1", pay.Action, pay.Time, pay.Evidence[0].ID)
	}
	if got := ids(pay); !slices.Equal(sorted(got), []string{"stripe:ch_1", "stripe:cs_1", "stripe:evt_1", "stripe:pi_1"}) {
		t.Errorf("payment witnesses %v", got)
	}
	if got := strings.Join(pay.Vias(), ","); got != "api,file" {
		t.Errorf("payment channels %q, want api,file", got)
	}
	if !strings.Contains(pay.Summary, "123.45 EUR") {
		t.Errorf("payment summary %q lacks the amount", pay.Summary)
	}
	if ref.Action != PaymentRefunded || !ref.Time.Equal(at("2026-09-03T08:00:00Z")) || ref.Booking != "ACH-1" || ref.Subject != "ACH-1" || ref.Actor != Staff {
		t.Errorf("refund: %+v", ref)
	}
	if got := ids(ref); !slices.Equal(sorted(got), []string{"stripe:ch_1", "stripe:re_1"}) {
		t.Errorf("refund witnesses %v, want the refund and the refunded charge", got)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestCalendarVersions: the versions of one entry, in time order, are the
// entry created, seen again through another channel (same happening), moved
// and cancelled; the order the store numbered them in does not matter.
func TestCalendarVersions(t *testing.T) {
	start, end := at("2026-10-01T09:00:00Z"), at("2026-10-03T09:00:00Z")
	later := at("2026-10-02T09:00:00Z")
	f := func(s, e time.Time, st evidence.Status) evidence.Facts {
		return evidence.Facts{Ref: "ach 77", Item: "Clio", Start: &s, End: &e, Status: st}
	}
	v := func(version int, via, when string, facts evidence.Facts) evidence.Record {
		r := rec("ics:u1", evidence.Calendar, via, "event", when, facts)
		r.Version = version
		return r
	}
	tl := build(t, Options{Sightings: map[VersionKey][]string{{"ics:u1", 1}: {"gcal"}}},
		v(3, "gcal", "2026-09-20T12:00:00Z", f(later, end, evidence.Cancelled)),
		v(1, "ics", "2026-09-10T12:00:00Z", f(start, end, evidence.Confirmed)),
		v(4, "email", "2026-09-10T12:00:05Z", f(start, end, evidence.Confirmed)),
		v(2, "gcal", "2026-09-15T12:00:00Z", f(later, end, evidence.Confirmed)),
	)
	var got []string
	for _, e := range tl.Events {
		got = append(got, string(e.Action)+" "+strings.Join(ids(e), "+")+" via "+strings.Join(e.Vias(), ","))
	}
	want := []string{
		"calendar.created ics:u1+ics:u1 v4 via email,gcal,ics",
		"calendar.moved ics:u1 v2 via gcal",
		"calendar.cancelled ics:u1 v3 via gcal",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if e := tl.Events[1]; e.Booking != "ACH-77" || e.Actor != Staff || !strings.Contains(e.Summary, "2026-10-01 10:00 – 2026-10-03 10:00 to 2026-10-02 10:00") {
		t.Errorf("move: booking %q actor %s summary %q", e.Booking, e.Actor, e.Summary)
	}
}

// TestMailDirection: the business's domain is the one most messages
// involve; mail from it was sent by staff, mail to it received from a
// customer (or a system when automated), and a receipt sent to a customer
// on the business's behalf was sent by a system. One email read from an
// mbox and over IMAP is one event with both channels.
func TestMailDirection(t *testing.T) {
	m := func(id, from, to, subject string, st evidence.Status) evidence.Record {
		return rec("mail:<"+id+">", evidence.Mail, "mbox", "email", "2026-09-01T10:00:00Z",
			evidence.Facts{Status: st, Attrs: map[string]string{"from": from, "to": to, "subject": subject}})
	}
	tl := build(t, Options{Sightings: map[VersionKey][]string{{"mail:<1@c>", 1}: {"imap"}}},
		m("1@c", "ana@customer.example", "bookings@shop.example", "Can I book?", evidence.Requested),
		m("2@shop", "bookings@shop.example", "ana@customer.example", "Booking confirmed", evidence.Confirmed),
		m("3@n", "noreply@news.example", "bookings@shop.example", "Newsletter", ""),
		m("4@stripe", "receipts+acct@stripe.example", "ana@customer.example", "Your receipt", evidence.Paid),
		m("5@shop", "bookings@shop.example", "bob@other.example", "Hello", ""),
	)
	want := map[string]string{
		"mail:<1@c>":      "customer booking.requested imap,mbox",
		"mail:<2@shop>":   "staff booking.confirmed mbox",
		"mail:<3@n>":      "system mail.received mbox",
		"mail:<4@stripe>": "system payment.succeeded mbox",
		"mail:<5@shop>":   "staff mail.sent mbox",
	}
	for _, e := range tl.Events {
		got := string(e.Actor) + " " + string(e.Action) + " " + strings.Join(e.Vias(), ",")
		if got != want[e.Evidence[0].ID] {
			t.Errorf("%s: %s, want %s", e.Evidence[0].ID, got, want[e.Evidence[0].ID])
		}
	}
	if len(tl.Events) != len(want) {
		t.Errorf("%d events, want %d", len(tl.Events), len(want))
	}
}

// transcriptRecords is an agent session: a prompt, a destructive call with
// its findings, and a person's message after it.
func transcriptRecords() []evidence.Record {
	step := func(id, when string, attrs map[string]string) evidence.Record {
		attrs["session"] = "s1"
		return rec("transcript:s1:"+id, evidence.Transcript, "claude-code", "agent-step", when, evidence.Facts{Attrs: attrs})
	}
	finding := func(rule, sev, when string, extra map[string]string) evidence.Record {
		a := map[string]string{"rule": rule, "severity": sev, "session": "s1", "step": "transcript:s1:call", "explanation": rule + " explained"}
		for k, v := range extra {
			a[k] = v
		}
		return rec("transcript:s1:finding:"+rule+":call", evidence.Transcript, "claude-code", "finding", when, evidence.Facts{Attrs: a})
	}
	return []evidence.Record{
		step("p1", "2026-11-18T14:00:00Z", map[string]string{"actor": "user", "type": "user", "text": "Fix staging. Don't touch production."}),
		step("call", "2026-11-18T14:28:32Z", map[string]string{"actor": "agent", "type": "assistant", "tool": "Bash", "command": "dropdb bookings"}),
		finding("destructive-shell", "critical", "2026-11-18T14:28:32Z", map[string]string{"destructive": "true"}),
		finding("credential-chain", "critical", "2026-11-18T14:28:32Z", map[string]string{"credential": "rk_live_…9f2c", "found_in": "/home/x/.env", "found_where": "outside the project"}),
		finding("no-confirmation", "critical", "2026-11-18T14:28:32Z", map[string]string{"approval_mode": "bypassPermissions"}),
		step("res", "2026-11-18T14:28:33Z", map[string]string{"actor": "tool", "type": "user", "output": "dropped"}),
		step("p2", "2026-11-18T15:00:00Z", map[string]string{"actor": "user", "type": "user", "text": "The site is down!"}),
	}
}

// TestMarkers: T0 comes from the findings unless the configuration or a
// flag gives it; the detection is the first message a person wrote in the
// session after T0; the restore only from a flag; the loss window runs from
// the last backup to the restore.
func TestMarkers(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	cfg.Case.LastBackup = at("2026-08-20T02:00:00Z")
	tl := build(t, Options{Config: cfg}, transcriptRecords()...)
	check := func(tl *Timeline, k MarkerKind, want string) {
		t.Helper()
		m, ok := tl.Marker(k)
		switch {
		case want == "" && ok:
			t.Errorf("%s marker at %s, want none", k, m.Time)
		case want != "" && (!ok || !m.Time.Equal(at(want))):
			t.Errorf("%s marker at %v (found %v), want %s", k, m.Time, ok, want)
		}
	}
	check(tl, LastBackup, "2026-08-20T02:00:00Z")
	check(tl, Incident, "2026-11-18T14:28:32Z")
	check(tl, Detection, "2026-11-18T15:00:00Z")
	check(tl, Restore, "")
	if in := tl.Incident; in == nil || in.Credential != "rk_live_…9f2c" || in.FoundIn != "/home/x/.env" || in.ApprovalMode != "bypassPermissions" || len(in.Findings) != 3 {
		t.Errorf("incident %+v", tl.Incident)
	}
	if tl.Window.Start != at("2026-08-20T02:00:00Z") || !tl.Window.End.IsZero() {
		t.Errorf("window %+v, want from the backup, open", tl.Window)
	}

	cfg.Case.IncidentAt = at("2026-11-18T14:30:00Z")
	tl = build(t, Options{Config: cfg, RestoredAt: at("2026-11-19T09:00:00Z")}, transcriptRecords()...)
	check(tl, Incident, "2026-11-18T14:30:00Z")
	check(tl, Restore, "2026-11-19T09:00:00Z")
	if tl.Window.End != at("2026-11-19T09:00:00Z") {
		t.Errorf("window %+v, want to the restore", tl.Window)
	}
	tl = build(t, Options{Config: cfg, IncidentAt: at("2026-11-18T14:20:00Z"), DetectedAt: at("2026-11-18T14:45:00Z")}, transcriptRecords()...)
	check(tl, Incident, "2026-11-18T14:20:00Z")
	check(tl, Detection, "2026-11-18T14:45:00Z")
	if m, _ := tl.Marker(Incident); !strings.Contains(m.Basis, "--incident-at") {
		t.Errorf("basis %q", m.Basis)
	}
}

// TestRedaction: a secret in any text a record gives is shown as its
// fingerprint in every format, also where it appears bare, without the
// context that gave it away.
func TestRedaction(t *testing.T) {
	const secret = "sk_live_51HqLyjWDarjtT1zdp7dcXq2tHzJ8kYw"
	const bare = "TokenXq2tHzJ8kYw51HqLyjWDarjtT1zdp7dcQ"
	tl := build(t, Options{Details: true},
		rec("transcript:s:1", evidence.Transcript, "claude-code", "agent-step", "2026-11-18T14:00:00Z", evidence.Facts{Attrs: map[string]string{
			"session": "s", "actor": "agent", "tool": "Bash", "command": "curl -H 'Authorization: Bearer " + bare + "' -u " + secret + ": https://api.example"}}),
		rec("mail:<1@x>", evidence.Mail, "mbox", "email", "2026-11-18T14:01:00Z", evidence.Facts{Ref: "ACH-9", Status: evidence.Confirmed,
			Attrs: map[string]string{"from": "a@x.example", "to": "b@y.example", "subject": "key " + secret + " and " + bare}}),
	)
	var all bytes.Buffer
	for _, w := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return tl.WriteText(b, TextOptions{}) },
		func(b *bytes.Buffer) error { return tl.WriteJSONL(b) },
		func(b *bytes.Buffer) error { return tl.WriteCSV(b) },
		func(b *bytes.Buffer) error { return tl.WriteMarkdown(b) },
		func(b *bytes.Buffer) error { return tl.WriteHTML(b) },
	} {
		if err := w(&all); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{secret, bare} {
		if strings.Contains(all.String(), s) {
			t.Errorf("an output holds %s", evidence.Fingerprint(s))
		}
		if !strings.Contains(all.String(), evidence.Fingerprint(s)) {
			t.Errorf("no output shows the fingerprint %s", evidence.Fingerprint(s))
		}
	}
	for i := range tl.Events {
		if d := tl.Detail(&tl.Events[i]); strings.Contains(d, secret) || strings.Contains(d, bare) || d == "" {
			t.Errorf("detail %q", d)
		}
	}
}

// TestFilterAndOrder: filters keep the events they name, markers stay;
// untimed events come last; references compare by letters and digits.
func TestFilterAndOrder(t *testing.T) {
	rs := []evidence.Record{
		rec("mail:<a>", evidence.Mail, "mbox", "email", "2026-09-02T00:00:00Z", evidence.Facts{Ref: "ach 12", Status: evidence.Requested}),
		rec("mail:<b>", evidence.Mail, "mbox", "email", "2026-09-01T00:00:00Z", evidence.Facts{Ref: "ACH-13", Status: evidence.Requested}),
		rec("ics:c", evidence.Calendar, "ics", "event", "", evidence.Facts{Ref: "ACH-12", Status: evidence.Cancelled}),
		rec("ics:d", evidence.Calendar, "ics", "event", "2026-09-03T00:00:00Z", evidence.Facts{Ref: "ACH-12", Status: evidence.Confirmed}),
	}
	tl := build(t, Options{}, rs...)
	var got []string
	for _, e := range tl.Events {
		got = append(got, e.Evidence[0].ID)
	}
	if want := []string{"mail:<b>", "mail:<a>", "ics:d", "ics:c"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if tl.Untimed != 1 {
		t.Errorf("untimed %d", tl.Untimed)
	}
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{Booking: "ACH12"}, 3},
		{Filter{Booking: "ach-12", Sources: []evidence.Source{evidence.Mail}}, 1},
		{Filter{Since: at("2026-09-02T00:00:00Z")}, 2},
		{Filter{Until: at("2026-09-02T00:00:00Z")}, 1},
		{Filter{Sources: []evidence.Source{evidence.Calendar}}, 2},
	} {
		tl := build(t, Options{Filter: c.f}, rs...)
		if len(tl.Events) != c.want || tl.Total != 4 {
			t.Errorf("filter %+v: %d of %d events, want %d of 4", c.f, len(tl.Events), tl.Total, c.want)
		}
	}
}

// TestJSONLShape: each line decodes to the documented columns, with the
// evidence as objects, markers as lines of their own.
func TestJSONLShape(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	cfg.Case.LastBackup = at("2026-08-20T02:00:00Z")
	tl := build(t, Options{Config: cfg}, transcriptRecords()...)
	var b bytes.Buffer
	if err := tl.WriteJSONL(&b); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Type, Time, Local, Source, Actor, Action, Subject, Booking, Severity, Summary, Basis string
		Evidence                                                                             []struct {
			ID      string
			Version int
			Kind    string
			Via     []string
		}
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var x line
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, x)
	}
	if lines[0].Type != "marker" || lines[0].Action != "marker.last_backup" || lines[0].Local != "2026-08-20T03:00:00+01:00" {
		t.Errorf("first line %+v", lines[0])
	}
	var t0 *line
	for i := range lines {
		if lines[i].Action == "marker.incident" {
			t0 = &lines[i]
		}
	}
	if t0 == nil || t0.Time != "2026-11-18T14:28:32Z" || len(t0.Evidence) != 1 || t0.Evidence[0].ID != "transcript:s1:call" {
		t.Errorf("incident line %+v", t0)
	}
	for _, l := range lines {
		if l.Type == "event" && (l.Source == "" || l.Actor == "" || len(l.Evidence) == 0 || l.Evidence[0].Via[0] != "claude-code") {
			t.Errorf("event line %+v", l)
		}
	}
}

// TestRows: the rows a sheet is made of are the csv's, in the same order.
func TestRows(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone = "Europe/Lisbon"
	cfg.Case.LastBackup = at("2026-08-20T02:00:00Z")
	tl := build(t, Options{Config: cfg}, transcriptRecords()...)
	var b bytes.Buffer
	if err := tl.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	lines, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	lines = lines[1:]
	i := 0
	for r := range tl.Rows() {
		if i >= len(lines) {
			t.Fatal("more rows than csv lines")
		}
		want := lines[i]
		if r.Type != want[0] || r.Action != want[5] || r.Summary != want[9] || (r.Time.IsZero() != (want[1] == "")) || strings.Join(r.Evidence, ";") != want[11] {
			t.Errorf("row %d: %+v, csv %q", i, r, lines[i])
		}
		if !r.Time.IsZero() && r.Local.Location() != tl.Location {
			t.Errorf("row %d local time in %v", i, r.Local.Location())
		}
		i++
	}
	if i != len(lines) {
		t.Errorf("%d rows, %d csv lines", i, len(lines))
	}
}
