package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/salvagehq/salvage/sources"
)

// Exit codes, the whole list. Documented in `salvage --help` and the README.
const (
	exitOK          = 0   // done
	exitError       = 1   // failed
	exitUsage       = 2   // the command line was wrong
	exitPartial     = 3   // finished, but some input could not be read (rejected records, kept in the case)
	exitInterrupted = 130 // interrupted (Ctrl-C); an interrupted import resumes when run again
)

const exitCodesHelp = `Exit codes:
  0    done
  1    failed
  2    the command line was wrong
  3    finished, but some input could not be read (kept as rejected records:
       see salvage status)
  130  interrupted (Ctrl-C); run the same import again to resume it`

// usageError is a mistake in how salvage was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// partialError means the command finished but rejected some input.
type partialError struct{ rejected int64 }

func (e partialError) Error() string {
	return fmt.Sprintf("%d input(s) could not be read; they are kept in the case as rejected records (salvage status lists them)", e.rejected)
}

// exitCode maps an error from a command to the process exit code.
func exitCode(err error) int {
	var usage usageError
	var partial partialError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &usage), errors.Is(err, sources.ErrUsage):
		return exitUsage
	case errors.As(err, &partial):
		return exitPartial
	default:
		return exitError
	}
}
