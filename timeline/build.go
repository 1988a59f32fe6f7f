package timeline

import (
	"cmp"
	"context"
	"github.com/salvagehq/salvage/reconcile"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/internal/inorder"
	"github.com/salvagehq/salvage/internal/psort"
)

// Options say how to build a timeline.
type Options struct {
	// Config is the case's configuration: its zone (Location), last backup
	// and incident time.
	Config evidence.Config
	// IncidentAt, DetectedAt and RestoredAt, when not zero, are the times
	// of those markers, before anything the configuration or the evidence
	// says (the --incident-at, --detected-at and --restored-at flags).
	IncidentAt, DetectedAt, RestoredAt time.Time
	// Bookings maps a record id to the reference of the rebuilt booking
	// that holds it (the last reconcile's). Events of records it does not
	// name take the reference the record itself gives.
	Bookings map[string]string
	// BookingOf, when set, is used instead of Bookings.
	BookingOf func(recordID string) (ref string, ok bool)
	// Known, when set, is used instead of both: the records a caller
	// keeps for as long as the timeline lives, and their bookings. The
	// builder keeps a known record's number instead of a copy of its id.
	Known Known
	// Sightings lists the channels a record version was seen through
	// besides its own Via (the same email read from an mbox and over
	// IMAP is one record seen twice).
	Sightings map[VersionKey][]string
	// OwnDomains are the business's mail domains, which tell sent mail
	// from received; empty means the domain the most messages involve.
	OwnDomains []string
	// Filter selects the events kept; markers are always kept.
	Filter Filter
	// Details keeps what each record says (facts, channel, locator,
	// hash), redacted, for the HTML report's evidence panel. It costs
	// memory: leave it off unless writing HTML.
	Details bool
	// Case is what the store says of the recovery, for the reports.
	Case *CaseInfo
	// GroupedByID says the records come grouped by id, every version of
	// an id together (as a store read in id order gives them): each
	// calendar entry is then made into events as soon as the next one
	// begins, instead of every entry being kept to the end.
	GroupedByID bool
	// Newest, for records that do not come grouped by id (in the order a
	// store holds them, each id's versions oldest first), is the newest
	// version of each record that has more than one
	// (evidence.Store.NewestVersions; StoreOptions fills it in when nil): a
	// calendar entry is then made into events once its newest version is
	// read, instead of every entry being kept to the end. Nil keeps them.
	Newest map[string]int
}

// Known finds the records a caller keeps (the review workbook's index of
// the records its bookings use): Find gives a record's number, if the
// caller has it; ID gives its id back; Booking the booking that holds it:
// its number (0, 1, 2, … for the caller's bookings) and reference.
type Known interface {
	Find(id string) (int, bool)
	ID(i int) string
	Booking(i int) (n int, ref string)
}

// VersionKey names one version of a record.
type VersionKey struct {
	ID      string
	Version int
}

// Build turns records into a timeline. records should give every version
// of every record (evidence.Query{AllVersions: true}): the versions of a
// calendar entry tell when it was moved or cancelled, those of a Stripe
// object when its status changed. The records may come in any order, each
// id's versions oldest first (as every store query gives them): the same
// records give the same timeline (TestRecordOrderDoesNotMatter).
//
// Build keeps the events, not the records: memory grows with the events
// (a few hundred bytes each, more with Options.Details), not with the raw
// evidence. It stops at the first error records yields, or when ctx is
// done.
func Build(ctx context.Context, records iter.Seq2[evidence.Record, error], opts Options) (*Timeline, error) {
	b := NewBuilder(opts)
	n := 0
	for r, err := range records {
		if err != nil {
			return nil, err
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b.Add(&r)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.Timeline(), nil
}

// Builder is Build for a caller that has the records in hand one at a
// time and other work to do with them (the review workbook reads each
// record once, for its Evidence sheet and for its timeline).
type Builder struct{ b *builder }

// NewBuilder starts a timeline built with opts.
func NewBuilder(opts Options) *Builder { return &Builder{newBuilder(opts)} }

// Add reads one record (see Build for which). The builder keeps nothing
// of r itself once Add returns.
func (b *Builder) Add(r *evidence.Record) { b.b.add(r) }

// Timeline ends the build and returns the timeline; the builder is not
// to be used again.
func (b *Builder) Timeline() *Timeline {
	bb := b.b
	b.b = nil
	t, order := bb.settle()
	t.Events = bb.eventsOf(t, order)
	return t
}

// Rows ends the build and yields the timeline's rows, as Timeline.Rows
// does, without ever holding all of its events as Events: each is made
// as its row is given (a workbook's million events stay in the builder's
// compact form). The builder is not to be used again.
func (b *Builder) Rows() iter.Seq[Row] {
	bb := b.b
	b.b = nil
	t, order := bb.settle()
	return func(yield func(Row) bool) {
		// The events are made on every core (eventAt redacts their
		// texts), handed over in order.
		t.secrets.Share()
		at, stop := inorder.Values(len(order), func(k int) Event { return bb.eventAt(t, order[k], nil) })
		defer stop()
		t.rowSeq(len(order), at)(yield)
	}
}

// builder holds what Build has read so far.
type builder struct {
	opts Options
	loc  *time.Location
	// events and their witnesses (wits), in the compact form of
	// compact.go; their strings in arena.
	events   chunked[event]
	wits     chunked[wit]
	arena    textArena
	atoms    atoms
	refs     textMap // booking references, kept once
	viaLists [][]string
	viaOf    map[string]uint32
	lastID   text
	extras   map[int32]extra
	// found is the last record looked up in opts.Known; bookings the
	// references of its bookings, by number.
	found struct {
		id string
		i  int
		ok bool
	}
	bookings []text
	// keys finds the event a Stripe witness joins.
	keys textMap
	// refunds are the refund events by charge id; weak the refunds a
	// charge shows without saying which refund (joined at the end).
	refunds map[string][]int
	weak    []weakRefund
	// piBooking is the booking of each payment intent whose events name
	// one; noBooking the Stripe events, by payment intent, that name none.
	piBooking textMap
	noBooking []piEvent
	// cal holds calendar versions by record id, diffed at the end; or,
	// when the records come grouped by id, calVersions holds those of
	// entry calID, diffed when the next entry begins.
	cal         map[string][]calVersion
	calID       string
	calVersions []calVersion
	// mails are the mail events whose direction is decided at the end,
	// when the business's domains are known; domains counts the messages
	// each domain takes part in.
	mails   chunked[mailPending]
	domains map[string]int
	// findings and prompts are the transcript records the markers need.
	findings []evidence.Record
	prompts  []prompt

	records map[evidence.Source]int
	details []string
	// parts are each event's details, one per witness, joined at the end
	// in the order of its witnesses (not the order they came in).
	parts   [][]detailPart
	agent   []agentInfo
	secrets evidence.SecretSet
}

func newBuilder(opts Options) *builder {
	return &builder{
		opts: opts, loc: opts.Config.Location(),
		atoms: newAtoms(), refs: newTextMap(), viaOf: map[string]uint32{}, extras: map[int32]extra{},
		keys: newTextMap(), refunds: map[string][]int{}, cal: map[string][]calVersion{}, piBooking: newTextMap(),
		domains: map[string]int{}, records: map[evidence.Source]int{},
	}
}

func (b *builder) add(r *evidence.Record) {
	b.records[r.Source]++
	switch r.Source {
	case evidence.Stripe:
		b.stripe(r)
	case evidence.Calendar:
		b.calendarVersion(r)
	case evidence.Mail:
		b.mail(r)
	case evidence.Transcript:
		b.transcript(r)
	default:
		b.push(r, Event{Time: r.OccurredAt, Actor: System, Action: Recorded, Subject: r.ID, Summary: r.Kind + " record"})
	}
}

// mergeKey names a happening several records may show: the state an
// object reached ("the payment of pi_1 succeeded"). Its object and action
// are atoms.
type mergeKey struct {
	id             string
	object, action uint32
}

// tag is the object and action, as the keys map tells keys apart.
func (k mergeKey) tag() uint64 { return uint64(k.object)<<32 | uint64(k.action) }

// event is the event under key, if any.
func (b *builder) event(key mergeKey) (int, bool) {
	i, ok := b.keys.get(&b.arena, key.id, key.tag())
	return int(i), ok
}

// key is the merge key of object id reaching action.
func (b *builder) key(object, id string, action Action) mergeKey {
	return mergeKey{id: id, object: b.atoms.id(object), action: b.atoms.id(string(action))}
}

// seen is what an event keeps of a record that shows it: the witness, the
// record's source and booking, and (with Options.Details) what it says.
// Keeping this rather than the record lets the record go.
type seen struct {
	w       wit
	source  uint32 // atom
	booking text
	detail  string
}

func (b *builder) seen(r *evidence.Record) seen {
	s := seen{w: b.witness(r), source: b.atoms.id(string(r.Source)), booking: b.bookingText(r)}
	if b.opts.Details {
		s.detail = b.detail(r)
	}
	return s
}

// known looks r up in opts.Known, once a record.
func (b *builder) known(r *evidence.Record) (int, bool) {
	if b.opts.Known == nil {
		return 0, false
	}
	if b.found.id != r.ID {
		b.found.i, b.found.ok = b.opts.Known.Find(r.ID)
		b.found.id = r.ID
	}
	return b.found.i, b.found.ok
}

// witness is r as an event's witness.
func (b *builder) witness(r *evidence.Record) wit {
	w := wit{version: int32(r.Version), next: -1, kind: b.atoms.id(r.Kind)}
	if i, ok := b.known(r); ok {
		w.id, w.kind = text(i), w.kind|knownBit
	} else {
		w.id = b.idText(r.ID)
	}
	seen := b.opts.Sightings[VersionKey{r.ID, r.Version}]
	if len(seen) == 0 {
		w.via = b.viaOne(r.Via)
		return w
	}
	via := append([]string{r.Via}, seen...)
	slices.Sort(via)
	w.via = b.vias(slices.Compact(via))
	return w
}

// bookingText is b.booking(r) in the arena.
func (b *builder) bookingText(r *evidence.Record) text {
	if i, ok := b.known(r); ok {
		// Known bookings by number: no lookup by reference.
		n, ref := b.opts.Known.Booking(i)
		if n >= len(b.bookings) {
			b.bookings = append(b.bookings, make([]text, n+1-len(b.bookings))...)
		}
		if b.bookings[n] == 0 {
			b.bookings[n] = b.arena.add(ref)
		}
		return b.bookings[n]
	}
	return b.ref(b.booking(r))
}

// booking is the reference of the booking r belongs to.
func (b *builder) booking(r *evidence.Record) string {
	if b.opts.Known != nil {
		if i, ok := b.known(r); ok {
			_, ref := b.opts.Known.Booking(i)
			return ref
		}
	} else if b.opts.BookingOf != nil {
		if ref, ok := b.opts.BookingOf(r.ID); ok {
			return ref
		}
	} else if ref, ok := b.opts.Bookings[r.ID]; ok {
		return ref
	}
	return reconcile.NormRef(r.Facts.Ref)
}

// push adds e, witnessed by r, and returns its index.
func (b *builder) push(r *evidence.Record, e Event) int { return b.pushSeen(b.seen(r), e) }

// pushSeen adds e, witnessed by s, and returns its index. Source, Booking
// and Evidence are filled from s; a Subject left empty is the booking.
func (b *builder) pushSeen(s seen, e Event) int {
	w := int32(b.wits.add(s.w))
	c := event{first: w, rank: e.rank, source: s.source, booking: s.booking,
		actor: b.atoms.id(string(e.Actor)), action: b.atoms.id(string(e.Action)), summary: b.arena.add(e.Summary)}
	if e.Booking != "" {
		c.booking = b.ref(e.Booking)
	}
	c.subject = c.booking
	if e.Subject != "" && e.Subject != b.arena.get(c.booking) {
		c.subject = b.arena.add(e.Subject)
	}
	c.setTime(e.Time)
	x := extra{agent: e.agent, severity: e.Severity}
	if s.detail != "" {
		b.parts = append(b.parts, []detailPart{{s.w, s.detail}})
		x.detail = int32(len(b.parts))
	}
	c.extra = x != extra{}
	i := b.events.add(c)
	if c.extra {
		b.extras[int32(i)] = x
	}
	return i
}

// join adds s as another witness of event i. The event takes s's time and
// summary when its rank is better (lower), or equal and earlier, or equal
// and as early with more to say (a longer summary; at last the smaller
// witness): which witness comes first in the records read does not matter.
func (b *builder) join(i int, s seen, t time.Time, rank int8, summary string) {
	e := b.events.at(i)
	first := b.wits.at(int(e.first))
	s.w.next = first.next
	w := int32(b.wits.add(s.w))
	first = b.wits.at(int(e.first))
	first.next = w
	if e.booking == 0 && s.booking != 0 {
		e.booking = s.booking
		if e.subject == 0 {
			e.subject = e.booking
		}
	}
	tie := func() bool {
		if summary == "" {
			return false
		}
		// > 0: s's summary says more, or as much and sorts first, or
		// is the same and s is the smaller witness.
		have := b.arena.get(e.summary)
		return cmp.Or(cmp.Compare(len(summary), len(have)), strings.Compare(have, summary),
			strings.Compare(b.witID(first), b.witID(&s.w)), cmp.Compare(first.version, s.w.version)) > 0
	}
	if et := e.time(); !t.IsZero() && (et.IsZero() || rank < e.rank || rank == e.rank && (t.Before(et) || t.Equal(et) && tie())) {
		e.setTime(t)
		e.rank = rank
		if summary != "" {
			e.summary = b.arena.add(summary)
		}
		// The witness that gives the time comes first: the new one
		// trades places with the first (their links stay).
		f, l := first, b.wits.at(int(w))
		f.id, l.id = l.id, f.id
		f.version, l.version = l.version, f.version
		f.kind, l.kind = l.kind, f.kind
		f.via, l.via = l.via, f.via
	}
	if s.detail != "" {
		x := b.extras[int32(i)]
		if x.detail == 0 {
			b.parts = append(b.parts, []detailPart{{s.w, s.detail}})
			x.detail = int32(len(b.parts))
			e.extra = true
			b.extras[int32(i)] = x
		} else {
			b.parts[x.detail-1] = append(b.parts[x.detail-1], detailPart{s.w, s.detail})
		}
	}
}

// keyed adds e under key, or joins r to the event already under it.
func (b *builder) keyed(key mergeKey, r *evidence.Record, e Event) int {
	if i, ok := b.event(key); ok {
		b.join(i, b.seen(r), e.Time, e.rank, e.Summary)
		return i
	}
	i := b.push(r, e)
	b.keys.put(&b.arena, b.arena.add(key.id), key.tag(), uint64(i))
	return i
}

// release lets go of what the builder kept to make the events, once they
// are made: the events, their witnesses and their strings are all that
// is left.
func (b *builder) release() {
	b.keys, b.piBooking, b.refs = textMap{}, textMap{}, textMap{}
	b.refunds, b.cal, b.noBooking, b.viaOf = nil, nil, nil, nil
	b.found.id, b.bookings = "", nil
	b.domains, b.findings, b.prompts = nil, nil, nil
	b.opts.BookingOf, b.opts.Bookings, b.opts.Sightings = nil, nil, nil
}

// settle ends the build: every event made, its details joined, the
// markers set and the secrets known. It returns the timeline, without
// its Events, and the indexes of the events the filter keeps, in order.
func (b *builder) settle() (*Timeline, []int32) {
	b.finishCalendar()
	b.finishRefunds()
	b.finishStripeBookings()
	b.finishMail()
	if len(b.parts) > 0 {
		for i := range b.events.n {
			e := b.events.at(i)
			x := b.extras[int32(i)]
			if x.detail == 0 {
				continue
			}
			// Each witness's details in the order the witnesses are
			// given: the one that gives the time first, the others by id.
			first := b.witnessOf(b.wits.at(int(e.first)))
			parts := b.parts[x.detail-1]
			slices.SortFunc(parts, func(x, y detailPart) int {
				xw, yw := b.witnessOf(&x.w), b.witnessOf(&y.w)
				return cmp.Or(-cmp.Compare(b2i(xw.ID == first.ID && xw.Version == first.Version), b2i(yw.ID == first.ID && yw.Version == first.Version)),
					compareWitnesses(xw, yw))
			})
			texts := make([]string, len(parts))
			for i, p := range parts {
				texts[i] = p.text
			}
			b.details = append(b.details, strings.Join(texts, "\n\n"))
			x.detail = int32(len(b.details))
			b.extras[int32(i)] = x
		}
	}
	b.parts = nil
	t := &Timeline{Location: b.loc, Records: b.records, Case: b.opts.Case, details: b.details, agent: b.agent}
	b.markers(t)

	// Redaction: every secret found in any text is replaced in all of
	// them, also where it appears without the context that revealed it.
	// Events are redacted as they are given out (eventAt).
	// Each event's texts are searched on every core, their secrets added
	// here.
	at, stop := inorder.Values(b.events.n, func(i int) []evidence.Secret {
		e := b.events.at(i)
		found := evidence.FindSecrets(b.summary(i, e))
		if more := evidence.FindSecrets(b.arena.get(e.subject)); len(more) > 0 {
			found = append(found, more...)
		}
		return found
	})
	for i := range b.events.n {
		for _, f := range *at(i) {
			b.secrets.Add(f.Value)
		}
	}
	stop()
	for _, a := range b.agent {
		b.secrets.AddFound(a.code)
	}
	for _, d := range b.details {
		b.secrets.AddFound(d)
	}
	for i := range b.agent {
		b.agent[i].code = b.secrets.Redact(b.agent[i].code)
	}
	for i, d := range b.details {
		b.details[i] = strings.ToValidUTF8(b.secrets.Redact(d), "\uFFFD")
	}
	for i := range t.Markers {
		t.Markers[i].Note = oneLine(b.secrets.Redact(t.Markers[i].Note))
		t.Markers[i].Evidence = oneLine(t.Markers[i].Evidence)
	}
	if in := t.Incident; in != nil {
		for _, p := range []*string{&in.Explanation, &in.Confirmation, &in.Session, &in.Step, &in.Format,
			&in.Credential, &in.FoundIn, &in.FoundWhere, &in.ApprovalMode} {
			*p = oneLine(b.secrets.Redact(*p))
		}
		for i := range in.Findings {
			f := &in.Findings[i]
			for _, p := range []*string{&f.Explanation, &f.Rule, &f.Severity, &f.ID, &f.Step} {
				*p = oneLine(b.secrets.Redact(*p))
			}
		}
	}
	// A copy: a pointer into the builder would keep all of it (its maps,
	// the booking index) as long as the timeline.
	secrets := b.secrets
	t.secrets = &secrets

	t.Total = b.events.n
	t.Filtered = b.opts.Filter
	b.release()
	order := b.order(b.opts.Filter)
	for _, i := range order {
		if b.events.at(int(i)).nsec < 0 {
			t.Untimed++
		}
	}
	return t, order
}

// eventAt is event i as an Event, redacted as t says, its witnesses in
// ws's memory when it has room (else new).
func (b *builder) eventAt(t *Timeline, i int32, ws []Witness) Event {
	c := b.events.at(int(i))
	e := Event{Time: c.time(), Actor: Actor(b.atoms.name(c.actor)), Action: Action(b.atoms.name(c.action)),
		Source: evidence.Source(b.atoms.name(c.source)),
		// One line of valid UTF-8 each, whatever the evidence held.
		Summary: oneLine(t.secrets.Redact(b.summary(int(i), c))),
		Subject: oneLine(t.secrets.Redact(b.arena.get(c.subject))),
		Booking: oneLine(b.arena.get(c.booking)),
		rank:    c.rank}
	if c.extra {
		x := b.extras[i]
		e.agent, e.detail, e.Severity = x.agent, x.detail, x.severity
	}
	ws = ws[:0]
	for w := c.first; w >= 0; {
		x := b.wits.at(int(w))
		ws = append(ws, b.witnessOf(x))
		w = x.next
	}
	// The witness that gives the time first, the others by id.
	if len(ws) > 2 {
		slices.SortFunc(ws[1:], compareWitnesses)
	}
	e.Evidence = ws
	return e
}

// eventsOf is every event of order as an Event, in order; their
// witnesses share one array.
func (b *builder) eventsOf(t *Timeline, order []int32) []Event {
	out := make([]Event, len(order))
	all := make([]Witness, 0, b.wits.n)
	for k, i := range order {
		n := 0
		for w := b.events.at(int(i)).first; w >= 0; w = b.wits.at(int(w)).next {
			n++
		}
		out[k] = b.eventAt(t, i, all[len(all):len(all)+n:len(all)+n])
		all = all[:len(all)+n]
	}
	return out
}

// detailPart is what one witness of an event says (Options.Details).
type detailPart struct {
	w    wit
	text string
}

// compareWitnesses orders witnesses by id, then version.
func compareWitnesses(x, y Witness) int {
	return cmp.Or(strings.Compare(x.ID, y.ID), cmp.Compare(x.Version, y.Version))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sourceOrder is the order of the lanes and of events at the same time.
func sourceOrder(s evidence.Source) int {
	if i := slices.Index(evidence.Sources, s); i >= 0 {
		return i
	}
	return len(evidence.Sources)
}

// orderBigRun is the most events at one time from one source that order
// copies to sort by their witnesses (a variable for the tests).
var orderBigRun = 1 << 16

// order returns the indexes of the events f keeps, in order: by time
// (untimed last), then source, first evidence id and version, action.
func (b *builder) order(f Filter) []int32 {
	type key struct {
		sec  int64 // untimed: last
		nsec int32
		src  int32
		i    int32
	}
	keys := make([]key, 0, b.events.n)
	keep := f.Empty()
	srcOrder := make([]int32, len(b.atoms.names))
	for i, name := range b.atoms.names {
		srcOrder[i] = int32(sourceOrder(evidence.Source(name)))
	}
	for i := range b.events.n {
		e := b.events.at(i)
		if !keep {
			probe := Event{Time: e.time(), Source: evidence.Source(b.atoms.name(e.source)), Booking: oneLine(b.arena.get(e.booking))}
			if !f.Keep(&probe) {
				continue
			}
		}
		k := key{sec: e.sec, nsec: e.nsec, src: srcOrder[e.source], i: int32(i)}
		if e.nsec < 0 {
			k.sec, k.nsec = math.MaxInt64, 0
		}
		keys = append(keys, k)
	}
	// On two cores: a million events took half a second on one, with
	// every row of the timeline waiting for it. By the numbers first;
	// then each run of events at the same time from the same source by
	// their witnesses, whose ids are looked up once an event rather than
	// at every comparison (runs of a thousand events took a second).
	tie := func(x, y key) bool { return x.sec == y.sec && x.nsec == y.nsec && x.src == y.src }
	keys = psort.Sorted(keys, func(x, y key) int {
		return cmp.Or(cmp.Compare(x.sec, y.sec), cmp.Compare(x.nsec, y.nsec), cmp.Compare(x.src, y.src), cmp.Compare(x.i, y.i))
	})
	type tied struct {
		id      string
		version int32
		action  string
		i       int32
	}
	byWitness := func(x, y tied) int {
		return cmp.Or(strings.Compare(x.id, y.id), cmp.Compare(x.version, y.version), strings.Compare(x.action, y.action), cmp.Compare(x.i, y.i))
	}
	tiedOf := func(k key) tied {
		e := b.events.at(int(k.i))
		w := b.wits.at(int(e.first))
		return tied{b.witID(w), w.version, b.atoms.name(e.action), k.i}
	}
	// runs orders each run of ties in keys, which begins where a run
	// begins and ends where one ends: a run of more than orderBigRun
	// events in place (no copy of it).
	runs := func(keys []key) {
		var run []tied
		for lo := 0; lo < len(keys); {
			hi := lo + 1
			for hi < len(keys) && tie(keys[hi], keys[lo]) {
				hi++
			}
			switch n := hi - lo; {
			case n > orderBigRun:
				slices.SortFunc(keys[lo:hi], func(x, y key) int { return byWitness(tiedOf(x), tiedOf(y)) })
			case n > 1:
				run = run[:0]
				for _, k := range keys[lo:hi] {
					run = append(run, tiedOf(k))
				}
				slices.SortFunc(run, byWitness)
				for j, t := range run {
					keys[lo+j].i = t.i
				}
			}
			lo = hi
		}
	}
	// On two cores, split where a run ends.
	mid := len(keys) / 2
	for mid > 0 && mid < len(keys) && tie(keys[mid-1], keys[mid]) {
		mid++
	}
	var wg sync.WaitGroup
	wg.Go(func() { runs(keys[:mid]) })
	runs(keys[mid:])
	wg.Wait()
	order := make([]int32, len(keys))
	for k, key := range keys {
		order[k] = key.i
	}
	return order
}

// Redact redacts s with every secret the timeline's evidence revealed.
func (t *Timeline) Redact(s string) string {
	if t.secrets == nil {
		return evidence.Redact(s)
	}
	return t.secrets.Redact(s)
}

// Detail returns what e's evidence says, redacted, when the timeline was
// built with Options.Details; empty otherwise.
func (t *Timeline) Detail(e *Event) string {
	if e.detail <= 0 || int(e.detail) > len(t.details) {
		return ""
	}
	return t.details[e.detail-1]
}

// Marker returns the marker of kind k, and whether it is known.
func (t *Timeline) Marker(k MarkerKind) (Marker, bool) {
	for _, m := range t.Markers {
		if m.Kind == k {
			return m, true
		}
	}
	return Marker{}, false
}

// Sources returns the sources of the records read, in lane order.
func (t *Timeline) Sources() []evidence.Source { return sortedSources(t.Records) }
