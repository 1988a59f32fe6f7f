package timeline

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"testing"
	"time"

	"github.com/salvagehq/salvage/evidence"
)

// numbered yields n records, then err if not nil, and closes done when it
// returns.
func numbered(ctx context.Context, n int, err error, done chan struct{}) iter.Seq2[evidence.Record, error] {
	return func(yield func(evidence.Record, error) bool) {
		defer close(done)
		for i := range n {
			if ctx.Err() != nil {
				return
			}
			if !yield(evidence.Record{ID: "x:" + strconv.Itoa(i)}, nil) {
				return
			}
		}
		if err != nil {
			yield(evidence.Record{}, err)
		}
	}
}

// TestPrefetch: prefetch gives every record in order, passes an error on,
// and stops its reader when the caller stops early.
func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	done := make(chan struct{})
	i := 0
	for r, err := range prefetch(ctx, numbered(ctx, 3*prefetchBatch+7, nil, done)) {
		if err != nil || r.ID != "x:"+strconv.Itoa(i) {
			t.Fatalf("record %d: %s, %v", i, r.ID, err)
		}
		i++
	}
	if i != 3*prefetchBatch+7 {
		t.Fatalf("%d records", i)
	}

	boom := errors.New("boom")
	done = make(chan struct{})
	var got error
	n := 0
	for _, err := range prefetch(ctx, numbered(ctx, 10, boom, done)) {
		if err != nil {
			got = err
			break
		}
		n++
	}
	if !errors.Is(got, boom) || n != 10 {
		t.Fatalf("%d records then %v, want 10 then boom", n, got)
	}

	cctx, cancel := context.WithCancel(ctx)
	done = make(chan struct{})
	for range prefetch(cctx, numbered(cctx, 1_000_000, nil, done)) {
		break
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader goes on after the caller stopped")
	}
}
