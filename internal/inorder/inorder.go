// Package inorder computes the values of a sequence on every core, a chunk
// at a time, and hands them out in order: for a producer whose values are
// costly to make and must come out in order.
package inorder

import (
	"runtime"
	"sync"
)

// chunk is how many values one goroutine makes at a time.
const chunk = 256

// Values makes f(0), …, f(n-1) on every core, a few chunks ahead of the
// reader, and returns at, which gives f(k) for k = 0, 1, … in turn (the
// pointer is good until at is called a chunk later), and stop, which ends
// the work (call it once, when done with at, early or not). f is called on
// several goroutines at once.
func Values[T any](n int, f func(k int) T) (at func(k int) *T, stop func()) {
	type piece struct {
		from int
		vals []T
		done chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	ordered := make(chan *piece, 2*workers) // to the reader, in order
	work := make(chan *piece, 2*workers)    // to the workers
	quit := make(chan struct{})
	go func() {
		defer close(work)
		defer close(ordered)
		for from := 0; from < n; from += chunk {
			p := &piece{from: from, vals: make([]T, min(chunk, n-from)), done: make(chan struct{})}
			select {
			case ordered <- p:
			case <-quit:
				return
			}
			work <- p // the workers take every piece
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p := range work {
				for i := range p.vals {
					p.vals[i] = f(p.from + i)
				}
				close(p.done)
			}
		})
	}
	var cur *piece
	at = func(k int) *T {
		for cur == nil || k >= cur.from+len(cur.vals) {
			p, ok := <-ordered
			if !ok {
				panic("inorder: a value past the end, or after stop")
			}
			cur = p
			<-cur.done
		}
		return &cur.vals[k-cur.from]
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			for range ordered { // the pieces handed over: their work ends
			}
			wg.Wait()
		})
	}
	return at, stop
}
