package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// healthHandler serves /healthz (the process is up: always 200) and /readyz
// (200 once the broker is registered in __meta and can serve, else 503;
// also 503 while any local partition replica is quarantined, with the
// replicas and reasons in the body).
func healthHandler(e *engine.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Millisecond)
		defer cancel()
		if err := e.WaitReady(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if q := e.QuarantinedReplicas(); len(q) > 0 {
			var b strings.Builder
			fmt.Fprintf(&b, "not ready: %d partition replica(s) quarantined\n", len(q))
			for _, r := range q {
				fmt.Fprintf(&b, "%s-%d: %s since %s: %s %s\n", r.Topic, r.Partition, r.State, r.Since.UTC().Format(time.RFC3339), r.File, r.Reason)
			}
			http.Error(w, b.String(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
