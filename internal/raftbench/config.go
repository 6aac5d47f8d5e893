package raftbench

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chronik-io/chronik/internal/raftconf"
)

// Bounds checked by Validate.
const (
	// MaxNodes bounds Config.Nodes: every NodeHost runs in this process.
	MaxNodes = 9
	// MaxShards bounds Config.Shards (an idle run measures thousands).
	MaxShards = 4096
	// MaxPayload bounds Config.Payload (16 MiB, chronik's largest record).
	MaxPayload = 16 << 20
	// MaxInFlight bounds Config.InFlight: dragonboat queues at most 2048
	// proposals per shard before it refuses more with ErrSystemBusy.
	MaxInFlight = 2048
)

// Config configures Run. A zero field means its default (DefaultConfig),
// except Warmup, where zero means none.
type Config struct {
	// Nodes is the number of NodeHosts, and so the replicas of each shard.
	// Default 3.
	Nodes int
	// Shards is the number of Raft shards (groups). Default 8.
	Shards int
	// Payload is the size of each proposal in bytes (one Raft entry).
	// Default 64 KiB.
	Payload int
	// InFlight is how many proposals each shard's leader has outstanding at
	// any time. Default 16, engine's MaxInFlightPerPartition.
	InFlight int
	// Duration is the length of the measured phase. Default 10s.
	Duration time.Duration
	// Warmup runs the same load for this long before the measured phase;
	// it is excluded from the figures. DefaultConfig sets 2s.
	Warmup time.Duration
	// Idle runs no load: the measured phase is Duration of idleness after
	// Warmup's wait, and the report's figures are the CPU and heap an idle
	// replica costs (Result.IdleCPUCoresPerNode, HeapPerReplicaBytes): the
	// floor under a broker's own idle cost with as many partitions.
	Idle bool
	// Quiesce turns on dragonboat's experimental quiesce mode for every
	// replica (chronik's brokers do not use it): an idle shard stops its
	// heartbeats after ten election timeouts without activity. With Idle,
	// make Warmup longer than that to measure quiesced replicas.
	Quiesce bool
	// Raft holds the Raft settings, including the LogDB ("pebble" or
	// "tan"); zero fields get chronik's defaults (raftconf.DefaultOptions),
	// so by default the benchmark runs exactly what a broker runs.
	Raft raftconf.Options
	// Dir is where the NodeHosts keep their data. Empty (the default) uses a
	// new temporary directory, removed afterwards. A given Dir is created if
	// needed, must be empty, and is kept.
	Dir string
	// StartTimeout bounds starting the NodeHosts, the first elections and
	// the leader transfers. Default 30s.
	StartTimeout time.Duration
	// ProposalTimeout bounds each proposal; one that takes longer counts as
	// failed. Default 10s.
	ProposalTimeout time.Duration
	// Progress, if set, is called about once a second during the run and
	// once at the end (Progress.Done).
	Progress func(Progress) `json:"-"`
	// Logger receives what Run notices along the way (a leader transfer
	// that did not finish, a shard whose leader moved); nil discards.
	Logger *slog.Logger `json:"-"`
}

// DefaultConfig returns the defaults: 3 nodes, 8 shards, 16 proposals of
// 64 KiB in flight per shard, 10s measured after a 2s warm-up, chronik's
// Raft settings and default LogDB.
func DefaultConfig() Config {
	c := Config{Warmup: 2 * time.Second}
	return c.withDefaults()
}

// withDefaults returns c with its zero fields (but Warmup) set to their
// defaults.
func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Shards == 0 {
		c.Shards = 8
	}
	if c.Payload == 0 {
		c.Payload = 64 << 10
	}
	if c.InFlight == 0 {
		c.InFlight = 16
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 30 * time.Second
	}
	if c.ProposalTimeout == 0 {
		c.ProposalTimeout = 10 * time.Second
	}
	c.Raft.SetDefaults()
	return c
}

// Validate reports every invalid field of c (after defaults are applied to
// its zero fields), naming the field and its value, joined with
// errors.Join.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("raftbench: "+format, args...))
	}
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		bad("Nodes %d: must be between 1 and %d", c.Nodes, MaxNodes)
	}
	if c.Shards < 1 || c.Shards > MaxShards {
		bad("Shards %d: must be between 1 and %d", c.Shards, MaxShards)
	}
	if c.Payload < 1 || c.Payload > MaxPayload {
		bad("Payload %d: must be between 1 and %d bytes", c.Payload, MaxPayload)
	}
	if c.InFlight < 1 || c.InFlight > MaxInFlight {
		bad("InFlight %d: must be between 1 and %d", c.InFlight, MaxInFlight)
	}
	if c.Duration < 0 {
		bad("Duration %s: must be positive", c.Duration)
	}
	if c.Warmup < 0 {
		bad("Warmup %s: must not be negative", c.Warmup)
	}
	if c.StartTimeout < 0 {
		bad("StartTimeout %s: must be positive", c.StartTimeout)
	}
	if c.ProposalTimeout < 0 {
		bad("ProposalTimeout %s: must be positive", c.ProposalTimeout)
	}
	switch c.Raft.LogDB {
	case raftconf.LogDBPebble, raftconf.LogDBTan, raftconf.LogDBTanShared:
	default:
		bad("Raft.LogDB %q: want %q, %q or %q", c.Raft.LogDB, raftconf.LogDBPebble, raftconf.LogDBTanShared, raftconf.LogDBTan)
	}
	if c.Raft.RTT < time.Millisecond {
		bad("Raft.RTT %s: must be at least 1ms", c.Raft.RTT)
	}
	if c.Raft.ElectionTicks <= 2*c.Raft.HeartbeatTicks {
		bad("Raft.ElectionTicks %d: must be more than 2*HeartbeatTicks (%d)", c.Raft.ElectionTicks, c.Raft.HeartbeatTicks)
	}
	if c.ProposalTimeout > 0 && c.ProposalTimeout < c.Raft.RTT {
		bad("ProposalTimeout %s: must be at least one Raft tick (%s)", c.ProposalTimeout, c.Raft.RTT)
	}
	return errors.Join(errs...)
}
