//go:build unix

package xlsx

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, user and system: a phase
// that used less than both cores' worth of its wall time left one idle.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
