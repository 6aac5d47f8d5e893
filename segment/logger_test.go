package segment

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
)

// testLogger sends the log to t.Log (shown with -v or on failure).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(&tHandler{t: t})
}

type tHandler struct {
	t     testing.TB
	attrs []slog.Attr
}

func (h *tHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *tHandler) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		s += fmt.Sprintf(" %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool { s += fmt.Sprintf(" %s=%v", a.Key, a.Value); return true })
	h.t.Log(s)
	return nil
}
func (h *tHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &tHandler{t: h.t, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h *tHandler) WithGroup(string) slog.Handler { return h }
