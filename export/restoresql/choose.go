package restoresql

import (
	"strings"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// Selection is the case's bookings, each with its review's corrections
// applied, and which of them to write.
type Selection struct {
	Items []Item
	// Chosen[i] says whether Items[i] is to be written; Skipped lists the
	// others with the reason, in order.
	Chosen  []bool
	Skipped []Skipped
	// Rule says which bookings were chosen, for the file's header.
	Rule string
}

// Rules of Choose.
const (
	RuleApproved   = "bookings approved in review (decision approve or fix)"
	RuleNoReview   = "bookings that need no review (no review was imported)"
	reasonRejected = "rejected in review"
)

// Choose picks the bookings to write. A booking approved in review
// (decision approve or fix) is written, with the reviewer's corrections; one
// rejected never is. Once any review has been imported, or with
// approvedOnly, only approved bookings are written: the workbook pre-fills
// approve for the bookings that need no review, so a booking without a
// decision is one nobody has cleared. When no review was imported at all,
// the bookings that need no review are written.
func Choose(bookings []reconcile.Booking, reviews map[string]evidence.Review, approvedOnly bool) (Selection, error) {
	s := Selection{Items: make([]Item, len(bookings)), Chosen: make([]bool, len(bookings)), Rule: RuleApproved}
	reviewed := len(reviews) > 0
	if !reviewed && !approvedOnly {
		s.Rule = RuleNoReview
	}
	for i, b := range bookings {
		it := Item{Booking: b}
		r, has := reviews[b.Ref]
		if has {
			if err := it.Booking.ApplyReview(r); err != nil {
				return s, err
			}
			it.Review = &r
		}
		s.Items[i] = it
		switch {
		case has && (r.Decision == evidence.Approve || r.Decision == evidence.Fix):
			s.Chosen[i] = true
		case has && r.Decision == evidence.Reject:
			s.Skipped = append(s.Skipped, Skipped{b.Ref, reasonRejected})
		case reviewed || approvedOnly:
			s.Skipped = append(s.Skipped, Skipped{b.Ref, "not approved in review"})
		case b.NeedsReview:
			codes := make([]string, len(b.Reasons))
			for j, r := range b.Reasons {
				codes[j] = r.Code
			}
			s.Skipped = append(s.Skipped, Skipped{b.Ref, "needs review (" + strings.Join(dedupe(codes), ", ") + ")"})
		default:
			s.Chosen[i] = true
		}
	}
	return s, nil
}
