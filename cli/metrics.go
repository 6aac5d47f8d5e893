package cli

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/kafka"
)

// promMetrics adapts the engine and Kafka server hooks to Prometheus
// metrics in its own registry (no global sink), like kgo's kprom plugin.
type promMetrics struct {
	reg *prometheus.Registry

	produceBytes   *prometheus.CounterVec
	produceRecords *prometheus.CounterVec
	produceErrors  *prometheus.CounterVec
	fetchBytes     *prometheus.CounterVec
	fetchRecords   *prometheus.CounterVec
	requestLatency *prometheus.HistogramVec
	requests       *prometheus.CounterVec
	requestPhase   *prometheus.HistogramVec
	leaderChanges  *prometheus.CounterVec

	// Per-topic sums of the per-partition counters above, for dashboards
	// that should not carry a partition label (Kafka's BrokerTopicMetrics).
	topicBytesIn    *prometheus.CounterVec
	topicBytesOut   *prometheus.CounterVec
	topicRecordsIn  *prometheus.CounterVec
	topicRecordsOut *prometheus.CounterVec

	// raft is the engine hook of the Raft metrics (metrics_raft.go).
	raft *raftMetrics
	// perPartition serves the series labelled by partition (true unless
	// --metrics-partition-labels=false); set before the broker starts.
	perPartition bool

	// For the status page: the recent leader changes, and the groups
	// source watchGroups was given (nil before).
	leaders *leaderChangeLog
	groups  groupSource
}

var (
	_ engine.HookProduce      = (*promMetrics)(nil)
	_ engine.HookFetch        = (*promMetrics)(nil)
	_ engine.HookLeaderChange = (*promMetrics)(nil)
	_ kafka.HookRequest       = (*promMetrics)(nil)
	_ prometheus.Collector    = (*engineCollector)(nil)
)

func newPromMetrics() *promMetrics {
	tp := []string{"topic", "partition"}
	m := &promMetrics{
		reg:     prometheus.NewRegistry(),
		leaders: newLeaderChangeLog(recentLeaderChanges),
		produceBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "produce_bytes_total",
			Help: "Record batch bytes produced on this broker (as leader), per partition."}, tp),
		produceRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "produce_records_total",
			Help: "Records produced on this broker (as leader), per partition."}, tp),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "produce_errors_total",
			Help: "Produces that reached the leader and failed, per partition."}, tp),
		fetchBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "fetch_bytes_total",
			Help: "Record batch bytes returned by fetches, per partition."}, tp),
		fetchRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "fetch_records_total",
			Help: "Records returned by fetches, per partition."}, tp),
		requestLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "chronik", Name: "request_duration_seconds",
			Help:    "Kafka request latency from read to response, per API and result (ok, closed, or the Kafka error answered, such as corrupt_message).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"api", "result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "kafka_requests_total",
			Help: "Kafka requests answered or failed, per API, version and result (as chronik_request_duration_seconds: ok, closed, or the Kafka error answered)."}, []string{"api", "version", "result"}),
		requestPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "chronik", Name: "request_phase_duration_seconds",
			Help:    "Kafka request latency per API and phase: queue (behind the connection's earlier requests), handle (to the response being ready), send (writing it).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 19)}, []string{"api", "phase"}),
		topicBytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "topic_bytes_in_total",
			Help: "Record batch bytes produced on this broker (as leader), per topic."}, []string{"topic"}),
		topicBytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "topic_bytes_out_total",
			Help: "Record batch bytes returned by fetches from this broker, per topic."}, []string{"topic"}),
		topicRecordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "topic_records_in_total",
			Help: "Records produced on this broker (as leader), per topic."}, []string{"topic"}),
		topicRecordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "topic_records_out_total",
			Help: "Records returned by fetches from this broker, per topic."}, []string{"topic"}),
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_leader_changes_total",
			Help: "Raft leader changes seen by this broker, per group (topic \"__meta\" for metadata)."}, tp),
	}
	m.reg.MustRegister(m.produceBytes, m.produceRecords, m.produceErrors, m.fetchBytes, m.fetchRecords,
		m.requestLatency, m.requests, m.requestPhase, m.leaderChanges,
		m.topicBytesIn, m.topicBytesOut, m.topicRecordsIn, m.topicRecordsOut,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.raft = newRaftMetrics(m.reg)
	m.perPartition = true
	return m
}

func partLabel(p int32) string { return strconv.Itoa(int(p)) }

// OnProduce implements engine.HookProduce.
func (m *promMetrics) OnProduce(topic string, partition int32, bytes, records int, _ time.Duration, err error) {
	p := partLabel(partition)
	if err != nil {
		if m.perPartition {
			m.produceErrors.WithLabelValues(topic, p).Inc()
		}
		return
	}
	if m.perPartition {
		m.produceBytes.WithLabelValues(topic, p).Add(float64(bytes))
		m.produceRecords.WithLabelValues(topic, p).Add(float64(records))
	}
	m.topicBytesIn.WithLabelValues(topic).Add(float64(bytes))
	m.topicRecordsIn.WithLabelValues(topic).Add(float64(records))
}

// OnFetch implements engine.HookFetch.
func (m *promMetrics) OnFetch(topic string, partition int32, bytes, records int, err error) {
	if err != nil || bytes == 0 {
		return
	}
	if m.perPartition {
		p := partLabel(partition)
		m.fetchBytes.WithLabelValues(topic, p).Add(float64(bytes))
		m.fetchRecords.WithLabelValues(topic, p).Add(float64(records))
	}
	m.topicBytesOut.WithLabelValues(topic).Add(float64(bytes))
	m.topicRecordsOut.WithLabelValues(topic).Add(float64(records))
}

// OnLeaderChange implements engine.HookLeaderChange.
func (m *promMetrics) OnLeaderChange(topic string, partition int32, leader, term uint64) {
	m.leaders.add(time.Now(), topic, partition, leader, term)
	if m.perPartition {
		m.leaderChanges.WithLabelValues(topic, partLabel(partition)).Inc()
	}
}

// OnRequest implements kafka.HookRequest. The result label is "ok",
// "closed" (the connection was closed instead of answering), or the Kafka
// error the response carries in lower case ("corrupt_message",
// "not_leader_for_partition", ...).
func (m *promMetrics) OnRequest(info kafka.RequestInfo) {
	res := "ok"
	switch {
	case info.Err != nil:
		res = "closed"
	case info.ErrCode != 0:
		res = requestResult(info.ErrCode)
	}
	api := kmsg.NameForKey(info.APIKey)
	m.requestLatency.WithLabelValues(api, res).Observe(info.Total().Seconds())
	m.requests.WithLabelValues(api, strconv.Itoa(int(info.Version)), res).Inc()
	m.requestPhase.WithLabelValues(api, "queue").Observe(info.Queue.Seconds())
	m.requestPhase.WithLabelValues(api, "handle").Observe(info.Handle.Seconds())
	m.requestPhase.WithLabelValues(api, "send").Observe(info.Send.Seconds())
}

// requestResult is the result label of a Kafka error code.
func requestResult(code int16) string {
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return strings.ToLower(ke.Message)
	}
	return "error_" + strconv.Itoa(int(code))
}

// watchEngine adds the gauges read from e at scrape time.
func (m *promMetrics) watchEngine(e *engine.Engine) {
	ec := newEngineCollector(e)
	ec.perPartition = m.perPartition
	m.reg.MustRegister(ec, newClusterCollector(e), newRaftCollector(e))
}

func (m *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// engineCollector reads per-replica gauges from the engine on each scrape.
type engineCollector struct {
	e            *engine.Engine
	perPartition bool // serve the per-replica and per-partition gauges
	inflight     *prometheus.Desc
	segBytes     *prometheus.Desc
	hw           *prometheus.Desc
	isLeader     *prometheus.Desc
	unresolved   *prometheus.Desc
	corrupt      *prometheus.Desc
	quarantine   *prometheus.Desc
	rebuilt      *prometheus.Desc
	moves        *prometheus.Desc
	diskFree     *prometheus.Desc
	segCache     *prometheus.Desc

	// Gauges of the partitions this broker leads, so that summing them
	// over brokers counts each partition once.
	ledHW       *prometheus.Desc
	ledStart    *prometheus.Desc
	ledSize     *prometheus.Desc
	ledSegments *prometheus.Desc
}

func newEngineCollector(e *engine.Engine) *engineCollector {
	tp := []string{"topic", "partition"}
	return &engineCollector{
		e:          e,
		inflight:   prometheus.NewDesc("chronik_proposals_in_flight", "Produce proposals in flight on this replica (leader only).", tp, nil),
		segBytes:   prometheus.NewDesc("chronik_segment_bytes", "Bytes of segment files of this replica.", tp, nil),
		hw:         prometheus.NewDesc("chronik_high_watermark", "Applied (committed) log end offset of this replica.", tp, nil),
		isLeader:   prometheus.NewDesc("chronik_partition_leader", "1 if this broker leads the partition.", tp, nil),
		unresolved: prometheus.NewDesc("chronik_raft_unresolved_peers_total", "Raft messages that could not be addressed: the target broker is not a configured peer.", nil, nil),
		corrupt:    prometheus.NewDesc("chronik_corrupt_frames_total", "Damaged segment frames (and replicas with a missing segment file) found in local replicas.", nil, nil),
		quarantine: prometheus.NewDesc("chronik_quarantined_replicas", "Local partition replicas found damaged and quarantined: being rebuilt from the leader, or (the only replica) waiting for an operator.", nil, nil),
		rebuilt:    prometheus.NewDesc("chronik_replicas_rebuilt_total", "Damaged local partition replicas rebuilt from their leader.", nil, nil),
		moves:      prometheus.NewDesc("chronik_leader_balance_moves_total", "Leaderships this broker handed back to their preferred replicas (leader balancer).", nil, nil),
		diskFree:   prometheus.NewDesc("chronik_disk_free_bytes", "Free bytes on the file system holding the data directory (produce is refused below --min-free-bytes).", nil, nil),
		segCache:   prometheus.NewDesc("chronik_segment_cache_bytes", "Decoded log frames in memory, shared by all local partitions (bounded by --segment-cache-bytes).", nil, nil),

		ledHW:       prometheus.NewDesc("chronik_partition_high_watermark", "High watermark (committed log end offset) of a partition this broker leads.", tp, nil),
		ledStart:    prometheus.NewDesc("chronik_partition_log_start_offset", "Log start offset of a partition this broker leads.", tp, nil),
		ledSize:     prometheus.NewDesc("chronik_partition_log_size_bytes", "Bytes of segment files on this broker of a partition it leads.", tp, nil),
		ledSegments: prometheus.NewDesc("chronik_partition_log_segments", "Segment files on this broker of a partition it leads.", tp, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inflight, c.segBytes, c.hw, c.isLeader, c.unresolved, c.corrupt, c.quarantine, c.rebuilt, c.moves, c.diskFree, c.segCache,
		c.ledHW, c.ledStart, c.ledSize, c.ledSegments} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.e.LocalReplicas(false) {
		if r.Stopped || !c.perPartition {
			continue // quarantined and not running: no replica gauges
		}
		p := partLabel(r.Partition)
		leader := 0.0
		if r.IsLeader {
			leader = 1
		}
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(r.InFlight), r.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.segBytes, prometheus.GaugeValue, float64(r.SizeBytes), r.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.hw, prometheus.GaugeValue, float64(r.HighWatermark), r.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.isLeader, prometheus.GaugeValue, leader, r.Topic, p)
		if r.IsLeader {
			ch <- prometheus.MustNewConstMetric(c.ledHW, prometheus.GaugeValue, float64(r.HighWatermark), r.Topic, p)
			ch <- prometheus.MustNewConstMetric(c.ledStart, prometheus.GaugeValue, float64(r.LogStartOffset), r.Topic, p)
			ch <- prometheus.MustNewConstMetric(c.ledSize, prometheus.GaugeValue, float64(r.SizeBytes), r.Topic, p)
			ch <- prometheus.MustNewConstMetric(c.ledSegments, prometheus.GaugeValue, float64(r.Segments), r.Topic, p)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.unresolved, prometheus.CounterValue, float64(c.e.UnknownRaftTargets()))
	ch <- prometheus.MustNewConstMetric(c.corrupt, prometheus.CounterValue, float64(c.e.CorruptFrames()))
	ch <- prometheus.MustNewConstMetric(c.quarantine, prometheus.GaugeValue, float64(len(c.e.QuarantinedReplicas())))
	ch <- prometheus.MustNewConstMetric(c.rebuilt, prometheus.CounterValue, float64(c.e.ReplicasRebuilt()))
	ch <- prometheus.MustNewConstMetric(c.moves, prometheus.CounterValue, float64(c.e.LeaderBalanceMoves()))
	ch <- prometheus.MustNewConstMetric(c.diskFree, prometheus.GaugeValue, float64(c.e.DiskFreeBytes()))
	ch <- prometheus.MustNewConstMetric(c.segCache, prometheus.GaugeValue, float64(c.e.SegmentCacheBytes()))
}

// serverStats is what serverCollector reads of a *kafka.Server.
type serverStats interface {
	GroupRecordsSkipped() int64
	ConnectionsRejected() int64
	ConnectionsAccepted() int64
	ConnectionsOpen() int
	QueuedRequestBytes() (bytes int64, waiting int)
	SASLAuthentications() int64
	SASLAuthenticationFailures() int64
}

var _ serverStats = (*kafka.Server)(nil)

// watchServer adds the counters read from the Kafka server at scrape time.
func (m *promMetrics) watchServer(s serverStats) {
	m.reg.MustRegister(newServerCollector(s))
}

// serverCollector reads the Kafka server's counters on each scrape.
type serverCollector struct {
	s        serverStats
	skipped  *prometheus.Desc
	rejected *prometheus.Desc
	accepted *prometheus.Desc
	open     *prometheus.Desc
	queued   *prometheus.Desc
	waiting  *prometheus.Desc
	saslOK   *prometheus.Desc
	saslFail *prometheus.Desc
}

var _ prometheus.Collector = (*serverCollector)(nil)

func newServerCollector(s serverStats) *serverCollector {
	return &serverCollector{
		s: s,
		skipped: prometheus.NewDesc("chronik_group_records_skipped_total",
			"Records of __consumer_offsets that coordinator loads could not decode and skipped (counted again on each load of their partition).", nil, nil),
		rejected: prometheus.NewDesc("chronik_connections_rejected_total",
			"Client connections closed at accept because --max-connections were open.", nil, nil),
		accepted: prometheus.NewDesc("chronik_connections_accepted_total",
			"Client connections accepted and served (rejected ones not counted).", nil, nil),
		open: prometheus.NewDesc("chronik_connections_open",
			"Client connections open now.", nil, nil),
		queued: prometheus.NewDesc("chronik_queued_request_bytes",
			"Bytes of requests read or being read and not yet answered, across connections (at most --queued-max-request-bytes).", nil, nil),
		waiting: prometheus.NewDesc("chronik_connections_waiting_for_request_bytes",
			"Connections that stopped reading until --queued-max-request-bytes has room for their next request.", nil, nil),
		saslOK: prometheus.NewDesc("chronik_sasl_authentication_successes_total",
			"SASL authentications that succeeded, re-authentications included.", nil, nil),
		saslFail: prometheus.NewDesc("chronik_sasl_authentication_failures_total",
			"SASL authentications that failed: wrong password, unknown user or a malformed exchange.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.skipped, c.rejected, c.accepted, c.open, c.queued, c.waiting, c.saslOK, c.saslFail} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(c.s.GroupRecordsSkipped()))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(c.s.ConnectionsRejected()))
	ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(c.s.ConnectionsAccepted()))
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(c.s.ConnectionsOpen()))
	bytes, waiting := c.s.QueuedRequestBytes()
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(bytes))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(waiting))
	ch <- prometheus.MustNewConstMetric(c.saslOK, prometheus.CounterValue, float64(c.s.SASLAuthentications()))
	ch <- prometheus.MustNewConstMetric(c.saslFail, prometheus.CounterValue, float64(c.s.SASLAuthenticationFailures()))
}
