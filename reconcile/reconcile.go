package reconcile

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"golang.org/x/text/transform"
)

// MemoryLimit is the soft memory limit salvage reconcile runs under
// (runtime/debug.SetMemoryLimit): 1950 MiB keeps a million records within
// 2 GiB, the collector working harder as the heap nears it (a million
// records peak at 1.75 GB of heap; a lower limit only made the collector
// run more often: 1800 MiB cost a tenth more time).
const MemoryLimit = 1950 << 20

// Options are what a reconcile run needs besides the evidence.
type Options struct {
	// Config is the case's configuration (zone, currency, source priority).
	Config evidence.Config
	// Since and Until bound the loss window: a booking is rebuilt when any
	// of its evidence occurred in it (zero: unbounded).
	Since, Until time.Time
	// Consume says the caller gives the records up: Reconcile clears
	// their attributes and links once it has read them, so a million
	// records fit in memory. The records must not be used afterwards.
	Consume bool
}

// Result is what a run rebuilt.
type Result struct {
	Bookings []Booking
	Summary  Summary
}

// Summary counts a run's bookings and the evidence it used. Its JSON form is
// `salvage reconcile --json`.
type Summary struct {
	Bookings    int            `json:"bookings"`
	ByStatus    map[string]int `json:"by_status"`
	NeedsReview int            `json:"needs_review"`
	// Review counts bookings by review reason code (a booking may have
	// several).
	Review map[string]int `json:"review_reasons"`
	// Used and Unmatched count evidence records by source: used in a
	// booking, or holding booking facts but joined to none.
	Used      map[string]int `json:"evidence_used"`
	Unmatched map[string]int `json:"evidence_unmatched"`
	// Ignored counts records with no booking facts (newsletters, agent
	// steps, Stripe customers without payments).
	Ignored map[string]int `json:"evidence_ignored"`
	// OutsideWindow counts bookings left out because none of their
	// evidence is in the window.
	OutsideWindow int `json:"outside_window"`
}

// item is one evidence record as the matcher sees it.
type item struct {
	r      *evidence.Record
	src    evidence.Source
	ref    string // as shown, normalized
	refKey string // as compared
	email  string
	phone  string
	name   string // normalized
	start  *time.Time
	end    *time.Time
	plate  string
	amount *int64
	// day is start's local date; moment is when money or a confirmation
	// changed hands (Stripe payments, receipts, confirmation emails), in
	// unix minutes, 0 when not (a record stamped at the epoch has no real
	// time): what scoring needs of the record, kept
	// here so that grouping reads no record.
	day    string
	moment int64
	// bookingish: the record says something about a booking (a
	// reference, dates, an amount paid), not only about a person.
	bookingish bool
	// business: an email sent by the business (its To is the customer).
	fromBusiness bool
	// place: a calendar event whose "name" is its location.
	place bool
	// moved: a calendar event changed after it was made (SEQUENCE > 0);
	// cancelledEvent: a calendar event marked cancelled; cancelledPayment:
	// a Stripe payment intent that was cancelled. Kept here because the
	// records' attributes may be released (Options.Consume).
	moved, cancelledEvent, cancelledPayment bool
}

// Reconcile rebuilds bookings from evidence records (every version, or the
// newest only; for each id the version that best describes the object is
// used). The result is deterministic: the same records in any order give
// the same bookings in the same order (by start, then ref).
func Reconcile(records []evidence.Record, o Options) Result {
	recs, at := bestVersions(records)
	m := newMatcher(recs, at, len(records), o)
	if o.Consume {
		// What matching and resolution need of the attributes is in the
		// items now: the collector need not scan them again.
		for i := range records {
			records[i].Facts.Attrs = nil
		}
	}
	m.hardLinks()
	if o.Consume {
		for i := range records {
			records[i].Facts.Links = nil
		}
	}
	m.scoredLinks()
	return m.bookings()
}

// bestVersions keeps, for each record id, the version that best describes
// the object: for calendar events the highest SEQUENCE, then not the copy
// inside an email (an invitation is the event as first sent), then the
// newest; for everything else the newest.
//
// at[k] is the index in records of recs[k].
func bestVersions(records []evidence.Record) (recs []*evidence.Record, at []int32) {
	// Sorted by id (then input order), not grouped in a map: a million ids
	// sort faster than they hash into a map, and come out in order.
	type entry struct {
		id string
		i  int
	}
	es := make([]entry, 0, len(records))
	for i := range records {
		if records[i].Source != evidence.Transcript {
			es = append(es, entry{records[i].ID, i})
		}
	}
	sortOnAll(es, func(a, b entry) int { return cmp.Or(strings.Compare(a.id, b.id), cmp.Compare(a.i, b.i)) })
	recs = make([]*evidence.Record, 0, len(es))
	at = make([]int32, 0, len(es))
	for i := 0; i < len(es); {
		best := es[i].i
		j := i + 1
		for ; j < len(es) && es[j].id == es[i].id; j++ {
			if better(&records[es[j].i], &records[best]) {
				best = es[j].i
			}
		}
		recs = append(recs, &records[best])
		at = append(at, int32(best))
		i = j
	}
	return recs, at
}

func better(a, b *evidence.Record) bool {
	if a.Source == evidence.Calendar {
		sa, _ := strconv.Atoi(a.Facts.Attrs["sequence"])
		sb, _ := strconv.Atoi(b.Facts.Attrs["sequence"])
		if sa != sb {
			return sa > sb
		}
		if (a.Via == "email") != (b.Via == "email") {
			return b.Via == "email"
		}
	}
	return a.Version > b.Version
}

// uf is a union-find over item indexes that refuses to join two sets that
// hold different references.
type uf struct {
	parent []int
	ref    []string // the set's reference, at its root
}

func newUF(n int) *uf {
	u := &uf{parent: make([]int, n), ref: make([]string, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *uf) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

// union joins the sets of a and b unless they hold different references;
// it reports whether they are (now) one.
func (u *uf) union(a, b int) bool {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return true
	}
	if u.ref[ra] != "" && u.ref[rb] != "" && u.ref[ra] != u.ref[rb] {
		return false
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	if u.ref[ra] == "" {
		u.ref[ra] = u.ref[rb]
	}
	return true
}

// matcher joins evidence into bookings.
type matcher struct {
	o Options
	// items are in record id order (one per id): comparing two items'
	// indexes compares their ids.
	items []item
	// inOrder lists the items in their records' order (see newMatcher).
	inOrder []int32
	byID    map[string]int
	u       *uf
	// linked are the links made, in order; byRoot groups them by the
	// root their set has once every link is made (groupLinks).
	linked  []linkRec
	reasons []string         // link reasons, by linkRec.reason
	reason  map[string]int32 // index in reasons
	byRoot  linkGroups
	region  string          // the customers' usual phone region (each memo normalizes with it)
	biz     map[string]bool // the business's own addresses
	loc     *time.Location
}

// memo remembers the normalizations one goroutine made: a business's
// names, items and phone numbers repeat.
type memo struct {
	names    map[string]string // normName, by name as written
	itemKeys map[string]string // itemKey, by item as written
	phones   *phoneNormalizer
	marks    transform.Transformer // newStripMarks
}

func (m *matcher) newMemo() *memo {
	return &memo{names: map[string]string{}, itemKeys: map[string]string{},
		phones: &phoneNormalizer{region: m.region, cache: map[string]string{}}, marks: newStripMarks()}
}

// itemKey is itemKey, remembered.
func (mm *memo) itemKey(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := mm.itemKeys[s]; ok {
		return v
	}
	v := itemKey(s)
	mm.itemKeys[s] = v
	return v
}

// normName is normName, remembered.
func (mm *memo) normName(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := mm.names[s]; ok {
		return v
	}
	v := normName(s, mm.marks)
	mm.names[s] = v
	return v
}

// newMatcher makes the items of recs; at[k] is recs[k]'s index among the n
// records they were chosen from.
func newMatcher(recs []*evidence.Record, at []int32, n int, o Options) *matcher {
	// Items are in id order, but made in the records' own order: reading a
	// million records one after the other is much faster than in id order,
	// all over memory.
	inOrder := make([]int32, 0, len(recs)) // item indexes, in record order
	{
		item := make([]int32, n)
		for i := range item {
			item[i] = -1
		}
		for k, i := range at {
			item[i] = int32(k)
		}
		for _, k := range item {
			if k >= 0 {
				inOrder = append(inOrder, k)
			}
		}
	}
	var samples []string
	for _, r := range recs {
		if r.Facts.Phone != "" {
			samples = append(samples, r.Facts.Phone)
			if len(samples) == phoneSamples {
				break
			}
		}
	}
	m := &matcher{o: o, byID: make(map[string]int, len(recs)), reason: map[string]int32{},
		region: newPhoneNormalizer(samples).region, biz: businessAddresses(recs, inOrder), loc: o.Config.Location()}
	m.inOrder = inOrder
	m.items = make([]item, len(recs))
	// Each item from its own record alone: on every core.
	splitWork(len(inOrder), func(_, from, to int) {
		mm := m.newMemo()
		for _, k := range inOrder[from:to] {
			m.items[k] = m.item(recs[k], mm)
		}
	})
	for _, k := range inOrder {
		m.byID[recs[k].ID] = int(k)
	}
	m.u = newUF(len(m.items))
	for i, it := range m.items {
		m.u.ref[i] = it.refKey
	}
	return m
}

// businessAddresses are the addresses in most of the mail: the mailbox's
// own, whatever the business is called.
// order lists the indexes of recs to read, in the order that is quickest.
func businessAddresses(recs []*evidence.Record, order []int32) map[string]bool {
	counts := map[string]int{}
	n := 0
	for _, k := range order {
		r := recs[k]
		if r.Source != evidence.Mail {
			continue
		}
		n++
		seen := map[string]bool{}
		for _, a := range []string{r.Facts.Attrs["from"], r.Facts.Attrs["to"]} {
			for _, addr := range strings.Split(a, ",") {
				if e := normEmail(addr); e != "" && !seen[e] {
					seen[e] = true
					counts[e]++
				}
			}
		}
	}
	out := map[string]bool{}
	domains := map[string]bool{}
	for a, c := range counts {
		if n >= 3 && c*2 > n { // in more than half of the mail
			out[a] = true
			_, d, _ := strings.Cut(a, "@")
			domains[d] = true
		}
	}
	// Other addresses of the business's own domain (info@, a second
	// mailbox) are the business too.
	for a := range counts {
		if _, d, _ := strings.Cut(a, "@"); domains[d] {
			out[a] = true
		}
	}
	return out
}

func (m *matcher) item(r *evidence.Record, mm *memo) item {
	f := r.Facts
	it := item{r: r, src: r.Source, ref: NormRef(f.Ref), refKey: RefKey(f.Ref), start: f.Start, end: f.End, amount: f.AmountMinor}
	it.email = normEmail(f.Email)
	if r.Source == evidence.Mail {
		from := normEmail(f.Attrs["from"])
		it.fromBusiness = m.biz[from]
		if it.email == "" {
			// The customer is whoever is not the business: the
			// recipient of what the business (or its payment
			// provider) sent, else the sender.
			for _, a := range strings.Split(f.Attrs["to"], ",") {
				if e := normEmail(a); e != "" && !m.biz[e] {
					it.email = e
					break
				}
			}
			if it.email == "" && from != "" && !m.biz[from] {
				it.email = from
			}
		}
	}
	it.phone = mm.phones.e164(f.Phone)
	seq := f.Attrs["sequence"]
	it.moved = seq != "" && seq != "0"
	it.cancelledEvent = r.Source == evidence.Calendar && (f.Attrs["event_status"] == "cancelled" || f.Status == evidence.Cancelled)
	it.cancelledPayment = f.Attrs["stripe_status"] == "canceled"
	it.name = mm.normName(f.Name)
	if r.Source == evidence.Calendar && f.Name != "" && strings.Contains(strings.ToLower(f.Attrs["location"]), strings.ToLower(strings.TrimSpace(f.Name))) {
		// "Oficina Auto Tejo" at "Oficina Auto Tejo, Rua …": a
		// place (a workshop visit), not a customer.
		it.name, it.place = "", true
	}
	it.plate = mm.itemKey(f.Item)
	switch r.Source {
	case evidence.Stripe:
		// Money that moved is about a booking; a checkout session that
		// expired unpaid and names no booking is only an attempt.
		paid := f.PaidMinor != nil && *f.PaidMinor > 0
		it.bookingish = it.ref != "" || r.Kind == "payment_intent" || r.Kind == "charge" || r.Kind == "refund" ||
			r.Kind == "checkout.session" && (paid || it.email != "")
	case evidence.Calendar:
		// An event is about a booking when it names one or a customer
		// or vehicle: not a staff meeting or a workshop visit.
		it.bookingish = it.ref != "" || it.start != nil && (it.name != "" || it.email != "" || it.phone != "")
	default:
		it.bookingish = it.ref != "" || it.start != nil || (it.amount != nil && f.Status != "")
	}
	if it.start != nil {
		it.day = it.start.In(m.loc).Format(time.DateOnly) // local: an all-day date is local midnight
	}
	if t := r.OccurredAt; !t.IsZero() && (it.src != evidence.Mail || f.Status != "") {
		it.moment = t.Unix() / 60
	}
	return it
}

// linkRec is a link as it is made: item indexes and a reason's index,
// nothing the collector must scan.
type linkRec struct {
	a, b   int32
	reason int32
	// weak: a scored link below the sure threshold.
	weak   bool
	weight float64
}

// link joins two items for a reason and records it.
func (m *matcher) link(a, b int, reason string, weight float64) bool {
	if !m.u.union(a, b) {
		return false
	}
	r, ok := m.reason[reason]
	if !ok {
		r = int32(len(m.reasons))
		m.reasons = append(m.reasons, reason)
		m.reason[reason] = r
	}
	m.linked = append(m.linked, linkRec{a: int32(a), b: int32(b), reason: r, weight: weight})
	return true
}

// linkGroups are the links of each set: those of the set whose root is
// item i are at[from[i]:from[i+1]], indexes into matcher.linked.
type linkGroups struct {
	from []int32
	at   []int32
}

// groupLinks groups the links by the root their set has now. A link is
// grouped by its set's final root, not the root at the time it was made:
// a later link can join the set to one whose root comes first.
func (m *matcher) groupLinks() {
	n := len(m.items)
	g := linkGroups{from: make([]int32, n+1), at: make([]int32, len(m.linked))}
	roots := make([]int32, len(m.linked))
	for k, l := range m.linked {
		r := int32(m.u.find(int(l.a)))
		roots[k] = r
		g.from[r+1]++
	}
	for i := 1; i <= n; i++ {
		g.from[i] += g.from[i-1]
	}
	next := slices.Clone(g.from[:n])
	for k, r := range roots {
		g.at[next[r]] = int32(k)
		next[r]++
	}
	m.byRoot = g
}

// hardRels are the link relations hardLinks follows: Stripe's object
// graph (the first three), email threads (the next two), a calendar
// invitation (the last).
var hardRels = []string{"stripe_payment_intent", "stripe_charge", "stripe_checkout_session", "in_reply_to", "references", "ical_uid"}

// hardLinks joins what the sources themselves say belongs together: the
// same reference, Stripe's object graph, email threads, a calendar event
// and the email that carried its invitation.
func (m *matcher) hardLinks() {
	// Stripe objects and calendar UIDs named by links. The target id is
	// built in one buffer (a map lookup of string(buf) makes no string).
	// The records are read in their own order (quicker than all over
	// memory), and the links made in item order, as they always were.
	type pair struct {
		i, n, j int32
		rel     int32 // in hardRels
	}
	found := make([][]pair, parts(len(m.inOrder)))
	splitWork(len(m.inOrder), func(part, from, to int) {
		var pairs []pair
		var target []byte
		for _, k := range m.inOrder[from:to] {
			i := int(k)
			for n, l := range m.items[i].r.Facts.Links {
				rel := int32(slices.Index(hardRels, l.Rel))
				switch {
				case rel < 0:
					continue
				case rel < 3: // Stripe
					target = append(append(target[:0], "stripe:"...), l.ID...)
				case rel < 5: // mail threads
					target = append(append(append(target[:0], "mail:<"...), strings.Trim(l.ID, "<>")...), '>')
				default: // calendar
					target = append(append(target[:0], "ics:"...), l.ID...)
				}
				if j, ok := m.byID[string(target)]; ok && j != i {
					pairs = append(pairs, pair{k, int32(n), int32(j), rel})
				}
			}
		}
		found[part] = pairs
	})
	pairs := slices.Concat(found...)
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Or(cmp.Compare(a.i, b.i), cmp.Compare(a.n, b.n)) })
	// Room for these links, those of the same reference (at most one an
	// item that names one) and the few scored links to come.
	refs := 0
	for i := range m.items {
		if m.items[i].refKey != "" {
			refs++
		}
	}
	m.linked = slices.Grow(m.linked, len(pairs)+refs+len(m.items)/16)
	for _, p := range pairs {
		m.link(int(p.i), int(p.j), hardRels[p.rel], 1)
	}
	// The same reference.
	byRef := make(map[string]int, len(m.items)/4)
	for i, it := range m.items {
		if it.refKey == "" {
			continue
		}
		if j, ok := byRef[it.refKey]; ok {
			m.link(j, i, "same reference", 1)
		} else {
			byRef[it.refKey] = i
		}
	}
}

// sure and weakThreshold are the scores above which a scored link joins
// evidence: sure links need no review, weak ones are flagged.
const (
	sure          = 12.0
	weakThreshold = 8.0
)

// component is a set of items being built into a booking, with the
// values its items give, each set a small slice (most hold one or two).
type component struct {
	root   int
	items  []int
	ref    string
	emails []string
	phones []string
	names  []string
	starts []int64  // unix minutes
	days   []string // local dates
	plates []string
	amts   []int64
	// moments are when money or a confirmation changed hands (Stripe
	// payments, receipts, confirmation emails), in minutes.
	moments []int64
}

func addOnce[T comparable](s []T, v T) []T {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// comps are the sets of items as they stand: byRoot[i] is the set whose
// root is item i (nil when i is no root), roots the roots in order.
type comps struct {
	byRoot []*component
	roots  []int
}

// itemSets are the sets of items once matching is over: the items of the
// set whose root is roots[k] are at[from[k]:from[k+1]], in index (id)
// order; roots are in order too.
type itemSets struct {
	roots []int
	from  []int32
	at    []int
}

func (g *itemSets) items(k int) []int { return g.at[g.from[k]:g.from[k+1]] }

// sets groups the items by the set they are in (a counting sort by root:
// a set's root is its first item).
func (m *matcher) sets() itemSets {
	n := len(m.items)
	rootOf := make([]int32, n)
	slot := make([]int32, n) // a root's index in roots
	var g itemSets
	for i := range n {
		r := m.u.find(i)
		rootOf[i] = int32(r)
		if r == i {
			slot[i] = int32(len(g.roots))
			g.roots = append(g.roots, i)
		}
	}
	g.from = make([]int32, len(g.roots)+1)
	for _, r := range rootOf {
		g.from[slot[r]+1]++
	}
	for k := 1; k < len(g.from); k++ {
		g.from[k] += g.from[k-1]
	}
	next := slices.Clone(g.from[:len(g.roots)])
	g.at = make([]int, n)
	for i, r := range rootOf {
		k := slot[r]
		g.at[next[k]] = i
		next[k]++
	}
	return g
}

// components groups the items by set, with each set's values (emails,
// phones, days, …), for scoring.
func (m *matcher) components() comps {
	out := comps{byRoot: make([]*component, len(m.items))}
	var slab []component // allocated a few thousand at a time
	for i := range m.items {
		root := m.u.find(i)
		c := out.byRoot[root]
		if c == nil {
			if len(slab) == cap(slab) {
				slab = make([]component, 0, 4096)
			}
			slab = append(slab, component{root: root})
			c = &slab[len(slab)-1]
			out.byRoot[root] = c
			out.roots = append(out.roots, root)
		}
		c.items = append(c.items, i)
		it := &m.items[i]
		if it.refKey != "" {
			c.ref = it.refKey
		}
		if it.email != "" {
			c.emails = addOnce(c.emails, it.email)
		}
		if it.phone != "" {
			c.phones = addOnce(c.phones, it.phone)
		}
		if it.name != "" {
			c.names = addOnce(c.names, it.name)
		}
		if it.start != nil {
			c.starts = addOnce(c.starts, it.start.Unix()/60)
			c.days = addOnce(c.days, it.day)
		}
		if it.plate != "" {
			c.plates = addOnce(c.plates, it.plate)
		}
		if it.amount != nil {
			c.amts = addOnce(c.amts, *it.amount)
		}
		if it.moment != 0 {
			c.moments = addOnce(c.moments, it.moment)
		}
	}
	return out
}

func overlap[T comparable](a, b []T) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// score is how strongly two components look like one booking, with the
// reasons: a sum of log-likelihood-style weights per field that agrees or
// disagrees.
func score(a, b *component) (float64, string) {
	var why []string
	s := scoreWhy(a, b, &why)
	return s, strings.Join(why, ", ")
}

// scoreWhy is score, appending the reasons to why when it is not nil.
func scoreWhy(a, b *component, why *[]string) float64 {
	s := 0.0
	add := func(w float64, reason string) {
		s += w
		if why != nil {
			*why = append(*why, reason)
		}
	}
	switch {
	case overlap(a.emails, b.emails):
		add(6, "same email")
	case len(a.emails) > 0 && len(b.emails) > 0:
		add(-2, "different email")
	}
	if overlap(a.phones, b.phones) {
		add(5, "same phone")
	}
	switch {
	case overlap(a.names, b.names):
		add(4, "same name")
	case similarNames(a.names, b.names):
		add(2.5, "similar name")
	case len(a.names) > 0 && len(b.names) > 0:
		add(-2, "different name")
	}
	switch {
	case overlap(a.starts, b.starts):
		add(6, "same start")
	case overlap(a.days, b.days):
		add(3, "same start day")
	case len(a.starts) > 0 && len(b.starts) > 0:
		add(-6, "different start")
	}
	if overlap(a.plates, b.plates) {
		add(3, "same vehicle")
	} else if len(a.plates) > 0 && len(b.plates) > 0 {
		add(-3, "different vehicle")
	}
	switch {
	case overlap(a.amts, b.amts):
		add(5, "same amount")
	case len(a.amts) > 0 && len(b.amts) > 0:
		add(-3, "different amount")
	}
	near := false
	for _, x := range a.moments {
		for _, y := range b.moments {
			if d := x - y; d >= -30 && d <= 30 {
				near = true
			}
		}
	}
	if near {
		add(4, "within 30 minutes")
	}
	return s
}

func similarNames(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if nameSimilarity(x, y) >= 0.9 {
				return true
			}
		}
	}
	return false
}

// scoredLinks joins each set of evidence that names no reference to the
// one set with a reference it scores best against, through blocking keys
// (email, phone, start day, amount), when the score is high enough and no
// other set comes close.
func (m *matcher) scoredLinks() {
	cs := m.components()
	slices.Sort(cs.roots)
	comps := cs.byRoot
	index := map[bkey][]int{}
	var buf []bkey
	cands := map[int]bool{}
	for _, root := range cs.roots {
		c := comps[root]
		if c.ref == "" {
			continue
		}
		buf = keys(buf, c, true)
		for _, k := range buf {
			index[k] = append(index[k], root)
		}
	}
	for _, root := range cs.roots {
		c := comps[root]
		if c.ref != "" || !m.anyBookingish(c.items) {
			continue
		}
		clear(cands)
		buf = keys(buf, c, false)
		for _, k := range buf {
			if len(index[k]) > 50 {
				continue // a key too common to block on
			}
			for _, r := range index[k] {
				cands[r] = true
			}
		}
		best, bestScore, second := -1, 0.0, 0.0
		for _, r := range slices.Sorted(maps.Keys(cands)) {
			sc := scoreWhy(c, comps[r], nil)
			switch {
			case sc > bestScore:
				second = bestScore
				best, bestScore = r, sc
			case sc > second:
				second = sc
			}
		}
		var bestWhy string
		if best >= 0 {
			_, bestWhy = score(c, comps[best])
		}
		if best < 0 || bestScore < weakThreshold || bestScore-second < 3 {
			continue
		}
		// Sure: a high score, or a good one no other booking comes
		// near (the customer's only booking).
		sureLink := bestScore >= sure || bestScore >= sure-2 && second <= 0
		if m.link(best, root, "scored: "+bestWhy, bestScore) && !sureLink {
			m.linked[len(m.linked)-1].weak = true
		}
	}
}

// bkey is a blocking key: a kind ('n' name, 't' half-hour, 'e' email,
// 'p' phone, 'd' day, 'a' amount) and its value.
type bkey struct {
	kind byte
	s    string
	n    int64
}

// keys are a component's blocking keys: only components that share one
// are scored against each other. wide adds the neighbouring half-hours of
// each moment, for the side that is indexed.
//
// They are appended to out[:0] (a buffer used again).
func keys(out []bkey, c *component, wide bool) []bkey {
	out = out[:0]
	for _, n := range c.names {
		out = append(out, bkey{kind: 'n', s: n})
	}
	for _, mo := range c.moments {
		b := mo / 30
		out = append(out, bkey{kind: 't', n: b})
		if wide {
			out = append(out, bkey{kind: 't', n: b - 1}, bkey{kind: 't', n: b + 1})
		}
	}
	for _, e := range c.emails {
		out = append(out, bkey{kind: 'e', s: e})
	}
	for _, p := range c.phones {
		out = append(out, bkey{kind: 'p', s: p})
	}
	for _, d := range c.days {
		out = append(out, bkey{kind: 'd', s: d})
	}
	for _, a := range c.amts {
		out = append(out, bkey{kind: 'a', n: a})
	}
	return out
}

func (m *matcher) anyBookingish(items []int) bool {
	for _, i := range items {
		if m.items[i].bookingish {
			return true
		}
	}
	return false
}

// bookings builds one booking per component that is about a booking.
func (m *matcher) bookings() Result {
	sum := Summary{ByStatus: map[string]int{}, Review: map[string]int{}, Used: map[string]int{},
		Unmatched: map[string]int{}, Ignored: map[string]int{}}
	m.groupLinks()
	g := m.sets()
	var todo []int // indexes in g of the sets to build
	for k := range g.roots {
		items := g.items(k)
		if !m.anyBookingish(items) {
			for _, i := range items {
				sum.Ignored[string(m.items[i].src)]++
			}
			continue
		}
		if !m.inWindow(items) {
			sum.OutsideWindow++
			continue
		}
		for _, i := range items {
			sum.Used[string(m.items[i].src)]++
		}
		todo = append(todo, k)
	}
	// Each booking is built from its own set alone: on every core.
	out := make([]Booking, len(todo))
	splitWork(len(todo), func(_, from, to int) {
		var sc candidateLists
		for k := from; k < to; k++ {
			out[k] = m.resolve(g.roots[todo[k]], g.items(todo[k]), &sc)
		}
	})
	markOverlaps(out)
	markPlates(out)
	for i := range out {
		finishReview(&out[i])
		b := out[i]
		sum.ByStatus[b.Status]++
		if b.NeedsReview {
			sum.NeedsReview++
		}
		for _, r := range b.Reasons {
			sum.Review[r.Code]++
		}
	}
	sortBookings(out)
	sum.Bookings = len(out)
	return Result{Bookings: out, Summary: sum}
}

// inWindow reports whether any of a component's evidence occurred in the
// window, or the booking runs into it.
func (m *matcher) inWindow(items []int) bool {
	if m.o.Since.IsZero() && m.o.Until.IsZero() {
		return true
	}
	for _, i := range items {
		t := m.items[i].r.OccurredAt
		if !t.IsZero() && (m.o.Since.IsZero() || !t.Before(m.o.Since)) && (m.o.Until.IsZero() || t.Before(m.o.Until)) {
			return true
		}
	}
	return false
}

// syntheticRef is the reference of a booking no evidence names: SALV- and
// a hash of its evidence ids, so re-runs give the same.
func syntheticRef(ids []string) string {
	h := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return "SALV-" + strings.ToUpper(hex.EncodeToString(h[:4]))
}

// usedAttrs are the record attributes the reconciler reads.
var usedAttrs = []string{"sequence", "from", "to", "event_status", "stripe_status", "location"}

// Trim drops from r what the reconciler never reads (its raw bytes, its
// locator and digest, the attributes it does not use), so that a caller
// holding a million records for Reconcile holds much less. Call it on each
// record as it is read.
func Trim(r *evidence.Record) {
	r.Raw, r.Locator, r.Digest = nil, "", ""
	if len(r.Facts.Attrs) == 0 {
		return
	}
	var kept map[string]string
	for _, k := range usedAttrs {
		if v, ok := r.Facts.Attrs[k]; ok {
			if kept == nil {
				kept = make(map[string]string, 2)
			}
			kept[k] = v
		}
	}
	r.Facts.Attrs = kept
}

// sortBookings sorts bookings by start (none first), then reference. It
// sorts small keys and moves each booking once: a booking is a few
// hundred bytes, slow to swap about (and to pass to a comparison).
func sortBookings(bs []Booking) {
	type key struct {
		start time.Time
		ref   string
		i     int
	}
	keys := make([]key, len(bs))
	for i := range bs {
		keys[i] = key{ref: bs[i].Ref, i: i}
		if bs[i].Start != nil {
			keys[i].start = *bs[i].Start
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(a.start.Compare(b.start), strings.Compare(a.ref, b.ref), cmp.Compare(a.i, b.i))
	})
	// bs[k] is to hold what bs[keys[k].i] holds: follow each cycle.
	for first := range keys {
		if keys[first].i < 0 {
			continue
		}
		held := bs[first]
		k := first
		for {
			from := keys[k].i
			keys[k].i = -1
			if from == first {
				bs[k] = held
				break
			}
			bs[k] = bs[from]
			k = from
		}
	}
}
