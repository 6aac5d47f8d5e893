package raftconf

import (
	"log/slog"
	"sync"
	_ "unsafe" // go:linkname, for the queue lengths below

	_ "github.com/lni/dragonboat/v4" // the package whose variables are linked
)

// Per-replica queue lengths. dragonboat allocates three queues for every
// replica it starts, each as two slices of the full length made up front:
// incoming Raft messages (1,024 by default, about 595 KB), incoming
// proposals (2,048, about 312 KB) and read-index requests (4,096, 64 KB).
// That is 0.97 MB of heap per partition replica, idle or not, and it made
// an idle partition cost 1.12 MB. chronik never lets that many pile up: at
// most engine.Config.MaxInFlightPerPartition (16) proposals are in flight
// per partition, a proposal that finds the queue full is retried with a
// backoff (ErrSystemBusy), and the step worker drains a replica's messages
// on every pass. A message that finds its queue full is dropped and
// resent by Raft, as on any lossy link.
const (
	receiveQueueLength   = 256
	proposalQueueLength  = 256
	readIndexQueueLength = 256
)

// pendingProposalShards is how many shards dragonboat splits a replica's
// table of pending proposals into (16 by default). Each shard is a map, a
// mutex and a seeded math/rand source (about 5 KB), and every Raft tick
// walks all of them to time out proposals, on every replica, busy or idle:
// 16 shards were about 80 KB of an idle replica's heap and a tenth of its
// idle CPU. The shards exist to spread many concurrent proposers of one
// replica over several locks; chronik has at most
// engine.Config.MaxInFlightPerPartition (16) proposals in flight per
// partition, and each holds the lock for a map insert.
const pendingProposalShards = 1

// dragonboat reads these lengths only from a dragonboat-soft-settings.json
// in the process's working directory, once, into package variables (its
// own monkey-test build sets the same variables through setters). The
// linknames below set them without that file. sizeQueues checks that each
// still holds dragonboat's default first, so that a dragonboat whose
// variables changed meaning is left alone (and logged) rather than
// misconfigured.
var (
	//go:linkname dbReceiveQueueLen github.com/lni/dragonboat/v4.receiveQueueLen
	dbReceiveQueueLen uint64
	//go:linkname dbProposalQueueLen github.com/lni/dragonboat/v4.incomingProposalsMaxLen
	dbProposalQueueLen uint64
	//go:linkname dbReadIndexQueueLen github.com/lni/dragonboat/v4.incomingReadIndexMaxLen
	dbReadIndexQueueLen uint64
	//go:linkname dbPendingProposalShards github.com/lni/dragonboat/v4.pendingProposalShards
	dbPendingProposalShards uint64
)

var sizeQueuesOnce sync.Once

// sizeQueues sets dragonboat's per-replica queue lengths and pending
// proposal shards to chronik's, once per process, before the first NodeHost
// starts a replica. Each is left alone (and logged) unless it holds
// dragonboat's default.
func sizeQueues() {
	sizeQueuesOnce.Do(func() {
		if dbReceiveQueueLen != 1024 || dbProposalQueueLen != 2048 || dbReadIndexQueueLen != 4096 {
			slog.Warn("raft queue lengths are not dragonboat's defaults: left as they are",
				"receive", dbReceiveQueueLen, "proposals", dbProposalQueueLen, "read_index", dbReadIndexQueueLen)
		} else {
			dbReceiveQueueLen = receiveQueueLength
			dbProposalQueueLen = proposalQueueLength
			dbReadIndexQueueLen = readIndexQueueLength
		}
		if dbPendingProposalShards != 16 {
			slog.Warn("raft pending proposal shards are not dragonboat's default: left as they are",
				"shards", dbPendingProposalShards)
		} else {
			dbPendingProposalShards = pendingProposalShards
		}
	})
}
