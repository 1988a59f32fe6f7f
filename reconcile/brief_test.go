package reconcile

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/salvagehq/salvage/evidence"
)

// TestBriefIsPartOfTheBooking: for every booking of the hand-made cases,
// one with every field of a brief empty and one to review, the brief's JSON holds
// fields of the booking's JSON with the same values, and decoding either
// into a Brief gives the booking's brief.
func TestBriefIsPartOfTheBooking(t *testing.T) {
	cfg := evidence.DefaultConfig()
	cfg.Case.Timezone, cfg.Case.Currency = "Europe/Lisbon", "EUR"
	bookings := []Booking{{Ref: "SALV-EMPTY"}, {Ref: "ACH-1", Status: "confirmed", Customer: Customer{Phone: "+351 1"},
		NeedsReview: true, Reasons: []Reason{{Code: ReasonNoPayment, Detail: "confirmed, no payment"}, {Code: ReasonSingleSource, Detail: "one record"}},
		Evidence: []string{"mail:<a@x>"}}}
	for _, recs := range cases {
		bookings = append(bookings, Reconcile(recs, Options{Config: cfg}).Bookings...)
	}
	reviewed := 0
	for _, b := range bookings {
		full, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		brief, err := json.Marshal(b.Brief())
		if err != nil {
			t.Fatal(err)
		}
		var fullObj, briefObj map[string]any
		if err := json.Unmarshal(full, &fullObj); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(brief, &briefObj); err != nil {
			t.Fatal(err)
		}
		for k, v := range briefObj {
			want := fullObj[k]
			switch k {
			case "customer": // name and email of the booking's
				c, _ := want.(map[string]any)
				delete(c, "phone")
			case "reasons": // the codes of the booking's
				for _, r := range want.([]any) {
					delete(r.(map[string]any), "detail")
				}
			}
			if !reflect.DeepEqual(v, want) {
				t.Errorf("%s: brief %s = %v, the booking's JSON has %v", b.Ref, k, v, want)
			}
		}
		var fromFull, fromBrief Brief
		if err := json.Unmarshal(full, &fromFull); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(brief, &fromBrief); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromFull, fromBrief) || !reflect.DeepEqual(fromBrief, b.Brief()) {
			t.Errorf("%s: decoded from the booking %+v, from the brief %+v, made %+v", b.Ref, fromFull, fromBrief, b.Brief())
		}
		if len(fromBrief.Reasons) > 0 {
			reviewed++
		}
	}
	if len(bookings) < 8 || reviewed == 0 {
		t.Errorf("%d bookings, %d with reasons: the cases changed", len(bookings), reviewed)
	}
}
