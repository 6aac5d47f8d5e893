//go:build !unix

package raftbench

import "time"

// cpuTime reports that the process CPU time is not available here.
func cpuTime() (time.Duration, bool) { return 0, false }
