package mail

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-sasl"

	"github.com/salvagehq/salvage/sources"
)

const (
	dialTimeout     = 30 * time.Second
	startTLSTimeout = 30 * time.Second
	logoutTimeout   = 2 * time.Second
)

// imapSession is one logged-in IMAP connection. Its methods are the only
// commands salvage sends, and all of them read; the guard under the client
// (guardConn) refuses any other command before it is sent.
type imapSession struct {
	c     *imapclient.Client
	guard *guardConn
	acct  imapAccount
	stop  func() bool // stops closing the connection when ctx ends
}

// fatalError is a failure that trying again cannot fix: a refused login, a
// certificate that is not trusted, a missing mailbox.
type fatalError struct{ error }

func (e fatalError) Unwrap() error { return e.error }

func fatalf(format string, args ...any) error { return fatalError{fmt.Errorf(format, args...)} }

// transient reports whether err may go away on a new connection: the
// network, a server that hung up or said it is busy. Refusals, ctx and
// errors of the case store are not.
func transient(err error) bool {
	var f fatalError
	var ie *imap.Error
	switch {
	case err == nil, errors.As(err, &f), errors.Is(err, sources.ErrWriteRefused),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &ie):
		switch ie.Code {
		case imap.ResponseCodeUnavailable, imap.ResponseCodeServerBug, imap.ResponseCodeInUse, imap.ResponseCodeLimit:
			return true
		}
		return false
	}
	return true
}

// dialIMAP connects, protects the connection as the account says, and logs
// in. The connection is closed when ctx ends, which makes any command
// waiting on it return at once.
func dialIMAP(ctx context.Context, a imapAccount) (*imapSession, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", a.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("connect to IMAP server %s: %w", a.addr, err)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	conn, err := secure(ctx, raw, a)
	if err != nil {
		stop()
		raw.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	c := imapclient.New(conn, &imapclient.Options{WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader}})
	s := &imapSession{c: c, guard: conn, acct: a, stop: stop}
	if err := s.start(); err != nil {
		s.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return s, nil
}

// secure returns the connection the client talks over: TLS as asked, and
// under it the guard that lets only reading commands through.
func secure(ctx context.Context, raw net.Conn, a imapAccount) (*guardConn, error) {
	switch a.security {
	case plainText:
		return &guardConn{Conn: raw}, nil
	case startTLS:
		tc, err := upgradeSTARTTLS(ctx, raw, a)
		if err != nil {
			return nil, err
		}
		// The greeting came before STARTTLS; the client waits for one.
		return &guardConn{Conn: tc, pending: []byte("* OK TLS started by salvage\r\n")}, nil
	}
	tc := tls.Client(raw, a.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, explainTLS(a, err)
	}
	return &guardConn{Conn: tc}, nil
}

// upgradeSTARTTLS reads the greeting, sends STARTTLS and starts TLS. It
// is done here, not by the client, so that the guard sits above TLS and
// sees the commands in clear.
func upgradeSTARTTLS(ctx context.Context, raw net.Conn, a imapAccount) (*tls.Conn, error) {
	raw.SetDeadline(time.Now().Add(startTLSTimeout))
	br := bufio.NewReaderSize(raw, 4096)
	greeting, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read the greeting of %s: %w", a.addr, err)
	}
	switch {
	case strings.HasPrefix(greeting, "* OK"):
	case strings.HasPrefix(greeting, "* PREAUTH"):
		return nil, fatalf("%s logged salvage in before TLS (PREAUTH): refused, the connection cannot be protected", a.addr)
	default:
		return nil, fatalf("%s did not greet as an IMAP server: %q", a.addr, oneLine(greeting, 120))
	}
	if _, err := raw.Write([]byte("S1 STARTTLS\r\n")); err != nil {
		return nil, fmt.Errorf("send STARTTLS to %s: %w", a.addr, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("STARTTLS with %s: %w", a.addr, err)
		}
		if strings.HasPrefix(line, "* ") {
			continue
		}
		if !strings.HasPrefix(line, "S1 OK") {
			return nil, fatalf("%s refused STARTTLS: %s; try --tls (port 993)", a.addr, oneLine(strings.TrimPrefix(line, "S1 "), 200))
		}
		break
	}
	if br.Buffered() > 0 {
		// Anything sent before TLS starts could be injected by whoever is
		// on the path (CVE-2011-0411 and its kin).
		return nil, fatalf("%s sent data after accepting STARTTLS, before TLS began: refused", a.addr)
	}
	raw.SetDeadline(time.Time{})
	tc := tls.Client(raw, a.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, explainTLS(a, err)
	}
	return tc, nil
}

// explainTLS says why TLS failed, in one line with what to try.
func explainTLS(a imapAccount, err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	why := err.Error()
	switch {
	case errors.As(err, &unknown):
		why = "its certificate is not signed by an authority this machine trusts (a self-signed certificate? add its CA to the system's trusted certificates)"
	case errors.As(err, &hostname):
		why = fmt.Sprintf("its certificate is not for %s (%v)", a.host, hostname)
	case errors.As(err, &invalid):
		why = fmt.Sprintf("its certificate is not valid: %v", invalid)
	case errors.As(err, &record):
		why = "the server did not answer in TLS"
		if a.security == implicitTLS {
			why += ": is this a STARTTLS port (usually 143)? Then use --starttls"
		}
	}
	return fatalf("TLS with IMAP server %s failed: %s", a.addr, why)
}

// start waits for the greeting, checks the server speaks IMAP4rev1 or
// IMAP4rev2 and logs in.
func (s *imapSession) start() error {
	if err := s.c.WaitGreeting(); err != nil {
		return fmt.Errorf("greeting of IMAP server %s: %w", s.acct.addr, err)
	}
	caps := s.c.Caps()
	if caps == nil {
		return fmt.Errorf("IMAP server %s did not say what it supports (CAPABILITY)", s.acct.addr)
	}
	if !caps.Has(imap.CapIMAP4rev1) && !caps.Has(imap.CapIMAP4rev2) {
		return fatalf("%s is not an IMAP4rev1 or IMAP4rev2 server (it offers: %s): salvage needs EXAMINE, UID SEARCH and UID FETCH",
			s.acct.addr, capList(caps))
	}
	if s.c.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH
	}
	return s.login(caps)
}

func capList(caps imap.CapSet) string {
	var names []string
	for c := range caps {
		names = append(names, string(c))
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, " ")
}

// login authenticates with the credential: a token with XOAUTH2 (or
// OAUTHBEARER), a password with AUTHENTICATE PLAIN when offered, else LOGIN.
func (s *imapSession) login(caps imap.CapSet) error {
	a := s.acct
	var err error
	var xo *xoauth2
	switch {
	case a.cred.oauth && caps.Has(imap.AuthCap("XOAUTH2")):
		xo = &xoauth2{user: a.user, token: a.cred.secret}
		err = s.c.Authenticate(xo)
	case a.cred.oauth && caps.Has(imap.AuthCap(sasl.OAuthBearer)):
		_, port, _ := net.SplitHostPort(a.addr)
		p, _ := strconv.Atoi(port)
		err = s.c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: a.user, Token: a.cred.secret, Host: a.host, Port: p}))
	case a.cred.oauth:
		return fatalf("IMAP server %s does not accept OAuth tokens (it offers neither XOAUTH2 nor OAUTHBEARER): set IMAP_PASSWORD instead of IMAP_OAUTH_TOKEN", a.addr)
	case caps.Has(imap.AuthCap(sasl.Plain)):
		err = s.c.Authenticate(sasl.NewPlainClient("", a.user, a.cred.secret))
	case caps.Has(imap.CapLoginDisabled):
		hint := ""
		if a.security == plainText {
			hint = ": it wants TLS, use --tls or --starttls"
		}
		return fatalf("IMAP server %s does not accept a password on this connection (LOGINDISABLED)%s", a.addr, hint)
	default:
		err = s.c.Login(a.user, a.cred.secret).Wait()
	}
	if err == nil {
		return nil
	}
	var ie *imap.Error
	var ob *sasl.OAuthBearerError
	var xe *xoauth2Error
	switch {
	case errors.As(err, &xe), errors.As(err, &ob):
		status, scope := "", ""
		if xe != nil {
			status, scope = xe.Status, xe.Scope
		} else {
			status, scope = ob.Status, ob.Scope
		}
		msg := fmt.Sprintf("IMAP server %s refused the OAuth token of %s (status %s)", a.addr, a.user, status)
		if scope != "" {
			msg += fmt.Sprintf("; it wants the scope %s", scope)
		}
		return fatalf("%s: the token may have expired, get a fresh one into IMAP_OAUTH_TOKEN", msg)
	case errors.As(err, &ie):
		text := oneLine(ie.Text, 200)
		if ie.Code != "" {
			text = "[" + string(ie.Code) + "] " + text
		}
		hint := "check --user and IMAP_PASSWORD; Gmail and Microsoft 365 need an app password, or a token in IMAP_OAUTH_TOKEN"
		if a.cred.oauth {
			hint = "check --user and IMAP_OAUTH_TOKEN: the token may have expired, or lack the IMAP scope"
		}
		return fatalf("IMAP server %s refused the login of %s: %s (%s)", a.addr, a.user, text, hint)
	}
	return fmt.Errorf("log in to IMAP server %s: %w", a.addr, err)
}

// xoauth2 is Google's and Microsoft's SASL mechanism for OAuth 2 bearer
// tokens (go-sasl has OAUTHBEARER only): one initial response; on failure
// the server sends a JSON challenge saying why.
type xoauth2 struct {
	user, token string
}

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	e := &xoauth2Error{}
	if err := json.Unmarshal(challenge, e); err != nil || e.Status == "" {
		e.Status = "unknown"
	}
	return nil, e
}

// xoauth2Error is the server's reason for refusing a token.
type xoauth2Error struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e *xoauth2Error) Error() string { return "XOAUTH2 refused (status " + e.Status + ")" }

// oneLine makes a server's text fit in one line of at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// list returns the account's mailboxes, INBOX first, then by name.
func (s *imapSession) list() ([]*imap.ListData, error) {
	boxes, err := s.c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("list the mailboxes: %w", s.refused(err))
	}
	slices.SortFunc(boxes, func(a, b *imap.ListData) int {
		ai, bi := strings.EqualFold(a.Mailbox, "INBOX"), strings.EqualFold(b.Mailbox, "INBOX")
		switch {
		case ai && !bi:
			return -1
		case bi && !ai:
			return 1
		}
		return strings.Compare(a.Mailbox, b.Mailbox)
	})
	return boxes, nil
}

// selectable reports whether a listed mailbox can be opened.
func selectable(b *imap.ListData) bool {
	return !slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) && !slices.Contains(b.Attrs, imap.MailboxAttrNonExistent)
}

// messages returns the number of messages of a mailbox (STATUS).
func (s *imapSession) messages(name string) (uint32, error) {
	d, err := s.c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, s.refused(err)
	}
	if d.NumMessages == nil {
		return 0, nil
	}
	return *d.NumMessages, nil
}

// examine opens a mailbox read-only.
func (s *imapSession) examine(name string) (*imap.SelectData, error) {
	d, err := s.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	return d, s.refused(err)
}

// search returns the UIDs matching criteria, ascending.
func (s *imapSession) search(criteria *imap.SearchCriteria) ([]imap.UID, error) {
	d, err := s.c.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, s.refused(err)
	}
	uids := d.AllUIDs()
	slices.Sort(uids)
	return slices.Compact(uids), nil
}

// fetched is one message as UID FETCH returned it.
type fetched struct {
	uid   imap.UID
	flags []imap.Flag
	body  []byte
	nil   bool // the server returned NIL for the body
}

// fetch streams the messages of uids to fn, each whole, in the order the
// server sends them. The bodies are fetched with BODY.PEEK[], which leaves
// \Seen alone.
func (s *imapSession) fetch(uids imap.UIDSet, fn func(fetched) error) error {
	cmd := s.c.Fetch(uids, &imap.FetchOptions{
		UID:         true,
		Flags:       true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	var fnErr error
	for fnErr == nil {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var m fetched
		gotBody := false
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				m.uid = it.UID
			case imapclient.FetchItemDataFlags:
				m.flags = it.Flags
			case imapclient.FetchItemDataBodySection:
				gotBody = true
				if it.Literal == nil {
					m.nil = true
					continue
				}
				m.body = make([]byte, it.Literal.Size())
				if _, err := io.ReadFull(it.Literal, m.body); err != nil {
					// The connection broke inside the message. Reading
					// on (as Next and Close would, to drain it) would race
					// with the client's own reader: close instead.
					s.c.Close()
					return fmt.Errorf("read message UID %d: %w", m.uid, err)
				}
			}
		}
		if m.uid == 0 || !gotBody {
			continue // an update about a message, not an answer
		}
		fnErr = fn(m)
	}
	// Close reads what is left, so the connection stays usable.
	err := cmd.Close()
	if fnErr != nil {
		return fnErr
	}
	return s.refused(err)
}

// refused returns the guard's refusal, if it refused a command: the
// command failed because of it, whatever the client reports (the
// connection closed under it).
func (s *imapSession) refused(err error) error {
	if err == nil {
		return nil
	}
	if r := s.guard.refusal(); r != nil {
		return r
	}
	return err
}

// logout says goodbye, not waiting long for the answer.
func (s *imapSession) logout() {
	done := make(chan struct{})
	go func() {
		s.c.Logout().Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(logoutTimeout):
	}
}

// close closes the connection.
func (s *imapSession) close() {
	s.stop()
	s.c.Close()
}
