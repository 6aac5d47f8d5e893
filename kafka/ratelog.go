package kafka

// Rate-limited logging of bad clients: a flood of bad connections must not
// flood the log.

import (
	"log/slog"
	"sync"
	"time"
)

// logLimiter lets at most burst messages of each kind through per period.
// The ones past it are counted, and the next message of that kind let
// through reports how many were suppressed. Safe for concurrent use.
type logLimiter struct {
	period time.Duration
	burst  int
	now    func() time.Time // time.Now; tests set a fake clock

	mu    sync.Mutex
	kinds map[string]*logWindow
}

// logWindow is one kind's current period.
type logWindow struct {
	start      time.Time
	passed     int // messages let through since start
	suppressed int // messages dropped since the last one let through
}

func newLogLimiter(period time.Duration, burst int) *logLimiter {
	return &logLimiter{period: period, burst: burst, now: time.Now, kinds: map[string]*logWindow{}}
}

// allow reports whether a message of kind may be logged now and, if so, how
// many of its kind were suppressed before it (to be reported with it).
func (l *logLimiter) allow(kind string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.kinds[kind]
	if w == nil {
		w = &logWindow{start: now}
		l.kinds[kind] = w
	}
	if now.Sub(w.start) >= l.period {
		w.start, w.passed = now, 0
	}
	if w.passed >= l.burst {
		w.suppressed++
		return false, 0
	}
	w.passed++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}

// warn logs msg at WARN through l's limit, kind being msg itself; a
// message let through after suppressed ones is preceded by one summary
// line.
func (l *logLimiter) warn(log *slog.Logger, msg string, args ...any) {
	ok, suppressed := l.allow(msg)
	if !ok {
		return
	}
	if suppressed > 0 {
		log.Warn("suppressed similar messages", "message", msg, "suppressed", suppressed)
	}
	log.Warn(msg, args...)
}
