package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// healthHandler serves /healthz (the process is up: always 200) and /readyz
// (200 once the broker is registered in __meta and can serve, else 503).
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
		fmt.Fprintln(w, "ready")
	})
	return mux
}
