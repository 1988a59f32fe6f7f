// Package eval measures rebuilt bookings against a scenario's ground truth
// (fixtures: truth/bookings.jsonl): how many true bookings were rebuilt, how
// many rebuilds are right, which fields are right, and which errors slipped
// through without a review flag. `make eval` runs it on the committed
// scenario and on a larger generated one.
//
// # Matching
//
// Every true booking lists the source objects it was written into (Stripe
// object ids, calendar event ids, mail Message-IDs). Those are mapped to
// record ids as the importers name them (RecordID): stripe:<id>,
// ics:<iCalUID>, mail:<Message-ID>. ReadTruth also gives each true booking
// the Stripe events whose data.object is one of its objects
// (stripe:evt_…). A rebuilt booking corresponds to the true booking that
// owns more than half of its known evidence ids (ids no true booking owns —
// Stripe customers, shared by repeat customers, unrelated mail and calendar
// events, agent steps — are left out of the count).
//
// # Metrics
//
// Recall, field accuracy and silent errors are computed over the true
// bookings in scope: those with at least one surviving source (truth
// `sources` not empty).
//
//   - precision: rebuilt bookings that correspond to a true booking, hold
//     evidence of no other, and are its only corresponding rebuild, over
//     all rebuilt bookings;
//   - recall: true bookings in scope with a corresponding rebuild, over true
//     bookings in scope (also shown, without a goal, over the lost ones:
//     not in the last backup, or changed since);
//   - false merge: a rebuilt booking holding evidence of two or more true
//     bookings; false split: a true booking whose evidence is spread over
//     two or more rebuilt ones; missing: a true booking in scope with no
//     corresponding rebuild; extra: a rebuilt booking corresponding to none;
//   - field accuracy: over matched true bookings (compared with their main
//     rebuild: the corresponding one holding most of their evidence), the
//     share whose value is right (see Fields for what "right" means);
//   - silent error: a matched booking wrong in email, start, end, item or
//     amount whose rebuild is not needs_review;
//   - flagged: rebuilt bookings with needs_review, over all rebuilt.
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/salvagehq/salvage/reconcile"
	"github.com/salvagehq/salvage/sources/calendar"
	"golang.org/x/text/unicode/norm"
)

// MaxExamples is how many examples a report keeps of each error kind.
const MaxExamples = 10

// TruthBooking is one line of a scenario's truth/bookings.jsonl (the fields
// the evaluation reads).
type TruthBooking struct {
	Ref      string `json:"ref"`
	Status   string `json:"status"` // confirmed, cancelled, requested
	Customer struct {
		Name  string `json:"name"`
		Email string `json:"email"`
		Phone string `json:"phone"` // E.164
	} `json:"customer"`
	Item    string `json:"item"` // "Renault Clio (AB-12-CD)"
	Vehicle struct {
		Plate string `json:"plate"`
		Model string `json:"model"`
	} `json:"vehicle"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	AmountMinor   int64     `json:"amount_minor"`
	Currency      string    `json:"currency"`
	PaidMinor     int64     `json:"paid_minor"`
	RefundedMinor int64     `json:"refunded_minor"`
	// InBackup: the booking was in the last backup; ChangedAfterBackup: it
	// changed since. A booking not in the backup, or changed since, is lost.
	InBackup           bool `json:"in_backup"`
	ChangedAfterBackup bool `json:"changed_after_backup"`
	// Sources are the systems holding evidence of the booking; Noise its
	// noise tags.
	Sources []string `json:"sources"`
	Noise   []string `json:"noise"`
	// Evidence lists, per source (stripe, calendar, mail), the source
	// objects' own ids: Stripe object ids, Google event ids, Message-IDs
	// with their angle brackets.
	Evidence map[string][]string `json:"evidence"`

	// Records are the booking's evidence as record ids, as the importers
	// name them. ReadTruth fills it; when nil, Compare derives it from
	// Evidence with RecordID.
	Records []string `json:"-"`
}

// RecordIDs returns the booking's evidence as record ids: Records, or
// Evidence mapped with RecordID.
func (t *TruthBooking) RecordIDs() []string {
	if t.Records != nil {
		return t.Records
	}
	var ids []string
	for _, src := range sortedKeys(t.Evidence) {
		for _, id := range t.Evidence[src] {
			if r := RecordID(src, id); r != "" {
				ids = append(ids, r)
			}
		}
	}
	return ids
}

// RecordID names a truth evidence id as the importer of its source names
// the record: stripe:<object id>; ics:<iCalUID> for a calendar event (a
// Google event id stands for the iCalUID <id>@google.com, which is what
// Google gives its own events; ReadTruth reads the real one from the
// scenario's API pages); mail:<Message-ID>. It returns "" for a source it
// does not know.
func RecordID(source, id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	switch source {
	case "stripe":
		return "stripe:" + id
	case "calendar":
		uid := id
		if !strings.Contains(uid, "@") {
			uid += "@google.com"
		}
		return (&calendar.Event{UID: uid}).ID()
	case "mail":
		id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
		// As the mail importer keeps a Message-ID: no spaces or controls.
		id = strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f {
				return -1
			}
			return r
		}, id)
		return "mail:<" + id + ">"
	}
	return ""
}

// ReadTruth reads a scenario directory's ground truth: truth/bookings.jsonl,
// with each booking's record ids resolved against the scenario's own files
// (the calendar's API pages for iCalUIDs, the Stripe event pages for the
// events about each booking's objects).
func ReadTruth(dir string) ([]TruthBooking, error) {
	path := filepath.Join(dir, "truth", "bookings.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read truth: %w (is %s a scenario directory?)", err, dir)
	}
	defer f.Close()
	truth, err := ReadTruthLines(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	uids, err := calendarUIDs(dir)
	if err != nil {
		return nil, err
	}
	events, err := stripeEvents(dir)
	if err != nil {
		return nil, err
	}
	for i := range truth {
		t := &truth[i]
		ids := []string{}
		for _, src := range sortedKeys(t.Evidence) {
			for _, id := range t.Evidence[src] {
				if src == "calendar" && uids[id] != "" {
					id = uids[id]
				}
				if r := RecordID(src, id); r != "" {
					ids = append(ids, r)
				}
				if src == "stripe" {
					for _, evt := range events[id] {
						ids = append(ids, RecordID("stripe", evt))
					}
				}
			}
		}
		sort.Strings(ids)
		t.Records = ids
	}
	return truth, nil
}

// ReadTruthLines reads truth bookings, one JSON object per line. Records
// stay nil: Compare derives them from Evidence.
func ReadTruthLines(r io.Reader) ([]TruthBooking, error) {
	var out []TruthBooking
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var t TruthBooking
		if err := json.Unmarshal(line, &t); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if t.Ref == "" {
			return nil, fmt.Errorf("line %d: no ref", n)
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// calendarUIDs maps Google event ids to iCalUIDs from the scenario's saved
// events.list pages (none: an empty map).
func calendarUIDs(dir string) (map[string]string, error) {
	m := map[string]string{}
	err := eachPage(filepath.Join(dir, "calendar", "events-*.json"), func(b []byte) error {
		var page struct {
			Items []struct {
				ID      string `json:"id"`
				ICalUID string `json:"iCalUID"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		for _, it := range page.Items {
			if it.ID != "" && it.ICalUID != "" {
				m[it.ID] = it.ICalUID
			}
		}
		return nil
	})
	return m, err
}

// stripeEvents maps Stripe object ids to the ids of the events carrying
// them, from the scenario's saved event pages (none: an empty map).
func stripeEvents(dir string) (map[string][]string, error) {
	m := map[string][]string{}
	err := eachPage(filepath.Join(dir, "stripe", "events-*.json"), func(b []byte) error {
		var page struct {
			Data []struct {
				ID   string `json:"id"`
				Data struct {
					Object struct {
						ID string `json:"id"`
					} `json:"object"`
				} `json:"data"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		for _, e := range page.Data {
			if e.ID != "" && e.Data.Object.ID != "" {
				m[e.Data.Object.ID] = append(m[e.Data.Object.ID], e.ID)
			}
		}
		return nil
	})
	return m, err
}

func eachPage(glob string, fn func([]byte) error) error {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// ReadBookings reads rebuilt bookings as `salvage export json` prints them:
// one JSON object per line (any JSON whitespace between objects is
// accepted).
func ReadBookings(r io.Reader) ([]reconcile.Booking, error) {
	var out []reconcile.Booking
	dec := json.NewDecoder(r)
	for {
		var b reconcile.Booking
		err := dec.Decode(&b)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("booking %d: %w", len(out)+1, err)
		}
		out = append(out, b)
	}
}

// Tally counts one kind of error and keeps its first MaxExamples examples.
type Tally struct {
	Count    int       `json:"count"`
	Examples []Example `json:"examples,omitempty"`
}

func (t *Tally) add(e Example) {
	t.Count++
	if len(t.Examples) < MaxExamples {
		t.Examples = append(t.Examples, e)
	}
}

// Example is one error, for whoever tunes the reconciler.
type Example struct {
	// Ref is the true booking's reference; Rebuilt the rebuilt booking's.
	Ref     string `json:"ref,omitempty"`
	Rebuilt string `json:"rebuilt,omitempty"`
	// Field, Want and Got: the value that differs (want is the truth).
	Field string `json:"field,omitempty"`
	Want  string `json:"want,omitempty"`
	Got   string `json:"got,omitempty"`
	// NeedsReview is the rebuilt booking's flag.
	NeedsReview bool `json:"needs_review,omitempty"`
	// Detail says more: which true bookings a merge holds, where a missing
	// booking's evidence went, its noise tags.
	Detail string `json:"detail,omitempty"`
}

// FieldScore is the accuracy of one field over the matched bookings.
type FieldScore struct {
	Field    string  `json:"field"`
	Right    int     `json:"right"`
	Of       int     `json:"of"`
	Accuracy float64 `json:"accuracy"`
	// Blank counts matched bookings salvage left without a value and
	// flagged for review as missing it (a Stripe-only booking has no
	// dates): not a wrong value, so not in Of. They still count in
	// recall and in the share flagged.
	Blank int `json:"blank"`
	// Key fields have a goal and count towards silent errors.
	Key   bool  `json:"key"`
	Wrong Tally `json:"wrong"`
}

// NoiseRow counts, for one noise tag, the true bookings in scope carrying
// it and those of them with an error (missing, split, merged into another
// rebuild, or wrong in a key field).
type NoiseRow struct {
	Tag       string `json:"tag"`
	Bookings  int    `json:"bookings"`
	WithError int    `json:"with_error"`
}

// Goal is one goal and whether the report meets it.
type Goal struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	// Op is ">=", "<=" or "=".
	Op   string  `json:"op"`
	Goal float64 `json:"goal"`
	Met  bool    `json:"met"`
}

func (g Goal) String() string {
	m := fmt.Sprintf("%.3f", g.Measured)
	if g.Op == "=" {
		m = fmt.Sprintf("%.0f", g.Measured)
	}
	return g.Name + " " + m + " (goal " + g.target() + ")"
}

// target is the goal as "≥ 0.99".
func (g Goal) target() string {
	op := map[string]string{">=": "≥", "<=": "≤", "=": "="}[g.Op]
	return op + " " + strconv.FormatFloat(g.Goal, 'f', -1, 64)
}

// Goals are what a reconciler must reach.
type Goals struct {
	Precision, Recall float64
	// FieldAccuracy applies to each key field.
	FieldAccuracy float64
	SilentErrors  int
	Flagged       float64
}

// DefaultGoals are the goals of `make eval`.
var DefaultGoals = Goals{Precision: 0.99, Recall: 0.98, FieldAccuracy: 0.98, SilentErrors: 0, Flagged: 0.15}

// Report is the measure of a set of rebuilt bookings against the truth.
type Report struct {
	// Scenario and Notes are for the reader (the evaluated directory, and
	// anything that went wrong producing the rebuilt bookings).
	Scenario string   `json:"scenario,omitempty"`
	Notes    []string `json:"notes,omitempty"`

	TrueBookings int `json:"true_bookings"`
	// InScope counts the true bookings with at least one source.
	InScope int `json:"true_in_scope"`
	Rebuilt int `json:"rebuilt"`
	// Correct counts the rebuilt bookings that correspond to exactly one
	// true booking and are its only rebuild; Matched the true bookings in
	// scope with a corresponding rebuild.
	Correct   int     `json:"correct"`
	Matched   int     `json:"matched"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	// Lost counts the true bookings in scope the backup does not hold as
	// they are (not in it, or changed since), LostMatched those of them
	// matched: recall over what the business really lost (no goal).
	Lost        int     `json:"lost"`
	LostMatched int     `json:"lost_matched"`
	LostRecall  float64 `json:"lost_recall"`

	Fields []FieldScore `json:"fields"`

	FalseMerges Tally `json:"false_merges"`
	FalseSplits Tally `json:"false_splits"`
	Missing     Tally `json:"missing"`
	Extra       Tally `json:"extra"`
	// Silent: matched bookings wrong in a key field and not flagged.
	Silent       Tally   `json:"silent_errors"`
	Flagged      int     `json:"flagged"`
	FlaggedShare float64 `json:"flagged_share"`
	// ForeignEvidence counts the distinct evidence ids of rebuilt bookings
	// that belong to no true booking, Stripe customers and events aside
	// (unrelated mail or calendar events, agent steps).
	ForeignEvidence Tally `json:"foreign_evidence"`

	ByNoise []NoiseRow `json:"by_noise,omitempty"`
	Goals   []Goal     `json:"goals"`
}

// Met tells whether every goal is met.
func (r *Report) Met() bool {
	for _, g := range r.Goals {
		if !g.Met {
			return false
		}
	}
	return true
}

// Missed lists the goals not met.
func (r *Report) Missed() []Goal {
	var out []Goal
	for _, g := range r.Goals {
		if !g.Met {
			out = append(out, g)
		}
	}
	return out
}

// Check sets r.Goals to g, each with whether it is met.
func (r *Report) Check(g Goals) {
	const eps = 1e-9
	r.Goals = nil
	atLeast := func(name string, v, goal float64) {
		r.Goals = append(r.Goals, Goal{Name: name, Measured: v, Op: ">=", Goal: goal, Met: v >= goal-eps})
	}
	atLeast("precision", r.Precision, g.Precision)
	atLeast("recall", r.Recall, g.Recall)
	for _, f := range r.Fields {
		if f.Key {
			atLeast(f.Field, f.Accuracy, g.FieldAccuracy)
		}
	}
	r.Goals = append(r.Goals, Goal{Name: "silent errors", Measured: float64(r.Silent.Count), Op: "=",
		Goal: float64(g.SilentErrors), Met: r.Silent.Count <= g.SilentErrors})
	r.Goals = append(r.Goals, Goal{Name: "flagged", Measured: r.FlaggedShare, Op: "<=", Goal: g.Flagged,
		Met: r.FlaggedShare <= g.Flagged+eps})
}

// Field is how one field is compared. An empty or nil rebuilt value is
// wrong unless the truth has none either (for amounts: is 0).
type Field struct {
	Name string
	// Key fields have an accuracy goal and count towards silent errors.
	Key bool
	// Doc says what counts as equal.
	Doc   string
	Equal func(t *TruthBooking, g *reconcile.Booking) bool
	Want  func(t *TruthBooking) string
	Got   func(g *reconcile.Booking) string
}

// Fields are the compared fields, key fields first.
var Fields = []Field{
	{Name: "email", Key: true, Doc: "case-insensitive, surrounding spaces ignored",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool {
			return strings.EqualFold(strings.TrimSpace(t.Customer.Email), strings.TrimSpace(g.Customer.Email))
		},
		Want: func(t *TruthBooking) string { return t.Customer.Email },
		Got:  func(g *reconcile.Booking) string { return g.Customer.Email }},
	{Name: "start", Key: true, Doc: "the same instant, to the minute",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return sameMinute(t.Start, g.Start) },
		Want:  func(t *TruthBooking) string { return showTime(&t.Start) },
		Got:   func(g *reconcile.Booking) string { return showTime(g.Start) }},
	{Name: "end", Key: true, Doc: "the same instant, to the minute",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return sameMinute(t.End, g.End) },
		Want:  func(t *TruthBooking) string { return showTime(&t.End) },
		Got:   func(g *reconcile.Booking) string { return showTime(g.End) }},
	{Name: "item", Key: true, Doc: "the rebuilt item contains the true item (\"Renault Clio (AB-12-CD)\") or its plate, case-insensitively",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return itemEqual(t, g.Item) },
		Want:  func(t *TruthBooking) string { return t.Item },
		Got:   func(g *reconcile.Booking) string { return g.Item }},
	{Name: "amount", Key: true, Doc: "amount_minor equal",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return minorEqual(t.AmountMinor, g.AmountMinor) },
		Want:  func(t *TruthBooking) string { return fmt.Sprint(t.AmountMinor) },
		Got:   func(g *reconcile.Booking) string { return showMinor(g.AmountMinor) }},
	{Name: "name", Doc: "case-, accent- and spacing-insensitive, in the same order",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool {
			return foldName(t.Customer.Name) == foldName(g.Customer.Name)
		},
		Want: func(t *TruthBooking) string { return t.Customer.Name },
		Got:  func(g *reconcile.Booking) string { return g.Customer.Name }},
	{Name: "phone", Doc: "the same E.164 digits; a number without + or 00 is read as Portuguese (+351, the scenarios' country)",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool {
			return e164Digits(t.Customer.Phone) == e164Digits(g.Customer.Phone)
		},
		Want: func(t *TruthBooking) string { return t.Customer.Phone },
		Got:  func(g *reconcile.Booking) string { return g.Customer.Phone }},
	{Name: "status", Doc: "the rebuilt status maps to the true one (see StatusMap)",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return statusEqual(t.Status, g.Status) },
		Want:  func(t *TruthBooking) string { return t.Status },
		Got:   func(g *reconcile.Booking) string { return g.Status }},
	{Name: "paid", Doc: "paid_minor equal; nil equals a true 0",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool { return minorEqual(t.PaidMinor, g.PaidMinor) },
		Want:  func(t *TruthBooking) string { return fmt.Sprint(t.PaidMinor) },
		Got:   func(g *reconcile.Booking) string { return showMinor(g.PaidMinor) }},
	{Name: "refunded", Doc: "refunded_minor equal; nil equals a true 0",
		Equal: func(t *TruthBooking, g *reconcile.Booking) bool {
			return minorEqual(t.RefundedMinor, g.RefundedMinor)
		},
		Want: func(t *TruthBooking) string { return fmt.Sprint(t.RefundedMinor) },
		Got:  func(g *reconcile.Booking) string { return showMinor(g.RefundedMinor) }},
}

// StatusMap maps a rebuilt status to the true statuses it stands for. A
// partly refunded booking may stand (a goodwill refund) or be cancelled
// (with a cancellation fee kept): the rebuilt status does not say, so both
// count as right. A status not listed is wrong.
var StatusMap = map[string][]string{
	"requested":       {"requested"},
	"confirmed":       {"confirmed"},
	"changed":         {"confirmed"},
	"paid":            {"confirmed"},
	"partly_refunded": {"confirmed", "cancelled"},
	"cancelled":       {"cancelled"},
	"refunded":        {"cancelled"},
}

func statusEqual(truth, got string) bool {
	for _, s := range StatusMap[strings.ToLower(strings.TrimSpace(got))] {
		if s == truth {
			return true
		}
	}
	return false
}

func sameMinute(t time.Time, g *time.Time) bool {
	if g == nil {
		return t.IsZero()
	}
	return t.Truncate(time.Minute).Equal(g.Truncate(time.Minute))
}

func itemEqual(t *TruthBooking, got string) bool {
	got = strings.ToLower(strings.TrimSpace(got))
	item := strings.ToLower(strings.TrimSpace(t.Item))
	plate := strings.ToLower(strings.TrimSpace(t.Vehicle.Plate))
	if item == "" && plate == "" {
		return got == ""
	}
	return got != "" && (item != "" && strings.Contains(got, item) || plate != "" && strings.Contains(got, plate))
}

func minorEqual(t int64, g *int64) bool {
	if g == nil {
		return t == 0
	}
	return *g == t
}

// foldName lower-cases, drops accents and collapses spaces.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// DefaultCallingCode is the country calling code of a phone number written
// without one (the scenarios' business is in Portugal).
const DefaultCallingCode = "351"

// e164Digits returns a phone number's E.164 digits, without the +.
func e164Digits(s string) string {
	s = strings.TrimSpace(s)
	var d strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			d.WriteRune(r)
		}
	}
	digits := d.String()
	switch {
	case digits == "":
		return ""
	case strings.HasPrefix(s, "+"):
		return digits
	case strings.HasPrefix(digits, "00"):
		return digits[2:]
	default:
		return DefaultCallingCode + digits
	}
}

func showTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}

func showMinor(v *int64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(*v)
}

// Compare measures rebuilt bookings against the truth, and checks
// DefaultGoals.
func Compare(truth []TruthBooking, got []reconcile.Booking) Report {
	r := Report{TrueBookings: len(truth), Rebuilt: len(got)}

	// owner: record id → index of the true booking holding it; -1 when
	// two true bookings list it (then it decides nothing).
	owner := map[string]int{}
	inScope := make([]bool, len(truth))
	for i := range truth {
		inScope[i] = len(truth[i].Sources) > 0
		if inScope[i] {
			r.InScope++
		}
		for _, id := range truth[i].RecordIDs() {
			if j, ok := owner[id]; ok && j != i {
				owner[id] = -1
				continue
			}
			owner[id] = i
		}
	}

	// For each rebuilt booking: how many ids of each true booking it holds,
	// and which true booking it corresponds to (-1: none).
	holds := make([]map[int]int, len(got))
	corr := make([]int, len(got))
	holders := make([][]int, len(truth)) // rebuilt bookings holding any of a true booking's ids
	corrOf := make([][]int, len(truth))  // rebuilt bookings corresponding to a true booking
	foreign := map[string]bool{}
	for gi := range got {
		g := &got[gi]
		h := map[int]int{}
		known := 0
		seen := map[string]bool{}
		for _, id := range g.Evidence {
			id = strings.TrimSpace(id)
			if seen[id] {
				continue
			}
			seen[id] = true
			ti, ok := owner[id]
			switch {
			case ok && ti >= 0:
				h[ti]++
				known++
			case !ok && !neutralID(id) && !foreign[id]:
				foreign[id] = true
				r.ForeignEvidence.add(Example{Rebuilt: g.Ref, Got: id, NeedsReview: g.NeedsReview})
			}
		}
		holds[gi] = h
		corr[gi] = -1
		for ti, n := range h {
			holders[ti] = append(holders[ti], gi)
			if 2*n > known {
				corr[gi] = ti
			}
		}
		if corr[gi] >= 0 {
			corrOf[corr[gi]] = append(corrOf[corr[gi]], gi)
		}
		if g.NeedsReview {
			r.Flagged++
		}
	}
	for ti := range holders {
		sort.Ints(holders[ti])
	}

	// Per rebuilt booking: correct, false merge, extra.
	for gi := range got {
		g := &got[gi]
		ti := corr[gi]
		if ti >= 0 && len(holds[gi]) == 1 && len(corrOf[ti]) == 1 {
			r.Correct++
		}
		if len(holds[gi]) >= 2 {
			r.FalseMerges.add(Example{Rebuilt: g.Ref, Ref: refOf(truth, ti), NeedsReview: g.NeedsReview,
				Detail: "holds evidence of " + describeHolds(truth, holds[gi])})
		}
		if ti < 0 {
			d := "no evidence of any true booking"
			if len(holds[gi]) > 0 {
				d = "no true booking owns a majority of its evidence: " + describeHolds(truth, holds[gi])
			}
			r.Extra.add(Example{Rebuilt: g.Ref, NeedsReview: g.NeedsReview,
				Detail: d + "; evidence " + shortList(g.Evidence, 4)})
		}
	}

	// Per true booking in scope: split, missing, fields.
	scores := make([]FieldScore, len(Fields))
	for fi, f := range Fields {
		scores[fi] = FieldScore{Field: f.Name, Key: f.Key}
	}
	noiseAll, noiseErr := map[string]int{}, map[string]int{}
	for ti := range truth {
		if !inScope[ti] {
			continue
		}
		t := &truth[ti]
		lost := !t.InBackup || t.ChangedAfterBackup
		if lost {
			r.Lost++
		}
		erroneous := false
		if len(holders[ti]) >= 2 {
			erroneous = true
			parts := make([]string, 0, len(holders[ti]))
			for _, gi := range holders[ti] {
				parts = append(parts, fmt.Sprintf("%s (%s)", got[gi].Ref, plural(holds[gi][ti], "id")))
			}
			r.FalseSplits.add(Example{Ref: t.Ref, Detail: "evidence spread over " + strings.Join(parts, ", ")})
		}
		for _, gi := range holders[ti] {
			if len(holds[gi]) >= 2 {
				erroneous = true // merged with another true booking
			}
		}
		if len(corrOf[ti]) == 0 {
			erroneous = true
			d := "evidence in no rebuilt booking"
			if len(holders[ti]) > 0 {
				var parts []string
				for _, gi := range holders[ti] {
					parts = append(parts, got[gi].Ref)
				}
				d = "evidence only in rebuilds of other bookings: " + strings.Join(parts, ", ")
			}
			r.Missing.add(Example{Ref: t.Ref, Detail: d + "; sources " + strings.Join(t.Sources, ",") + noiseNote(t)})
		} else {
			r.Matched++
			if lost {
				r.LostMatched++
			}
			g := &got[mainRebuild(corrOf[ti], holds, ti)]
			var wrongKey []string
			var first Example
			for fi, f := range Fields {
				s := &scores[fi]
				if f.Got(g) == "" && flaggedMissing(g) {
					s.Blank++
					continue
				}
				s.Of++
				if f.Equal(t, g) {
					s.Right++
					continue
				}
				e := Example{Ref: t.Ref, Rebuilt: g.Ref, Field: f.Name, Want: f.Want(t), Got: f.Got(g),
					NeedsReview: g.NeedsReview, Detail: strings.TrimPrefix(noiseNote(t), "; ")}
				s.Wrong.add(e)
				if f.Key {
					if wrongKey == nil {
						first = e
					}
					wrongKey = append(wrongKey, f.Name)
				}
			}
			if len(wrongKey) > 0 {
				erroneous = true
				if !g.NeedsReview {
					first.Detail = "wrong " + strings.Join(wrongKey, ", ") + noiseNote(t)
					r.Silent.add(first)
				}
			}
		}
		for _, tag := range t.Noise {
			noiseAll[tag]++
			if erroneous {
				noiseErr[tag]++
			}
		}
	}
	for fi := range scores {
		scores[fi].Accuracy = ratio(scores[fi].Right, scores[fi].Of)
	}
	r.Fields = scores
	r.Precision = ratio(r.Correct, r.Rebuilt)
	r.Recall = ratio(r.Matched, r.InScope)
	r.LostRecall = ratio(r.LostMatched, r.Lost)
	r.FlaggedShare = ratio(r.Flagged, r.Rebuilt)
	for _, tag := range sortedKeys(noiseAll) {
		r.ByNoise = append(r.ByNoise, NoiseRow{Tag: tag, Bookings: noiseAll[tag], WithError: noiseErr[tag]})
	}
	r.Check(DefaultGoals)
	return r
}

// neutralID tells whether an evidence id may belong to no single true
// booking by nature: a Stripe customer (shared by a customer's bookings)
// or a Stripe event not about a booking's object.
func neutralID(id string) bool {
	return strings.HasPrefix(id, "stripe:cus_") || strings.HasPrefix(id, "stripe:evt_")
}

// mainRebuild picks, among the rebuilds corresponding to true booking ti,
// the one holding most of its evidence (then the first).
func mainRebuild(cands []int, holds []map[int]int, ti int) int {
	best := cands[0]
	for _, gi := range cands[1:] {
		if holds[gi][ti] > holds[best][ti] {
			best = gi
		}
	}
	return best
}

func refOf(truth []TruthBooking, ti int) string {
	if ti < 0 {
		return ""
	}
	return truth[ti].Ref
}

func describeHolds(truth []TruthBooking, h map[int]int) string {
	idx := make([]int, 0, len(h))
	for ti := range h {
		idx = append(idx, ti)
	}
	sort.Slice(idx, func(a, b int) bool {
		if h[idx[a]] != h[idx[b]] {
			return h[idx[a]] > h[idx[b]]
		}
		return truth[idx[a]].Ref < truth[idx[b]].Ref
	})
	parts := make([]string, 0, len(idx))
	for _, ti := range idx {
		parts = append(parts, fmt.Sprintf("%s (%s)", truth[ti].Ref, plural(h[ti], "id")))
	}
	return strings.Join(parts, ", ")
}

func noiseNote(t *TruthBooking) string {
	if len(t.Noise) == 0 {
		return ""
	}
	return "; noise " + strings.Join(t.Noise, ",")
}

func shortList(ids []string, n int) string {
	if len(ids) == 0 {
		return "none"
	}
	if len(ids) <= n {
		return strings.Join(ids, " ")
	}
	return strings.Join(ids[:n], " ") + fmt.Sprintf(" … (%d in all)", len(ids))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// String is the report as text (WriteText).
func (r *Report) String() string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

// WriteText prints the report: a table of the metrics with their goals,
// the errors by noise tag, and examples of each error kind.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	title := "salvage eval"
	if r.Scenario != "" {
		title += ": " + r.Scenario
	}
	fmt.Fprintf(ew, "%s\n", title)
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "  note: %s\n", n)
	}
	fmt.Fprintf(ew, "  truth    %d bookings, %d with a surviving source\n", r.TrueBookings, r.InScope)
	fmt.Fprintf(ew, "  rebuilt  %d bookings, %d matched to a true one\n\n", r.Rebuilt, r.Matched)

	goal := map[string]Goal{}
	for _, g := range r.Goals {
		goal[g.Name] = g
	}
	const rowf = "  %-17s %7s  %-20s %-8s %s\n"
	fmt.Fprintf(ew, rowf, "measure", "value", "count", "goal", "met")
	row := func(name, value, count string) {
		g, ok := goal[name]
		gs, met := "", ""
		if ok {
			gs, met = g.target(), "yes"
			if !g.Met {
				met = "NO"
			}
		}
		fmt.Fprintln(ew, strings.TrimRight(fmt.Sprintf(rowf, name, value, count, gs, met), " \n"))
	}
	row("precision", fmt.Sprintf("%.3f", r.Precision), fmt.Sprintf("%d / %d rebuilt", r.Correct, r.Rebuilt))
	row("recall", fmt.Sprintf("%.3f", r.Recall), fmt.Sprintf("%d / %d true", r.Matched, r.InScope))
	row("recall of lost", fmt.Sprintf("%.3f", r.LostRecall), fmt.Sprintf("%d / %d lost", r.LostMatched, r.Lost))
	for _, f := range r.Fields {
		of := fmt.Sprintf("%d / %d matched", f.Right, f.Of)
		if f.Blank > 0 {
			of += fmt.Sprintf(", %d blank", f.Blank)
		}
		row(f.Field, fmt.Sprintf("%.3f", f.Accuracy), of)
	}
	row("silent errors", fmt.Sprint(r.Silent.Count), "unflagged")
	row("flagged", fmt.Sprintf("%.3f", r.FlaggedShare), fmt.Sprintf("%d / %d rebuilt", r.Flagged, r.Rebuilt))
	row("false merges", fmt.Sprint(r.FalseMerges.Count), "rebuilt")
	row("false splits", fmt.Sprint(r.FalseSplits.Count), "true")
	row("missing", fmt.Sprint(r.Missing.Count), "true")
	row("extra", fmt.Sprint(r.Extra.Count), "rebuilt")
	row("foreign evidence", fmt.Sprint(r.ForeignEvidence.Count), "ids")

	if missed := r.Missed(); len(missed) > 0 {
		fmt.Fprintf(ew, "\ngoals missed: %d of %d\n", len(missed), len(r.Goals))
		for _, g := range missed {
			fmt.Fprintf(ew, "  %s\n", g)
		}
	} else {
		fmt.Fprintf(ew, "\ngoals: all %d met\n", len(r.Goals))
	}

	var noisy []NoiseRow
	for _, n := range r.ByNoise {
		if n.WithError > 0 {
			noisy = append(noisy, n)
		}
	}
	if len(noisy) > 0 && r.Rebuilt > 0 {
		sort.SliceStable(noisy, func(a, b int) bool {
			return ratio(noisy[a].WithError, noisy[a].Bookings) > ratio(noisy[b].WithError, noisy[b].Bookings)
		})
		fmt.Fprintf(ew, "\ntrue bookings with an error (missing, split, merged, wrong key field), by noise tag\n")
		for _, n := range noisy {
			fmt.Fprintf(ew, "  %-28s %5d / %-5d %4.0f%%\n", n.Tag, n.WithError, n.Bookings, 100*ratio(n.WithError, n.Bookings))
		}
	}

	section := func(name string, t Tally) {
		if t.Count == 0 {
			return
		}
		fmt.Fprintf(ew, "\n%s: %d", name, t.Count)
		if len(t.Examples) < t.Count {
			fmt.Fprintf(ew, " (first %d)", len(t.Examples))
		}
		fmt.Fprintf(ew, "\n")
		for _, e := range t.Examples {
			fmt.Fprintf(ew, "  %s\n", e.line())
		}
	}
	section("silent errors", r.Silent)
	section("missing", r.Missing)
	section("extra", r.Extra)
	section("false merges", r.FalseMerges)
	section("false splits", r.FalseSplits)
	for _, f := range r.Fields {
		section("wrong "+f.Field, f.Wrong)
	}
	section("foreign evidence", r.ForeignEvidence)
	return ew.err
}

func (e Example) line() string {
	var parts []string
	if e.Ref != "" {
		parts = append(parts, e.Ref)
	}
	if e.Rebuilt != "" && e.Rebuilt != e.Ref {
		parts = append(parts, "rebuilt "+e.Rebuilt)
	}
	if e.Field != "" {
		parts = append(parts, fmt.Sprintf("%s: want %q, got %q", e.Field, e.Want, e.Got))
	} else if e.Got != "" {
		parts = append(parts, e.Got)
	}
	if e.NeedsReview {
		parts = append(parts, "[needs review]")
	}
	if e.Detail != "" {
		parts = append(parts, "("+e.Detail+")")
	}
	return strings.Join(parts, "  ")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// flaggedMissing reports whether a booking is flagged for review because
// the evidence lacks a field.
func flaggedMissing(g *reconcile.Booking) bool {
	for _, r := range g.Reasons {
		if r.Code == reconcile.ReasonMissingField {
			return true
		}
	}
	return false
}
