package timeline

import (
	"context"
	"encoding/json"
	"fmt"

	gojson "github.com/goccy/go-json"
	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/reconcile"
)

// FromStore builds the timeline of a case: every version of every record,
// the channels each was seen through, the references of the last
// reconcile's bookings, and what the reports say of the recovery (import
// jobs, the reconcile run and its summary). opts.Config, Bookings,
// Sightings and Case are filled from the store; the rest is as given.
// A caller that knows which booking holds each record gives
// opts.BookingOf or opts.Known: the bookings are then not read, and Case
// lists none.
//
// It reads the store one query at a time (the store has one connection).
func FromStore(ctx context.Context, s *evidence.Store, opts Options) (*Timeline, error) {
	opts, err := StoreOptions(ctx, s, opts)
	if err != nil {
		return nil, err
	}
	// The store reads and decodes the records on other goroutines while
	// Build works through them, in the order they are stored (a read of
	// the table from start to end: Build's timeline does not depend on
	// the order).
	// Without details, nothing of a record's provenance (locator, hash)
	// is shown: the lean read leaves it out.
	return Build(ctx, s.Records(ctx, evidence.Query{AllVersions: true, Lean: !opts.Details, InStoreOrder: true}), opts)
}

// StoreOptions is opts with what FromStore takes from the store, for a
// caller that reads the records itself (NewBuilder).
func StoreOptions(ctx context.Context, s *evidence.Store, opts Options) (Options, error) {
	opts.Config = s.Config()
	info := &CaseInfo{}
	jobs, err := s.Jobs(ctx)
	if err != nil {
		return opts, err
	}
	info.Jobs = jobs
	run, ok, err := s.LastReconcile(ctx)
	if err != nil {
		return opts, err
	}
	given := opts.BookingOf != nil || opts.Known != nil
	refs := newRefIndex()
	if ok {
		info.Reconcile = &run
		if len(run.SummaryJSON) > 0 {
			var sum reconcile.Summary
			if err := json.Unmarshal(run.SummaryJSON, &sum); err != nil {
				return opts, fmt.Errorf("read the reconcile summary: %w", err)
			}
			info.Summary = &sum
		}
	}
	if ok && !given {
		for sb, err := range s.BookingBriefs(ctx) {
			if err != nil {
				return opts, err
			}
			var bk reconcile.Brief
			if err := gojson.Unmarshal(sb.JSON, &bk); err != nil {
				return opts, fmt.Errorf("read booking %s: %w", sb.Ref, err)
			}
			bi := BookingInfo{Ref: bk.Ref, Status: bk.Status, NeedsReview: bk.NeedsReview, Evidence: len(bk.Evidence)}
			for _, r := range bk.Reasons {
				bi.Reasons = append(bi.Reasons, r.Code)
			}
			info.Bookings = append(info.Bookings, bi)
			refs.addBooking(bk.Ref)
			for _, id := range bk.Evidence {
				refs.add(id)
			}
		}
	}
	if !given {
		refs.build()
		opts.Bookings, opts.BookingOf = nil, refs.lookup
	}
	opts.Case = info
	if opts.Sightings, err = sightings(ctx, s); err != nil {
		return opts, err
	}
	if !opts.GroupedByID && opts.Newest == nil {
		if opts.Newest, err = s.NewestVersions(ctx); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// sightings reads the channels each record version was seen through
// besides its own. The evidence package offers no call for it yet, so
// this reads its table directly, read-only.
func sightings(ctx context.Context, s *evidence.Store) (map[VersionKey][]string, error) {
	rows, err := s.DB().QueryContext(ctx, `SELECT r.id, r.version, g.via FROM sightings g JOIN records r ON r.seq = g.record_seq ORDER BY g.seq`)
	if err != nil {
		return nil, fmt.Errorf("read sightings: %w", err)
	}
	defer rows.Close()
	out := map[VersionKey][]string{}
	for rows.Next() {
		var k VersionKey
		var via string
		if err := rows.Scan(&k.ID, &k.Version, &via); err != nil {
			return nil, fmt.Errorf("read sightings: %w", err)
		}
		out[k] = append(out[k], via)
	}
	return out, rows.Err()
}
