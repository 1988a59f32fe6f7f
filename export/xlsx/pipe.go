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
// a time; the batches are built (build gets the row's index, its item and
// the row's cells, empty, to fill in) and encoded on every core; and this goroutine writes them in order, the
// compressing done on another. build may give rows for another sheet too
// (a booking's conflicts): they are handed to extra, in order, after the
// item's row is written. release, when set, is given each item once its
// row is encoded.
func encodeRows[T any](ctx context.Context, s *stream, items iter.Seq2[T, error], build func(i int, v T, row []cell) (more [][]cell, err error), extra func([][]cell) error, release func(T), bar Bar) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		enc  *[]byte // the batch's rows, encoded one after the other
		ends []int   // where each row ends in enc
		more [][][]cell
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
	free := make(chan []T, 2*workers) // batches built, for the reader to fill again
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
			select {
			case batch = <-free:
			default:
				batch = make([]T, 0, rowBatch)
			}
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
			cells := make([]cell, len(s.cols)) // each row's, filled in by build
			for j := range jobs {
				// The rows of a batch are encoded into one buffer, handed
				// back once written: a million rows do not each grow
				// their own.
				r := result{enc: encPool.Get().(*[]byte), ends: make([]int, 0, len(j.items))}
				if extra != nil {
					r.more = make([][][]cell, len(j.items))
				}
				enc := (*r.enc)[:0]
				for n, v := range j.items {
					clear(cells)
					more, err := build(j.first+n, v, cells)
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
				if release != nil { // the rows are encoded: the items are done with
					for _, v := range j.items {
						release(v)
					}
				}
				clear(j.items)
				select {
				case free <- j.items[:0]:
				default:
				}
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

// decodeAll yields decode(i, v) of each of items (v the i-th, from 0), in
// order: items is read on a goroutine of its own, a batch at a time, and
// the batches decoded on every core. The first error (of items or of
// decode) ends it.
func decodeAll[T, U any](ctx context.Context, items iter.Seq2[T, error], decode func(i int, v T) (U, error)) iter.Seq2[U, error] {
	return func(yield func(U, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type batch struct {
			first int
			in    []T
			out   []U
			err   error // after out
			done  chan struct{}
		}
		workers := runtime.GOMAXPROCS(0)
		order := make(chan *batch, 2*workers)
		work := make(chan *batch, 2*workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for b := range work {
					b.out = make([]U, 0, len(b.in))
					for k, v := range b.in {
						u, err := decode(b.first+k, v)
						if err != nil {
							b.err = err
							break
						}
						b.out = append(b.out, u)
					}
					close(b.done)
				}
			})
		}
		go func() {
			defer close(work)
			defer close(order)
			b := &batch{done: make(chan struct{})}
			send := func() bool {
				select {
				case order <- b:
				case <-ctx.Done():
					return false
				}
				work <- b // the workers take every batch sent
				b = &batch{first: b.first + len(b.in), done: make(chan struct{})}
				return true
			}
			for v, err := range items {
				if err != nil {
					b.err = err
					send()
					return
				}
				if b.in = append(b.in, v); len(b.in) == rowBatch && !send() {
					return
				}
			}
			if len(b.in) > 0 {
				send()
			}
		}()
		defer func() {
			cancel()
			for b := range order { // the reader has ended when order is closed
				<-b.done
			}
			wg.Wait()
		}()
		for b := range order {
			<-b.done
			for _, u := range b.out {
				if !yield(u, nil) {
					return
				}
			}
			if b.err != nil {
				var zero U
				yield(zero, b.err)
				return
			}
		}
		if err := ctx.Err(); err != nil {
			var zero U
			yield(zero, err)
		}
	}
}
