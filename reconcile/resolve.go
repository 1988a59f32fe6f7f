package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	edlib "github.com/hbollon/go-edlib"

	"github.com/salvagehq/salvage/evidence"
)

// nameSimilarity is the Jaro–Winkler similarity of two normalized names.
func nameSimilarity(a, b string) float64 {
	return float64(edlib.JaroWinklerSimilarity(a, b))
}

// candidate is one record's value for a field.
type candidate struct {
	value string // as shown
	key   string // as compared
	item  int
	prio  int // higher wins
	at    time.Time
	rule  string
}

// pick chooses among candidates: highest priority, then newest, then
// lowest record id. It returns the winner and the conflict when the
// values differ.
func (m *matcher) pick(field string, cands []candidate) (candidate, *Conflict, bool) {
	if len(cands) == 0 {
		return candidate{}, nil, false
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.prio != b.prio {
			return b.prio - a.prio
		}
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item) // items are in id order
	})
	win := cands[0]
	same := true
	for _, c := range cands[1:] {
		if c.key != win.key {
			same = false
			break
		}
	}
	if same {
		return win, nil, true
	}
	byKey := map[string]*ConflictValue{}
	var order []string
	for _, c := range cands {
		v, ok := byKey[c.key]
		if !ok {
			v = &ConflictValue{Value: c.value}
			byKey[c.key] = v
			order = append(order, c.key)
		}
		v.Evidence = append(v.Evidence, m.items[c.item].r.ID)
	}
	if len(order) < 2 {
		return win, nil, true
	}
	conf := &Conflict{Field: field, Chosen: win.value}
	for _, k := range order {
		v := byKey[k]
		slices.Sort(v.Evidence)
		v.Evidence = slices.Compact(v.Evidence)
		conf.Values = append(conf.Values, *v)
	}
	return win, conf, true
}

// sourcePrio ranks a record as a source of contact details: Stripe's
// checkout and charge (typed by the customer), then the business's mail to
// the customer, then the customer's own mail, then the calendar (typed by
// staff).
func (m *matcher) contactPrio(i int) int {
	it := m.items[i]
	switch it.src {
	case evidence.Stripe:
		return 4
	case evidence.Mail:
		if it.fromBusiness {
			return 3
		}
		return 2
	}
	return 1
}

// candidateLists are resolve's lists of candidates, used again from one
// booking to the next.
type candidateLists struct{ refs, names, emails, phones, starts, ends, items []candidate }

// resolve builds the booking of the set whose root is root, of items (in
// order); sc is its caller's lists
// (one per goroutine).
func (m *matcher) resolve(root int, items []int, sc *candidateLists) Booking {
	b := Booking{Provenance: map[string]Source{}}
	// items are in id order (itemSets).
	sources := map[string]bool{}
	for _, i := range items {
		b.Evidence = append(b.Evidence, m.items[i].r.ID)
		sources[string(m.items[i].src)] = true
	}
	b.Sources = slices.Sorted(maps.Keys(sources))
	var conflicts []Conflict
	set := func(field string, cands []candidate, apply func(candidate)) (candidate, bool) {
		win, conf, ok := m.pick(field, cands)
		if !ok {
			return win, false
		}
		apply(win)
		b.Provenance[field] = Source{Evidence: m.items[win.item].r.ID, Rule: win.rule}
		if conf != nil {
			conflicts = append(conflicts, *conf)
		}
		return win, true
	}

	// Reference. The candidate lists are the caller's, used again for
	// each booking: nothing keeps them once the booking is built.
	defer func() {
		for _, l := range []*[]candidate{&sc.refs, &sc.names, &sc.emails, &sc.phones, &sc.starts, &sc.ends, &sc.items} {
			clear(*l)
			*l = (*l)[:0]
		}
	}()
	refs := sc.refs[:0]
	for _, i := range items {
		if it := m.items[i]; it.ref != "" {
			// The form with separators, as the business writes it,
			// wins over a customer's "ach ca7ez".
			p := 1
			if strings.Contains(it.ref, "-") {
				p = 2
			}
			refs = append(refs, candidate{value: it.ref, key: it.refKey, item: i, prio: p, at: it.r.OccurredAt, rule: "named by the evidence"})
		}
	}
	sc.refs = refs
	if _, ok := set("ref", refs, func(c candidate) { b.Ref = c.value }); !ok {
		b.Ref, b.RefSynthetic = syntheticRef(b.Evidence), true
	}

	// Contact details.
	names, emails, phones := sc.names[:0], sc.emails[:0], sc.phones[:0]
	for _, i := range items {
		it := m.items[i]
		p := m.contactPrio(i)
		if n := strings.TrimSpace(it.r.Facts.Name); n != "" {
			names = append(names, candidate{value: n, key: it.name, item: i, prio: p, at: it.r.OccurredAt, rule: contactRule(p)})
		}
		if it.email != "" {
			emails = append(emails, candidate{value: it.email, key: it.email, item: i, prio: p, at: it.r.OccurredAt, rule: contactRule(p)})
		}
		if it.phone != "" {
			phones = append(phones, candidate{value: it.phone, key: it.phone, item: i, prio: p, at: it.r.OccurredAt, rule: contactRule(p)})
		}
	}
	sc.names, sc.emails, sc.phones = names, emails, phones
	set("customer.name", names, func(c candidate) { b.Customer.Name = c.value })
	set("customer.email", emails, func(c candidate) { b.Customer.Email = c.value })
	set("customer.phone", phones, func(c candidate) { b.Customer.Phone = c.value })

	// Dates and vehicle: the newest change email or calendar state.
	starts, ends, itemsC := sc.starts[:0], sc.ends[:0], sc.items[:0]
	for _, i := range items {
		it := m.items[i]
		f := it.r.Facts
		if it.src == evidence.Stripe || f.Status == evidence.Cancelled {
			continue
		}
		rule := "newest booking email or calendar event"
		// A time of day beats a bare date (an all-day event).
		tp := 2
		if f.AllDay {
			tp, rule = 1, "newest booking email or calendar event; only an all-day date"
		}
		if f.Start != nil {
			v := f.Start.UTC().Format(time.RFC3339)
			starts = append(starts, candidate{value: v, key: v, item: i, prio: tp, at: it.r.OccurredAt, rule: rule})
		}
		if f.End != nil {
			v := f.End.UTC().Format(time.RFC3339)
			ends = append(ends, candidate{value: v, key: v, item: i, prio: tp, at: it.r.OccurredAt, rule: rule})
		}
		if strings.TrimSpace(f.Item) != "" {
			itemsC = append(itemsC, candidate{value: strings.TrimSpace(f.Item), key: it.plate, item: i, prio: 1, at: it.r.OccurredAt, rule: "newest booking email or calendar event"})
		}
	}
	sc.starts, sc.ends, sc.items = starts, ends, itemsC
	settleItems(itemsC)
	starts, ends = m.settleAllDay(starts, false), m.settleAllDay(ends, true)
	if w, ok := set("start", starts, func(c candidate) {}); ok {
		t := *m.items[w.item].r.Facts.Start
		b.Start = &t
		b.AllDay = m.items[w.item].r.Facts.AllDay
	}
	if w, ok := set("end", ends, func(c candidate) {}); ok {
		t := *m.items[w.item].r.Facts.End
		b.End = &t
	}
	if w, ok := set("item", itemsC, func(c candidate) {}); ok {
		b.Item = itemDisplay(w, itemsC)
	}

	// Money: Stripe's payment intents, else checkout sessions, else the
	// newest email that states a total.
	m.money(&b, items, &conflicts)

	// Status.
	b.Status = m.status(items, b)
	var first time.Time
	for _, i := range items {
		if t := m.items[i].r.OccurredAt; !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		b.CreatedAt = &first
	}
	b.Conflicts = conflicts
	b.Links = m.linksOf(root)

	// Review.
	if len(b.Sources) == 1 && !m.selfSufficient(items, b) {
		b.addReason(ReasonSingleSource, "only "+b.Sources[0]+" holds evidence of this booking")
	}
	for _, f := range []string{"start", "end"} {
		if p, ok := b.Provenance[f]; ok && strings.HasSuffix(p.Rule, "only an all-day date") {
			b.addReason(ReasonMissingField, "no time of day for "+f+": the evidence gives a date only")
		}
	}
	if m.weakLink(root) {
		b.addReason(ReasonWeakLink, "joined by a scored link below the sure threshold")
	}
	if b.RefSynthetic {
		b.addReason(ReasonNoRef, "no evidence names a booking reference")
	}
	for _, cf := range conflicts {
		if m.conflictMatters(cf, b) {
			b.addReason(ReasonConflict, fmt.Sprintf("sources disagree on %s", cf.Field))
		}
	}
	if b.Start == nil || b.End == nil || b.Item == "" {
		b.addReason(ReasonMissingField, "no "+strings.Join(missing(b), ", ")+" in the evidence")
	}
	return b
}

// settleAllDay gives an all-day date the key of a timed value on the same
// day (for an end, the day before its exclusive end), so a date and a
// time that agree are not a conflict.
func (m *matcher) settleAllDay(cands []candidate, end bool) []candidate {
	loc := m.loc
	days := map[string]string{}
	for _, c := range cands {
		if !m.items[c.item].r.Facts.AllDay {
			t, _ := time.Parse(time.RFC3339, c.value)
			days[t.In(loc).Format(time.DateOnly)] = c.key
		}
	}
	for i, c := range cands {
		if !m.items[c.item].r.Facts.AllDay {
			continue
		}
		t, _ := time.Parse(time.RFC3339, c.value)
		d := t.In(loc)
		if end {
			d = d.Add(-time.Minute) // DTEND of an all-day event is exclusive
		}
		if k, ok := days[d.Format(time.DateOnly)]; ok {
			cands[i].key = k
		}
	}
	return cands
}

// settleItems ranks item candidates: one that names the vehicle's plate
// beats one that names only its model ("208", "Fiat 500"), and a model
// name that agrees with exactly one plated candidate (the words of one are
// among the other's) is the same vehicle, not a conflict.
func settleItems(cands []candidate) {
	var plated []int
	for i, c := range cands {
		if isPlate(c.key) {
			cands[i].prio = 2
			plated = append(plated, i)
		}
	}
	for i, c := range cands {
		if isPlate(c.key) {
			continue
		}
		words := modelWords(c.value, "")
		match := ""
		for _, j := range plated {
			other := modelWords(cands[j].value, cands[j].key)
			if !subset(words, other) && !subset(other, words) {
				continue
			}
			if match == "" || match == cands[j].key {
				match = cands[j].key
			} else {
				match = "\x00" // two vehicles: leave it a conflict
			}
		}
		if match != "" && match != "\x00" {
			cands[i].key = match
		}
	}
}

// modelWords are the words of an item but its plate, lower case.
func modelWords(item, plate string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(item), func(r rune) bool {
		return r == ' ' || r == '/' || r == '(' || r == ')' || r == ',' || r == '·' || r == '-' && false
	}) {
		if plate != "" && strings.EqualFold(w, plate) {
			continue
		}
		out = append(out, w)
	}
	return out
}

func subset(a, b []string) bool {
	if len(a) == 0 {
		return false
	}
	for _, w := range a {
		if !slices.Contains(b, w) {
			return false
		}
	}
	return true
}

// itemDisplay is an item in its fullest form: the candidate with the most
// words of the model, with the plate in parentheses when it lacks it
// ("Fiat 500 (ZE-40-VA)" rather than "500 / ZE-40-VA").
func itemDisplay(win candidate, cands []candidate) string {
	best := win.value
	bestWords := len(modelWords(win.value, win.key))
	for _, c := range cands {
		if c.key != win.key {
			continue
		}
		if n := len(modelWords(c.value, win.key)); n > bestWords {
			best, bestWords = c.value, n
		}
	}
	if isPlate(win.key) && !strings.Contains(strings.ToUpper(best), win.key) {
		model := strings.Join(strings.Fields(strings.NewReplacer("/", " ", "(", " ", ")", " ").Replace(best)), " ")
		best = model + " (" + win.key + ")"
	}
	return best
}

// isPlate reports whether an item key is a registration plate.
func isPlate(k string) bool {
	return strings.Contains(k, "-") && strings.ContainsAny(k, "0123456789") && strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		strings.ToUpper(k) == k && !strings.Contains(k, " ")
}

// selfSufficient reports whether a single-source booking stands on its
// own: a confirmation email from the business that names the reference,
// the dates, the vehicle and the price.
func (m *matcher) selfSufficient(items []int, b Booking) bool {
	if b.RefSynthetic || b.Start == nil || b.End == nil || b.Item == "" || b.AmountMinor == nil {
		return false
	}
	for _, i := range items {
		it := m.items[i]
		if it.src == evidence.Mail && it.fromBusiness && (it.r.Facts.Status == evidence.Confirmed || it.r.Facts.Status == evidence.Changed || it.r.Facts.Status == evidence.Requested) &&
			it.ref != "" && it.r.Facts.Start != nil && it.r.Facts.End != nil && it.r.Facts.AmountMinor != nil {
			return true
		}
	}
	return false
}

// contactRule is the provenance rule of a contact detail of priority p.
func contactRule(p int) string {
	switch p {
	case 4:
		return "contact details: Stripe (typed by the customer)"
	case 3:
		return "contact details: the business's email to the customer"
	case 2:
		return "contact details: the customer's own email"
	}
	return "contact details: the calendar"
}

func missing(b Booking) []string {
	var out []string
	if b.Start == nil {
		out = append(out, "start")
	}
	if b.End == nil {
		out = append(out, "end")
	}
	if b.Item == "" {
		out = append(out, "item")
	}
	return out
}

// conflictMatters reports whether a conflict leaves a booking's key value
// in doubt: contact names and phones differ harmlessly (formats, order,
// typos), and dates or vehicle that changed are settled when the newest
// evidence is an explicit change.
func (m *matcher) conflictMatters(cf Conflict, b Booking) bool {
	switch cf.Field {
	case "customer.name", "customer.phone", "ref":
		return cf.Field == "ref"
	case "customer.email":
		// A customer writing from a second address is no doubt about
		// the address Stripe and the business used.
		src := m.items[m.byID[b.Provenance[cf.Field].Evidence]]
		if src.src != evidence.Stripe && !src.fromBusiness {
			return true
		}
		for _, v := range cf.Values {
			if v.Value == cf.Chosen {
				continue
			}
			for _, id := range v.Evidence {
				it := m.items[m.byID[id]]
				if it.src != evidence.Mail || it.fromBusiness {
					return true
				}
			}
		}
		return false
	case "start", "end", "item":
		src, ok := b.Provenance[cf.Field]
		if !ok {
			return true
		}
		i := m.byID[src.Evidence]
		it := m.items[i]
		// The winner is newer than every disagreeing value and says
		// it is a change (a change email, a moved calendar event).
		if it.r.Facts.Status == evidence.Changed || it.moved {
			return false
		}
		// The other values come only from older evidence superseded
		// by a newer one of the same booking.
		for _, v := range cf.Values {
			if v.Value == cf.Chosen {
				continue
			}
			for _, id := range v.Evidence {
				if !m.items[m.byID[id]].r.OccurredAt.Before(it.r.OccurredAt) {
					return true
				}
			}
		}
		return !m.hasChange(b)
	}
	return true
}

// hasChange reports whether a booking's evidence includes a change email.
func (m *matcher) hasChange(b Booking) bool {
	for _, id := range b.Evidence {
		if m.items[m.byID[id]].r.Facts.Status == evidence.Changed {
			return true
		}
	}
	return false
}

// money sets amount, paid, refunded and currency.
func (m *matcher) money(b *Booking, items []int, conflicts *[]Conflict) {
	var pis, sessions, refunds, charges, mails []int
	for _, i := range items {
		it := m.items[i]
		switch {
		case it.src == evidence.Stripe && it.r.Kind == "payment_intent":
			pis = append(pis, i)
		case it.src == evidence.Stripe && it.r.Kind == "checkout.session":
			sessions = append(sessions, i)
		case it.src == evidence.Stripe && it.r.Kind == "refund":
			refunds = append(refunds, i)
		case it.src == evidence.Stripe && it.r.Kind == "charge":
			charges = append(charges, i)
		case it.src == evidence.Mail && it.r.Facts.AmountMinor != nil:
			mails = append(mails, i)
		}
	}
	var amount, paid, refunded int64
	var have, havePaid bool
	currency := ""
	var amountFrom string
	for _, i := range pis {
		f := m.items[i].r.Facts
		if m.items[i].cancelledPayment {
			continue
		}
		if f.AmountMinor != nil {
			amount += *f.AmountMinor
			have = true
			amountFrom = m.items[i].r.ID
		}
		if f.PaidMinor != nil {
			paid += *f.PaidMinor
			havePaid = true
		}
		currency = cmpOr(currency, f.Currency)
	}
	rule := "Stripe payment intents"
	if !have {
		for _, i := range sessions {
			f := m.items[i].r.Facts
			if f.AmountMinor != nil && (!have || *f.AmountMinor > amount) {
				amount, have, amountFrom = *f.AmountMinor, true, m.items[i].r.ID
				currency = cmpOr(currency, f.Currency)
			}
		}
		rule = "Stripe checkout session"
	}
	if !havePaid {
		for _, i := range charges {
			f := m.items[i].r.Facts
			if f.PaidMinor != nil {
				paid += *f.PaidMinor
				havePaid = true
			}
		}
	}
	for _, i := range refunds {
		if f := m.items[i].r.Facts; f.RefundedMinor != nil {
			refunded += *f.RefundedMinor
		}
	}
	if len(refunds) == 0 {
		for _, i := range charges {
			if f := m.items[i].r.Facts; f.RefundedMinor != nil {
				refunded += *f.RefundedMinor
			}
		}
	}
	// The newest email stating a total.
	var mailC []candidate
	for _, i := range mails {
		f := m.items[i].r.Facts
		mailC = append(mailC, candidate{value: strconv.FormatInt(*f.AmountMinor, 10), key: strconv.FormatInt(*f.AmountMinor, 10),
			item: i, prio: 1, at: m.items[i].r.OccurredAt, rule: "newest email stating a total"})
	}
	mailWin, _, haveMail := m.pick("amount_minor", slices.Clone(mailC))
	if !have && haveMail {
		amount, have, amountFrom, rule = *m.items[mailWin.item].r.Facts.AmountMinor, true, m.items[mailWin.item].r.ID, mailWin.rule
		currency = cmpOr(currency, m.items[mailWin.item].r.Facts.Currency)
	}
	if have {
		b.AmountMinor = &amount
		b.Provenance["amount_minor"] = Source{Evidence: amountFrom, Rule: rule}
		if haveMail && mailWin.key != strconv.FormatInt(amount, 10) && rule != mailWin.rule {
			cf := Conflict{Field: "amount_minor", Chosen: strconv.FormatInt(amount, 10),
				Values: []ConflictValue{{Value: strconv.FormatInt(amount, 10), Evidence: []string{amountFrom}}}}
			for _, c := range mailC {
				cf.Values = append(cf.Values, ConflictValue{Value: c.value, Evidence: []string{m.items[c.item].r.ID}})
			}
			*conflicts = append(*conflicts, cf)
		}
	}
	if havePaid || have {
		b.PaidMinor = &paid
	}
	if have || refunded > 0 {
		b.RefundedMinor = &refunded
	}
	if currency == "" {
		currency = m.o.Config.Case.Currency
	}
	if have {
		b.Currency = strings.ToUpper(currency)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// status derives a booking's status from its evidence.
func (m *matcher) status(items []int, b Booking) string {
	cancelled, confirmed := false, false
	for _, i := range items {
		it := m.items[i]
		f := it.r.Facts
		switch {
		case it.cancelledEvent:
			cancelled = true
		case it.src == evidence.Mail && f.Status == evidence.Cancelled:
			cancelled = true
		case it.src == evidence.Mail && (f.Status == evidence.Confirmed || f.Status == evidence.Changed || f.Status == evidence.Paid):
			confirmed = true
		}
	}
	paid := b.PaidMinor != nil && *b.PaidMinor > 0
	switch {
	case cancelled:
		return "cancelled"
	case b.RefundedMinor != nil && paid && *b.RefundedMinor >= *b.PaidMinor:
		return "refunded"
	case paid || confirmed:
		return "confirmed"
	}
	return "requested"
}

// weakLink reports whether a scored link below the sure threshold
// joined the set whose root is root.
func (m *matcher) weakLink(root int) bool {
	for _, x := range m.byRoot.at[m.byRoot.from[root]:m.byRoot.from[root+1]] {
		if m.linked[x].weak {
			return true
		}
	}
	return false
}

// linksOf is the links of the set whose root is root (groupLinks).
func (m *matcher) linksOf(root int) []Link {
	at := m.byRoot.at[m.byRoot.from[root]:m.byRoot.from[root+1]]
	if len(at) == 0 {
		return nil
	}
	// By ids, then reason: items are in id order, so their indexes
	// compare as their ids do (and the group is this booking's alone).
	slices.SortFunc(at, func(x, y int32) int {
		a, b := &m.linked[x], &m.linked[y]
		return cmp.Or(cmp.Compare(a.a, b.a), cmp.Compare(a.b, b.b), strings.Compare(m.reasons[a.reason], m.reasons[b.reason]),
			cmp.Compare(a.weight, b.weight), cmp.Compare(x, y))
	})
	ls := make([]Link, len(at))
	for k, x := range at {
		l := &m.linked[x]
		ls[k] = Link{A: m.items[l.a].r.ID, B: m.items[l.b].r.ID, Reason: m.reasons[l.reason], Weight: l.weight}
	}
	return ls
}

func (b *Booking) addReason(code, detail string) {
	for _, r := range b.Reasons {
		if r.Code == code && r.Detail == detail {
			return
		}
	}
	b.Reasons = append(b.Reasons, Reason{Code: code, Detail: detail})
}

// markPlates flags, when the business's items carry plates, a booking
// whose item names none: staff must say which vehicle it was.
func markPlates(bs []Booking) {
	plated := 0
	for _, b := range bs {
		if isPlate(itemKey(b.Item)) {
			plated++
		}
	}
	if plated*2 < len(bs) {
		return // items without plates are the norm here
	}
	for i := range bs {
		if bs[i].Item != "" && !isPlate(itemKey(bs[i].Item)) {
			bs[i].addReason(ReasonMissingField, "the item names no vehicle plate")
		}
	}
}

// markOverlaps flags bookings that hold the same vehicle at the same time.
func markOverlaps(bs []Booking) {
	byPlate := map[string][]int{}
	for i, b := range bs {
		if b.Status == "cancelled" || b.Status == "requested" || b.Start == nil || b.End == nil || b.Item == "" {
			continue
		}
		k := itemKey(b.Item)
		byPlate[k] = append(byPlate[k], i)
	}
	for _, idx := range byPlate {
		slices.SortFunc(idx, func(x, y int) int { return bs[x].Start.Compare(*bs[y].Start) })
		for a := 0; a < len(idx); a++ {
			for c, n := a+1, 0; c < len(idx) && bs[idx[c]].Start.Before(*bs[idx[a]].End) && n < 5; c, n = c+1, n+1 {
				x, y := &bs[idx[a]], &bs[idx[c]]
				x.addReason(ReasonOverlap, "the vehicle is also booked by "+y.Ref)
				y.addReason(ReasonOverlap, "the vehicle is also booked by "+x.Ref)
			}
		}
	}
}

// finishReview sets the confidence and needs_review.
func finishReview(b *Booking) {
	conf := 1.0
	for _, r := range b.Reasons {
		switch r.Code {
		case ReasonSingleSource:
			conf *= 0.6
		case ReasonWeakLink:
			conf *= 0.7
		case ReasonNoRef:
			conf *= 0.7
		case ReasonConflict:
			conf *= 0.8
		case ReasonMissingField:
			conf *= 0.8
		case ReasonOverlap:
			conf *= 0.85
		}
	}
	for range b.Conflicts {
		conf *= 0.97
	}
	b.Confidence = float64(int(conf*100+0.5)) / 100
	b.NeedsReview = len(b.Reasons) > 0
	slices.SortFunc(b.Reasons, func(x, y Reason) int {
		if c := strings.Compare(x.Code, y.Code); c != 0 {
			return c
		}
		return strings.Compare(x.Detail, y.Detail)
	})
}
