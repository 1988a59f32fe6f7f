package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/spf13/pflag"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// The IMAP tests run against go-imap's in-memory server on 127.0.0.1
// (here) and against Dovecot (imapdovecot_test.go). The in-memory server
// does not enforce read-only access: a FETCH without .PEEK sets \Seen even
// after EXAMINE, so a flag that changed is a read that was not read-only.

// imapPassword is the test account's password: distinctive, so that a
// search of logs, errors and the case's files finds any copy of it.
const imapPassword = "pw-Zq8v-NOT-REAL-7f1c"

// imapCase is a case the IMAP tests import into, as the command line does.
type imapCase struct {
	t        testing.TB
	store    *evidence.Store
	dir      string
	logs     syncBuffer
	env      map[string]string
	progress sources.Progress
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newIMAPCase(t testing.TB) *imapCase {
	t.Helper()
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	cfg.Case.LastBackup = time.Date(2026, 8, 20, 2, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "case")
	s, err := evidence.Init(context.Background(), dir, cfg, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &imapCase{t: t, store: s, dir: dir, env: map[string]string{"IMAP_PASSWORD": imapPassword}, progress: sources.NoProgress}
}

func (c *imapCase) newRun(sink sources.Sink, args []string) *sources.Run {
	return &sources.Run{Args: args, Config: c.store.Config(), Sink: sink, Progress: c.progress,
		Log:    slog.New(slog.NewTextHandler(&c.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string { return c.env[k] }, Now: time.Now}
}

// run imports with flags as one job and returns what was committed and the
// importer's error.
func (c *imapCase) run(ctx context.Context, imp sources.Importer, flags ...string) (evidence.Counts, error) {
	c.t.Helper()
	fs := pflag.NewFlagSet(imp.Name(), pflag.ContinueOnError)
	imp.Flags(fs)
	if err := fs.Parse(flags); err != nil {
		c.t.Fatal(err)
	}
	job, err := c.store.StartJob(context.Background(), imp.Name(), imp.Source(), flags)
	if err != nil {
		c.t.Fatal(err)
	}
	sink := sources.NewBatchSink(c.store, job, sources.BatchOptions{})
	err = imp.Import(ctx, c.newRun(sink, fs.Args()))
	if ferr := sink.Flush(context.WithoutCancel(ctx)); ferr != nil {
		c.t.Fatal(ferr)
	}
	status := evidence.JobDone
	if err != nil {
		status = evidence.JobFailed
	}
	if ferr := c.store.FinishJob(context.Background(), job, status, err); ferr != nil {
		c.t.Fatal(ferr)
	}
	return sink.Counts(), err
}

// inspect runs --list-mailboxes and returns what it printed.
func (c *imapCase) inspect(ctx context.Context, im *IMAP, flags ...string) (string, error) {
	c.t.Helper()
	fs := pflag.NewFlagSet(im.Name(), pflag.ContinueOnError)
	im.Flags(fs)
	if err := fs.Parse(flags); err != nil {
		c.t.Fatal(err)
	}
	if !im.Inspecting() {
		c.t.Fatal("Inspecting() is false")
	}
	var out bytes.Buffer
	err := im.Inspect(ctx, c.newRun(nil, fs.Args()), &out)
	return out.String(), err
}

// records returns the newest version of every record, by id.
func (c *imapCase) records() map[string]evidence.Record {
	c.t.Helper()
	out := map[string]evidence.Record{}
	for r, err := range c.store.Records(context.Background(), evidence.Query{}) {
		if err != nil {
			c.t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

// versions returns the number of stored versions of all records.
func (c *imapCase) versions() int {
	c.t.Helper()
	n := 0
	for _, err := range c.store.Records(context.Background(), evidence.Query{AllVersions: true}) {
		if err != nil {
			c.t.Fatal(err)
		}
		n++
	}
	return n
}

// fastIMAP is the importer with reconnection waits of milliseconds.
func fastIMAP() *IMAP {
	im := NewIMAP()
	im.sleep = func(ctx context.Context, d time.Duration) error { return sleepContext(ctx, d/1000) }
	return im
}

// memIMAP is go-imap's in-memory server on 127.0.0.1 with one user,
// alice, recording what its sessions were asked to do.
type memIMAP struct {
	addr string
	user *imapmemserver.User

	oauthToken string // accepted with XOAUTH2 when set

	mu    sync.Mutex
	calls []string
}

type memOptions struct {
	tls        *tls.Config // implicit TLS
	startTLS   *tls.Config // STARTTLS offered
	oauthToken string
}

func startMemIMAP(t testing.TB, o memOptions) *memIMAP {
	t.Helper()
	m := &memIMAP{user: imapmemserver.NewUser("alice", imapPassword), oauthToken: o.oauthToken}
	for _, name := range []string{"INBOX", "Archive"} {
		if err := m.user.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &memSession{srv: m}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		TLSConfig:    o.startTLS,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	var ln net.Listener
	var err error
	if o.tls != nil {
		ln, err = tls.Listen("tcp4", "127.0.0.1:0", o.tls)
	} else {
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return m
}

func (m *memIMAP) record(call string) {
	m.mu.Lock()
	m.calls = append(m.calls, call)
	m.mu.Unlock()
}

// takeCalls returns the calls recorded so far and forgets them.
func (m *memIMAP) takeCalls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

// add appends a message to a mailbox, as a delivery would.
func (m *memIMAP) add(t testing.TB, mailbox string, raw []byte, received time.Time, flags ...imap.Flag) {
	t.Helper()
	if _, err := m.user.Append(mailbox, bytes.NewReader(raw), &imap.AppendOptions{Flags: flags, Time: received}); err != nil {
		t.Fatal(err)
	}
}

// flags returns the flags of every message of a mailbox by UID, read with
// a separate connection (EXAMINE and FETCH FLAGS change nothing).
func (m *memIMAP) flags(t testing.TB, mailbox string) map[imap.UID]string {
	t.Helper()
	c, err := imapclient.DialInsecure(m.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", imapPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	all := imap.UIDSet{{Start: 1, Stop: 0}} // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID]string{}
	for _, msg := range msgs {
		out[msg.UID] = flagList(msg.Flags)
	}
	m.takeCalls() // the test's own calls
	return out
}

// memSession is the in-memory server's session, recording each call that
// opens a mailbox, fetches or could change something.
type memSession struct {
	*imapmemserver.UserSession // nil until logged in
	srv                        *memIMAP
}

var (
	_ imapserver.SessionSASL = (*memSession)(nil)
	_ imapserver.SessionMove = (*memSession)(nil)
)

func (s *memSession) Close() error { return s.UserSession.Close() }

func (s *memSession) Login(user, password string) error {
	if err := s.srv.user.Login(user, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.srv.user)
	s.srv.record("LOGIN")
	return nil
}

func (s *memSession) AuthenticateMechanisms() []string {
	if s.srv.oauthToken != "" {
		return []string{"PLAIN", "XOAUTH2"}
	}
	return []string{"PLAIN"}
}

func (s *memSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, user, password string) error { return s.Login(user, password) }), nil
	case "XOAUTH2":
		if s.srv.oauthToken != "" {
			return &xoauth2Server{s: s}, nil
		}
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// xoauth2Server accepts the test token for alice, and answers anything
// else as Gmail does: a JSON challenge, then NO.
type xoauth2Server struct {
	s      *memSession
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, imapserver.ErrAuthFailed
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	if string(resp) == "user=alice\x01auth=Bearer "+x.s.srv.oauthToken+"\x01\x01" {
		x.s.UserSession = imapmemserver.NewUserSession(x.s.srv.user)
		x.s.srv.record("XOAUTH2")
		return nil, true, nil
	}
	x.failed = true
	return []byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`), false, nil
}

func (s *memSession) Select(name string, o *imap.SelectOptions) (*imap.SelectData, error) {
	if o != nil && o.ReadOnly {
		s.srv.record("EXAMINE " + name)
	} else {
		s.srv.record("SELECT " + name)
	}
	return s.UserSession.Select(name, o)
}

func (s *memSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, o *imap.FetchOptions) error {
	call := "FETCH"
	for _, bs := range o.BodySection {
		if bs.Peek {
			call += " BODY.PEEK[]"
		} else {
			call += " BODY[] (sets \\Seen)"
		}
	}
	for _, bs := range o.BinarySection {
		if !bs.Peek {
			call += " BINARY[] (sets \\Seen)"
		}
	}
	s.srv.record(call)
	return s.UserSession.Fetch(w, numSet, o)
}

func (s *memSession) Search(kind imapserver.NumKind, c *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	s.srv.record("SEARCH")
	return s.UserSession.Search(kind, c, o)
}

func (s *memSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, o *imap.StoreOptions) error {
	s.srv.record("STORE")
	return s.UserSession.Store(w, numSet, flags, o)
}

func (s *memSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	s.srv.record("COPY")
	return s.UserSession.Copy(numSet, dest)
}

func (s *memSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	s.srv.record("MOVE")
	return s.UserSession.Move(w, numSet, dest)
}

func (s *memSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	s.srv.record("EXPUNGE")
	return s.UserSession.Expunge(w, uids)
}

func (s *memSession) Append(mailbox string, r imap.LiteralReader, o *imap.AppendOptions) (*imap.AppendData, error) {
	s.srv.record("APPEND")
	return s.UserSession.Append(mailbox, r, o)
}

func (s *memSession) Create(name string, o *imap.CreateOptions) error {
	s.srv.record("CREATE")
	return s.UserSession.Create(name, o)
}

func (s *memSession) Delete(name string) error {
	s.srv.record("DELETE")
	return s.UserSession.Delete(name)
}

func (s *memSession) Rename(name, to string, o *imap.RenameOptions) error {
	s.srv.record("RENAME")
	return s.UserSession.Rename(name, to, o)
}

// bookingMail is a small booking confirmation with CRLF line ends, as IMAP
// serves it.
func bookingMail(i int) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`From: Atlântico Car Hire <reservas@atlantico-carhire.example>
To: cliente%[1]d@inbox.example
Subject: Booking BK-%05[1]d confirmed
Message-ID: <imap-test-%[1]d@atlantico-carhire.example>
Date: Mon, 10 Aug 2026 09:%02[2]d:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Dear customer,

Booking reference: BK-%05[1]d
Pick-up: 2026-09-%02[3]d 10:00
Return: 2026-09-%02[4]d 10:00
Vehicle: Renault Clio
Total: EUR %[1]d.50

See you soon.
`, i, i%60, 1+i%27, 2+i%27), "\n", "\r\n"))
}

var recently = time.Date(2026, 8, 10, 9, 0, 0, 0, time.UTC)

func plainFlags(m *memIMAP, more ...string) []string {
	return append([]string{"--plain", "--addr", m.addr, "--user", "alice"}, more...)
}

// onlyReads fails the test if a call could have changed the mailbox.
func onlyReads(t testing.TB, calls []string) {
	t.Helper()
	fetches := 0
	for _, c := range calls {
		switch {
		case c == "LOGIN", c == "XOAUTH2", c == "SEARCH", strings.HasPrefix(c, "EXAMINE "):
		case c == "FETCH BODY.PEEK[]":
			fetches++
		default:
			t.Errorf("the importer asked the server to %s", c)
		}
	}
	if fetches == 0 {
		t.Errorf("no FETCH in %q", calls)
	}
}

func TestIMAPImportIsReadOnly(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	inboxFlags := [][]imap.Flag{
		nil, {imap.FlagSeen}, {imap.FlagFlagged}, {imap.FlagAnswered, imap.FlagSeen}, {"$Label1"}, {imap.FlagDraft}, nil, nil, nil,
	}
	for i, f := range inboxFlags {
		m.add(t, "INBOX", bookingMail(i+1), recently, f...)
	}
	// Gmail shows a message with two labels in two mailboxes.
	m.add(t, "Archive", bookingMail(1), recently)
	m.add(t, "Archive", bookingMail(100), recently, imap.FlagSeen)
	before := map[string]map[imap.UID]string{"INBOX": m.flags(t, "INBOX"), "Archive": m.flags(t, "Archive")}

	c := newIMAPCase(t)
	counts, err := c.run(context.Background(), fastIMAP(), plainFlags(m, "--mailbox", "INBOX", "--mailbox", "Archive", "--since", "all", "--batch", "4")...)
	if err != nil {
		t.Fatal(err)
	}
	onlyReads(t, m.takeCalls())
	for box, flags := range before {
		if after := m.flags(t, box); !mapsEqual(after, flags) {
			t.Errorf("flags of %s changed:\n before %v\n after  %v", box, flags, after)
		}
	}
	if want := (evidence.Counts{New: 10, Unchanged: 1}); counts != want {
		t.Errorf("counts %+v, want %+v (the message in two mailboxes is one record)", counts, want)
	}
	recs := c.records()
	if len(recs) != 10 {
		t.Fatalf("%d records, want 10", len(recs))
	}
	loc := regexp.MustCompile(`^imap://alice@127\.0\.0\.1:\d+/(INBOX|Archive);UIDVALIDITY=\d+/;UID=(\d+)$`)
	for i := range inboxFlags {
		id := fmt.Sprintf("mail:<imap-test-%d@atlantico-carhire.example>", i+1)
		r, ok := recs[id]
		if !ok {
			t.Errorf("no record %s", id)
			continue
		}
		m := loc.FindStringSubmatch(r.Locator)
		switch {
		case r.Via != "imap" || r.Source != evidence.Mail:
			t.Errorf("%s: via %s, source %s", id, r.Via, r.Source)
		case m == nil || m[1] != "INBOX" || m[2] != fmt.Sprint(i+1):
			t.Errorf("%s: locator %q, want INBOX and UID %d", id, r.Locator, i+1)
		case r.Facts.Attrs["imap_mailbox"] != "INBOX" || r.Facts.Attrs["imap_flags"] != before["INBOX"][imap.UID(i+1)]:
			t.Errorf("%s: imap_mailbox %q, imap_flags %q, want INBOX and %q", id, r.Facts.Attrs["imap_mailbox"], r.Facts.Attrs["imap_flags"], before["INBOX"][imap.UID(i+1)])
		case r.Facts.Ref != fmt.Sprintf("BK-%05d", i+1):
			t.Errorf("%s: ref %q", id, r.Facts.Ref)
		}
	}
	if r := recs["mail:<imap-test-100@atlantico-carhire.example>"]; r.Facts.Attrs["imap_mailbox"] != "Archive" || r.Facts.Attrs["imap_flags"] != `\Seen` {
		t.Errorf("the Archive message: attrs %v", r.Facts.Attrs)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestIMAPResumesFromCheckpoint(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	for i := 1; i <= 5; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	c := newIMAPCase(t)
	ctx := context.Background()
	if counts, err := c.run(ctx, fastIMAP(), plainFlags(m)...); err != nil || counts.New != 5 {
		t.Fatalf("first run: %+v, %v", counts, err)
	}
	m.takeCalls()

	counts, err := c.run(ctx, fastIMAP(), plainFlags(m)...)
	if err != nil || counts.Total() != 0 {
		t.Fatalf("second run: %+v, %v; want nothing read", counts, err)
	}
	for _, call := range m.takeCalls() {
		if strings.HasPrefix(call, "FETCH") {
			t.Errorf("the second run fetched messages (%s)", call)
		}
	}

	m.add(t, "INBOX", bookingMail(6), recently)
	m.add(t, "INBOX", bookingMail(7), recently)
	counts, err = c.run(ctx, fastIMAP(), plainFlags(m)...)
	if err != nil || counts != (evidence.Counts{New: 2}) {
		t.Fatalf("third run: %+v, %v; want the 2 new messages only", counts, err)
	}
	if n := len(c.records()); n != 7 {
		t.Errorf("%d records, want 7", n)
	}
}

func TestIMAPUIDValidityChangeRescans(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	for i := 1; i <= 4; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	c := newIMAPCase(t)
	ctx := context.Background()
	if _, err := c.run(ctx, fastIMAP(), plainFlags(m)...); err != nil {
		t.Fatal(err)
	}
	// The server rebuilds the mailbox: same messages, new UIDs, a new
	// UIDVALIDITY; one message more.
	if err := m.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{3, 1, 2, 4, 5} {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	counts, err := c.run(ctx, fastIMAP(), plainFlags(m)...)
	if err != nil {
		t.Fatal(err)
	}
	if want := (evidence.Counts{New: 1, Unchanged: 4}); counts != want {
		t.Errorf("counts %+v, want %+v: every message read again, none stored twice", counts, want)
	}
	if n, v := len(c.records()), c.versions(); n != 5 || v != 5 {
		t.Errorf("%d records in %d versions, want 5 and 5", n, v)
	}
	if !strings.Contains(c.logs.String(), "UIDVALIDITY changed") {
		t.Errorf("the renumbering was not logged:\n%s", c.logs.String())
	}
}

func TestIMAPSinceWindow(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	old := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		m.add(t, "INBOX", bookingMail(i), old)
	}
	for i := 4; i <= 8; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	c := newIMAPCase(t)
	ctx := context.Background()
	// The case's last backup is 2026-08-20: by default, from 30 days before.
	counts, err := c.run(ctx, fastIMAP(), plainFlags(m)...)
	if err != nil || counts != (evidence.Counts{New: 5}) {
		t.Fatalf("default window: %+v, %v; want the 5 recent messages", counts, err)
	}
	// A wider window reads what the first did not, and only that.
	counts, err = c.run(ctx, fastIMAP(), plainFlags(m, "--since", "all")...)
	if err != nil || counts != (evidence.Counts{New: 3}) {
		t.Fatalf("--since all: %+v, %v; want the 3 older messages only", counts, err)
	}
	m.add(t, "INBOX", bookingMail(9), old)
	counts, err = c.run(ctx, fastIMAP(), plainFlags(m, "--since", "all")...)
	if err != nil || counts != (evidence.Counts{New: 1}) {
		t.Fatalf("--since all again: %+v, %v; want the one new message", counts, err)
	}
}

func TestIMAPListMailboxes(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	if err := m.user.Create("Clients/2026", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	m.add(t, "Clients/2026", bookingMail(4), recently)
	c := newIMAPCase(t)
	out, err := c.inspect(context.Background(), fastIMAP(), plainFlags(m, "--list-mailboxes")...)
	if err != nil {
		t.Fatal(err)
	}
	want := "MAILBOX       MESSAGES  ATTRIBUTES\n" +
		"INBOX         3         \n" +
		"Archive       0         \n" +
		"Clients/2026  1         \n"
	if out != want {
		t.Errorf("--list-mailboxes printed\n%s\nwant\n%s", out, want)
	}
	for _, call := range m.takeCalls() {
		if call != "LOGIN" {
			t.Errorf("--list-mailboxes asked the server to %s", call)
		}
	}
}

func TestIMAPErrors(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	m.add(t, "INBOX", bookingMail(1), recently)
	plainServer := m.addr
	cert, _ := testCert(t)
	tlsServer := startMemIMAP(t, memOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	notIMAP := fakeServer(t, "* OK [CAPABILITY IMAP2 AUTH=PLAIN] an old server\r\n")

	for _, tc := range []struct {
		name  string
		env   map[string]string
		flags []string
		usage bool     // errors.Is(err, sources.ErrUsage)
		want  []string // in the error
	}{
		{name: "wrong password", env: map[string]string{"IMAP_PASSWORD": "not-" + imapPassword},
			flags: []string{"--plain", "--addr", plainServer, "--user", "alice"},
			want:  []string{"refused the login of alice", "[AUTHENTICATIONFAILED]", "IMAP_PASSWORD"}},
		{name: "wrong user", flags: []string{"--plain", "--addr", plainServer, "--user", "bob"},
			want: []string{"refused the login of bob"}},
		{name: "mailbox not found", flags: []string{"--plain", "--addr", plainServer, "--user", "alice", "--mailbox", "INBOX", "--mailbox", "Bookings"},
			want: []string{`mailbox "Bookings" not found`, `"INBOX", "Archive"`, "--list-mailboxes"}},
		{name: "plain to another machine", flags: []string{"--plain", "--addr", "192.0.2.10:143", "--user", "alice"},
			usage: true, want: []string{"--plain to 192.0.2.10 refused", "clear text", "--tls"}},
		{name: "no credentials", env: map[string]string{}, flags: []string{"--addr", "imap.example.com", "--user", "alice"},
			want: []string{"no IMAP credentials", "IMAP_PASSWORD", "IMAP_OAUTH_TOKEN"}},
		{name: "two credentials", env: map[string]string{"IMAP_PASSWORD": imapPassword, "IMAP_OAUTH_TOKEN": "ya29.x"},
			flags: []string{"--addr", "imap.example.com", "--user", "alice"}, want: []string{"both IMAP_PASSWORD and IMAP_OAUTH_TOKEN"}},
		{name: "two security modes", flags: []string{"--tls", "--plain", "--addr", "127.0.0.1:1", "--user", "alice"},
			usage: true, want: []string{"one of --tls, --starttls and --plain"}},
		{name: "no addr", flags: []string{"--user", "alice"}, usage: true, want: []string{"--addr"}},
		{name: "TLS to a clear-text port", flags: []string{"--addr", plainServer, "--user", "alice"},
			want: []string{"TLS with IMAP server", "did not answer in TLS", "--starttls"}},
		{name: "untrusted certificate", flags: []string{"--tls", "--addr", tlsServer.addr, "--user", "alice"},
			want: []string{"TLS with IMAP server", "not signed by an authority this machine trusts"}},
		{name: "not IMAP4rev1", flags: []string{"--plain", "--addr", notIMAP, "--user", "alice"},
			want: []string{"is not an IMAP4rev1 or IMAP4rev2 server", "IMAP2"}},
		{name: "nothing listening", flags: []string{"--plain", "--addr", closedPort(t), "--user", "alice"},
			want: []string{"connect to IMAP server", "refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newIMAPCase(t)
			if tc.env != nil {
				c.env = tc.env
			}
			start := time.Now()
			_, err := c.run(context.Background(), fastIMAP(), tc.flags...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if errors.Is(err, sources.ErrUsage) != tc.usage {
				t.Errorf("errors.Is(err, ErrUsage) = %v, want %v", !tc.usage, tc.usage)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error of several lines: %q", msg)
			}
			if strings.Contains(msg, imapPassword) || strings.Contains(c.logs.String(), imapPassword) {
				t.Errorf("the password is in the error or the log: %q\n%s", msg, c.logs.String())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: a refusal should not be retried", d)
			}
			if n := len(c.records()); n != 0 {
				t.Errorf("%d records stored", n)
			}
		})
	}
}

func TestIMAPPlainOnlyToThisMachine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:143", true},
		{"127.0.0.53:1143", true},
		{"[::1]:143", true},
		{"localhost:143", true},
		{"LOCALHOST", true},
		{"10.0.0.5:143", false},
		{"192.168.1.20:143", false},
		{"[2001:db8::1]:143", false},
		{"0.0.0.0:143", false},
		{"mail.example.com:143", false},
		{"localhost.example.com:143", false},
	} {
		im := NewIMAP()
		fs := pflag.NewFlagSet("imap", pflag.ContinueOnError)
		im.Flags(fs)
		if err := fs.Parse([]string{"--plain", "--addr", tc.addr, "--user", "alice"}); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"IMAP_PASSWORD": imapPassword}
		_, err := im.account(&sources.Run{Getenv: func(k string) string { return env[k] }})
		if ok := err == nil; ok != tc.ok {
			t.Errorf("--plain --addr %s: error %v, want allowed=%v", tc.addr, err, tc.ok)
		}
		if err != nil && !errors.Is(err, sources.ErrUsage) {
			t.Errorf("--plain --addr %s: %v is not a usage error", tc.addr, err)
		}
	}
}

func TestIMAPTLSAndSTARTTLS(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, tc := range []struct {
		name string
		opts memOptions
		flag string
	}{
		{"implicit TLS", memOptions{tls: serverTLS}, "--tls"},
		{"default is TLS", memOptions{tls: serverTLS}, ""},
		{"STARTTLS", memOptions{startTLS: serverTLS}, "--starttls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := startMemIMAP(t, tc.opts)
			m.add(t, "INBOX", bookingMail(1), recently)
			m.add(t, "INBOX", bookingMail(2), recently, imap.FlagSeen)
			im := fastIMAP()
			im.tlsConfig = &tls.Config{RootCAs: pool}
			flags := []string{"--addr", m.addr, "--user", "alice"}
			if tc.flag != "" {
				flags = append(flags, tc.flag)
			}
			c := newIMAPCase(t)
			counts, err := c.run(context.Background(), im, flags...)
			if err != nil || counts.New != 2 {
				t.Fatalf("%+v, %v", counts, err)
			}
			onlyReads(t, m.takeCalls())
		})
	}
}

func TestIMAPOAuthToken(t *testing.T) {
	t.Parallel()
	token := "ya29.a0-TEST-TOKEN-NOT-REAL-" + strings.Repeat("x", 40)
	m := startMemIMAP(t, memOptions{oauthToken: token})
	m.add(t, "INBOX", bookingMail(1), recently)

	c := newIMAPCase(t)
	c.env = map[string]string{"IMAP_OAUTH_TOKEN": token}
	counts, err := c.run(context.Background(), fastIMAP(), plainFlags(m)...)
	if err != nil || counts.New != 1 {
		t.Fatalf("%+v, %v", counts, err)
	}
	if calls := m.takeCalls(); calls[0] != "XOAUTH2" {
		t.Errorf("logged in with %s, want XOAUTH2", calls[0])
	}

	c = newIMAPCase(t)
	c.env = map[string]string{"IMAP_OAUTH_TOKEN": token + "-expired"}
	_, err = c.run(context.Background(), fastIMAP(), plainFlags(m)...)
	if err == nil || !strings.Contains(err.Error(), "refused the OAuth token of alice (status 401)") ||
		!strings.Contains(err.Error(), "https://mail.google.com/") || strings.Contains(err.Error(), token) {
		t.Errorf("error %v: want the refusal with its status and scope, without the token", err)
	}
	if strings.Contains(c.logs.String(), token) {
		t.Errorf("the token is in the log")
	}
}

// TestIMAPSecretsStayOut imports, fails to log in, and lists mailboxes,
// logging everything down to debug, then searches the logs and every file
// of the case for the password.
func TestIMAPSecretsStayOut(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	for i := 1; i <= 3; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	c := newIMAPCase(t)
	ctx := context.Background()
	if _, err := c.run(ctx, fastIMAP(), plainFlags(m)...); err != nil {
		t.Fatal(err)
	}
	if _, err := c.inspect(ctx, fastIMAP(), plainFlags(m, "--list-mailboxes")...); err != nil {
		t.Fatal(err)
	}
	wrong := imapPassword + "-wrong"
	c.env["IMAP_PASSWORD"] = wrong
	_, err := c.run(ctx, fastIMAP(), plainFlags(m)...)
	if err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{imapPassword, wrong} {
		if strings.Contains(c.logs.String(), secret) {
			t.Errorf("the password is in the log")
		}
		files := 0
		filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the password is in %s", path)
			}
			return nil
		})
		if files < 2 {
			t.Errorf("only %d files in the case directory", files)
		}
	}
}

func TestIMAPReconnectsAfterDrop(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	const n = 40
	for i := 1; i <= n; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	p := startCutProxy(t, m.addr, 12_000)
	c := newIMAPCase(t)
	counts, err := c.run(context.Background(), fastIMAP(), "--plain", "--addr", p.addr, "--user", "alice", "--batch", "5")
	if err != nil {
		t.Fatal(err)
	}
	if p.connections() < 2 {
		t.Fatalf("%d connections: the proxy did not cut the first", p.connections())
	}
	if counts.New != n || counts.Unchanged > 5 {
		t.Errorf("counts %+v: want %d new, at most one batch (5) read twice", counts, n)
	}
	if got, v := len(c.records()), c.versions(); got != n || v != n {
		t.Errorf("%d records in %d versions, want %d", got, v, n)
	}
	if !strings.Contains(c.logs.String(), "reconnecting") || !strings.Contains(c.logs.String(), "continuing the mailbox after its checkpoint") {
		t.Errorf("the reconnection was not logged:\n%s", c.logs.String())
	}
	onlyReads(t, m.takeCalls())
}

func TestIMAPGivesUpThenResumes(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	const n = 30
	for i := 1; i <= n; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	p := startCutProxy(t, m.addr, 10_000)
	p.refuseAfterCut = true
	c := newIMAPCase(t)
	im := fastIMAP()
	im.attempts = 3
	first, err := c.run(context.Background(), im, "--plain", "--addr", p.addr, "--user", "alice", "--batch", "5")
	if err == nil || !strings.Contains(err.Error(), "keeps failing (4 attempts)") || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("error %v: want a failure after 3 reconnections", err)
	}
	if first.New == 0 || first.New >= n {
		t.Fatalf("the first run stored %d messages, want some", first.New)
	}
	// The server is reachable again (the checkpoint belongs to the
	// account, host and mailbox, not to the port).
	second, err := c.run(context.Background(), fastIMAP(), plainFlags(m, "--batch", "5")...)
	if err != nil {
		t.Fatal(err)
	}
	// The second run reads again what the first put after its last
	// checkpoint: less than a batch.
	if first.New+second.New != n || second.Unchanged >= 5 {
		t.Errorf("first %+v, second %+v: want %d new in all, less than a batch read twice", first, second, n)
	}
	if got, v := len(c.records()), c.versions(); got != n || v != n {
		t.Errorf("%d records in %d versions, want %d", got, v, n)
	}
}

func TestIMAPCancel(t *testing.T) {
	t.Parallel()
	m := startMemIMAP(t, memOptions{})
	const n = 60
	for i := 1; i <= n; i++ {
		m.add(t, "INBOX", bookingMail(i), recently)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newIMAPCase(t)
	c.progress = &cancelProgress{after: 23, cancel: cancel}
	start := time.Now()
	first, err := c.run(ctx, fastIMAP(), plainFlags(m, "--batch", "10")...)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to stop", d)
	}
	c.progress = sources.NoProgress
	second, err := c.run(context.Background(), fastIMAP(), plainFlags(m, "--batch", "10")...)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.records()); got != n || first.New+second.New != n {
		t.Errorf("first %+v, second %+v, %d records: want %d", first, second, got, n)
	}
	// What the first run put of the batch it was in is read again,
	// nothing more.
	if second.Unchanged > 10 {
		t.Errorf("second run read %d messages again", second.Unchanged)
	}
}

// cancelProgress cancels the import after a number of messages.
type cancelProgress struct {
	mu     sync.Mutex
	after  int
	cancel func()
}

func (p *cancelProgress) Bar(string, int64) sources.Bar { return p }
func (p *cancelProgress) SetTotal(int64)                {}
func (p *cancelProgress) Done()                         {}
func (p *cancelProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after -= int(n)
	if p.after <= 0 {
		p.cancel()
	}
}

func TestIMAPGuard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"T1 CAPABILITY", true},
		{"T2 LOGIN alice \"pw\"", true},
		{"T2 AUTHENTICATE PLAIN AGFsaWNlAHB3", true},
		{"AGFsaWNlAHB3", true}, // a SASL response
		{"T3 LIST \"\" \"*\"", true},
		{"T4 EXAMINE INBOX", true},
		{"T5 UID SEARCH SINCE 1-Jul-2026", true},
		{"T6 UID FETCH 1:200 (UID FLAGS BODY.PEEK[])", true},
		{"T6 uid fetch 1 (uid body.peek[header.fields (date from)])", true},
		{"T6 UID FETCH 1 (RFC822.SIZE RFC822.HEADER)", true},
		{"T7 STATUS INBOX (MESSAGES)", true},
		{"T8 LOGOUT", true},
		{"T9 SELECT INBOX", false},
		{"T9 UID FETCH 1:* (UID BODY[])", false},
		{"T9 FETCH 1 BODY[TEXT]", false},
		{"T9 FETCH 1 (FLAGS RFC822)", false},
		{"T9 FETCH 1 RFC822.TEXT", false},
		{"T9 UID FETCH 1 BINARY[1]", false},
		{"T9 STORE 1 +FLAGS (\\Seen)", false},
		{"T9 UID STORE 1 +FLAGS.SILENT (\\Deleted)", false},
		{"T9 COPY 1 Trash", false},
		{"T9 UID MOVE 1 Trash", false},
		{"T9 EXPUNGE", false},
		{"T9 UID EXPUNGE 1", false},
		{"T9 CLOSE", false},
		{"T9 APPEND INBOX {10}", false},
		{"T9 CREATE Foo", false},
		{"T9 DELETE INBOX", false},
		{"T9 RENAME INBOX Old", false},
		{"T9 SUBSCRIBE INBOX", false},
		{"T9 IDLE", false},
		{"T9 SETMETADATA INBOX (/private/comment \"x\")", false},
	} {
		a, b := net.Pipe()
		got := make(chan []byte, 1)
		go func() { d, _ := io.ReadAll(b); got <- d }()
		g := &guardConn{Conn: a}
		_, err := g.Write([]byte(tc.line + "\r\n"))
		a.Close()
		sent := <-got
		if ok := err == nil; ok != tc.ok {
			t.Errorf("%q: error %v, want allowed=%v", tc.line, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, sources.ErrWriteRefused) || len(sent) > 0) {
			t.Errorf("%q: error %v and %q sent; want ErrWriteRefused and nothing sent", tc.line, err, sent)
		}
	}

	// A literal is data, and a command split over two writes is checked
	// whole, before any of it is sent.
	a, b := net.Pipe()
	got := make(chan []byte, 1)
	go func() { d, _ := io.ReadAll(b); got <- d }()
	g := &guardConn{Conn: a}
	for _, w := range []string{"T1 LOGIN alice {13}\r\n", "T9 STORE 1 \\", " \r\n", "T2 EXAM", "INE INBOX\r\nT3 UID ST", "ORE 1 +FLAGS (\\Seen)\r\n"} {
		if _, err := g.Write([]byte(w)); err != nil {
			if !strings.HasPrefix(w, "ORE") {
				t.Errorf("write %q: %v", w, err)
			}
			break
		}
	}
	a.Close()
	if sent := string(<-got); sent != "T1 LOGIN alice {13}\r\nT9 STORE 1 \\ \r\nT2 EXAMINE INBOX\r\n" {
		t.Errorf("sent %q", sent)
	}
}

// cutProxy forwards TCP connections to a server and cuts the first after
// the server has sent cutAfter bytes.
type cutProxy struct {
	addr           string
	target         string
	cutAfter       int64
	refuseAfterCut bool // close every later connection at once

	mu    sync.Mutex
	conns int
	cut   bool
}

func startCutProxy(t testing.TB, target string, cutAfter int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String(), target: target, cutAfter: cutAfter}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			first, refuse := p.conns == 1, p.cut && p.refuseAfterCut
			p.mu.Unlock()
			if refuse {
				client.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.forward(client, first)
			}()
		}
	}()
	return p
}

func (p *cutProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *cutProxy) forward(client net.Conn, cut bool) {
	defer client.Close()
	server, err := net.Dial("tcp4", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	var r io.Reader = server
	if cut {
		r = io.LimitReader(server, p.cutAfter)
	}
	io.Copy(client, r)
	if cut {
		p.mu.Lock()
		p.cut = true
		p.mu.Unlock()
	}
}

// fakeServer answers every connection with greeting, then OK to any
// command, and returns its address.
func fakeServer(t testing.TB, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(greeting))
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\r\n") {
						tag, _, _ := strings.Cut(line, " ")
						fmt.Fprintf(c, "%s OK done\r\n", tag)
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address of 127.0.0.1 where nothing listens.
func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testCert makes a certificate for 127.0.0.1 and the pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "salvage test IMAP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
