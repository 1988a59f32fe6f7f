package timeline

import (
	"cmp"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/salvagehq/salvage/evidence"
)

// mailPending is a mail event whose direction waits for the business's
// domains.
// Its texts are in the builder's arena: half a million emails keep
// nothing the collector scans.
type mailPending struct {
	event    int32
	status   uint32 // atom
	from     text
	to       text // the addresses, joined by ","
	subject  text
	sentFlag bool // the mailbox filed it as sent (Gmail's "Sent" label, a Sent folder)
	sent     bool // decided in finishMail
}

// mail reads one email. Its action is the booking status it carries
// (requested, confirmed, …) or, for mail that carries none, sent or
// received; who acted depends on its direction, decided in finishMail.
func (b *builder) mail(r *evidence.Record) {
	a := r.Facts.Attrs
	from := strings.ToLower(a["from"])
	var to []string
	for _, k := range []string{"to", "cc"} {
		for addr := range strings.SplitSeq(a[k], ",") {
			if addr = strings.TrimSpace(strings.ToLower(addr)); addr != "" {
				to = append(to, addr)
			}
		}
	}
	p := mailPending{from: b.arena.add(from), to: b.arena.add(strings.Join(to, ",")), subject: b.arena.add(a["subject"]),
		status: b.atoms.id(string(r.Facts.Status))}
	for _, k := range []string{"gmail_labels", "mailbox", "folder", "maildir_folder"} {
		for l := range strings.SplitSeq(a[k], ",") {
			if l = strings.TrimSpace(strings.ToLower(l)); l == "sent" || l == "sent mail" || l == "sent items" || strings.HasSuffix(l, "/sent") {
				p.sentFlag = true
			}
		}
	}
	// Each domain counts once per message.
	var counted [8]string
	n := 0
	for k := -1; k < len(to); k++ {
		addr := from
		if k >= 0 {
			addr = to[k]
		}
		d := domainOf(addr)
		if d == "" || slices.Contains(counted[:n], d) {
			continue
		}
		if n < len(counted) {
			counted[n] = d
			n++
		}
		b.domains[d]++
	}
	p.event = int32(b.push(r, Event{Time: r.OccurredAt, Action: MailReceived}))
	b.mails.add(p)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return ""
}

// automated are the local parts of senders no person writes from.
var automated = []string{"noreply", "no-reply", "donotreply", "do-not-reply", "news", "newsletter", "notifications",
	"notification", "mailer-daemon", "postmaster", "receipts", "billing", "marketing", "info", "alerts"}

func isAutomated(addr string) bool {
	local, _, _ := strings.Cut(addr, "@")
	local, _, _ = strings.Cut(local, "+")
	return slices.Contains(automated, local)
}

// statusAction is the action a status a record carries stands for.
func statusAction(s evidence.Status) (Action, bool) {
	switch s {
	case evidence.Requested:
		return BookingRequested, true
	case evidence.Confirmed:
		return BookingConfirmed, true
	case evidence.Changed:
		return BookingChanged, true
	case evidence.Cancelled:
		return BookingCancelled, true
	case evidence.Paid:
		return PaymentSucceeded, true
	case evidence.Refunded:
		return PaymentRefunded, true
	}
	return "", false
}

// OwnDomains returns the business's mail domains: opts.OwnDomains, or the
// domain that takes part in the most messages (ties: the first by name).
func (b *builder) ownDomains() []string {
	if len(b.opts.OwnDomains) > 0 {
		var out []string
		for _, d := range b.opts.OwnDomains {
			out = append(out, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		}
		return out
	}
	best := ""
	for _, d := range slices.Sorted(maps.Keys(b.domains)) {
		if best == "" || b.domains[d] > b.domains[best] {
			best = d
		}
	}
	if best == "" {
		return nil
	}
	return []string{best}
}

// finishMail decides each email's direction. Mail from the business, or
// filed as sent, was sent by staff; mail to someone else on the business's
// behalf (a Stripe receipt to the customer) by a system; mail to the
// business was received from a customer, or from a system when the sender
// is automated.
func (b *builder) finishMail() {
	own := b.ownDomains()
	isOwn := func(addr string) bool { return slices.Contains(own, domainOf(addr)) }
	var to []string
	for k := range b.mails.n {
		p := b.mails.at(k)
		e := b.events.at(int(p.event))
		from := b.arena.get(p.from)
		to = to[:0]
		if all := b.arena.get(p.to); all != "" {
			to = append(to, strings.Split(all, ",")...)
		}
		status := evidence.Status(b.atoms.name(p.status))
		fromOwn := isOwn(from)
		toOwn := slices.ContainsFunc(to, isOwn)
		sent := fromOwn || p.sentFlag || !toOwn && len(own) > 0
		p.sent = sent
		actor := Customer
		switch {
		case fromOwn || p.sentFlag:
			actor = Staff
		case sent, isAutomated(from):
			actor = System
		}
		action := MailReceived
		if sent {
			action = MailSent
		}
		if a, ok := statusAction(status); ok {
			action = a
		}
		e.actor, e.action = b.atoms.id(string(actor)), b.atoms.id(string(action))
		// Its summary is made each time it is needed (mailSummary):
		// half a million of them are not kept.
		e.mail, e.summary = true, 0
		if e.subject == 0 {
			// No booking: the subject is the other party.
			other := from
			if sent && len(to) > 0 {
				other = to[0]
			}
			if ref := b.arena.get(e.booking); ref != "" {
				e.subject = e.booking
			} else {
				e.subject = b.arena.add(cmp.Or(other, strings.TrimPrefix(b.witID(b.wits.at(int(e.first))), "mail:")))
			}
		}
	}
}

// mailSummary says what mail p is, once finishMail has decided its
// direction: from whom or to whom, its subject, the booking status it
// carries.
func (b *builder) mailSummary(p *mailPending) string {
	direction := "Mail from " + orDash(b.arena.get(p.from))
	if p.sent {
		direction = "Mail to " + orDash(strings.ReplaceAll(b.arena.get(p.to), ",", ", "))
	}
	what := ""
	status := evidence.Status(b.atoms.name(p.status))
	if _, ok := statusAction(status); ok {
		what = "booking " + string(status)
		if status == evidence.Paid || status == evidence.Refunded {
			what = "payment " + string(status)
		}
	}
	subject := ""
	if s := b.arena.get(p.subject); s != "" {
		subject = "“" + clip(oneLine(s), 120) + "”"
	}
	return joinNonEmpty(" · ", direction, subject, what)
}

// summary is what event i, e, says.
func (b *builder) summary(i int, e *event) string {
	if !e.mail {
		return b.arena.get(e.summary)
	}
	// Mail events are pushed in the order of b.mails.
	k := sort.Search(b.mails.n, func(k int) bool { return int(b.mails.at(k).event) >= i })
	return b.mailSummary(b.mails.at(k))
}
