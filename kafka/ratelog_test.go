package kafka

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	type step struct {
		at         time.Duration // since the start
		kind       string
		ok         bool
		suppressed int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"under the burst", []step{
			{0, "a", true, 0}, {time.Millisecond, "a", true, 0},
		}},
		{"past the burst, then the next period reports the count", []step{
			{0, "a", true, 0}, {1, "a", true, 0}, {2, "a", false, 0}, {3, "a", false, 0},
			{time.Second, "a", true, 2}, {time.Second + 1, "a", true, 0}, {time.Second + 2, "a", false, 0},
		}},
		{"kinds are limited apart", []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 0},
			{0, "b", true, 0}, {0, "b", true, 0}, {0, "b", false, 0},
			{2 * time.Second, "b", true, 1}, {2 * time.Second, "a", true, 1},
		}},
		{"a quiet period resets without a summary", []step{
			{0, "a", true, 0}, {5 * time.Second, "a", true, 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			var now time.Time
			l := newLogLimiter(time.Second, 2)
			l.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = start.Add(s.at)
				ok, sup := l.allow(s.kind)
				if ok != s.ok || sup != s.suppressed {
					t.Fatalf("step %d (%s at %s): allow = %v, %d; want %v, %d", i, s.kind, s.at, ok, sup, s.ok, s.suppressed)
				}
			}
		})
	}
}

// countHandler counts log records by message.
type countHandler struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs[r.Message]++
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.msgs[msg]
}

// A flood of connections sending bad frames logs a few lines, not one each.
func TestBadConnectionLogsLimited(t *testing.T) {
	h := &countHandler{msgs: map[string]int{}}
	_, addr := serve(t, &stubBackend{}, Config{Logger: slog.New(h)})
	const conns = 40
	for range conns {
		rc := dialRaw(t, addr)
		rc.write([]byte{0xff, 0xff, 0xff, 0xff}) // negative length
		rc.expectClosed()
	}
	got := h.count("closing connection: bad request frame")
	if got == 0 || got > 2*badLogsPerSecond {
		t.Fatalf("%d bad-frame lines for %d bad connections, want 1..%d", got, conns, 2*badLogsPerSecond)
	}
}
