package mail

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/peer"
)

// The committed scenario's mail, as a Maildir (the same messages as its
// mailbox.mbox, which the comparison reads).
var (
	imapScenarioMaildir = filepath.Join("..", "..", "fixtures", "scenario", "mail", "Maildir")
	imapScenarioMbox    = filepath.Join("..", "..", "fixtures", "scenario", "mail", "mailbox.mbox")
)

// scenarioMessage is one message file of the scenario's Maildir, delivered
// to Dovecot.
type scenarioMessage struct {
	id    string // the record id its Message-ID gives
	flags string // Maildir flags ("RS"), as delivered
	key   string // its file name in Dovecot, before ":2,"
}

// deliverScenario delivers the scenario's Maildir messages to mailbox of
// user, in file name order, each with the flags it has in the scenario
// (moved to cur/ with them, as a mail client would have left it), before
// Dovecot has seen the mailbox. every picks every n-th message only.
func deliverScenario(t testing.TB, d *peer.Dovecot, user, mailbox string, every int) []scenarioMessage {
	t.Helper()
	var paths []string
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(imapScenarioMaildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			paths = append(paths, filepath.Join(imapScenarioMaildir, sub, e.Name()))
		}
	}
	slices.SortFunc(paths, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	var out []scenarioMessage
	for i, p := range paths {
		if i%every != 0 {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(raw)
		if err != nil || m.MessageID == "" {
			t.Fatalf("%s: %v (Message-ID %q)", p, err, m.MessageID)
		}
		delivered := d.Deliver(t, user, mailbox, raw)
		sm := scenarioMessage{id: "mail:<" + strings.Map(safeIDRune, m.MessageID) + ">", key: filepath.Base(delivered)}
		if filepath.Base(filepath.Dir(p)) == "cur" {
			sm.flags = peer.MaildirFlags(p)
			cur := filepath.Join(filepath.Dir(filepath.Dir(delivered)), "cur", sm.key+":2,"+sm.flags)
			if err := os.Rename(delivered, cur); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, sm)
	}
	return out
}

// maildirFlags returns the flags of every message file of a Dovecot
// mailbox, by file name before ":2,".
func maildirFlags(t testing.TB, d *peer.Dovecot, user, mailbox string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range d.MaildirFiles(t, user, mailbox) {
		key, _, _ := strings.Cut(filepath.Base(f), ":")
		out[key] = peer.MaildirFlags(f)
	}
	return out
}

// imapFlagsOf is what IMAP calls Maildir flags, as flagList writes them.
func imapFlagsOf(maildir string) string {
	var flags []string
	for _, c := range maildir {
		switch c {
		case 'S':
			flags = append(flags, `\Seen`)
		case 'R':
			flags = append(flags, `\Answered`)
		case 'F':
			flags = append(flags, `\Flagged`)
		case 'T':
			flags = append(flags, `\Deleted`)
		case 'D':
			flags = append(flags, `\Draft`)
		}
	}
	slices.Sort(flags)
	return strings.Join(flags, " ")
}

// channelAttrs are the facts that say how a message came, not what it
// says: they differ between channels by design.
func withoutChannelAttrs(f evidence.Facts) evidence.Facts {
	f.Attrs = maps.Clone(f.Attrs)
	for k := range f.Attrs {
		if strings.HasPrefix(k, "imap_") || strings.HasPrefix(k, "maildir_") || k == "gmail_labels" {
			delete(f.Attrs, k)
		}
	}
	return f
}

// mboxRecords imports the scenario's mbox into a new case and returns its
// records.
func mboxRecords(t testing.TB) map[string]evidence.Record {
	t.Helper()
	c := newIMAPCase(t)
	if _, err := c.run(context.Background(), NewFiles(), imapScenarioMbox); err != nil {
		t.Fatal(err)
	}
	return c.records()
}

// sameEvidence fails the test unless got holds the same records as want:
// ids, digests, kinds, times and facts (but the channel's own).
func sameEvidence(t testing.TB, got, want map[string]evidence.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d records over IMAP, %d from the mbox", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s from the mbox, not over IMAP", id)
		case g.Digest != w.Digest:
			t.Errorf("%s: digest %s over IMAP, %s from the mbox", id, g.Digest, w.Digest)
		case g.Kind != w.Kind || g.Source != w.Source || !g.OccurredAt.Equal(w.OccurredAt) || g.Zone != w.Zone:
			t.Errorf("%s differs:\n imap %s %s %v %s\n mbox %s %s %v %s", id, g.Source, g.Kind, g.OccurredAt, g.Zone, w.Source, w.Kind, w.OccurredAt, w.Zone)
		case !reflect.DeepEqual(withoutChannelAttrs(g.Facts), withoutChannelAttrs(w.Facts)):
			t.Errorf("%s: facts differ:\n imap %+v\n mbox %+v", id, g.Facts, w.Facts)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s over IMAP, not from the mbox", id)
		}
	}
}

// TestIMAPDovecotMatchesMbox imports the scenario's mail from Dovecot and
// from the mbox export: the same evidence, and Dovecot's files keep their
// flags.
func TestIMAPDovecotMatchesMbox(t *testing.T) {
	t.Parallel()
	d := peer.StartDovecot(t, map[string]string{"alice": imapPassword})
	inbox := deliverScenario(t, d, "alice", "INBOX", 1)
	// A second label, as Gmail shows it: some of the same messages.
	label := deliverScenario(t, d, "alice", "Bookings", 25)
	before := map[string]map[string]string{"INBOX": maildirFlags(t, d, "alice", "INBOX"), "Bookings": maildirFlags(t, d, "alice", "Bookings")}
	unread := 0
	for _, f := range before["INBOX"] {
		if !strings.Contains(f, "S") {
			unread++
		}
	}
	if unread == 0 || len(before["INBOX"]) != len(inbox) {
		t.Fatalf("%d files delivered, %d unread: want unread mail to check", len(before["INBOX"]), unread)
	}

	c := newIMAPCase(t)
	counts, err := c.run(context.Background(), fastIMAP(),
		"--plain", "--addr", d.Addr, "--user", "alice", "--mailbox", "INBOX", "--mailbox", "Bookings", "--since", "all", "--batch", "100")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counts %+v, %d unread", counts, unread)
	got, want := c.records(), mboxRecords(t)
	sameEvidence(t, got, want)
	// Every message of the label was already stored from INBOX.
	if counts.New != int64(len(want)) || counts.Unchanged < int64(len(label)) || counts.Rejected != 0 {
		t.Errorf("counts %+v: want %d new, the %d messages of Bookings unchanged", counts, len(want), len(label))
	}

	// (b) Reading changed no flag: the same files, with the same flags.
	for box, flags := range before {
		after := maildirFlags(t, d, "alice", box)
		if !mapsEqual(after, flags) {
			for k, f := range flags {
				if after[k] != f {
					t.Errorf("%s/%s: flags %q before, %q after", box, k, f, after[k])
				}
			}
			t.Errorf("%s: %d files before, %d after", box, len(flags), len(after))
		}
	}

	// The flags are kept as evidence, as they were: the first delivery of
	// each message is the one stored.
	seen := map[string]bool{}
	for _, m := range inbox {
		if seen[m.id] {
			continue
		}
		seen[m.id] = true
		r := got[m.id]
		if r.Facts.Attrs["imap_flags"] != imapFlagsOf(m.flags) || r.Facts.Attrs["imap_mailbox"] != "INBOX" || r.Via != "imap" {
			t.Errorf("%s: via %s, imap_mailbox %q, imap_flags %q; want INBOX and %q (Maildir %q)",
				m.id, r.Via, r.Facts.Attrs["imap_mailbox"], r.Facts.Attrs["imap_flags"], imapFlagsOf(m.flags), m.flags)
		}
	}
}

// TestIMAPDovecotResumesAfterDrop cuts the connection to Dovecot in the
// middle of the import: the importer reconnects and continues from its
// checkpoint, with no message missing or stored twice.
func TestIMAPDovecotResumesAfterDrop(t *testing.T) {
	t.Parallel()
	d := peer.StartDovecot(t, map[string]string{"bob": imapPassword})
	deliverScenario(t, d, "bob", "INBOX", 1)
	p := startCutProxy(t, d.Addr, 500_000) // about a third of the mailbox
	c := newIMAPCase(t)
	counts, err := c.run(context.Background(), fastIMAP(), "--plain", "--addr", p.addr, "--user", "bob", "--since", "all", "--batch", "50")
	if err != nil {
		t.Fatal(err)
	}
	if p.connections() < 2 {
		t.Fatalf("%d connections: the proxy did not cut the first", p.connections())
	}
	t.Logf("counts %+v over %d connections", counts, p.connections())
	want := mboxRecords(t)
	got := c.records()
	sameEvidence(t, got, want)
	if v := c.versions(); v != len(want) {
		t.Errorf("%d versions of %d records", v, len(want))
	}
	// Read twice: what the cut batch had put (under 50), and the
	// scenario's own repeated messages (8).
	if counts.New != int64(len(want)) || counts.Unchanged >= 50+8 {
		t.Errorf("counts %+v: want %d new, less than a batch read twice", counts, len(want))
	}
	if !strings.Contains(c.logs.String(), "reconnecting") {
		t.Errorf("no reconnection logged:\n%s", c.logs.String())
	}
}
