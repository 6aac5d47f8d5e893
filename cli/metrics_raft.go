package cli

// Raft metrics: commit, apply and fsync latency per shard class from the
// engine's HookRaft, elections and leader changes per class from its leader
// events, and dragonboat's snapshot counters and peer reachability read at
// scrape time.

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chronik-io/chronik/engine"
)

// shardClass is the class label of a Raft group by its topic: "meta" for
// the metadata group, "internal" for __consumer_offsets and
// __transaction_state, "partition" for user topics.
func shardClass(topic string) string {
	switch {
	case topic == "__meta":
		return "meta"
	case strings.HasPrefix(topic, "__"):
		return "internal"
	}
	return "partition"
}

// raftMetrics implements engine.HookRaft and engine.HookLeaderChange.
type raftMetrics struct {
	commit    *prometheus.HistogramVec
	commitErr *prometheus.CounterVec
	apply     *prometheus.HistogramVec
	applied   *prometheus.CounterVec
	fsync     *prometheus.HistogramVec
	snapBytes *prometheus.CounterVec
	leaders   *prometheus.CounterVec
	elections *prometheus.CounterVec

	mu    sync.Mutex
	terms map[string]uint64 // group (topic/partition) -> highest term seen
}

var (
	_ engine.HookRaft         = (*raftMetrics)(nil)
	_ engine.HookLeaderChange = (*raftMetrics)(nil)
)

// raftBuckets span 50 µs to about 13 s: a loopback commit is under a
// millisecond, a stalled fsync or an election takes seconds.
var raftBuckets = prometheus.ExponentialBuckets(0.00005, 2, 19)

func newRaftMetrics(reg prometheus.Registerer) *raftMetrics {
	cl := []string{"class"}
	m := &raftMetrics{
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "chronik", Name: "raft_commit_duration_seconds",
			Help: "Proposals this broker made as leader, from the proposal to its applied result (quorum fsync and apply included), per shard class (meta, partition, internal).", Buckets: raftBuckets}, cl),
		commitErr: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_proposal_failures_total",
			Help: "Proposals this broker made as leader that did not commit (leader change, timeout, shutdown), per shard class."}, cl),
		apply: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "chronik", Name: "raft_apply_duration_seconds",
			Help: "Time to write one batch of committed Raft entries to a partition replica's segment log, per shard class.", Buckets: raftBuckets}, cl),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_entries_applied_total",
			Help: "Committed Raft entries applied to this broker's partition replicas, per shard class."}, cl),
		fsync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "chronik", Name: "raft_segment_fsync_duration_seconds",
			Help: "fsync of a partition replica's segment log, per shard class (the Raft log's own fsync is inside the commit latency).", Buckets: raftBuckets}, cl),
		snapBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_snapshot_bytes_total",
			Help: "Bytes of partition replicas streamed into Raft snapshots (direction=sent) or restored from them (direction=received)."}, []string{"class", "direction"}),
		leaders: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_leader_changes_by_class_total",
			Help: "Raft leader changes seen by this broker, per shard class."}, cl),
		elections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "chronik", Name: "raft_elections_total",
			Help: "Raft groups hosted here that moved to a new term with a leader (an election won), per shard class."}, cl),
		terms: map[string]uint64{},
	}
	reg.MustRegister(m.commit, m.commitErr, m.apply, m.applied, m.fsync, m.snapBytes, m.leaders, m.elections)
	// Every class's series exist from the start, at 0: a rate() over a
	// series that appears with its first event misses that event.
	for _, c := range []string{"meta", "internal", "partition"} {
		m.commit.WithLabelValues(c)
		m.commitErr.WithLabelValues(c)
		m.leaders.WithLabelValues(c)
		m.elections.WithLabelValues(c)
		if c != "meta" { // __meta's state machine is not a segment log
			m.apply.WithLabelValues(c)
			m.applied.WithLabelValues(c)
			m.fsync.WithLabelValues(c)
			m.snapBytes.WithLabelValues(c, "sent")
			m.snapBytes.WithLabelValues(c, "received")
		}
	}
	return m
}

// OnCommit implements engine.HookRaft.
func (m *raftMetrics) OnCommit(topic string, d time.Duration, err error) {
	c := shardClass(topic)
	if err != nil {
		m.commitErr.WithLabelValues(c).Inc()
		return
	}
	m.commit.WithLabelValues(c).Observe(d.Seconds())
}

// OnApply implements engine.HookRaft.
func (m *raftMetrics) OnApply(topic string, entries int, d time.Duration) {
	c := shardClass(topic)
	m.apply.WithLabelValues(c).Observe(d.Seconds())
	m.applied.WithLabelValues(c).Add(float64(entries))
}

// OnFsync implements engine.HookRaft.
func (m *raftMetrics) OnFsync(topic string, d time.Duration) {
	m.fsync.WithLabelValues(shardClass(topic)).Observe(d.Seconds())
}

// OnSnapshot implements engine.HookRaft.
func (m *raftMetrics) OnSnapshot(topic string, sent bool, bytes int64) {
	dir := "received"
	if sent {
		dir = "sent"
	}
	m.snapBytes.WithLabelValues(shardClass(topic), dir).Add(float64(bytes))
}

// OnLeaderChange implements engine.HookLeaderChange: every change counts
// as a leader change; a leader in a term higher than any seen for the
// group counts as an election.
func (m *raftMetrics) OnLeaderChange(topic string, partition int32, leader, term uint64) {
	c := shardClass(topic)
	m.leaders.WithLabelValues(c).Inc()
	if leader == 0 {
		return
	}
	key := topic + "/" + strconv.Itoa(int(partition))
	m.mu.Lock()
	newTerm := term > m.terms[key]
	if newTerm {
		m.terms[key] = term
	}
	m.mu.Unlock()
	if newTerm {
		m.elections.WithLabelValues(c).Inc()
	}
}

// raftStatsSource is what raftCollector reads of an *engine.Engine.
type raftStatsSource interface {
	RaftStats() engine.RaftStats
}

var _ raftStatsSource = (*engine.Engine)(nil)

// raftCollector reports dragonboat's snapshot counters, the peers this
// broker's Raft transport cannot reach and the Raft log store's writes,
// read at scrape time.
type raftCollector struct {
	e           raftStatsSource
	snapshots   *prometheus.Desc
	compactions *prometheus.Desc
	unreachable *prometheus.Desc
	logdbBytes  *prometheus.Desc
	logdbOps    *prometheus.Desc
	l0Files     *prometheus.Desc
	l0Sublevels *prometheus.Desc
	logdbDisk   *prometheus.Desc
	stalls      *prometheus.Desc
	stallTime   *prometheus.Desc
}

func newRaftCollector(e raftStatsSource) *raftCollector {
	return &raftCollector{
		e: e,
		snapshots: prometheus.NewDesc("chronik_raft_snapshots_total",
			"Raft snapshot events on this broker: created (log compaction), sent (to a follower behind the log), send_aborted, received, recovered (a replica restored from one).", []string{"event"}, nil),
		compactions: prometheus.NewDesc("chronik_raft_log_compactions_total",
			"Raft log prefixes removed after a snapshot on this broker.", nil, nil),
		unreachable: prometheus.NewDesc("chronik_raft_unreachable_peers",
			"Peer brokers whose Raft connection from this broker last failed (their replicas are out of the ISR this broker reports).", nil, nil),
		logdbBytes: prometheus.NewDesc("chronik_logdb_written_bytes_total",
			"Bytes the Raft log store (pebble) wrote: kind=wal (every entry), flush (entries still in the log when their memtable filled), compaction (rewritten before their deletion).", []string{"kind"}, nil),
		logdbOps: prometheus.NewDesc("chronik_logdb_operations_total",
			"Memtable flushes (op=flush) and compactions (op=compaction) of the Raft log store.", []string{"op"}, nil),
		l0Files: prometheus.NewDesc("chronik_logdb_l0_files",
			"sstables in L0 of the Raft log store, over all its shards.", nil, nil),
		l0Sublevels: prometheus.NewDesc("chronik_logdb_l0_sublevels",
			"L0 sublevels of the Raft log store's deepest shard: files a read may have to look in; pebble stalls writes at 24.", nil, nil),
		logdbDisk: prometheus.NewDesc("chronik_logdb_disk_bytes",
			"Disk used by the Raft log store.", nil, nil),
		stalls: prometheus.NewDesc("chronik_logdb_write_stalls_total",
			"Times a shard of the Raft log store held its writes back (memtables all flushing, or L0 too deep); its replicas step no further meanwhile.", nil, nil),
		stallTime: prometheus.NewDesc("chronik_logdb_write_stall_seconds_total",
			"Time the Raft log store's shards held their writes back, summed over shards.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.snapshots
	ch <- c.compactions
	ch <- c.unreachable
	ch <- c.logdbBytes
	ch <- c.logdbOps
	ch <- c.l0Files
	ch <- c.l0Sublevels
	ch <- c.logdbDisk
	ch <- c.stalls
	ch <- c.stallTime
}

// Collect implements prometheus.Collector.
func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.RaftStats()
	for _, ev := range []struct {
		name string
		n    uint64
	}{{"created", st.SnapshotsCreated}, {"sent", st.SnapshotsSent}, {"send_aborted", st.SnapshotsSendAborted},
		{"received", st.SnapshotsReceived}, {"recovered", st.SnapshotsRecovered}} {
		ch <- prometheus.MustNewConstMetric(c.snapshots, prometheus.CounterValue, float64(ev.n), ev.name)
	}
	ch <- prometheus.MustNewConstMetric(c.compactions, prometheus.CounterValue, float64(st.LogCompactions))
	ch <- prometheus.MustNewConstMetric(c.unreachable, prometheus.GaugeValue, float64(len(st.UnreachablePeers)))
	l := st.LogDB
	ch <- prometheus.MustNewConstMetric(c.logdbBytes, prometheus.CounterValue, float64(l.WALBytes), "wal")
	ch <- prometheus.MustNewConstMetric(c.logdbBytes, prometheus.CounterValue, float64(l.FlushBytes), "flush")
	ch <- prometheus.MustNewConstMetric(c.logdbBytes, prometheus.CounterValue, float64(l.CompactionBytes), "compaction")
	ch <- prometheus.MustNewConstMetric(c.logdbOps, prometheus.CounterValue, float64(l.Flushes), "flush")
	ch <- prometheus.MustNewConstMetric(c.logdbOps, prometheus.CounterValue, float64(l.Compactions), "compaction")
	ch <- prometheus.MustNewConstMetric(c.l0Files, prometheus.GaugeValue, float64(l.L0Files))
	ch <- prometheus.MustNewConstMetric(c.l0Sublevels, prometheus.GaugeValue, float64(l.L0Sublevels))
	ch <- prometheus.MustNewConstMetric(c.logdbDisk, prometheus.GaugeValue, float64(l.DiskBytes))
	ch <- prometheus.MustNewConstMetric(c.stalls, prometheus.CounterValue, float64(l.WriteStalls))
	ch <- prometheus.MustNewConstMetric(c.stallTime, prometheus.CounterValue, l.WriteStallTime.Seconds())
}
