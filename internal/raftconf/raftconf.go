package raftconf

import (
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/plugin/tan"
)

// LogDB names: the Raft log stores dragonboat offers.
const (
	// LogDBPebble is dragonboat's default LogDB, a pebble key-value store
	// shared by all replicas of a NodeHost.
	LogDBPebble = "pebble"
	// LogDBTan is dragonboat's tan LogDB: one preallocated log file per
	// replica, fsynced in parallel.
	LogDBTan = "tan"
	// LogDBTanShared is dragonboat's tan LogDB with the replicas of a
	// NodeHost multiplexed over 16 shared log files: for `bench raft`
	// only, unsafe for brokers (tanshared.go).
	LogDBTanShared = "tan-shared"
)

// Defaults of the settings in Options. engine.Config documents each one
// where users see it.
const (
	// DefaultRTT is the Raft tick (dragonboat RTTMillisecond). Every
	// replica does some work at every tick, busy or idle, so a broker's
	// idle CPU grows with partitions/RTT; commits never wait for a tick.
	// 100 ms with 10 election ticks gives a 1-2 s randomized election
	// timeout in ten steps (fewer, coarser steps make split votes likelier).
	DefaultRTT = 100 * time.Millisecond
	// DefaultElectionTicks is the election timeout in ticks (about 1 s with
	// DefaultRTT).
	DefaultElectionTicks = 10
	// DefaultHeartbeatTicks is the leader heartbeat interval in ticks:
	// 200 ms, five to ten heartbeats per election timeout. Heartbeats are
	// most of an idle replica's cost (a leader sends one to every follower
	// and hears an answer), and followers do not wait for them to learn a
	// commit: the leader sends the new commit index as soon as it has it.
	DefaultHeartbeatTicks = 2
	// DefaultSnapshotEntries is the Raft entry count between snapshots.
	DefaultSnapshotEntries = 10000
	// DefaultCompactionOverhead is how many entries stay in the Raft log
	// after a snapshot.
	DefaultCompactionOverhead = 20000
	// DefaultLogDB is the LogDB of a data directory created without a
	// choice (docs/ENGINE.md has the measurements behind it).
	DefaultLogDB = LogDBPebble
)

// Fixed settings: not configurable, the same for every NodeHost and replica.
const (
	// queueBytes bounds each NodeHost's send and receive queue per peer
	// (dragonboat's default 0 is unbounded).
	queueBytes = 256 << 20
	// maxInMemLogBytes bounds a replica's in-memory Raft log; beyond it
	// dragonboat stops taking proposals (backpressure, bounded memory).
	maxInMemLogBytes = 256 << 20
)

// Options are the dragonboat settings a chronik user may choose. A zero
// field means its default; see DefaultOptions.
type Options struct {
	// RTT is the Raft tick, dragonboat's RTTMillisecond (whole
	// milliseconds); default DefaultRTT.
	RTT time.Duration
	// ElectionTicks is the election timeout in ticks; default
	// DefaultElectionTicks.
	ElectionTicks uint64
	// HeartbeatTicks is the leader heartbeat interval in ticks; default
	// DefaultHeartbeatTicks.
	HeartbeatTicks uint64
	// SnapshotEntries is the Raft entry count between snapshots; default
	// DefaultSnapshotEntries.
	SnapshotEntries uint64
	// CompactionOverhead is how many entries are kept after a snapshot;
	// default DefaultCompactionOverhead.
	CompactionOverhead uint64
	// LogDB is LogDBPebble or LogDBTan; default DefaultLogDB. Any other
	// value also selects pebble (callers validate it first).
	LogDB string
	// TinyLogDBMemory selects dragonboat's tiny LogDB memory budget (tests,
	// many NodeHosts in one process) instead of the small one.
	TinyLogDBMemory bool
}

// DefaultOptions returns every setting at its default.
func DefaultOptions() Options {
	o := Options{}
	o.SetDefaults()
	return o
}

// SetDefaults fills in the zero fields of o with their defaults.
func (o *Options) SetDefaults() {
	if o.RTT == 0 {
		o.RTT = DefaultRTT
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = DefaultElectionTicks
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if o.SnapshotEntries == 0 {
		o.SnapshotEntries = DefaultSnapshotEntries
	}
	if o.CompactionOverhead == 0 {
		o.CompactionOverhead = DefaultCompactionOverhead
	}
	if o.LogDB == "" {
		o.LogDB = DefaultLogDB
	}
}

// NodeHost returns the configuration of a NodeHost whose state lives in dir
// and whose Raft transport listens on raftAddr. The caller adds what is its
// own: NodeHostID, RaftEventListener, Expert.NodeRegistryFactory.
func NodeHost(dir, raftAddr string, o Options) config.NodeHostConfig {
	o.SetDefaults()
	sizeQueues()
	nhc := config.NodeHostConfig{
		NodeHostDir:         dir,
		RTTMillisecond:      uint64(o.RTT / time.Millisecond),
		RaftAddress:         raftAddr,
		EnableMetrics:       false,
		MaxSendQueueSize:    queueBytes,
		MaxReceiveQueueSize: queueBytes,
		Expert:              config.GetDefaultExpertConfig(),
	}
	if o.TinyLogDBMemory {
		nhc.Expert.LogDB = config.GetTinyMemLogDBConfig()
	} else {
		nhc.Expert.LogDB = config.GetSmallMemLogDBConfig()
	}
	switch o.LogDB {
	case LogDBPebble:
		nhc.Expert.LogDBFactory = pebbleFactory{l0Threshold: pebbleL0CompactionThreshold}
	case LogDBTan:
		nhc.Expert.LogDBFactory = tan.Factory
	case LogDBTanShared:
		nhc.Expert.LogDBFactory = tanSharedFactory{}
	}
	return nhc
}

// Replica returns the configuration of replica replica of shard shard:
// CheckQuorum and PreVote on, so that an isolated leader steps down and a
// rejoining node does not disrupt a healthy one, and the in-memory log
// bounded.
func Replica(shard, replica uint64, o Options) config.Config {
	o.SetDefaults()
	return config.Config{
		ShardID:            shard,
		ReplicaID:          replica,
		ElectionRTT:        o.ElectionTicks,
		HeartbeatRTT:       o.HeartbeatTicks,
		CheckQuorum:        true,
		PreVote:            true,
		SnapshotEntries:    o.SnapshotEntries,
		CompactionOverhead: o.CompactionOverhead,
		MaxInMemLogSize:    maxInMemLogBytes,
	}
}
