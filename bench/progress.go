package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress is a snapshot of a running benchmark, passed to the Progress
// callback of ProduceConfig and ConsumeConfig.
type Progress struct {
	Kind   string // "produce" or "consume"
	Warmup bool   // still in the warm-up; counts below are zero
	Done   bool   // the final call: the run has finished
	// Elapsed is the time since the measured phase began (or since the
	// warm-up began, while Warmup is set).
	Elapsed time.Duration
	Records int64 // acknowledged (produce) or consumed records so far
	Bytes   int64 // their value bytes
	Errors  int64 // failed records so far

	// Interval figures cover the time since the previous call; in the
	// final call (Done) they cover the whole measured run.
	RecordsPerSec float64
	MiBPerSec     float64
	P99           float64 // ms; 0 when no latency was recorded

	TargetRecords  int64         // 0 when the run is bounded by time only
	TargetDuration time.Duration // 0 when the run is bounded by count only
}

// Fraction is the part of the run done, in [0, 1], or -1 while unknown.
func (p Progress) Fraction() float64 {
	if p.Warmup {
		return -1
	}
	f := -1.0
	if p.TargetRecords > 0 {
		f = float64(p.Records) / float64(p.TargetRecords)
	}
	if p.TargetDuration > 0 {
		f = max(f, float64(p.Elapsed)/float64(p.TargetDuration))
	}
	if f > 1 {
		f = 1
	}
	return f
}

// ETA estimates the time left, or -1 while unknown.
func (p Progress) ETA() time.Duration {
	f := p.Fraction()
	if f <= 0 || p.Elapsed <= 0 {
		return -1
	}
	return time.Duration(float64(p.Elapsed) * (1 - f) / f)
}

// Line renders p as one status line, with a bar of barWidth cells (no bar
// when barWidth is 0).
func (p Progress) Line(barWidth int) string {
	var b strings.Builder
	if barWidth > 0 {
		f := p.Fraction()
		fill := 0
		if f > 0 {
			fill = int(f*float64(barWidth) + 0.5)
		}
		b.WriteByte('[')
		b.WriteString(strings.Repeat("=", fill))
		if fill < barWidth {
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", barWidth-fill-1))
		}
		b.WriteString("] ")
		if f >= 0 {
			fmt.Fprintf(&b, "%3.0f%% ", f*100)
		}
	}
	if p.Warmup {
		fmt.Fprintf(&b, "%s warm-up %5.1fs", p.Kind, p.Elapsed.Seconds())
		return b.String()
	}
	p99 := "-"
	if p.P99 > 0 {
		p99 = fmtMs(p.P99) + "ms"
	}
	fmt.Fprintf(&b, "%s %6.1fs %s rec  %s rec/s  %.1f MiB/s  p99 %s  err %s",
		p.Kind, p.Elapsed.Seconds(), commas(p.Records), commas(int64(p.RecordsPerSec+0.5)),
		p.MiBPerSec, p99, commas(p.Errors))
	if p.Done {
		b.WriteString("  done")
	} else if eta := p.ETA(); eta >= 0 {
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	return b.String()
}

// NewProgressWriter returns a Progress callback that writes to w. With live
// set (w is a terminal) it redraws one line in place, with a progress bar;
// otherwise it writes one plain line per call. The callback is safe for
// concurrent use.
func NewProgressWriter(w io.Writer, live bool) func(Progress) {
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if !live {
			fmt.Fprintln(w, p.Line(0))
			return
		}
		end := ""
		if p.Done {
			end = "\n"
		}
		// \r returns to the line start; \x1b[K clears what a longer previous
		// line left behind.
		fmt.Fprintf(w, "\r%s\x1b[K%s", p.Line(20), end)
	}
}

// IsTerminal reports whether f is a terminal, so progress can be drawn in
// place.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progressSource is what runProgress reads a running benchmark from.
type progressSource struct {
	kind           string
	fn             func(Progress) // nil: no progress calls
	interval       time.Duration
	targetRecords  int64
	targetDuration time.Duration
	t0, start      time.Time // warm-up start, measured phase start
	records        func() int64
	bytes          func() int64
	errors         func() int64
	lat            *recorder
	elapsed        func(now time.Time) time.Duration // final elapsed time
}

// runProgress calls src.fn every src.interval until done is closed, then
// once more with Done set, and closes stopped.
func runProgress(src progressSource, done <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	if src.fn == nil {
		<-done
		return
	}
	t := time.NewTicker(src.interval)
	defer t.Stop()
	var prevRecs, prevBytes int64
	prevAt := time.Now()
	snap := func(now time.Time, final bool) Progress {
		p := Progress{
			Kind:           src.kind,
			Done:           final,
			TargetRecords:  src.targetRecords,
			TargetDuration: src.targetDuration,
		}
		if now.Before(src.start) && !final {
			p.Warmup = true
			p.Elapsed = now.Sub(src.t0)
			src.lat.snapshotInterval()
			prevAt = now
			return p
		}
		p.Elapsed = now.Sub(src.start)
		p.Records, p.Bytes, p.Errors = src.records(), src.bytes(), src.errors()
		// Interval rates run from the previous call, or from the start of
		// the measured phase for the first one; the final call reports the
		// whole run's averages, as the report does.
		from, recs, bytes := prevAt, prevRecs, prevBytes
		if from.Before(src.start) {
			from = src.start
		}
		if final {
			p.Elapsed = src.elapsed(now)
			from, recs, bytes = src.start, 0, 0
			now = src.start.Add(p.Elapsed)
		}
		if dt := now.Sub(from).Seconds(); dt > 0 {
			p.RecordsPerSec = float64(p.Records-recs) / dt
			p.MiBPerSec = float64(p.Bytes-bytes) / (1 << 20) / dt
		}
		p.P99 = src.lat.snapshotInterval().P99
		if final {
			p.P99 = src.lat.Summary().P99
		}
		prevRecs, prevBytes, prevAt = p.Records, p.Bytes, now
		return p
	}
	for {
		select {
		case now := <-t.C:
			src.fn(snap(now, false))
		case <-done:
			src.fn(snap(time.Now(), true))
			return
		}
	}
}
