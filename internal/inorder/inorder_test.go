package inorder

import (
	"sync/atomic"
	"testing"
)

func TestValues(t *testing.T) {
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 10*chunk + 7} {
		var calls atomic.Int64
		at, stop := Values(n, func(k int) int { calls.Add(1); return k * k })
		for k := range n {
			if v := *at(k); v != k*k {
				t.Fatalf("n %d: at(%d) = %d", n, k, v)
			}
		}
		stop()
		if calls.Load() != int64(n) {
			t.Errorf("n %d: f called %d times", n, calls.Load())
		}
	}
}

// Stopping early ends the work: f is not called for the whole sequence.
func TestStopEarly(t *testing.T) {
	var calls atomic.Int64
	n := 1000 * chunk
	at, stop := Values(n, func(k int) int { calls.Add(1); return k })
	if *at(0) != 0 || *at(1) != 1 {
		t.Fatal("first values")
	}
	stop()
	stop() // once only
	if c := calls.Load(); c >= int64(n) {
		t.Errorf("f called %d times after an early stop", c)
	}
}
