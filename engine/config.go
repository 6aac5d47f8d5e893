package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/chronik-io/chronik/internal/raftconf"
	"github.com/chronik-io/chronik/shards"
)

// LogDB names accepted by Config.LogDB.
const (
	LogDBTan    = raftconf.LogDBTan
	LogDBPebble = raftconf.LogDBPebble
)

// DefaultSegmentCacheBytes is Config.SegmentCacheBytes's default.
const DefaultSegmentCacheBytes = 128 << 20

// Config configures one engine (one broker's replicated log).
type Config struct {
	NodeID    uint64            // this broker's id, in [1, 999]
	DataDir   string            // root of all on-disk state
	RaftAddr  string            // host:port this node's Raft transport listens on
	Peers     map[uint64]string // Raft addresses of the members known at start, this node included (later ones come from __meta)
	KafkaAddr string            // advertised Kafka host:port registered in __meta; "" for none
	Rack      string            // optional rack id for replica placement
	Logger    *slog.Logger      // nil discards logs

	// Join, when set, makes the first start of this broker (no __meta
	// data yet) a join of a running cluster instead of the start of a new
	// one: the engine calls Join, retrying until it succeeds, before it
	// starts its __meta replica as a joiner. Join must have a current
	// member add this broker (Engine.AddBroker there; the CLI sends the
	// Kafka request AddRaftVoter). Ignored on every later start. nil: this
	// broker is an initial member of a cluster of Peers.
	Join func(ctx context.Context) error

	// KafkaListeners maps each Kafka listener name ("PLAINTEXT", "SSL",
	// "SASL_PLAINTEXT", "SASL_SSL") to the host:port this broker advertises
	// on it, registered in __meta so every broker can answer a client with
	// the addresses of the listener it came in on. nil: only KafkaAddr.
	KafkaListeners map[string]string
	// RaftTLS, when its files are set, runs the Raft transport between
	// brokers over mutual TLS: each broker presents CertFile and accepts
	// only peers whose certificate chains to CAFile. Every member must use
	// it, or none. Default: plain TCP.
	RaftTLS TLSFiles

	DefaultPartitions int32 // partitions of auto-created topics; default 3
	// DefaultReplicationFactor of created topics; 0 means min(3, brokers).
	DefaultReplicationFactor int16

	// RTT is the Raft tick (dragonboat RTTMillisecond); default 100ms.
	RTT time.Duration
	// ElectionTicks is the election timeout in ticks (a follower campaigns
	// after ElectionTicks..2*ElectionTicks without a leader); default 10
	// (about 1 s with the default RTT). Must exceed 2*HeartbeatTicks.
	ElectionTicks uint64
	// HeartbeatTicks is the leader heartbeat interval in ticks; default 2
	// (200 ms with the default RTT).
	HeartbeatTicks uint64
	// LogDB is the Raft log store, "pebble" (default) or "tan". It is fixed
	// at the first start and recorded in DataDir/LOGDB; a later start with a
	// different non-empty value fails. tan is faster for a few hot partitions
	// but preallocates 64 MiB of disk per partition replica (docs/ENGINE.md).
	LogDB string
	// SmallLogDBMemory uses dragonboat's tiny LogDB memory budget (tests,
	// many engines in one process); default false (the small-memory budget).
	SmallLogDBMemory bool
	// MaxInFlightPerPartition bounds proposals in flight per partition on
	// this leader; further produces wait (within their context). Default 16.
	MaxInFlightPerPartition int
	// SnapshotEntries is the Raft entry count between (cheap, metadata only)
	// snapshots of a partition shard; default 10000.
	SnapshotEntries uint64
	// CompactionOverhead is how many entries are kept in the Raft log after a
	// snapshot, so lagging followers catch up from the log rather than from a
	// streamed snapshot; default 20000.
	CompactionOverhead uint64
	// RaftLogRetainBytes bounds each partition replica's Raft log in bytes:
	// once it holds more than twice this much of applied entries, it is
	// compacted to the newest RaftLogRetainBytes (and at least 16 entries).
	// A follower that lags by more catches up from a snapshot (the segment
	// files streamed) instead of the log. A partition with one replica has
	// no follower and keeps at most 4 MiB, with no entry minimum, and so
	// does a leader whose followers have acknowledged all but that, once it
	// has led for three LeaderBalanceCooldowns (it keeps what they lack).
	// Default 128 MiB; negative leaves compaction to SnapshotEntries and
	// CompactionOverhead alone.
	RaftLogRetainBytes int64
	// RaftLogBudgetBytes bounds the Raft logs of all partition replicas of
	// this broker together: each keeps at most its share (and at least
	// 4 MiB), so many partitions do not each keep RaftLogRetainBytes.
	// Default 1 GiB; negative: no shared bound.
	RaftLogBudgetBytes int64
	// ProduceTimeout bounds a produce whose context has no deadline;
	// default 30s.
	ProduceTimeout time.Duration
	// RetentionCheckInterval is how often a leader applies retention.ms and
	// retention.bytes; default 1m.
	RetentionCheckInterval time.Duration
	// ReconcileInterval is how often the reconciler re-checks __meta even
	// when nothing changed; default 1s.
	ReconcileInterval time.Duration
	// SegmentBytes is the default segment size (segment.bytes) of partitions
	// whose topic sets none; default 1 GiB.
	SegmentBytes int64
	// ActiveSegmentCodec is the codec of frames appended to a partition's
	// active segment: "none" (default: the least CPU on the append path,
	// which every replica runs; see docs/ENGINE.md for the measurements) or
	// "s2" (smaller active segments on uncompressed data). Sealed segments
	// are rewritten to the topic's compression.type in the background either
	// way, and batches a producer compressed itself are stored as they are.
	ActiveSegmentCodec string
	// SegmentCacheBytes bounds the cache of decoded frames (the tails of
	// the partitions' logs, which consumers at the tail read without
	// touching a file, and recently read frames) that all partitions of
	// this broker share, the least recently used leaving first; default
	// 128 MiB; negative disables it. A budget per partition grew with the
	// partition count: 256 busy partitions held 2 GiB of heap
	// (docs/PERFORMANCE.md).
	SegmentCacheBytes int64
	// LeaderBalanceInterval is how often the leader balancer looks for
	// partitions this broker leads in their preferred replica's place
	// (after a failure) and hands them back; default 5s; negative disables
	// the balancer.
	LeaderBalanceInterval time.Duration
	// LeaderBalanceCooldown is how long this broker must have been ready,
	// the preferred broker reachable, and a partition's last hand-over lie
	// back, before the balancer moves that partition's leadership; default
	// 10s. It keeps a returning broker from taking leadership before it has
	// caught up, and a flapping one from moving leaders back and forth.
	LeaderBalanceCooldown time.Duration
	// MinFreeBytes is the free space the file system holding DataDir must
	// keep: below it (checked every second) this broker reports itself low
	// on disk in __meta, and the leaders of every partition with a replica
	// here refuse produce requests with ErrStorage until space is freed
	// (retention, deleted topics, an operator). Default 128 MiB; negative
	// disables.
	MinFreeBytes int64
	// MaxMovingPerBroker bounds the partition reassignments that copy data
	// to or from one broker at once: a new replica is added only while
	// fewer than this many partitions with a replica still catching up have
	// that broker as destination or as (leader) source. Default 2.
	MaxMovingPerBroker int
	// Hooks receive produce, fetch and leader-change events for metrics
	// (see Hook); nil = none.
	Hooks []Hook
}

// TLSFiles names the PEM files of a mutual-TLS setup. The certificate must
// be valid for both server and client authentication (extended key usages
// serverAuth and clientAuth) and carry the host of the Raft address as a
// subject alternative name, since each broker is both.
type TLSFiles struct {
	CAFile   string // CA certificates peers' certificates must chain to
	CertFile string // this broker's certificate chain, leaf first
	KeyFile  string // CertFile's private key
}

// Enabled reports whether any file is set.
func (t TLSFiles) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// DefaultConfig returns the configuration of a one-node cluster: node 1,
// data in ./data, Raft on 127.0.0.1:7001.
func DefaultConfig() Config {
	c := Config{
		NodeID:   1,
		DataDir:  "data",
		RaftAddr: "127.0.0.1:7001",
	}
	c.Peers = map[uint64]string{1: c.RaftAddr}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 3
	}
	if c.RTT == 0 {
		c.RTT = raftconf.DefaultRTT
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = raftconf.DefaultElectionTicks
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = raftconf.DefaultHeartbeatTicks
	}
	if c.MaxInFlightPerPartition == 0 {
		c.MaxInFlightPerPartition = 16
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = raftconf.DefaultSnapshotEntries
	}
	if c.CompactionOverhead == 0 {
		c.CompactionOverhead = raftconf.DefaultCompactionOverhead
	}
	if c.RaftLogRetainBytes == 0 {
		c.RaftLogRetainBytes = 128 << 20
	}
	if c.RaftLogBudgetBytes == 0 {
		c.RaftLogBudgetBytes = 1 << 30
	}
	if c.SegmentCacheBytes == 0 {
		c.SegmentCacheBytes = DefaultSegmentCacheBytes
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 30 * time.Second
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = time.Minute
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Second
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 1 << 30
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = 128 << 20
	}
	if c.LeaderBalanceInterval == 0 {
		c.LeaderBalanceInterval = 5 * time.Second
	}
	if c.LeaderBalanceCooldown == 0 {
		c.LeaderBalanceCooldown = 10 * time.Second
	}
	if c.MaxMovingPerBroker == 0 {
		c.MaxMovingPerBroker = 2
	}
}

// Validate reports every invalid field of c (after defaults are applied to
// unset ones), joined with errors.Join; each wraps ErrInvalidConfig.
func (c Config) Validate() error {
	c.setDefaults()
	var errList []error
	bad := func(format string, args ...any) {
		errList = append(errList, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.NodeID == 0 || c.NodeID >= shards.ReplicaGenerationBase {
		bad("NodeID %d: must be in [1, %d]", c.NodeID, shards.ReplicaGenerationBase-1)
	}
	if c.DataDir == "" {
		bad("DataDir is empty")
	}
	raft, err := shards.CanonicalAddr(c.RaftAddr)
	if err != nil {
		bad("RaftAddr %q: %v", c.RaftAddr, err)
	}
	if len(c.Peers) == 0 {
		bad("Peers is empty: list every member, this node included")
	} else if p, ok := c.Peers[c.NodeID]; !ok {
		bad("Peers has no entry for NodeID %d", c.NodeID)
	} else if cp, err := shards.CanonicalAddr(p); err == nil && raft != "" && cp != raft {
		bad("Peers[%d] = %q but RaftAddr = %q", c.NodeID, p, c.RaftAddr)
	}
	seen := map[string]uint64{}
	for id, a := range c.Peers {
		if id == 0 || id >= shards.ReplicaGenerationBase {
			bad("Peers: id %d must be in [1, %d]", id, shards.ReplicaGenerationBase-1)
		}
		ca, err := shards.CanonicalAddr(a)
		if err != nil {
			bad("Peers[%d]: %v", id, err)
			continue
		}
		if other, dup := seen[ca]; dup {
			bad("Peers[%d] and Peers[%d] share address %s", id, other, ca)
		}
		seen[ca] = id
	}
	for name, addr := range c.KafkaListeners {
		if name == "" {
			bad("KafkaListeners: empty listener name")
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("KafkaListeners[%s] %q: %v", name, addr, err)
		}
	}
	if t := c.RaftTLS; t.Enabled() && (t.CAFile == "" || t.CertFile == "" || t.KeyFile == "") {
		bad("RaftTLS: CAFile (%q), CertFile (%q) and KeyFile (%q) must all be set", t.CAFile, t.CertFile, t.KeyFile)
	}
	if c.DefaultPartitions < 1 {
		bad("DefaultPartitions %d: must be >= 1", c.DefaultPartitions)
	}
	if c.DefaultReplicationFactor < 0 || int(c.DefaultReplicationFactor) > len(c.Peers) {
		bad("DefaultReplicationFactor %d: must be in [0, %d peers]", c.DefaultReplicationFactor, len(c.Peers))
	}
	if c.RTT < time.Millisecond {
		bad("RTT %v: must be >= 1ms", c.RTT)
	}
	if c.ElectionTicks <= 2*c.HeartbeatTicks {
		bad("ElectionTicks %d: must be > 2*HeartbeatTicks (%d)", c.ElectionTicks, c.HeartbeatTicks)
	}
	switch c.LogDB {
	case "", LogDBTan, LogDBPebble:
	default:
		bad("LogDB %q: want %q or %q", c.LogDB, LogDBTan, LogDBPebble)
	}
	if c.MaxInFlightPerPartition < 1 {
		bad("MaxInFlightPerPartition %d: must be >= 1", c.MaxInFlightPerPartition)
	}
	if c.ProduceTimeout < 0 || c.RetentionCheckInterval < 0 || c.ReconcileInterval < 0 {
		bad("ProduceTimeout, RetentionCheckInterval and ReconcileInterval must be >= 0")
	}
	switch c.ActiveSegmentCodec {
	case "", "s2", "none":
	default:
		bad("ActiveSegmentCodec %q: want s2 or none", c.ActiveSegmentCodec)
	}
	if c.MaxMovingPerBroker < 1 {
		bad("MaxMovingPerBroker %d: must be >= 1", c.MaxMovingPerBroker)
	}
	if c.SegmentBytes < 1<<10 {
		bad("SegmentBytes %d: must be >= 1024", c.SegmentBytes)
	}
	return errors.Join(errList...)
}
