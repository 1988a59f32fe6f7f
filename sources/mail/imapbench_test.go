package mail

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/salvagehq/salvage/internal/peer"
)

// benchIMAPMessages is the size of the benchmark's mailbox.
const benchIMAPMessages = 20_000

// BenchmarkIMAPImport imports 20,000 small messages from a local Dovecot
// over IMAP into a fresh case, and times mbsync (Debian isync) pulling the
// same mailbox into a fresh Maildir, in the same run. Goal: salvage takes at
// most 1.25 times mbsync's wall time. It reports both times per run
// (salvage-s, mbsync-s), their ratio (ratio = salvage/mbsync, goal ≤ 1.25)
// and its inverse (vs-mbsync = mbsync/salvage, goal ≥ 0.8, for reports
// whose goals are minimums).
//
//	go test -run '^$' -bench BenchmarkIMAPImport -benchtime 3x ./sources/mail/
func BenchmarkIMAPImport(b *testing.B) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		b.Fatal("missing mbsync, the IMAP import's yardstick: install it with: apt-get install -y isync (scripts/test-setup installs every peer)")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as cmd/salvage runs
	d := peer.StartDovecot(b, map[string]string{"bench": imapPassword})
	for i := range benchIMAPMessages {
		// Maildir files have LF line ends; Dovecot serves CRLF.
		d.Deliver(b, "bench", "INBOX", []byte(strings.ReplaceAll(string(bookingMail(i+1)), "\r\n", "\n")))
	}
	salvage := func() time.Duration {
		c := newIMAPCase(b)
		start := time.Now()
		counts, err := c.run(context.Background(), NewIMAP(), "--plain", "--addr", d.Addr, "--user", "bench", "--since", "all")
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if counts.New != benchIMAPMessages {
			b.Fatalf("salvage stored %+v, want %d new", counts, benchIMAPMessages)
		}
		return took
	}
	pull := func() time.Duration {
		dir := b.TempDir()
		conf := filepath.Join(dir, "mbsyncrc")
		near := filepath.Join(dir, "mail")
		// As shared/PEERS.md: no TLS, LOGIN, a pull-only channel.
		text := fmt.Sprintf(`IMAPAccount bench
Host %s
Port %d
User bench
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel pull
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
`, d.Host, d.Port, imapPassword, near, near)
		if err := os.Mkdir(near, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(mbsync, "-q", "-c", conf, "pull")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("mbsync: %v\n%s", err, out)
		}
		n := 0
		for _, sub := range []string{"cur", "new"} {
			entries, err := os.ReadDir(filepath.Join(near, "INBOX", sub))
			if err != nil {
				b.Fatal(err)
			}
			n += len(entries)
		}
		if n != benchIMAPMessages {
			b.Fatalf("mbsync pulled %d messages, want %d", n, benchIMAPMessages)
		}
		return took
	}
	// Once each untimed: Dovecot builds its index and cache, the files
	// are in the page cache, for both alike.
	salvage()
	pull()

	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so neither always follows the other.
		if i%2 == 0 {
			ours += salvage()
			theirs += pull()
		} else {
			theirs += pull()
			ours += salvage()
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "salvage-s")
	b.ReportMetric(theirs.Seconds()/n, "mbsync-s")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "vs-mbsync")
	b.ReportMetric(benchIMAPMessages*n/ours.Seconds(), "messages/s")
}
