// Command salvage rebuilds a business's lost bookings from the systems that
// survived a data-loss incident. See `salvage --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the case's time zone must load on machines without a zoneinfo database
)

func main() {
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
