package timeline

import (
	"cmp"
	"context"
	"github.com/salvagehq/salvage/reconcile"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
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
	t := b.b.finish()
	b.b = nil
	return t
}

// builder holds what Build has read so far.
type builder struct {
	opts   Options
	loc    *time.Location
	events eventChunks
	// keys finds the event a Stripe witness joins.
	keys map[mergeKey]int
	// refunds are the refund events by charge id; weak the refunds a
	// charge shows without saying which refund (joined at the end).
	refunds map[string][]int
	weak    []weakRefund
	// piBooking is the booking of each payment intent whose events name
	// one; noBooking the Stripe events, by payment intent, that name none.
	piBooking map[string]string
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
	mails   []mailPending
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
	vias    map[string][]string // interned one-channel lists
	kinds   map[string]string   // interned kinds
	secrets evidence.SecretSet
}

func newBuilder(opts Options) *builder {
	return &builder{
		opts: opts, loc: opts.Config.Location(),
		keys: map[mergeKey]int{}, refunds: map[string][]int{}, cal: map[string][]calVersion{}, piBooking: map[string]string{},
		domains: map[string]int{}, records: map[evidence.Source]int{},
		vias: map[string][]string{}, kinds: map[string]string{},
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
// object reached ("the payment of pi_1 succeeded").
type mergeKey struct {
	object, id string
	action     Action
}

// seen is what an event keeps of a record that shows it: the witness, the
// record's source and booking, and (with Options.Details) what it says.
// Keeping this rather than the record lets the record go.
type seen struct {
	w       Witness
	source  evidence.Source
	booking string
	detail  string
}

func (b *builder) seen(r *evidence.Record) seen {
	s := seen{w: b.witness(r), source: r.Source, booking: b.booking(r)}
	if b.opts.Details {
		s.detail = b.detail(r)
	}
	return s
}

// witness is r as an event's witness.
func (b *builder) witness(r *evidence.Record) Witness {
	kind, ok := b.kinds[r.Kind]
	if !ok {
		kind = strings.Clone(r.Kind)
		b.kinds[kind] = kind
	}
	w := Witness{ID: r.ID, Version: r.Version, Kind: kind}
	seen := b.opts.Sightings[VersionKey{r.ID, r.Version}]
	if len(seen) == 0 {
		via, ok := b.vias[r.Via]
		if !ok {
			via = []string{strings.Clone(r.Via)}
			b.vias[via[0]] = via
		}
		w.Via = via
		return w
	}
	w.Via = append([]string{r.Via}, seen...)
	slices.Sort(w.Via)
	w.Via = slices.Compact(w.Via)
	return w
}

// booking is the reference of the booking r belongs to.
func (b *builder) booking(r *evidence.Record) string {
	if b.opts.BookingOf != nil {
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
	e.Source = s.source
	if e.Booking == "" {
		e.Booking = s.booking
	}
	if e.Subject == "" {
		e.Subject = e.Booking
	}
	e.Evidence = []Witness{s.w}
	if s.detail != "" {
		b.parts = append(b.parts, []detailPart{{s.w, s.detail}})
		e.detail = int32(len(b.parts))
	}
	return b.events.add(e)
}

// join adds s as another witness of event i. The event takes s's time and
// summary when its rank is better (lower), or equal and earlier, or equal
// and as early with more to say (a longer summary; at last the smaller
// witness): which witness comes first in the records read does not matter.
func (b *builder) join(i int, s seen, t time.Time, rank int8, summary string) {
	e := b.events.at(i)
	first := e.Evidence[0]
	e.Evidence = append(e.Evidence, s.w)
	if e.Booking == "" {
		e.Booking = s.booking
		if e.Subject == "" {
			e.Subject = e.Booking
		}
	}
	tie := func() bool {
		if summary == "" {
			return false
		}
		// > 0: s's summary says more, or as much and sorts first, or
		// is the same and s is the smaller witness.
		return cmp.Or(cmp.Compare(len(summary), len(e.Summary)), strings.Compare(e.Summary, summary),
			strings.Compare(first.ID, s.w.ID), cmp.Compare(first.Version, s.w.Version)) > 0
	}
	if !t.IsZero() && (e.Time.IsZero() || rank < e.rank || rank == e.rank && (t.Before(e.Time) || t.Equal(e.Time) && tie())) {
		e.Time, e.rank = t, rank
		if summary != "" {
			e.Summary = summary
		}
		// The witness that gives the time comes first.
		last := len(e.Evidence) - 1
		e.Evidence[0], e.Evidence[last] = e.Evidence[last], e.Evidence[0]
	}
	if s.detail != "" {
		if e.detail == 0 {
			b.parts = append(b.parts, []detailPart{{s.w, s.detail}})
			e.detail = int32(len(b.parts))
		} else {
			b.parts[e.detail-1] = append(b.parts[e.detail-1], detailPart{s.w, s.detail})
		}
	}
}

// keyed adds e under key, or joins r to the event already under it.
func (b *builder) keyed(key mergeKey, r *evidence.Record, e Event) int {
	if i, ok := b.keys[key]; ok {
		b.join(i, b.seen(r), e.Time, e.rank, e.Summary)
		return i
	}
	i := b.push(r, e)
	b.keys[key] = i
	return i
}

// release lets go of what the builder kept to make the events, once they
// are made: only the events are sorted, and the builder lives until Build
// returns.
func (b *builder) release() {
	b.keys, b.refunds, b.cal, b.piBooking, b.noBooking = nil, nil, nil, nil, nil
	b.mails, b.domains, b.findings, b.prompts, b.vias, b.kinds = nil, nil, nil, nil, nil, nil
	b.opts.BookingOf, b.opts.Bookings, b.opts.Sightings = nil, nil, nil
}

func (b *builder) finish() *Timeline {
	b.finishCalendar()
	b.finishRefunds()
	b.finishStripeBookings()
	b.finishMail()
	for e := range b.events.all() {
		// The witness that gives the time first, the others by id.
		if ev := e.Evidence; len(ev) > 2 {
			slices.SortFunc(ev[1:], compareWitnesses)
		}
		// Their details in the same order.
		if e.detail > 0 {
			parts := b.parts[e.detail-1]
			slices.SortFunc(parts, func(x, y detailPart) int {
				return cmp.Or(-cmp.Compare(b2i(x.w.ID == e.Evidence[0].ID && x.w.Version == e.Evidence[0].Version), b2i(y.w.ID == e.Evidence[0].ID && y.w.Version == e.Evidence[0].Version)),
					compareWitnesses(x.w, y.w))
			})
			texts := make([]string, len(parts))
			for i, p := range parts {
				texts[i] = p.text
			}
			b.details = append(b.details, strings.Join(texts, "\n\n"))
			e.detail = int32(len(b.details))
		}
	}
	b.parts = nil
	t := &Timeline{Location: b.loc, Records: b.records, Case: b.opts.Case, details: b.details, agent: b.agent}
	b.markers(t)

	// Redaction: every secret found in any text is replaced in all of
	// them, also where it appears without the context that revealed it.
	for e := range b.events.all() {
		b.secrets.AddFound(e.Summary)
		b.secrets.AddFound(e.Subject)
	}
	for _, a := range b.agent {
		b.secrets.AddFound(a.code)
	}
	for _, d := range b.details {
		b.secrets.AddFound(d)
	}
	for e := range b.events.all() {
		// One line of valid UTF-8 each, whatever the evidence held.
		e.Summary = oneLine(b.secrets.Redact(e.Summary))
		e.Subject = oneLine(b.secrets.Redact(e.Subject))
		e.Booking = oneLine(e.Booking)
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
	t.Events = sortEvents(&b.events, b.opts.Filter)
	b.events = eventChunks{}
	for i := range t.Events {
		if t.Events[i].Time.IsZero() {
			t.Untimed++
		}
	}
	return t
}

// detailPart is what one witness of an event says (Options.Details).
type detailPart struct {
	w    Witness
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

// eventChunks holds the events as Build makes them, in chunks of a fixed
// size: a million events are not copied each time one slice outgrows its
// array.
type eventChunks struct {
	chunks [][]Event
	n      int
}

const chunkBits = 14

func (c *eventChunks) add(e Event) int {
	if c.n>>chunkBits == len(c.chunks) {
		c.chunks = append(c.chunks, make([]Event, 0, 1<<chunkBits))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, e)
	c.n++
	return c.n - 1
}

func (c *eventChunks) at(i int) *Event { return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

func (c *eventChunks) all() iter.Seq[*Event] {
	return func(yield func(*Event) bool) {
		for _, ch := range c.chunks {
			for i := range ch {
				if !yield(&ch[i]) {
					return
				}
			}
		}
	}
}

// sourceOrder is the order of the lanes and of events at the same time.
func sourceOrder(s evidence.Source) int {
	if i := slices.Index(evidence.Sources, s); i >= 0 {
		return i
	}
	return len(evidence.Sources)
}

// sortEvents returns the events f keeps, in order (compareEvents). It
// sorts small keys and moves each event once: events are a few hundred
// bytes, and a million of them are slow to swap about. It empties events.
func sortEvents(events *eventChunks, f Filter) []Event {
	type key struct {
		t   int64 // unix nanoseconds; untimed last
		src int32
		i   int32
	}
	keys := make([]key, 0, events.n)
	keep := f.Empty()
	for i := range events.n {
		e := events.at(i)
		if !keep && !f.Keep(e) {
			continue
		}
		t := int64(math.MaxInt64)
		if !e.Time.IsZero() {
			t = e.Time.UnixNano()
		}
		keys = append(keys, key{t, int32(sourceOrder(e.Source)), int32(i)})
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		if c := cmp.Compare(a.src, b.src); c != 0 {
			return c
		}
		return compareEvents(events.at(int(a.i)), events.at(int(b.i)))
	})
	// Each event to its place, a chunk at a time, each chunk let go once
	// moved: the events are never all in memory twice.
	at := make([]int32, events.n) // where each event goes; -1: filtered out
	for i := range at {
		at[i] = -1
	}
	for k, key := range keys {
		at[key.i] = int32(k)
	}
	out := make([]Event, len(keys))
	for c, chunk := range events.chunks {
		for j := range chunk {
			if k := at[c<<chunkBits+j]; k >= 0 {
				out[k] = chunk[j]
			}
		}
		events.chunks[c] = nil
	}
	return out
}

// compareEvents orders events by time (untimed last), then source, first
// evidence, action.
func compareEvents(a, b *Event) int {
	if az, bz := a.Time.IsZero(), b.Time.IsZero(); az != bz {
		if az {
			return 1
		}
		return -1
	}
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(sourceOrder(a.Source), sourceOrder(b.Source)); c != 0 {
		return c
	}
	var aw, bw Witness
	if len(a.Evidence) > 0 {
		aw = a.Evidence[0]
	}
	if len(b.Evidence) > 0 {
		bw = b.Evidence[0]
	}
	return cmp.Or(strings.Compare(aw.ID, bw.ID), cmp.Compare(aw.Version, bw.Version), strings.Compare(string(a.Action), string(b.Action)))
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
