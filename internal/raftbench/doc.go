// Package raftbench measures the raw Raft ceiling of this machine: how fast
// dragonboat alone replicates proposals with chronik's own settings, so that
// a performance report can state chronik's produce throughput as a ratio to
// it. `chronik bench raft` only parses flags and calls Run.
//
// # Usage
//
//	cfg := raftbench.DefaultConfig()
//	cfg.Duration = 10 * time.Second
//	res, err := raftbench.Run(ctx, cfg)
//	if err != nil {
//		return err
//	}
//	raftbench.WriteText(os.Stdout, res) // or raftbench.WriteJSON
//
// # What runs
//
// Run starts Config.Nodes dragonboat NodeHosts in this process, each with its
// own data directory and a real TCP transport on a free 127.0.0.1 port, and
// a real LogDB (pebble or tan) that fsyncs every write. Their NodeHost and
// replica settings come from internal/raftconf, the same functions engine
// uses, so only the state machine differs from a chronik broker: each of
// Config.Shards shards has one replica per NodeHost whose state machine only
// counts the entries and bytes it applies. It implements
// IOnDiskStateMachine, as chronik's partition shards do, so dragonboat
// batches its updates and takes its periodic snapshots the same way.
//
// Shard leaders are spread over the NodeHosts round robin (leader
// transfers), and each shard's leader then gets Config.InFlight proposals of
// Config.Payload random bytes outstanding at all times: one Raft entry per
// proposal, as chronik proposes one produce batch per entry.
//
// # What the figures mean
//
//  1. A proposal counts when the leader has applied it (dragonboat's
//     AppliedC), which means a quorum has fsynced it first. Latency runs from
//     Propose to that moment, as in engine.ProduceBatchAsync.
//  2. Only proposals applied during the measured Duration count; those
//     applied in the warm-up are reported apart. Every proposal that does not
//     complete (timeout, dropped, rejected, or refused by Propose) is counted
//     in Failed and its reason in Errors.
//  3. MBPerSec counts 10^6 bytes, MiBPerSec 2^20; both count payload bytes.
//  4. CPUCores is this process's user and system CPU time over the measured
//     phase (getrusage) divided by its length: every replica runs in this
//     process, so it is the CPU cost of the whole cluster.
//  5. After the run, every replica of every shard must have applied as many
//     entries as its leader (Result.Lagging lists those that have not).
//
// # Implementation notes
//
// For the run, dragonboat's logs (process-wide) go to Config.Logger, ERROR
// and above only: its raft package reports every election as a warning.
// They go back where they went before (raftconf.RouteLogs) when Run
// returns; an engine running in the same process meanwhile logs its
// dragonboat messages there too.
package raftbench
