package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// A broker restarted with a sealed segment file of a one-replica partition
// gone: /readyz says not ready and names the partition, /metrics counts
// the quarantined replica and the damage, /v1/partitions lists it.
func TestReadyzAndMetricsReportQuarantine(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "hurt", engine.TopicConfig{Partitions: 1, SegmentBytes: 2048, Compression: "none"})
	e := c.Engine(1)
	for i := 0; i < 40; i++ {
		if _, err := e.Produce(t.Context(), "hurt", 0, []engine.Record{{Value: []byte(strings.Repeat("x", 100))}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, body := get(healthHandler(e), "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the damage: %d %s", code, body)
	}
	c.Stop(1)
	pdirs, _ := filepath.Glob(filepath.Join(c.Config(1).DataDir, "partitions", "hurt-0.*"))
	logs, _ := filepath.Glob(filepath.Join(pdirs[0], "*.log"))
	slices.Sort(logs)
	if len(logs) < 3 {
		t.Fatalf("%d segments", len(logs))
	}
	if err := os.Remove(logs[1]); err != nil {
		t.Fatal(err)
	}
	c.Restart(1)
	e = c.Engine(1)

	code, body := get(healthHandler(e), "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "hurt-0: quarantined") {
		t.Fatalf("/readyz: %d %q, want 503 naming hurt-0", code, body)
	}
	m := newPromMetrics()
	m.watchEngine(e)
	_, metrics := get(m.handler(), "/metrics")
	for _, want := range []string{"chronik_quarantined_replicas 1\n", "chronik_corrupt_frames_total 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	_, parts := get(brokerHTTPHandler(e, nil), "/v1/partitions")
	if !strings.Contains(parts, `"State":"quarantined"`) {
		t.Errorf("/v1/partitions does not report the quarantine: %s", parts)
	}
}
