package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/kafka"
)

// scrape is one parsed /metrics exposition: each sample by its series as
// printed (name{labels} with labels sorted), and each family's type.
type scrape struct {
	samples map[string]float64
	types   map[string]string
}

// scrapeMetrics serves one GET /metrics from m and parses it.
func scrapeMetrics(t *testing.T, m *promMetrics) scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	s := scrape{samples: map[string]float64{}, types: map[string]string{}}
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.types[f[2]] = f[3]
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		s.samples[line[:i]] = v
	}
	return s
}

// startMeteredBroker starts a one-node broker (engine and Kafka server on
// ln) with every metrics hook and collector of chronik start wired to m;
// both close at t's cleanup.
func startMeteredBroker(t *testing.T) (*testcluster.Cluster, *promMetrics, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newPromMetrics()
	c := testcluster.New(t, 1, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.KafkaAddr = ln.Addr().String()
		cfg.Hooks = append(cfg.Hooks, m, m.raft)
	}))
	e := c.Engine(1)
	srv, err := kafka.New(e, kafka.Config{RequestHook: m,
		Groups: kafka.GroupConfig{OffsetsTopicPartitions: 1, InitialRebalanceDelay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	m.watchEngine(e)
	m.watchServer(srv)
	m.watchGroups(srv, e)
	return c, m, ln
}

// A one-node broker with the metrics hooks: producing, fetching and
// committing move the counters and gauges by what was done, and the
// Grafana dashboard only queries metrics this registry serves.
func TestMetricsOneBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	c, m, ln := startMeteredBroker(t)

	const topic, n, size = "metered", 20, 100
	c.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, Compression: "none"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.ConsumeTopics(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var recs []*kgo.Record
	for range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("v", size))})
	}
	if err := kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < n; {
		fs := kc.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}

	adm := kadm.NewClient(kc)
	commit := func(at int64) {
		var offs kadm.Offsets
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, "metered-group", offs); err != nil {
			t.Fatal(err)
		}
	}
	commit(5)
	before := scrapeMetrics(t, m)
	commit(n)
	after := scrapeMetrics(t, m)

	tp := `{partition="0",topic="metered"}`
	gtp := `{group="metered-group",partition="0",topic="metered"}`
	for _, tc := range []struct {
		s      scrape
		series string
		min    float64
		max    float64
	}{
		{after, `chronik_topic_bytes_in_total{topic="metered"}`, n * size, 2 * n * size},
		{after, `chronik_topic_records_in_total{topic="metered"}`, n, n},
		{after, `chronik_produce_records_total` + tp, n, n},
		{after, `chronik_topic_bytes_out_total{topic="metered"}`, n * size, 1e9},
		{after, `chronik_topic_records_out_total{topic="metered"}`, n, 1e9},
		{after, `chronik_partition_high_watermark` + tp, n, n},
		{after, `chronik_partition_log_start_offset` + tp, 0, 0},
		{after, `chronik_partition_log_size_bytes` + tp, n * size, 1e9},
		{after, `chronik_partition_log_segments` + tp, 1, 1e9},
		{after, `chronik_connections_accepted_total`, 1, 1e9},
		{after, `chronik_connections_open`, 1, 1e9},
		{after, `chronik_partitions_led`, 2, 2}, // metered-0, __consumer_offsets-0
		{after, `chronik_leaderless_partitions`, 0, 0},
		{after, `chronik_under_replicated_partitions`, 0, 0},
		{after, `chronik_offline_replicas`, 0, 0},
		{after, `chronik_consumer_group_members{group="metered-group",state="Empty"}`, 0, 0},
		{before, `chronik_consumer_group_lag` + gtp, n - 5, n - 5},
		{after, `chronik_consumer_group_committed_offset` + gtp, n, n},
		{after, `chronik_consumer_group_lag` + gtp, 0, 0},
		{after, `chronik_raft_commit_duration_seconds_count{class="partition"}`, 1, 1e9},
		{after, `chronik_raft_commit_duration_seconds_count{class="meta"}`, 1, 1e9}, // topic creation, registration
		{after, `chronik_raft_entries_applied_total{class="partition"}`, 1, 1e9},
		{after, `chronik_raft_entries_applied_total{class="internal"}`, 2, 1e9}, // the two commits
		{after, `chronik_raft_apply_duration_seconds_count{class="partition"}`, 1, 1e9},
		{after, `chronik_raft_elections_total{class="meta"}`, 1, 1e9},
		{after, `chronik_raft_elections_total{class="partition"}`, 1, 1e9},
		{after, `chronik_raft_unreachable_peers`, 0, 0},
		{after, `chronik_raft_snapshots_total{event="sent"}`, 0, 0},
		{after, `chronik_logdb_written_bytes_total{kind="wal"}`, n * size, 1e12}, // every record went through the Raft log
		{after, `chronik_logdb_disk_bytes`, 1, 1e12},
		{after, `chronik_logdb_l0_sublevels`, 0, 24},
		{after, `chronik_logdb_write_stalls_total`, 0, 1e6},
		{after, `chronik_segment_cache_bytes`, n * size, 1 << 27}, // the tail just produced, within the 128 MiB default
	} {
		v, ok := tc.s.samples[tc.series]
		if !ok || v < tc.min || v > tc.max {
			t.Errorf("%s = %v (present %v), want in [%v, %v]", tc.series, v, ok, tc.min, tc.max)
		}
	}
	var produced, produceQueue float64 // summed over versions / read from the phase histogram
	for series, v := range after.samples {
		if strings.HasPrefix(series, `chronik_kafka_requests_total{api="Produce",result="ok",version="`) {
			produced += v
		}
		if series == `chronik_request_phase_duration_seconds_count{api="Produce",phase="queue"}` {
			produceQueue = v
		}
	}
	if produced < 1 || produceQueue != produced {
		t.Errorf("Produce requests ok %v, queue phases observed %v: want the same, >= 1", produced, produceQueue)
	}
	checkDashboardMetrics(t, after.types)
}

// dashboardPath and metricsDocPath are relative to the cli package.
const (
	dashboardPath  = "../deploy/grafana/chronik.json"
	metricsDocPath = "../docs/METRICS.md"
)

// metricName matches the chronik metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\bchronik_[a-z0-9_]+`)

// dashboardExprs parses the dashboard and returns the expressions of its
// panels' targets (rows' nested panels included).
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Targets []struct{ Expr string }
		Panels  []json.RawMessage
	}
	var d struct {
		Panels []json.RawMessage
		Inputs []struct{ Name string } `json:"__inputs"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if len(d.Inputs) == 0 || d.Inputs[0].Name != "DS_PROMETHEUS" {
		t.Errorf("%s: want a DS_PROMETHEUS datasource input, got %+v", dashboardPath, d.Inputs)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardPath, err)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(exprs) == 0 {
		t.Fatalf("%s: no panel targets", dashboardPath)
	}
	return exprs
}

// checkDashboardMetrics checks that every metric the dashboard queries is
// documented in docs/METRICS.md and served (types holds the scraped
// families; a histogram's _bucket, _sum and _count are its name).
func checkDashboardMetrics(t *testing.T, types map[string]string) {
	t.Helper()
	doc, err := os.ReadFile(metricsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range dashboardExprs(t) {
		for _, name := range metricName.FindAllString(expr, -1) {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && types[b] == "histogram" {
					base = b
				}
			}
			if _, ok := types[base]; !ok {
				t.Errorf("dashboard queries %s (in %q): the broker does not serve it", name, expr)
			}
			if !strings.Contains(string(doc), "`"+base+"`") {
				t.Errorf("dashboard queries %s: not in %s", base, metricsDocPath)
			}
		}
	}
}

// The dashboard is valid JSON with targets, and only queries documented
// metrics (served ones are checked by TestMetricsOneBroker).
func TestGrafanaDashboardDocumented(t *testing.T) {
	doc, err := os.ReadFile(metricsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range dashboardExprs(t) {
		for _, name := range metricName.FindAllString(expr, -1) {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && strings.Contains(string(doc), "`"+b+"`") {
					base = b
				}
			}
			if !strings.Contains(string(doc), "`"+base+"`") {
				t.Errorf("dashboard queries %s (in %q): not in %s", name, expr, metricsDocPath)
			}
		}
	}
}

// Three brokers, broker 1's metrics: a killed follower makes the
// partitions broker 1 leads under replicated (its Raft link fails, so the
// replica leaves the ISR), and its return brings them back to 0.
func TestMetricsUnderReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three chronik brokers")
	}
	m := newPromMetrics()
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		if cfg.NodeID == 1 {
			cfg.Hooks = append(cfg.Hooks, m, m.raft)
		}
	}))
	m.watchEngine(c.Engine(1))
	const topic = "replicated"
	c.CreateTopic(t, topic, engine.TopicConfig{Partitions: 3, ReplicationFactor: 3})
	gauge := func(series string) float64 {
		v, ok := scrapeMetrics(t, m).samples[series]
		if !ok {
			t.Fatalf("%s not served", series)
		}
		return v
	}
	waitGauge := func(series string, ok func(float64) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			v := gauge(series)
			if ok(v) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want %s", series, v, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Broker 1 leads its preferred partition once the balancer placed it.
	waitGauge("chronik_partitions_led", func(v float64) bool { return v >= 1 }, ">= 1")
	waitGauge("chronik_under_replicated_partitions", func(v float64) bool { return v == 0 }, "0 with every broker up")

	c.Kill(3)
	waitGauge("chronik_raft_unreachable_peers", func(v float64) bool { return v == 1 }, "1 after broker 3 was killed")
	waitGauge("chronik_under_replicated_partitions", func(v float64) bool { return v >= 1 }, ">= 1 after broker 3 was killed")
	md := c.Engine(1).Metadata(topic)
	for _, p := range md.Topics[0].Partitions {
		if len(p.ISR) != 2 || slices.Contains(p.ISR, 3) {
			t.Errorf("partition %d: ISR %v with broker 3 down, want the two others", p.Partition, p.ISR)
		}
	}

	c.Restart(3)
	waitGauge("chronik_raft_unreachable_peers", func(v float64) bool { return v == 0 }, "0 after broker 3 returned")
	waitGauge("chronik_under_replicated_partitions", func(v float64) bool { return v == 0 }, "0 after broker 3 returned")
	waitGauge("chronik_offline_replicas", func(v float64) bool { return v == 0 }, "0 after broker 3 returned")
}
