package rivers

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user + system) the test process has used so
// far. Benchmarks report CPU per operation with it next to wall time: on a
// shared machine wall time includes waiting for a core, CPU time does not.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
