// Package benchmem measures a benchmark's peak heap: the largest heap in
// use seen while a run goes, sampled every 50 ms.
package benchmem

import (
	"runtime"
	"time"
)

// Start begins sampling; the function it returns stops and gives the peak
// HeapInuse in bytes.
func Start() (stop func() uint64) {
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var max uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
			}
			select {
			case <-done:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-peak
	}
}
