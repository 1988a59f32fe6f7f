package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// IMAP is `salvage import imap`: mailboxes read over IMAP, read-only. Each
// mailbox is opened with EXAMINE, searched with UID SEARCH SINCE, and its
// messages fetched with UID FETCH BODY.PEEK[] in batches, so no flag of any
// message changes; every command goes through a guard that refuses anything
// else (see imapguard.go). A checkpoint per account and mailbox (the
// mailbox's UIDVALIDITY and the highest UID stored) makes a later run fetch
// only what is new.
type IMAP struct {
	addr      string
	user      string
	mailboxes []string
	since     string
	tls       bool
	starttls  bool
	plain     bool
	batch     int
	list      bool

	// Tests: tlsConfig is the base TLS configuration (a test CA); sleep
	// replaces the waits between reconnections; attempts is how many
	// reconnections in a row are tried before giving up.
	tlsConfig *tls.Config
	sleep     func(context.Context, time.Duration) error
	attempts  int
}

var (
	_ sources.Importer  = (*IMAP)(nil)
	_ sources.Inspector = (*IMAP)(nil)
	_ sources.Checker   = (*IMAP)(nil)
)

// NewIMAP returns the IMAP importer.
func NewIMAP() *IMAP { return &IMAP{} }

// Name implements sources.Importer.
func (*IMAP) Name() string { return "imap" }

// Source implements sources.Importer.
func (*IMAP) Source() evidence.Source { return evidence.Mail }

// Help implements sources.Importer.
func (*IMAP) Help() sources.Help {
	return sources.Help{
		Short: "Import email from an IMAP mailbox, read-only",
		Long: `Import the messages of one or more IMAP mailboxes (default INBOX), read-only:
mailboxes are opened with EXAMINE and messages fetched with BODY.PEEK[], so
no message is marked as read and no flag changes. salvage never sends a
command that could change the mailbox (STORE, COPY, MOVE, EXPUNGE, APPEND,
SELECT...): they are refused before they leave the machine.

Credentials come from the environment only: $IMAP_PASSWORD (LOGIN or
AUTHENTICATE PLAIN), or $IMAP_OAUTH_TOKEN, an OAuth access token sent with
XOAUTH2 (Gmail, Microsoft 365) or OAUTHBEARER. Gmail and Microsoft 365 refuse
the account password: use an app password, or a token with the scope
https://mail.google.com/ (Gmail) or IMAP.AccessAsUser.All (Microsoft).

The connection uses TLS (port 993) unless --starttls (port 143, upgraded to
TLS before logging in) or --plain (no TLS at all, refused unless the server
is this machine) is given.

Messages received since --since are read (IMAP SEARCH SINCE, by the day the
server received them; default: 30 days before case.last_backup, or all).
Every message is parsed as by 'salvage import mail': the same email read
here and from an mbox or Maildir export is one record, and the same message
in several mailboxes (Gmail labels) is one record. Its mailbox and flags are
kept as evidence (imap_mailbox, imap_flags).

The import is resumable: each mailbox keeps a checkpoint (its UIDVALIDITY and
the highest UID stored), saved after every batch. Running the same command
again fetches only newer messages; if the server renumbered the mailbox
(UIDVALIDITY changed) it is read again, and what is already stored is not
stored twice. A dropped connection is reopened a few times, continuing from
the checkpoint.

--list-mailboxes shows the account's mailboxes and their sizes.`,
		Example: `  IMAP_PASSWORD=… salvage import imap --addr imap.example.com:993 --user reservas@example.com
  IMAP_PASSWORD=… salvage import imap --addr imap.gmail.com:993 --user ops@example.com --list-mailboxes
  IMAP_OAUTH_TOKEN=ya29.… salvage import imap --addr imap.gmail.com:993 --user ops@example.com \
      --mailbox INBOX --mailbox "[Gmail]/All Mail" --since 2026-07-01
  IMAP_PASSWORD=… salvage import imap --addr mail.internal:143 --starttls --user bookings`,
	}
}

// Flags implements sources.Importer.
func (im *IMAP) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&im.addr, "addr", "", "IMAP server HOST:PORT (port default: 993, or 143 with --starttls or --plain)")
	fs.StringVar(&im.user, "user", "", "account name; the password comes from $IMAP_PASSWORD, a token from $IMAP_OAUTH_TOKEN")
	fs.StringArrayVar(&im.mailboxes, "mailbox", nil, "mailbox to import (repeatable; default INBOX); see --list-mailboxes")
	fs.StringVar(&im.since, "since", "", `messages received from this day (default: 30 days before case.last_backup, or all; "all" for all)`)
	fs.BoolVar(&im.tls, "tls", false, "connect with TLS, usually port 993 (the default)")
	fs.BoolVar(&im.starttls, "starttls", false, "connect in clear text and switch to TLS with STARTTLS before logging in, usually port 143")
	fs.BoolVar(&im.plain, "plain", false, "no TLS at all: refused unless the server is this machine (127.0.0.1, ::1, localhost)")
	fs.IntVar(&im.batch, "batch", 200, "messages fetched per UID FETCH command")
	fs.BoolVar(&im.list, "list-mailboxes", false, "list the account's mailboxes and how many messages each holds, then stop")
}

// Inspecting implements sources.Inspector.
func (im *IMAP) Inspecting() bool { return im.list }

// security is how the connection is protected.
type security int

const (
	implicitTLS security = iota
	startTLS
	plainText
)

// imapAccount is what a connection needs: where, who, how.
type imapAccount struct {
	addr     string // host:port
	host     string
	user     string
	security security
	cred     credential
	tls      *tls.Config // nil for plainText
}

// credential is a password or an OAuth token. It is never printed: its
// String is a fingerprint.
type credential struct {
	secret string
	oauth  bool
}

func (c credential) String() string { return evidence.Fingerprint(c.secret) }

// GoString keeps %#v from printing the secret too.
func (c credential) GoString() string { return c.String() }

// account checks the flags and reads the credentials.
func (im *IMAP) account(run *sources.Run) (imapAccount, error) {
	a := imapAccount{user: im.user}
	if im.addr == "" {
		return a, fmt.Errorf("%w: give the server with --addr HOST:PORT", sources.ErrUsage)
	}
	if im.user == "" {
		return a, fmt.Errorf("%w: give the account with --user", sources.ErrUsage)
	}
	modes := 0
	for _, on := range []bool{im.tls, im.starttls, im.plain} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return a, fmt.Errorf("%w: give one of --tls, --starttls and --plain", sources.ErrUsage)
	case im.starttls:
		a.security = startTLS
	case im.plain:
		a.security = plainText
	}
	host, port, err := net.SplitHostPort(im.addr)
	if err != nil {
		// No port: the usual one for the security asked for.
		host, port = strings.Trim(im.addr, "[]"), "993"
		if a.security != implicitTLS {
			port = "143"
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
		return a, fmt.Errorf("%w: --addr %q: want HOST:PORT, such as imap.example.com:993", sources.ErrUsage, im.addr)
	}
	a.host, a.addr = strings.ToLower(host), net.JoinHostPort(host, port)
	if a.security == plainText && !isLoopbackHost(a.host) {
		return a, fmt.Errorf("%w: --plain to %s refused: without TLS the password and the mail would cross the network in clear text; "+
			"--plain is only for a server on this machine (127.0.0.1, ::1, localhost). Use --tls (port 993) or --starttls (port 143)",
			sources.ErrUsage, a.host)
	}
	if a.security != plainText {
		if im.tlsConfig != nil {
			a.tls = im.tlsConfig.Clone()
		} else {
			a.tls = &tls.Config{}
		}
		if a.tls.ServerName == "" {
			a.tls.ServerName = a.host
		}
		a.tls.MinVersion = max(a.tls.MinVersion, tls.VersionTLS12)
	}
	if im.batch <= 0 {
		return a, fmt.Errorf("%w: --batch %d: want a positive number of messages", sources.ErrUsage, im.batch)
	}
	password, token := run.Getenv("IMAP_PASSWORD"), strings.TrimSpace(run.Getenv("IMAP_OAUTH_TOKEN"))
	switch {
	case password != "" && token != "":
		return a, errors.New("both IMAP_PASSWORD and IMAP_OAUTH_TOKEN are set: unset the one salvage should not use")
	case token != "":
		a.cred = credential{secret: token, oauth: true}
	case password != "":
		a.cred = credential{secret: password}
	default:
		return a, errors.New("no IMAP credentials: set IMAP_PASSWORD (for Gmail or Microsoft 365, an app password), " +
			"or IMAP_OAUTH_TOKEN to an OAuth access token (XOAUTH2)")
	}
	return a, nil
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// window is the IMAP SEARCH SINCE date: "" for all mail, else the day, as
// 2006-01-02. SINCE compares the day the server received a message (in the
// server's zone), so the day asked for is one before the time given: a day
// too many is harmless, a message missed is not.
func (im *IMAP) window(run *sources.Run) (string, error) {
	var t time.Time
	switch {
	case im.since == "all":
		return "", nil
	case im.since != "":
		var err error
		if t, err = evidence.ParseTime(im.since, run.Config.Location()); err != nil {
			return "", fmt.Errorf("%w: --since: %v", sources.ErrUsage, err)
		}
	case !run.Config.Case.LastBackup.IsZero():
		// A booking made before the backup may be changed after it.
		t = run.Config.Case.LastBackup.Add(-30 * 24 * time.Hour)
	default:
		return "", nil
	}
	return t.UTC().AddDate(0, 0, -1).Format(time.DateOnly), nil
}

// Check implements sources.Checker: the flags and the credentials.
func (im *IMAP) Check(run *sources.Run) error {
	if _, err := im.account(run); err != nil {
		return err
	}
	_, err := im.window(run)
	return err
}

// Import implements sources.Importer.
func (im *IMAP) Import(ctx context.Context, run *sources.Run) error {
	a, err := im.account(run)
	if err != nil {
		return err
	}
	since, err := im.window(run)
	if err != nil {
		return err
	}
	p, err := NewParser(run.Config, run.Now)
	if err != nil {
		return err
	}
	mailboxes := im.mailboxes
	if len(mailboxes) == 0 {
		mailboxes = []string{"INBOX"}
	}
	st := &stats{}
	defer st.report(run)
	r := &imapImport{im: im, run: run, acct: a, parser: p, stats: st, since: since, batch: im.batch}
	return a.redact(r.importAll(ctx, slices.Clone(mailboxes)))
}

// Inspect lists the account's mailboxes with their message counts.
func (im *IMAP) Inspect(ctx context.Context, run *sources.Run, out io.Writer) error {
	a, err := im.account(run)
	if err != nil {
		return err
	}
	return a.redact(im.inspect(ctx, run, a, out))
}

func (im *IMAP) inspect(ctx context.Context, run *sources.Run, a imapAccount, out io.Writer) error {
	s, err := dialIMAP(ctx, a)
	if err != nil {
		return err
	}
	defer s.close()
	boxes, err := s.list()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tMESSAGES\tATTRIBUTES")
	for _, b := range boxes {
		count := "-"
		if selectable(b) {
			n, err := s.messages(b.Mailbox)
			if err != nil {
				return fmt.Errorf("status of %q: %w", b.Mailbox, err)
			}
			count = strconv.FormatUint(uint64(n), 10)
		}
		var attrs []string
		for _, at := range b.Attrs {
			if at != imap.MailboxAttrHasChildren && at != imap.MailboxAttrHasNoChildren {
				attrs = append(attrs, string(at))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Mailbox, count, strings.Join(attrs, " "))
	}
	s.logout()
	return tw.Flush()
}

// redact removes the credential from an error's text, in case a server
// repeated it. The error is kept as it is when it does not contain it.
func (a imapAccount) redact(err error) error {
	if err == nil || a.cred.secret == "" || !strings.Contains(err.Error(), a.cred.secret) {
		return err
	}
	return errors.New(evidence.RedactSecret(err.Error(), a.cred.secret))
}
