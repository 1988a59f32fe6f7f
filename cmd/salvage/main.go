// Command salvage rebuilds a business's lost bookings from the systems that
// survived a data-loss incident. See `salvage --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // the case's time zone must load on machines without a zoneinfo database
)

func main() {
	gcForBatchWork()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C the import winds down and commits what it
		// has; a second one kills the process the usual way.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// gcForBatchWork lets the heap grow to five times what is live before
// collecting, unless GOGC says otherwise. An import's live heap is a batch or
// two of records, so this costs little memory and saves a fifth of the CPU
// that the default spends collecting.
func gcForBatchWork() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
