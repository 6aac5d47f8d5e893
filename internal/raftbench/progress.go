package raftbench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress is a snapshot of a running benchmark, passed to Config.Progress.
type Progress struct {
	Warmup bool // still in the warm-up; the counts below are zero
	Done   bool // the final call: the run has finished
	// Elapsed is the time since the measured phase began (or since the
	// warm-up began, while Warmup is set).
	Elapsed   time.Duration
	Proposals int64 // applied so far in the measured phase
	Failed    int64 // failed so far in the measured phase
	// Interval figures cover the time since the previous call; in the
	// final call (Done) they cover the whole measured phase.
	ProposalsPerSec float64
	MiBPerSec       float64
	P99             float64 // ms; 0 without samples
	Duration        time.Duration
}

// Line renders p as one status line.
func (p Progress) Line() string {
	if p.Warmup {
		return fmt.Sprintf("raft warm-up %5.1fs", p.Elapsed.Seconds())
	}
	p99 := "-"
	if p.P99 > 0 {
		p99 = fmtMs(p.P99) + "ms"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "raft %6.1fs %s proposals  %s/s  %.1f MiB/s  p99 %s  failed %s",
		p.Elapsed.Seconds(), commas(p.Proposals), commas(int64(p.ProposalsPerSec+0.5)), p.MiBPerSec, p99, commas(p.Failed))
	if p.Done {
		b.WriteString("  done")
	} else if left := p.Duration - p.Elapsed; left > 0 {
		fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
	}
	return b.String()
}

// NewProgressWriter returns a Progress callback that writes to w: with live
// set (w is a terminal) one line redrawn in place, otherwise one line per
// call. It is safe for concurrent use.
func NewProgressWriter(w io.Writer, live bool) func(Progress) {
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !live:
			fmt.Fprintln(w, p.Line())
		case p.Done:
			fmt.Fprintf(w, "\r\033[K%s\n", p.Line())
		default:
			fmt.Fprintf(w, "\r\033[K%s", p.Line())
		}
	}
}
