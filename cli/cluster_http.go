package cli

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/chronik-io/chronik/engine"
)

// PartitionsResponse is the JSON body of GET /v1/partitions: every
// partition replica the broker hosts, leader or follower, with its high
// watermark and, with ?checksum=1, the CRC-32C of its whole log (see
// engine.ReplicaStatus). `chronik cluster status` reads it from each broker
// to show every replica's lag and to compare replicas.
type PartitionsResponse struct {
	Broker    uint64                 `json:"broker"`
	ClusterID string                 `json:"cluster_id"`
	Replicas  []engine.ReplicaStatus `json:"replicas"`
}

// brokerHTTPHandler serves the status page (/ and /ui, status_page.go),
// /v1/status, /healthz, /readyz, /metrics, /v1/partitions and Go's
// profiles under /debug/pprof/ (CPU, heap, allocs, mutex, block,
// goroutine), so a broker under load can be profiled in place:
// `go tool pprof http://127.0.0.1:8090/debug/pprof/profile?seconds=10`.
func brokerHTTPHandler(e *engine.Engine, m *promMetrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/healthz", healthHandler(e))
	mux.Handle("/readyz", healthHandler(e))
	if m != nil {
		mux.Handle("/metrics", m.handler())
	}
	registerStatus(mux, statusOf(e, m))
	mux.HandleFunc("/v1/partitions", func(w http.ResponseWriter, r *http.Request) {
		resp := PartitionsResponse{
			Broker:    e.NodeID(),
			ClusterID: e.ClusterID(),
			Replicas:  e.LocalReplicas(r.URL.Query().Get("checksum") == "1"),
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
	return mux
}
