package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// ReviewRule is the provenance rule of a value a reviewer typed.
const ReviewRule = "corrected in review"

// ApplyReview puts a reviewer's corrections into b, each with its
// provenance ("review:<workbook sha-256>", ReviewRule), and keeps the value
// salvage had chosen as a conflict, so nothing is lost. The decision and
// notes are not booking fields; callers read them from r.
func (b *Booking) ApplyReview(r evidence.Review) error {
	if len(r.Corrections) == 0 {
		return nil
	}
	src := Source{Evidence: "review:" + r.Workbook, Rule: ReviewRule}
	for _, field := range evidence.CorrectableFields {
		v, ok := r.Corrections[field]
		if !ok {
			continue
		}
		before := b.FieldText(field)
		switch field {
		case "customer.name":
			b.Customer.Name = v
		case "customer.email":
			b.Customer.Email = v
		case "customer.phone":
			b.Customer.Phone = v
		case "item":
			b.Item = v
		case "start", "end":
			var t *time.Time
			if v != "" {
				p, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return fmt.Errorf("review of %s: %s %q: %w", b.Ref, field, v, err)
				}
				p = p.UTC()
				t = &p
			}
			if field == "start" {
				b.Start = t
			} else {
				b.End = t
			}
		case "amount_minor":
			var n *int64
			if v != "" {
				p, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("review of %s: amount_minor %q: %w", b.Ref, v, err)
				}
				n = &p
			}
			b.AmountMinor = n
		}
		if b.Provenance == nil {
			b.Provenance = map[string]Source{}
		}
		prev, had := b.Provenance[field]
		b.Provenance[field] = src
		if before == v {
			continue
		}
		reviewed := ConflictValue{Value: v, Evidence: []string{src.Evidence}}
		if i := slices.IndexFunc(b.Conflicts, func(c Conflict) bool { return c.Field == field }); i >= 0 {
			b.Conflicts[i].Chosen = v
			b.Conflicts[i].Values = append([]ConflictValue{reviewed}, b.Conflicts[i].Values...)
			continue
		}
		c := Conflict{Field: field, Chosen: v, Values: []ConflictValue{reviewed}}
		if had {
			c.Values = append(c.Values, ConflictValue{Value: before, Evidence: []string{prev.Evidence}})
		}
		b.Conflicts = append(b.Conflicts, c)
	}
	return nil
}

// FieldText is a correctable field's value in the form Review.Corrections
// uses.
func (b *Booking) FieldText(field string) string {
	switch field {
	case "customer.name":
		return b.Customer.Name
	case "customer.email":
		return b.Customer.Email
	case "customer.phone":
		return b.Customer.Phone
	case "item":
		return b.Item
	case "start":
		return rfc3339(b.Start)
	case "end":
		return rfc3339(b.End)
	case "amount_minor":
		if b.AmountMinor == nil {
			return ""
		}
		return strconv.FormatInt(*b.AmountMinor, 10)
	}
	return ""
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
