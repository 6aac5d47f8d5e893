package cli

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/kafka"
)

// TestPromMetrics feeds the hooks and checks the exposition.
func TestPromMetrics(t *testing.T) {
	m := newPromMetrics()
	m.OnProduce("orders", 1, 2048, 2, time.Millisecond, nil)
	m.OnProduce("orders", 1, 1024, 1, time.Millisecond, nil)
	m.OnProduce("orders", 2, 100, 1, time.Millisecond, errors.New("not leader"))
	m.OnFetch("orders", 1, 3072, 3, nil)
	m.OnFetch("orders", 1, 0, 0, nil) // empty long poll: not counted
	m.OnLeaderChange("orders", 1, 2, 7)
	m.OnLeaderChange("__meta", -1, 1, 3)
	m.OnRequest(kafka.RequestInfo{APIKey: 0, Version: 9, Queue: time.Millisecond, Handle: 2 * time.Millisecond})
	m.OnRequest(kafka.RequestInfo{APIKey: 0, Version: 9, Handle: 2 * time.Millisecond, ErrCode: kerr.CorruptMessage.Code})
	m.OnRequest(kafka.RequestInfo{APIKey: 3, Version: 12, Handle: time.Millisecond, Err: errors.New("closed")})
	m.watchServer(fakeServer{skipped: 1, rejected: 2, accepted: 7, open: 4, queued: 4096, waiting: 3, saslOK: 5, saslFailed: 6})

	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`chronik_produce_bytes_total{partition="1",topic="orders"} 3072`,
		`chronik_produce_records_total{partition="1",topic="orders"} 3`,
		`chronik_produce_errors_total{partition="2",topic="orders"} 1`,
		`chronik_fetch_bytes_total{partition="1",topic="orders"} 3072`,
		`chronik_fetch_records_total{partition="1",topic="orders"} 3`,
		`chronik_raft_leader_changes_total{partition="1",topic="orders"} 1`,
		`chronik_raft_leader_changes_total{partition="-1",topic="__meta"} 1`,
		`chronik_request_duration_seconds_count{api="Produce",result="ok"} 1`,
		`chronik_request_duration_seconds_count{api="Produce",result="corrupt_message"} 1`,
		`chronik_request_duration_seconds_count{api="Metadata",result="closed"} 1`,
		`chronik_kafka_requests_total{api="Produce",result="ok",version="9"} 1`,
		`chronik_kafka_requests_total{api="Produce",result="corrupt_message",version="9"} 1`,
		`chronik_kafka_requests_total{api="Metadata",result="closed",version="12"} 1`,
		`chronik_request_duration_seconds_sum{api="Produce",result="ok"} 0.003`,
		`chronik_request_phase_duration_seconds_count{api="Produce",phase="queue"} 2`,
		`chronik_request_phase_duration_seconds_sum{api="Produce",phase="handle"} 0.004`,
		`chronik_topic_bytes_in_total{topic="orders"} 3072`,
		`chronik_topic_records_in_total{topic="orders"} 3`,
		`chronik_topic_bytes_out_total{topic="orders"} 3072`,
		`chronik_topic_records_out_total{topic="orders"} 3`,
		`chronik_connections_accepted_total 7`,
		`chronik_connections_open 4`,
		`chronik_group_records_skipped_total 1`,
		`chronik_connections_rejected_total 2`,
		`chronik_queued_request_bytes 4096`,
		`chronik_connections_waiting_for_request_bytes 3`,
		`chronik_sasl_authentication_successes_total 5`,
		`chronik_sasl_authentication_failures_total 6`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `chronik_produce_bytes_total{partition="2"`) {
		t.Error("a failed produce counted as produced bytes")
	}
}

// fakeServer stands in for a *kafka.Server's counters.
type fakeServer struct {
	skipped, rejected, queued int64
	accepted                  int64
	waiting, open             int
	saslOK, saslFailed        int64
}

func (f fakeServer) GroupRecordsSkipped() int64        { return f.skipped }
func (f fakeServer) ConnectionsRejected() int64        { return f.rejected }
func (f fakeServer) ConnectionsAccepted() int64        { return f.accepted }
func (f fakeServer) ConnectionsOpen() int              { return f.open }
func (f fakeServer) QueuedRequestBytes() (int64, int)  { return f.queued, f.waiting }
func (f fakeServer) SASLAuthentications() int64        { return f.saslOK }
func (f fakeServer) SASLAuthenticationFailures() int64 { return f.saslFailed }

// With --metrics-partition-labels=false no series carries a partition
// label; the per-topic counters still count everything.
func TestPromMetricsWithoutPartitionLabels(t *testing.T) {
	m := newPromMetrics()
	m.perPartition = false
	m.OnProduce("orders", 1, 2048, 2, time.Millisecond, nil)
	m.OnProduce("orders", 2, 100, 1, time.Millisecond, errors.New("not leader"))
	m.OnFetch("orders", 1, 3072, 3, nil)
	m.OnLeaderChange("orders", 1, 2, 7)
	m.raft.OnLeaderChange("orders", 1, 2, 7)

	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if strings.Contains(string(body), `partition="`) {
		t.Errorf("a series with a partition label is served:\n%s", body)
	}
	for _, want := range []string{
		`chronik_topic_bytes_in_total{topic="orders"} 2048`,
		`chronik_topic_records_out_total{topic="orders"} 3`,
		`chronik_raft_leader_changes_by_class_total{class="partition"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
