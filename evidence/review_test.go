package evidence

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestApplyReviewsRecordsOnlyChanges(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id, err := s.CaseID(ctx)
	if err != nil || len(id) != 24 {
		t.Fatalf("CaseID = %q, %v", id, err)
	}
	if again, _ := s.CaseID(ctx); again != id {
		t.Fatalf("CaseID changed: %q then %q", id, again)
	}

	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	first := []Review{
		{Ref: "AT-1", Decision: Approve, DecidedAt: at, Workbook: "w1"},
		{Ref: "AT-2", Decision: Fix, Notes: "customer phoned", Corrections: map[string]string{"customer.email": "a@example.com"}, DecidedAt: at, Workbook: "w1"},
		{Ref: "AT-3", DecidedAt: at, Workbook: "w1"}, // empty, none before: nothing
	}
	changed, err := s.ApplyReviews(ctx, first)
	if err != nil || !reflect.DeepEqual(changed, []string{"AT-1", "AT-2"}) {
		t.Fatalf("first import changed %v, %v", changed, err)
	}
	// The same workbook again, later: nothing.
	later := at.Add(time.Hour)
	for i := range first {
		first[i].DecidedAt, first[i].Workbook = later, "w1"
	}
	if changed, err := s.ApplyReviews(ctx, first); err != nil || len(changed) != 0 {
		t.Fatalf("second import changed %v, %v", changed, err)
	}
	// A changed decision and a cleared one.
	changed, err = s.ApplyReviews(ctx, []Review{
		{Ref: "AT-1", Decision: Reject, DecidedAt: later, Workbook: "w2"},
		{Ref: "AT-2", DecidedAt: later, Workbook: "w2"},
	})
	if err != nil || !reflect.DeepEqual(changed, []string{"AT-1", "AT-2"}) {
		t.Fatalf("third import changed %v, %v", changed, err)
	}
	got, err := s.Reviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := got["AT-1"]; r.Decision != Reject || !r.DecidedAt.Equal(later) || r.Workbook != "w2" {
		t.Errorf("AT-1 = %+v", r)
	}
	if r := got["AT-2"]; !r.Empty() {
		t.Errorf("AT-2 = %+v, want cleared", r)
	}
	var log int
	s.DB().QueryRow(`SELECT COUNT(*) FROM review_log`).Scan(&log)
	if log != 4 {
		t.Errorf("review_log holds %d entries, want 4", log)
	}
}

func TestReplaceDispositions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	if err := s.ReplaceDispositions(ctx, []Disposition{
		{Ref: "AT-1", State: DispositionPresent, CheckedAt: at, Against: "postgres://db/rentals"},
		{Ref: "AT-2", State: DispositionDiffers, Fields: []string{"end", "item"}, CheckedAt: at, Against: "postgres://db/rentals"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceDispositions(ctx, []Disposition{{Ref: "AT-2", State: "lost"}}); err == nil {
		t.Fatal("an unknown state was stored")
	}
	got, err := s.Dispositions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Disposition{
		"AT-1": {Ref: "AT-1", State: DispositionPresent, CheckedAt: at, Against: "postgres://db/rentals"},
		"AT-2": {Ref: "AT-2", State: DispositionDiffers, Fields: []string{"end", "item"}, CheckedAt: at, Against: "postgres://db/rentals"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Dispositions = %+v\nwant %+v", got, want)
	}
}
