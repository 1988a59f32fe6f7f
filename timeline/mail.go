package timeline

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/salvagehq/salvage/evidence"
)

// mailPending is a mail event whose direction waits for the business's
// domains.
type mailPending struct {
	event    int
	from     string
	to       []string
	sentFlag bool // the mailbox filed it as sent (Gmail's "Sent" label, a Sent folder)
	subject  string
	status   evidence.Status
}

// mail reads one email. Its action is the booking status it carries
// (requested, confirmed, …) or, for mail that carries none, sent or
// received; who acted depends on its direction, decided in finishMail.
func (b *builder) mail(r *evidence.Record) {
	a := r.Facts.Attrs
	p := mailPending{from: strings.ToLower(a["from"]), subject: a["subject"], status: r.Facts.Status}
	for _, k := range []string{"to", "cc"} {
		for _, addr := range strings.Split(a[k], ",") {
			if addr = strings.TrimSpace(strings.ToLower(addr)); addr != "" {
				p.to = append(p.to, addr)
			}
		}
	}
	for _, k := range []string{"gmail_labels", "mailbox", "folder", "maildir_folder"} {
		for _, l := range strings.Split(a[k], ",") {
			if l = strings.TrimSpace(strings.ToLower(l)); l == "sent" || l == "sent mail" || l == "sent items" || strings.HasSuffix(l, "/sent") {
				p.sentFlag = true
			}
		}
	}
	// Each domain counts once per message.
	var counted [8]string
	n := 0
	for k := -1; k < len(p.to); k++ {
		addr := p.from
		if k >= 0 {
			addr = p.to[k]
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
	p.event = b.push(r, Event{Time: r.OccurredAt, Action: MailReceived})
	b.mails = append(b.mails, p)
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
	for _, p := range b.mails {
		e := b.events.at(p.event)
		fromOwn := isOwn(p.from)
		toOwn := slices.ContainsFunc(p.to, isOwn)
		sent := fromOwn || p.sentFlag || !toOwn && len(own) > 0
		switch {
		case fromOwn || p.sentFlag:
			e.Actor = Staff
		case sent, isAutomated(p.from):
			e.Actor = System
		default:
			e.Actor = Customer
		}
		e.Action = MailReceived
		if sent {
			e.Action = MailSent
		}
		direction := "Mail from " + orDash(p.from)
		if sent {
			direction = "Mail to " + orDash(strings.Join(p.to, ", "))
		}
		what := ""
		if a, ok := statusAction(p.status); ok {
			e.Action = a
			what = "booking " + string(p.status)
			if p.status == evidence.Paid || p.status == evidence.Refunded {
				what = "payment " + string(p.status)
			}
		}
		subject := ""
		if p.subject != "" {
			subject = "“" + clip(oneLine(p.subject), 120) + "”"
		}
		e.Summary = joinNonEmpty(" · ", direction, subject, what)
		if e.Subject == "" {
			// No booking: the subject is the other party.
			other := p.from
			if sent && len(p.to) > 0 {
				other = p.to[0]
			}
			e.Subject = cmp.Or(e.Booking, other, strings.TrimPrefix(e.Evidence[0].ID, "mail:"))
		}
	}
	b.mails = nil
}
