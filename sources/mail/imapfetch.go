package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
)

// maxReconnects is how many reconnections in a row, without a batch stored
// in between, are tried before giving up.
const maxReconnects = 5

// readAhead is how many messages may wait, read, for their turn to be
// parsed and stored.
const readAhead = 64

// imapImport is one run of `salvage import imap`.
type imapImport struct {
	im     *IMAP
	run    *sources.Run
	acct   imapAccount
	parser *Parser
	stats  *stats
	since  string // SEARCH SINCE day, "" for all
	batch  int

	connected bool // a session logged in once: later failures are retried
	checked   bool // the mailboxes asked for were found
	batches   int  // batches stored, to tell progress between failures
}

// mailboxCheckpoint is where the import of one mailbox got to: every
// message with a UID up to UID, received since Since ("" all), of the
// mailbox as numbered by UIDValidity, has been stored.
type mailboxCheckpoint struct {
	UIDValidity uint32   `json:"uidvalidity"`
	UID         imap.UID `json:"uid"`
	Since       string   `json:"since"`
}

// importAll imports the mailboxes one after the other, opening a new
// connection when one drops, until all are done, one fails for good, or
// the connection keeps failing.
func (r *imapImport) importAll(ctx context.Context, pending []string) error {
	failures := 0
	for {
		before := r.batches
		err := r.session(ctx, &pending)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !r.connected || !transient(err):
			return err
		}
		if r.batches > before {
			failures = 0
		}
		failures++
		attempts := r.im.attempts
		if attempts <= 0 {
			attempts = maxReconnects
		}
		if failures > attempts {
			return fmt.Errorf("the connection to IMAP server %s keeps failing (%d attempts): %w; what was read is kept: run the same command again to continue",
				r.acct.addr, failures, err)
		}
		wait := reconnectWait(failures)
		r.run.Log.Warn("IMAP connection lost; reconnecting to continue from the last checkpoint",
			"addr", r.acct.addr, "attempt", failures, "wait", wait.String(), "reason", err.Error())
		sleep := r.im.sleep
		if sleep == nil {
			sleep = sleepContext
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func reconnectWait(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 4)
	return d + time.Duration(rand.Int64N(int64(d/4)))
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// session is one connection: it imports the pending mailboxes, removing
// each from the list once done.
func (r *imapImport) session(ctx context.Context, pending *[]string) error {
	s, err := dialIMAP(ctx, r.acct)
	if err != nil {
		return err
	}
	defer s.close()
	r.connected = true
	if !r.checked {
		if err := r.checkMailboxes(s, *pending); err != nil {
			return err
		}
		r.checked = true
	}
	for len(*pending) > 0 {
		if err := r.mailbox(ctx, s, (*pending)[0]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		*pending = (*pending)[1:]
	}
	s.logout()
	return nil
}

// checkMailboxes makes sure every mailbox asked for exists and can be
// opened, before anything is read: a typo in the last of three mailboxes
// should not wait for the first two.
func (r *imapImport) checkMailboxes(s *imapSession, names []string) error {
	boxes, err := s.list()
	if err != nil {
		return err
	}
	for _, name := range names {
		i := slices.IndexFunc(boxes, func(b *imap.ListData) bool { return sameMailbox(b.Mailbox, name) })
		switch {
		case i < 0:
			return r.notFound(name, boxes)
		case !selectable(boxes[i]):
			return fatalf("mailbox %q of %s on %s holds no messages, only other mailboxes (\\Noselect): choose one below it (see --list-mailboxes)",
				name, r.acct.user, r.acct.addr)
		}
	}
	return nil
}

// sameMailbox compares mailbox names; INBOX is INBOX in any case.
func sameMailbox(a, b string) bool {
	return a == b || (strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX"))
}

func (r *imapImport) notFound(name string, boxes []*imap.ListData) error {
	var names []string
	for _, b := range boxes {
		if selectable(b) {
			names = append(names, fmt.Sprintf("%q", b.Mailbox))
		}
	}
	return fatalf("mailbox %q not found in the account %s on %s; it has: %s (see --list-mailboxes)",
		name, r.acct.user, r.acct.addr, strings.Join(names, ", "))
}

// checkpointKey names a mailbox's checkpoint: account, server and mailbox.
func (r *imapImport) checkpointKey(mailbox string) string {
	return "imap/" + r.acct.user + "@" + r.acct.host + "/" + mailbox
}

// mailbox imports one mailbox: what the checkpoint does not cover, in
// batches of UIDs, the checkpoint saved after each.
func (r *imapImport) mailbox(ctx context.Context, s *imapSession, name string) error {
	key := r.checkpointKey(name)
	var cp mailboxCheckpoint
	if v, ok, err := r.run.Sink.Checkpoint(ctx, key); err != nil {
		return fatalError{err}
	} else if ok {
		if err := json.Unmarshal([]byte(v), &cp); err != nil {
			r.run.Log.Warn("unreadable IMAP checkpoint: reading the mailbox from the start", "mailbox", name, "error", err.Error())
			cp = mailboxCheckpoint{}
		}
	}
	sel, err := s.examine(name)
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && !transient(err) {
			if boxes, lerr := s.list(); lerr == nil && !slices.ContainsFunc(boxes, func(b *imap.ListData) bool { return sameMailbox(b.Mailbox, name) }) {
				return r.notFound(name, boxes)
			}
			return fatalf("open mailbox %q read-only (EXAMINE): %s", name, oneLine(ie.Text, 200))
		}
		return fmt.Errorf("open mailbox %q read-only (EXAMINE): %w", name, err)
	}
	if cp.UIDValidity != 0 && cp.UIDValidity != sel.UIDValidity {
		r.run.Log.Warn("the server renumbered the mailbox (its UIDVALIDITY changed): reading it again from the start; messages already stored are recognised and not stored twice",
			"mailbox", name, "old_uidvalidity", cp.UIDValidity, "uidvalidity", sel.UIDValidity)
		cp = mailboxCheckpoint{}
	}
	if sel.UIDValidity == 0 {
		r.run.Log.Warn("the server gives no UIDVALIDITY: the mailbox is read whole every time", "mailbox", name)
		cp = mailboxCheckpoint{}
	}
	uids, gapEnd, err := r.toFetch(s, name, sel, cp)
	if err != nil {
		return err
	}
	bar := r.run.Progress.Bar("imap "+name, int64(len(uids)))
	defer bar.Done()
	if cp.UID > 0 && len(uids) > 0 {
		r.run.Log.Info("continuing the mailbox after its checkpoint", "mailbox", name, "after_uid", cp.UID, "messages", len(uids))
	}
	next := mailboxCheckpoint{UIDValidity: sel.UIDValidity, UID: cp.UID, Since: cp.Since}
	if gapEnd == 0 {
		next.Since = r.since
	}
	for start := 0; start < len(uids); start += r.batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := uids[start:min(start+r.batch, len(uids))]
		if err := r.fetchBatch(ctx, s, name, sel.UIDValidity, chunk, bar); err != nil {
			return err
		}
		last := chunk[len(chunk)-1]
		next.UID = max(next.UID, last)
		if last >= gapEnd {
			next.Since = r.since
		}
		if err := r.save(ctx, key, next); err != nil {
			return err
		}
		r.batches++
	}
	if len(uids) == 0 && next != cp {
		if err := r.save(ctx, key, next); err != nil {
			return err
		}
	}
	r.run.Log.Info("IMAP mailbox read", "mailbox", name, "messages", sel.NumMessages, "fetched", len(uids))
	return nil
}

func (r *imapImport) save(ctx context.Context, key string, cp mailboxCheckpoint) error {
	b, _ := json.Marshal(cp)
	if err := r.run.Sink.SaveCheckpoint(ctx, key, string(b)); err != nil {
		return fatalError{err}
	}
	return nil
}

// toFetch returns the UIDs to fetch, ascending: those above the checkpoint
// received since the window's day, and, when the window now reaches further
// back than the checkpoint's, those below it received in between (the
// gap). gapEnd is the highest UID of the gap, 0 if none.
func (r *imapImport) toFetch(s *imapSession, name string, sel *imap.SelectData, cp mailboxCheckpoint) (uids []imap.UID, gapEnd imap.UID, err error) {
	if sel.NumMessages == 0 {
		return nil, 0, nil
	}
	since, err := searchDay(r.since)
	if err != nil {
		return nil, 0, err
	}
	if cp.UID > 0 && wider(r.since, cp.Since) {
		gap := &imap.SearchCriteria{Since: since, UID: []imap.UIDSet{{{Start: 1, Stop: cp.UID}}}}
		if gap.Before, err = searchDay(cp.Since); err != nil {
			return nil, 0, err
		}
		found, err := s.search(gap)
		if err != nil {
			return nil, 0, fmt.Errorf("search mailbox %q: %w", name, err)
		}
		for _, u := range found {
			if u <= cp.UID {
				uids = append(uids, u)
			}
		}
		if len(uids) > 0 {
			gapEnd = uids[len(uids)-1]
		}
	}
	c := &imap.SearchCriteria{Since: since}
	if cp.UID > 0 {
		c.UID = []imap.UIDSet{{{Start: cp.UID + 1, Stop: 0}}} // cp.UID+1:*
	}
	found, err := s.search(c)
	if err != nil {
		return nil, 0, fmt.Errorf("search mailbox %q: %w", name, err)
	}
	for _, u := range found {
		// "n:*" always matches the highest UID, even below n.
		if u > cp.UID {
			uids = append(uids, u)
		}
	}
	return uids, gapEnd, nil
}

// searchDay turns a window day into a SEARCH date (zero: no bound).
func searchDay(day string) (time.Time, error) {
	if day == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return t, fmt.Errorf("window day %q: %w", day, err)
	}
	return t, nil
}

// wider reports whether window a reaches further back than b.
func wider(a, b string) bool {
	return b != "" && (a == "" || a < b)
}

// errStopped stops a fetch whose messages are no longer wanted.
var errStopped = errors.New("fetch stopped")

// fetchBatch fetches one batch of messages and puts each, in the order the
// server sent them. Reading the connection runs ahead of parsing and
// storing, by up to readAhead messages.
func (r *imapImport) fetchBatch(ctx context.Context, s *imapSession, name string, uidValidity uint32, uids []imap.UID, bar sources.Bar) error {
	var set imap.UIDSet
	set.AddNum(uids...)
	got := 0
	handle := func(m fetched) error {
		got++
		loc := r.locator(name, uidValidity, m.uid)
		if m.nil {
			if err := r.run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Mail, Via: "imap", Locator: loc,
				Reason: "the server returned no content for this message (BODY[] NIL)"}); err != nil {
				return fatalError{err}
			}
			bar.Add(1)
			return nil
		}
		attrs := map[string]string{"imap_mailbox": name, "imap_flags": flagList(m.flags)}
		if err := put(ctx, r.run, r.parser, r.stats, m.body, "imap", loc, attrs); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fatalError{err}
		}
		bar.Add(1)
		return nil
	}
	ch := make(chan fetched, readAhead)
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.fetch(set, func(m fetched) error {
			select {
			case ch <- m:
				return nil
			case <-stop:
				return errStopped
			}
		})
		close(ch)
	}()
	var putErr error
	for m := range ch {
		// Messages read before the connection broke are whole: keep them.
		if putErr == nil {
			if putErr = handle(m); putErr != nil {
				close(stop)
			}
		}
	}
	err := <-errc
	if putErr != nil {
		err = putErr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fetch from mailbox %q: %w", name, err)
	}
	if got < len(uids) {
		r.run.Log.Info("messages not returned by the server (expunged meanwhile?)", "mailbox", name, "missing", len(uids)-got)
		bar.Add(int64(len(uids) - got))
	}
	return nil
}

// flagList is a message's flags as the server gave them, sorted, without
// \Recent (which belongs to a session, not to the message).
func flagList(flags []imap.Flag) string {
	var out []string
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, string(f))
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), " ")
}

// locator is the message's IMAP URL (RFC 5092):
// imap://user@host:port/Mailbox;UIDVALIDITY=v/;UID=u
func (r *imapImport) locator(mailbox string, uidValidity uint32, uid imap.UID) string {
	segs := strings.Split(mailbox, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return fmt.Sprintf("imap://%s@%s/%s;UIDVALIDITY=%d/;UID=%d",
		url.PathEscape(r.acct.user), r.acct.addr, strings.Join(segs, "/"), uidValidity, uid)
}
