// Package evidence owns what salvage knows: the evidence record, the facts an
// importer extracted from it, and the case store that keeps both, with the
// import jobs and checkpoints that make an interrupted import resumable.
//
// A record is never edited once stored. Importing the same object again is a
// no-op; importing a changed version of it adds a new version beside the old.
package evidence

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// Source is the kind of surviving system a record came from.
type Source string

// The surviving systems salvage reads.
const (
	Stripe     Source = "stripe"
	Calendar   Source = "calendar"
	Mail       Source = "mail"
	Transcript Source = "transcript"
)

// Sources lists every source, in the order salvage shows them.
var Sources = []Source{Stripe, Calendar, Mail, Transcript}

// Valid reports whether s is one of Sources.
func (s Source) Valid() bool { return slices.Contains(Sources, s) }

// Status is what a piece of evidence says about the state of a booking.
type Status string

// The statuses a record can imply. A booking's own status is decided by the
// reconciler from these.
const (
	Requested Status = "requested"
	Confirmed Status = "confirmed"
	Changed   Status = "changed"
	Cancelled Status = "cancelled"
	Paid      Status = "paid"
	Refunded  Status = "refunded"
)

// Statuses lists every known Status.
var Statuses = []Status{Requested, Confirmed, Changed, Cancelled, Paid, Refunded}

// Valid reports whether s is empty or one of Statuses.
func (s Status) Valid() bool { return s == "" || slices.Contains(Statuses, s) }

// Record is one object a source holds: a Stripe payment intent, a calendar
// event, an email, one agent step.
type Record struct {
	// ID is stable and unique across sources, derived from the source's own
	// id: "stripe:pi_…", "gcal:<calendar>:<event id>", "ics:<UID>",
	// "mail:<Message-ID>", "transcript:<session>:<uuid>".
	ID string
	// Version counts the distinct contents seen under ID, from 1. The store
	// assigns it; importers leave it zero.
	Version int
	// Source is the system; Via the channel it came through ("api", "file",
	// "gcal", "ics", "imap", "mbox", "maildir", "eml", …).
	Source Source
	Via    string
	// Kind says what the object is within its source ("payment_intent",
	// "event", "email", "agent-step", …).
	Kind string
	// OccurredAt is when the object came into being or last changed, in
	// UTC; Zone is the zone the source gave it in (an IANA name or an offset
	// such as "+01:00"), empty when the source gave none.
	OccurredAt time.Time
	Zone       string
	// Facts is what the importer could extract about a booking.
	Facts Facts
	// Raw is the original bytes, kept exactly as they arrived.
	Raw []byte
	// SHA256 is the hash of Raw; the store computes it.
	SHA256 [32]byte
	// Digest identifies the content for version comparison: two arrivals of
	// the same ID with the same Digest are the same version. Empty means the
	// hex SHA-256 of Raw. Importers whose channels deliver the same object as
	// different bytes (an email over IMAP with CRLF and in an mbox with LF)
	// set it to a hash of the normalised content.
	Digest string
	// Locator says where in the source the object was found: a file path
	// and offset, an IMAP mailbox and UID, an API URL. It is kept for the
	// analyst and never used to identify the record.
	Locator string

	// Readable is what a person reads of the object (an email's subject,
	// and its headers and text, decoded), when the importer that decoded
	// it says so; nil otherwise. It is derived from Raw, stored beside the
	// record, and read back when a query asks (Query.Readable).
	Readable *Readable
	// Title is the title a person reads of the object (a calendar event's
	// summary) when the importer knows it but keeps no Readable: stored in
	// the record's row with Readable's title, and read back with it
	// (Query.Readable) where there is no Readable.
	Title string

	// Set by the store when read back.
	JobID      int64
	ImportedAt time.Time

	// factsJSON is Facts in stored form, set by Prepare.
	factsJSON []byte
}

// Readable is a record as a person reads it: a one-line title and a text.
type Readable struct {
	Title, Text string
}

// encodeReadable is r as stored: the title's length (uvarint), the title,
// the text.
func encodeReadable(r *Readable) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(r.Title)+len(r.Text)), uint64(len(r.Title)))
	b = append(b, r.Title...)
	return append(b, r.Text...)
}

// decodeReadable reads what encodeReadable wrote.
func decodeReadable(b []byte) (*Readable, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, errors.New("readable text: bad title length")
	}
	b = b[k:]
	return &Readable{Title: string(b[:n]), Text: string(b[n:])}, nil
}

// Prepare validates r and computes what storing it needs (its SHA-256, its
// digest, its facts in stored form), so that the work can be done by the
// importer's goroutine rather than by the one committing. Commit prepares
// records that are not. Call it after the last change to r.
func (r *Record) Prepare() error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.SHA256 = Hash(r.Raw)
	if r.Digest == "" {
		r.Digest = hex.EncodeToString(r.SHA256[:])
	}
	b, err := gojson.Marshal(r.Facts.normalize())
	if err != nil {
		return fmt.Errorf("encode facts of %s: %w", r.ID, err)
	}
	r.factsJSON = b
	return nil
}

// Facts is what an importer could extract about a booking from one record.
// Every field is optional.
type Facts struct {
	Ref   string `json:"ref,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Item is what was booked: a vehicle, a room, a resource.
	Item string `json:"item,omitempty"`
	// Start and End are instants (stored in UTC); AllDay marks dates given
	// without a time of day; Zone is the zone they were given in.
	Start  *time.Time `json:"start,omitempty"`
	End    *time.Time `json:"end,omitempty"`
	AllDay bool       `json:"all_day,omitempty"`
	Zone   string     `json:"zone,omitempty"`
	// AmountMinor is the booking's price (or a payment's or refund's
	// amount), PaidMinor what was actually received, RefundedMinor what was
	// given back, all in minor units of Currency (ISO 4217, upper case).
	AmountMinor   *int64 `json:"amount_minor,omitempty"`
	PaidMinor     *int64 `json:"paid_minor,omitempty"`
	RefundedMinor *int64 `json:"refunded_minor,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Status        Status `json:"status,omitempty"`
	// Links name other records or source objects this one refers to.
	Links []Link `json:"links,omitempty"`
	// Attrs holds source-specific facts that have no field of their own
	// (an agent step's tool and command, a Stripe customer id, …).
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Link is a reference from one record to an object in some source.
type Link struct {
	// Rel names the relation: "stripe_customer", "stripe_payment_intent",
	// "in_reply_to", "references", "ical_uid", ….
	Rel string `json:"rel"`
	ID  string `json:"id"`
}

// Empty reports whether no fact is set.
func (f Facts) Empty() bool {
	return f.Ref == "" && f.Name == "" && f.Email == "" && f.Phone == "" && f.Item == "" &&
		f.Start == nil && f.End == nil && f.AmountMinor == nil && f.PaidMinor == nil && f.RefundedMinor == nil && f.Currency == "" &&
		f.Status == "" && len(f.Links) == 0 && len(f.Attrs) == 0
}

// normalize puts facts in the canonical form the store keeps: times in UTC,
// currency upper case, links sorted and without duplicates.
func (f Facts) normalize() Facts {
	if f.Start != nil {
		t := f.Start.UTC()
		f.Start = &t
	}
	if f.End != nil {
		t := f.End.UTC()
		f.End = &t
	}
	f.Currency = strings.ToUpper(f.Currency)
	if len(f.Links) > 0 {
		links := slices.Clone(f.Links)
		slices.SortFunc(links, func(a, b Link) int {
			if c := strings.Compare(a.Rel, b.Rel); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		f.Links = slices.Compact(links)
	}
	return f
}

// Validate reports the first thing wrong with r that would make it unfit to
// store. Importers turn such a record into a Rejected one.
func (r *Record) Validate() error {
	if err := validID(r.ID); err != nil {
		return err
	}
	if !r.Source.Valid() {
		return fmt.Errorf("record %s: unknown source %q", r.ID, r.Source)
	}
	if r.Via == "" {
		return fmt.Errorf("record %s: no via", r.ID)
	}
	if strings.ContainsFunc(r.Via, unicode.IsControl) { // a lean read packs it (leanPacked)
		return fmt.Errorf("record %s: via %q holds a control character", r.ID, r.Via)
	}
	if r.Kind == "" {
		return fmt.Errorf("record %s: no kind", r.ID)
	}
	if !r.Facts.Status.Valid() {
		return fmt.Errorf("record %s: unknown status %q", r.ID, r.Facts.Status)
	}
	if c := r.Facts.Currency; c != "" && !isCurrency(strings.ToUpper(c)) {
		return fmt.Errorf("record %s: currency %q is not an ISO 4217 code", r.ID, c)
	}
	if (r.Facts.AmountMinor != nil || r.Facts.PaidMinor != nil || r.Facts.RefundedMinor != nil) && r.Facts.Currency == "" {
		return fmt.Errorf("record %s: amount without currency", r.ID)
	}
	if r.Raw == nil {
		return fmt.Errorf("record %s: no raw bytes", r.ID)
	}
	return nil
}

// MaxIDLen bounds a record id; longer ids are almost surely garbage.
const MaxIDLen = 1024

var errBadID = errors.New("bad record id")

func validID(id string) error {
	scheme, rest, ok := strings.Cut(id, ":")
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", errBadID)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: %d bytes, more than %d", errBadID, len(id), MaxIDLen)
	case !ok || scheme == "" || rest == "":
		return fmt.Errorf("%w %q: want scheme:identifier", errBadID, id)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w %q: not UTF-8", errBadID, id)
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w %q: contains space or control character", errBadID, id)
		}
	}
	return nil
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Hash returns the SHA-256 of b.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }

// HexHash returns the SHA-256 of b in lower-case hex.
func HexHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Rejected is input an importer could not turn into a record: a malformed
// message, a line that is not JSON. It is kept with its reason so nothing is
// lost and the analyst can see why.
type Rejected struct {
	Source  Source
	Via     string
	Locator string
	Reason  string
	Raw     []byte

	// Set by the store when read back.
	JobID int64
}
