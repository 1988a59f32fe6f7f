package timeline

import (
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// The ranks of Stripe witnesses: whose time an event shows. A Stripe event
// is created when the change it reports happened; a charge or a refund
// when the money moved; a checkout session when the customer started
// paying; a payment intent when the payment was first set up.
const (
	rankEvent   int8 = 0
	rankMoney   int8 = 1
	rankSession int8 = 2
	rankIntent  int8 = 3
	rankUnknown int8 = 9 // a state seen without the time it began
)

// stripeObjects are the Stripe objects whose records and events salvage
// reads (sources/stripe).
var stripeObjects = []string{"payment_intent", "charge", "refund", "checkout.session", "customer", "invoice"}

// eventObject is the object a Stripe event type is about:
// "payment_intent.succeeded" is about a payment_intent,
// "checkout.session.completed" a checkout.session, "charge.refund.updated"
// a refund. Empty for objects salvage does not read.
func eventObject(eventType string) string {
	i := strings.LastIndexByte(eventType, '.')
	if i <= 0 {
		return ""
	}
	obj := eventType[:i]
	if slices.Contains(stripeObjects, obj) {
		return obj
	}
	if j := strings.LastIndexByte(obj, '.'); j >= 0 && slices.Contains(stripeObjects, obj[j+1:]) {
		return obj[j+1:]
	}
	return ""
}

// linkID returns the id of r's first link of rel.
func linkID(f *evidence.Facts, rel string) string {
	for _, l := range f.Links {
		if l.Rel == rel {
			return l.ID
		}
	}
	return ""
}

// stripe reads a Stripe object or event. Each says what state an object
// was in; the happenings are the states (a payment succeeded, a refund
// was made), keyed by object so that every record that shows the same
// state joins one event: a payment intent, its charge, the checkout
// session that paid it and the events that reported each.
func (b *builder) stripe(r *evidence.Record) {
	f := &r.Facts
	obj, id, rank := r.Kind, strings.TrimPrefix(r.ID, "stripe:"), rankIntent
	eventType := ""
	if r.Kind == "event" {
		eventType = f.Attrs["event_type"]
		obj = eventObject(eventType)
		id = linkID(f, "stripe_"+strings.ReplaceAll(obj, ".", "_"))
		rank = rankEvent
		if obj == "" || id == "" {
			b.push(r, Event{Time: r.OccurredAt, Actor: System, Action: Recorded, Subject: strings.TrimPrefix(r.ID, "stripe:"),
				Summary: "Stripe event " + orDash(eventType)})
			return
		}
	} else {
		switch obj {
		case "charge", "refund", "customer", "invoice":
			rank = rankMoney
		case "checkout.session":
			rank = rankSession
		}
	}
	t := r.OccurredAt
	pi := linkID(f, "stripe_payment_intent")
	if obj == "payment_intent" {
		pi = id
	}
	stripeStatus := f.Attrs["stripe_status"]
	payKey := func(action Action) mergeKey {
		if pi != "" {
			return b.key("payment_intent", pi, action)
		}
		return b.key(obj, id, action)
	}
	// statusKey is the key of a state salvage has no action of its own for.
	statusKey := func() mergeKey { return b.key(obj+":"+stripeStatus, id, PaymentUpdated) }
	money := amount(f.AmountMinor, f.Currency)
	who := person(f)
	sum := func(what string, amt string) string {
		return joinNonEmpty(" · ", what, amt, who)
	}
	subject := func() string {
		if ref := b.booking(r); ref != "" {
			return ref
		}
		if pi != "" {
			return pi
		}
		return id
	}
	add := func(key mergeKey, e Event) int {
		i := b.keyed(key, r, e)
		b.piEvent(i, pi)
		return i
	}

	switch obj {
	case "payment_intent":
		action, actor, what := PaymentUpdated, System, "Payment intent "+orDash(stripeStatus)
		switch f.Status {
		case evidence.Paid:
			action, actor, what = PaymentSucceeded, Customer, "Payment succeeded"
		case evidence.Confirmed:
			action, actor, what = PaymentAuthorized, Customer, "Payment authorised, to be captured"
		case evidence.Cancelled:
			action, actor, what = PaymentCancelled, System, "Payment cancelled"
		case evidence.Requested:
			action, actor, what = PaymentRequested, Customer, "Payment started ("+orDash(stripeStatus)+")"
		}
		if action == PaymentSucceeded && f.PaidMinor != nil {
			money = amount(f.PaidMinor, f.Currency)
		}
		add(payKey(action), Event{Time: t, rank: rank, Actor: actor, Action: action, Subject: subject(), Summary: sum(what, money)})

	case "charge":
		refunded := f.Status == evidence.Refunded || f.RefundedMinor != nil && *f.RefundedMinor > 0
		if eventType != "" && strings.HasSuffix(eventType, ".refunded") {
			// The event reports the refund: its time is the refund's.
			b.weak = append(b.weak, weakRefund{seen: b.seen(r), pi: pi, charge: id, t: t, rank: rank,
				summary: sum("Refund", amount(f.RefundedMinor, f.Currency)), subject: subject()})
			return
		}
		switch {
		case f.PaidMinor != nil || f.Status == evidence.Paid || refunded:
			add(payKey(PaymentSucceeded), Event{Time: t, rank: rank, Actor: Customer, Action: PaymentSucceeded,
				Subject: subject(), Summary: sum("Payment succeeded", amount(first(f.PaidMinor, f.AmountMinor), f.Currency))})
		case f.Status == evidence.Confirmed:
			add(payKey(PaymentAuthorized), Event{Time: t, rank: rank, Actor: Customer, Action: PaymentAuthorized,
				Subject: subject(), Summary: sum("Payment authorised, to be captured", money)})
		case stripeStatus == "failed":
			add(b.key(obj, id, PaymentFailed), Event{Time: t, rank: rank, Actor: Customer, Action: PaymentFailed,
				Subject: subject(), Summary: sum("Payment failed", money)})
		default:
			add(statusKey(), Event{Time: t, rank: rank, Actor: System, Action: PaymentUpdated,
				Subject: subject(), Summary: sum("Charge "+orDash(stripeStatus), money)})
		}
		if refunded && eventType == "" {
			// The charge shows it was refunded, not when: it joins the
			// refund that says.
			b.weak = append(b.weak, weakRefund{seen: b.seen(r), pi: pi, charge: id, rank: rankUnknown,
				summary: sum("Refund", amount(f.RefundedMinor, f.Currency)), subject: subject()})
		}

	case "refund":
		charge := linkID(f, "stripe_charge")
		if f.Status != evidence.Refunded {
			add(statusKey(), Event{Time: t, rank: rank, Actor: System, Action: PaymentUpdated,
				Subject: subject(), Summary: sum("Refund "+orDash(stripeStatus), amount(f.RefundedMinor, f.Currency))})
			return
		}
		key := b.key(obj, id, PaymentRefunded)
		_, known := b.event(key)
		i := add(key, Event{Time: t, rank: rank, Actor: Staff, Action: PaymentRefunded, Subject: subject(),
			Summary: sum("Refund", amount(f.RefundedMinor, f.Currency))})
		if !known && charge != "" {
			b.refunds[charge] = append(b.refunds[charge], i)
		}

	case "checkout.session":
		switch {
		case f.Status == evidence.Paid:
			add(payKey(PaymentSucceeded), Event{Time: t, rank: rank, Actor: Customer, Action: PaymentSucceeded,
				Subject: subject(), Summary: sum("Payment succeeded (checkout)", amount(first(f.PaidMinor, f.AmountMinor), f.Currency))})
		case f.Status == evidence.Confirmed:
			add(b.key(obj, id, BookingConfirmed), Event{Time: t, rank: rank, Actor: Customer, Action: BookingConfirmed,
				Subject: subject(), Summary: sum("Checkout completed, payment pending", money)})
		case stripeStatus == "expired" || strings.HasSuffix(eventType, ".expired"):
			add(b.key(obj, id, CheckoutExpired), Event{Time: t, rank: rank, Actor: System, Action: CheckoutExpired,
				Subject: subject(), Summary: sum("Checkout expired unpaid", money)})
		default:
			add(b.key(obj+":"+stripeStatus, id, CheckoutStarted), Event{Time: t, rank: rank, Actor: Customer, Action: CheckoutStarted,
				Subject: subject(), Summary: sum("Checkout started", money)})
		}

	case "customer":
		add(b.key(obj, id, CustomerCreated), Event{Time: t, rank: rank, Actor: Customer, Action: CustomerCreated, Subject: id,
			Summary: joinNonEmpty(" · ", "Customer created", who)})

	case "invoice":
		if f.Status == evidence.Paid {
			add(payKey(PaymentSucceeded), Event{Time: t, rank: rank, Actor: Customer, Action: PaymentSucceeded,
				Subject: subject(), Summary: sum("Invoice paid", amount(first(f.PaidMinor, f.AmountMinor), f.Currency))})
			return
		}
		add(statusKey(), Event{Time: t, rank: rank, Actor: System, Action: PaymentUpdated,
			Subject: subject(), Summary: sum("Invoice "+orDash(stripeStatus), money)})

	default:
		b.push(r, Event{Time: t, Actor: System, Action: Recorded, Subject: id, Summary: "Stripe " + r.Kind})
	}
}

// weakRefund is a refund a charge shows (refunded, or a charge.refunded
// event): it joins the refund object of the same charge when there is one.
type weakRefund struct {
	seen    seen
	pi      string
	charge  string
	t       time.Time // zero: the record does not say when
	rank    int8
	summary string
	subject string
}

// finishRefunds joins each weak refund to the refund of its charge nearest
// in time (the latest, when it has no time), or makes it an event of its
// own. Charges are taken in id order, timed refunds first, so the result
// does not depend on the order records came in.
func (b *builder) finishRefunds() {
	slices.SortStableFunc(b.weak, func(x, y weakRefund) int {
		if c := strings.Compare(x.charge, y.charge); c != 0 {
			return c
		}
		if xz, yz := x.t.IsZero(), y.t.IsZero(); xz != yz {
			if xz {
				return 1
			}
			return -1
		}
		if c := x.t.Compare(y.t); c != 0 {
			return c
		}
		return strings.Compare(b.witID(&x.seen.w), b.witID(&y.seen.w))
	})
	for k := range b.weak {
		w := &b.weak[k]
		cands := b.refunds[w.charge]
		if len(cands) == 0 {
			summary := w.summary
			if w.t.IsZero() {
				summary += " (the charge shows it; not when)"
			}
			i := b.pushSeen(w.seen, Event{Time: w.t, rank: w.rank, Actor: Staff, Action: PaymentRefunded, Subject: w.subject, Summary: summary})
			b.refunds[w.charge] = append(b.refunds[w.charge], i)
			b.piEvent(i, w.pi)
			continue
		}
		best := cands[0]
		for _, i := range cands[1:] {
			et, bt := b.events.at(i).time(), b.events.at(best).time()
			if w.t.IsZero() {
				if et.After(bt) {
					best = i
				}
			} else if absDur(et.Sub(w.t)) < absDur(bt.Sub(w.t)) {
				best = i
			}
		}
		b.join(best, w.seen, w.t, w.rank, "")
	}
	b.weak = nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func first(ps ...*int64) *int64 {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// piEvent is a Stripe event of a payment intent.
type piEvent struct {
	event int
	pi    text
}

// piEvent notes that event i is about payment intent pi.
func (b *builder) piEvent(i int, pi string) {
	if pi == "" {
		return
	}
	if ref := b.events.at(i).booking; ref != 0 {
		if _, ok := b.piBooking.get(&b.arena, pi, 0); !ok {
			b.piBooking.put(&b.arena, b.arena.add(pi), 0, uint64(ref))
		}
		return
	}
	b.noBooking = append(b.noBooking, piEvent{i, b.arena.add(pi)})
}

// finishStripeBookings gives the Stripe events that name no booking (a
// refund, an event without metadata) the booking of their payment intent.
func (b *builder) finishStripeBookings() {
	for _, p := range b.noBooking {
		e := b.events.at(p.event)
		pi := b.arena.get(p.pi)
		if e.booking == 0 {
			ref, _ := b.piBooking.get(&b.arena, pi, 0)
			e.booking = text(ref)
		}
		if e.booking != 0 && (e.subject == 0 || b.arena.get(e.subject) == pi) {
			e.subject = e.booking
		}
	}
	b.noBooking = nil
}
