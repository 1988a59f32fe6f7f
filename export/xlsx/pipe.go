package xlsx

import (
	"context"
	"iter"
	"runtime"
	"sync"
)

// rowBatch is how many rows encodeRows builds at once.
const rowBatch = 128

// encPool holds the buffers batches of rows are encoded into.
var encPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

// encodeRows writes to s a row for each item, in order. items is read on
// a goroutine of its own (a store query: decoding the facts), a batch at
// a time; the batches are built (build gets the row's index and its item)
// and encoded on every core; and this goroutine writes them in order, the
// compressing done on another. build may give rows for another sheet too
// (a booking's conflicts): they are handed to extra, in order, after the
// item's row is written.
func encodeRows[T any](ctx context.Context, s *stream, items iter.Seq2[T, error], build func(i int, v T) (row []any, more [][]any, err error), extra func([][]any) error, bar Bar) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		enc  *[]byte // the batch's rows, encoded one after the other
		ends []int   // where each row ends in enc
		more [][][]any
		err  error
	}
	type job struct {
		first int
		items []T
		out   chan result
	}
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan job, 2*workers)
	order := make(chan chan result, 4*workers)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(order)
		defer close(jobs)
		first := 0
		batch := make([]T, 0, rowBatch)
		emit := func() bool {
			out := make(chan result, 1)
			select {
			case jobs <- job{first, batch, out}:
			case <-ctx.Done():
				return false
			}
			select {
			case order <- out:
			case <-ctx.Done():
				return false
			}
			first += len(batch)
			batch = make([]T, 0, rowBatch)
			return true
		}
		for v, err := range items {
			if err != nil {
				out := make(chan result, 1)
				out <- result{err: err}
				select {
				case order <- out:
				case <-ctx.Done():
				}
				return
			}
			batch = append(batch, v)
			if len(batch) == rowBatch && !emit() {
				return
			}
		}
		if len(batch) > 0 {
			emit()
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				// The rows of a batch are encoded into one buffer, handed
				// back once written: a million rows do not each grow
				// their own.
				r := result{enc: encPool.Get().(*[]byte), ends: make([]int, 0, len(j.items))}
				if extra != nil {
					r.more = make([][][]any, len(j.items))
				}
				enc := (*r.enc)[:0]
				for n, v := range j.items {
					cells, more, err := build(j.first+n, v)
					if extra != nil {
						r.more[n] = more
					}
					if err == nil {
						enc, err = appendRow(enc, s.rowNumber(j.first+n), cells)
					}
					if err != nil {
						r.err = err
						break
					}
					r.ends = append(r.ends, len(enc))
				}
				*r.enc = enc
				j.out <- r
			}
		})
	}
	var err error
	for out := range order {
		r := <-out
		if err = r.err; err != nil {
			break
		}
		from := 0
		for n, end := range r.ends {
			bar.Add(1)
			if err = s.addEncoded((*r.enc)[from:end]); err != nil {
				break
			}
			from = end
			if extra != nil && len(r.more[n]) > 0 {
				if err = extra(r.more[n]); err != nil {
					break
				}
			}
		}
		encPool.Put(r.enc)
		if err != nil {
			break
		}
	}
	cancel()
	for range order { // let the reader end its query
	}
	<-readerDone
	wg.Wait()
	if err == nil {
		err = parent.Err()
	}
	return err
}
