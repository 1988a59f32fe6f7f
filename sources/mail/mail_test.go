package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/spf13/pflag"
)

const mailScenario = "../../fixtures/scenario"

// harness runs imports into one case, as the command line does.
type harness struct {
	t     testing.TB
	store *evidence.Store
	logs  bytes.Buffer
	env   map[string]string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	cfg.Case.LastBackup = time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)
	s, err := evidence.Init(context.Background(), filepath.Join(t.TempDir(), "case"), cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &harness{t: t, store: s, env: map[string]string{}}
}

func (h *harness) run(ctx context.Context, imp sources.Importer, args ...string) (evidence.Counts, error) {
	h.t.Helper()
	fs := pflag.NewFlagSet(imp.Name(), pflag.ContinueOnError)
	imp.Flags(fs)
	if err := fs.Parse(args); err != nil {
		h.t.Fatal(err)
	}
	job, err := h.store.StartJob(context.Background(), imp.Name(), imp.Source(), args)
	if err != nil {
		h.t.Fatal(err)
	}
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	err = imp.Import(ctx, &sources.Run{Args: fs.Args(), Config: h.store.Config(), Sink: sink, Progress: sources.NoProgress,
		Log: slog.New(slog.NewTextHandler(&h.logs, nil)), Getenv: func(k string) string { return h.env[k] }, Now: time.Now})
	if ferr := sink.Flush(context.WithoutCancel(ctx)); ferr != nil {
		h.t.Fatal(ferr)
	}
	status := evidence.JobDone
	if err != nil {
		status = evidence.JobFailed
	}
	h.store.FinishJob(context.Background(), job, status, err)
	return sink.Counts(), err
}

func (h *harness) records(src evidence.Source) map[string]evidence.Record {
	out := map[string]evidence.Record{}
	for r, err := range h.store.Records(context.Background(), evidence.Query{Sources: []evidence.Source{src}}) {
		if err != nil {
			h.t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

func sightings(t testing.TB, s *evidence.Store) int {
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM sightings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMboxAndMaildirAreOneMailbox(t *testing.T) {
	h := newHarness(t)
	mbox, err := h.run(context.Background(), NewFiles(), filepath.Join(mailScenario, "mail", "mailbox.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	maildir, err := h.run(context.Background(), NewFiles(), filepath.Join(mailScenario, "mail", "Maildir"))
	if err != nil {
		t.Fatal(err)
	}
	mails := h.records(evidence.Mail)
	// 617 messages, 8 of them the same Message-ID stored twice.
	if len(mails) != 609 || mbox.Rejected != 0 || maildir.New != 0 || maildir.NewVersion != 0 || maildir.Unchanged != mbox.New+mbox.Unchanged {
		t.Errorf("mbox %+v, then Maildir %+v, %d mail records; want 609 and the Maildir all unchanged", mbox, maildir, len(mails))
	}
	if n := sightings(t, h.store); n != 609 {
		t.Errorf("%d sightings, want every message seen again through the Maildir (609)", n)
	}
	cal := h.records(evidence.Calendar)
	if len(cal) != 51 {
		t.Errorf("%d invitations as calendar evidence, want 51", len(cal))
	}
	for _, c := range cal {
		if c.Via != "email" || !strings.HasPrefix(c.ID, "ics:") {
			t.Errorf("invitation %s via %s", c.ID, c.Via)
		}
	}
	if !strings.Contains(h.logs.String(), "58 unrelated") {
		t.Errorf("unrelated mail not counted as expected:\n%s", h.logs.String())
	}
}

// truthBooking is what the tests read of the ground truth.
type truthBooking struct {
	Ref, Status, Start, End string
	Item                    string
	AmountMinor             int64 `json:"amount_minor"`
	Evidence                struct{ Mail []string }
	Noise                   []string
}

func readTruth(t testing.TB) []truthBooking {
	f, err := os.Open(filepath.Join(mailScenario, "truth", "bookings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthBooking
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var b truthBooking
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func norm(ref string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "", "_", "").Replace(ref))
}

// The newest message the business sent about each booking, with dates,
// says what the booking finally is: its reference, dates and vehicle, and,
// for a confirmation or a change, the total. (Older messages hold the
// terms a change replaced.)
func TestConfirmationsMatchTruth(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run(context.Background(), NewFiles(), filepath.Join(mailScenario, "mail", "mailbox.mbox")); err != nil {
		t.Fatal(err)
	}
	mails := h.records(evidence.Mail)
	checked, wrong := 0, 0
	for _, b := range readTruth(t) {
		var newest *evidence.Record
		for _, id := range b.Evidence.Mail {
			r, ok := mails["mail:"+id]
			if !ok {
				t.Errorf("booking %s: message %s not imported", b.Ref, id)
				continue
			}
			// A reference in any message is this booking's.
			if r.Facts.Ref != "" && norm(r.Facts.Ref) != norm(b.Ref) {
				t.Errorf("booking %s: %s says ref %q", b.Ref, id, r.Facts.Ref)
			}
			business := strings.HasSuffix(r.Facts.Attrs["from"], "@atlantico-carhire.example")
			if business && r.Facts.Start != nil && (newest == nil || r.OccurredAt.After(newest.OccurredAt)) {
				newest = &r
			}
		}
		if newest == nil {
			continue
		}
		checked++
		f := newest.Facts
		check := func(what, got, want string) {
			if got != want {
				wrong++
				t.Errorf("booking %s (%s): %s %q, truth %q (%s)", b.Ref, f.Attrs["subject"], what, got, want, strings.Join(b.Noise, " "))
			}
		}
		check("ref", norm(f.Ref), norm(b.Ref))
		check("start", f.Start.Format(time.RFC3339), b.Start)
		if f.End != nil {
			check("end", f.End.Format(time.RFC3339), b.End)
		}
		if f.Status == evidence.Confirmed || f.Status == evidence.Changed {
			if f.AmountMinor == nil {
				check("amount", "none", fmt.Sprint(b.AmountMinor))
			} else {
				check("amount", fmt.Sprint(*f.AmountMinor), fmt.Sprint(b.AmountMinor))
			}
		}
	}
	t.Logf("%d bookings checked against their newest business message; %d values wrong", checked, wrong)
	if checked < 200 {
		t.Errorf("only %d bookings checked", checked)
	}
}

func TestStripQuoted(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"gmail style", "Thanks, see you then.\n\nOn Tue, 3 Nov 2026 at 10:00, Atlântico Car Hire <reservas@x.example> wrote:\n> Booking reference: ACH-1\n> Pick-up: 2026-11-04",
			"Thanks, see you then."},
		{"wrapped intro", "Yes please.\n\nOn Tue, 3 Nov 2026 at 10:00, Atlântico Car Hire\n<reservas@x.example> wrote:\n> Pick-up: 2026-11-04", "Yes please."},
		{"portuguese", "Obrigada!\n\nEm ter., 3/11/2026 às 10:00, Reservas <r@x.example> escreveu:\n> Levantamento: 04/11/2026", "Obrigada!"},
		{"outlook block", "Can we change it to Friday?\n\nFrom: Atlântico Car Hire <reservas@x.example>\nSent: Tuesday, 3 November 2026 10:00\nTo: Ana\nSubject: Booking confirmed\n\nPick-up: 2026-11-04 10:00",
			"Can we change it to Friday?"},
		{"outlook separator", "Fine.\n________________________________\nDe: Reservas\nEnviado: terça\nLevantamento: 04/11/2026", "Fine."},
		{"original message", "Ok\n-----Original Message-----\nPick-up: 2026-11-04", "Ok"},
		{"inline quote lines", "> old line\nnew line\n> another old", "new line"},
		{"a From: line in a letter is kept", "From: the airport, take the shuttle.\nPick-up: 2026-11-04 10:00", "From: the airport, take the shuttle.\nPick-up: 2026-11-04 10:00"},
	}
	for _, tt := range tests {
		if got := StripQuoted(tt.in); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestMalformedMessages(t *testing.T) {
	h := newHarness(t)
	c, err := h.run(context.Background(), NewFiles(), "testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	// Two files are not mail at all; the rest are kept with what could be
	// read.
	if c.Rejected != 2 || c.New != 5 {
		t.Errorf("counts %+v, want 5 kept and 2 rejected", c)
	}
	mails := h.records(evidence.Mail)
	tests := []struct {
		id, ref, problem string
	}{
		{"mail:<boundary-broken@test.example>", "ACH-BND01", ""},
		{"mail:<bad-base64@test.example>", "ACH-B64X1", "text part"},
		{"mail:<unknown-charset@test.example>", "ACH-CHR01", "charset"},
		{"mail:<no-date@test.example>", "ACH-NODT1", "no Date header"},
		{"mail:<nul-byte@test.example>", "ACH-NUL01", ""},
	}
	for _, tt := range tests {
		r, ok := mails[tt.id]
		if !ok {
			t.Errorf("%s not kept", tt.id)
			continue
		}
		if r.Facts.Ref != tt.ref {
			t.Errorf("%s: ref %q, want %q (problems %q)", tt.id, r.Facts.Ref, tt.ref, r.Facts.Attrs["decode_problems"])
		}
		if tt.problem != "" && !strings.Contains(r.Facts.Attrs["decode_problems"], tt.problem) {
			t.Errorf("%s: decode problems %q, want one about %q", tt.id, r.Facts.Attrs["decode_problems"], tt.problem)
		}
	}
	rej, _ := h.store.RejectedInputs(context.Background(), false)
	for _, r := range rej {
		if !strings.Contains(r.Reason, "not an email") {
			t.Errorf("rejected %s: %s", r.Locator, r.Reason)
		}
	}
}

func TestHugeAttachment(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: reservas@carhire.example\nTo: x@example.com\nSubject: Booking confirmed - ACH-BIG01\nDate: Tue, 03 Nov 2026 10:00:00 +0000\n" +
		"Message-ID: <huge@test.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nBooking reference: ACH-BIG01\n" +
		"--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=contract.pdf\nContent-Transfer-Encoding: base64\n\n")
	line := strings.Repeat("QUJD", 19) + "\n"
	for b.Len() < 30<<20 {
		b.WriteString(line)
	}
	b.WriteString("--B--\n")
	path := filepath.Join(t.TempDir(), "huge.eml")
	os.WriteFile(path, b.Bytes(), 0o600)
	h := newHarness(t)
	start := time.Now()
	c, err := h.run(context.Background(), NewFiles(), path)
	if err != nil || c.New != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	r := h.records(evidence.Mail)["mail:<huge@test.example>"]
	if r.Facts.Ref != "ACH-BIG01" {
		t.Errorf("facts %+v", r.Facts)
	}
	t.Logf("30 MB message imported in %s", time.Since(start))
}

// cancelAfter cancels the import's context after n records, as Ctrl-C
// would in the middle of a large mbox.
type cancelAfter struct {
	sources.Sink
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Put(ctx context.Context, r evidence.Record) error {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.Sink.Put(ctx, r)
}

func TestMboxResumes(t *testing.T) {
	h := newHarness(t)
	mbox := filepath.Join(mailScenario, "mail", "mailbox.mbox")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job, _ := h.store.StartJob(ctx, "mail", evidence.Mail, nil)
	sink := sources.NewBatchSink(h.store, job, sources.BatchOptions{})
	err := NewFiles().Import(ctx, &sources.Run{Args: []string{mbox}, Config: h.store.Config(), Sink: &cancelAfter{Sink: sink, n: 200, cancel: cancel},
		Progress: sources.NoProgress, Log: slog.New(slog.NewTextHandler(&h.logs, nil)), Now: time.Now})
	if err == nil {
		t.Fatal("the import went on after its context was cancelled")
	}
	sink.Flush(context.Background())
	h.store.FinishJob(context.Background(), job, evidence.JobInterrupted, err)
	first := sink.Counts()
	v, ok, _ := h.store.Checkpoint(context.Background(), "mbox/"+mustAbs(t, mbox))
	if !ok || !strings.Contains(v, `"offset"`) || first.New < 190 || first.New > 300 {
		t.Fatalf("after the interruption: %+v, checkpoint %q", first, v)
	}
	second, err := h.run(context.Background(), NewFiles(), mbox)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(h.records(evidence.Mail)); got != 609 {
		t.Errorf("%d messages after resuming, want 609", got)
	}
	// The second run starts after the last message committed: at most the
	// duplicates the mbox plants are read twice.
	if second.Unchanged > 8 {
		t.Errorf("the resumed import read %d messages again (first %+v, second %+v)", second.Unchanged, first, second)
	}
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
