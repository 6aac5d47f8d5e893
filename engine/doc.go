// Package engine is chronik's embeddable, replicated log: Open gives a broker
// that creates topics, produces, fetches and lists offsets, every write
// replicated by Multi-Raft (one Raft group per partition, plus __meta), with
// no Kafka listener unless one is wired on top (package kafka).
//
// # Usage
//
// Every member of a cluster gets the same Peers (broker id -> Raft address)
// and its own NodeID and DataDir:
//
//	cfg := engine.DefaultConfig()          // node 1 of a one-node cluster
//	cfg.DataDir = "/var/lib/chronik"
//	e, err := engine.Open(cfg)             // starts Raft, __meta, the reconciler
//	if err != nil { ... }
//	defer e.Close()                        // hands leadership over, then stops
//	if err := e.WaitReady(ctx); err != nil { ... } // __meta has a leader, broker registered
//
//	err = e.CreateTopic(ctx, "orders", engine.TopicConfig{Partitions: 3})
//	res, err := e.Produce(ctx, "orders", 0, []engine.Record{{Value: []byte("hi")}})
//	fr, err := e.Fetch(ctx, "orders", 0, res.BaseOffset, engine.FetchOptions{MaxBytes: 1 << 20})
//	recs, err := fr.Records()
//
// A Kafka frontend uses ProduceBatch (a Produce request's Records bytes as
// they came) or ProduceBatchAsync (propose now, wait later: one
// connection's requests can be pipelined and still commit in order),
// Fetch/Watch for long polls, ListOffsets, Metadata, AllocateProducerID and
// DeleteRecords. The caller's duties:
//
//  1. Send Produce, Fetch and ListOffsets for a partition to its leader:
//     any other broker answers a *NotLeaderError naming the leader (from
//     Metadata), or ErrNotReady while there is none. Retry those. A Fetch
//     with FetchOptions.AllowFollower may also go to an in-sync follower,
//     and with ClientRack the leader may name one (PreferredReadReplica).
//  2. Give every blocking call a context with a deadline; a Produce that
//     times out (ErrTimeout) may still be committed, so retry it with the
//     same idempotent producer id and sequence to avoid a duplicate.
//  3. Call Close (or Abort) exactly once.
//
// Errors are the sentinels of this package (errors.Is), wrapped with the
// topic and partition; each method's doc lists them.
//
// # Guarantees
//
//   - A successful Produce/ProduceBatch is committed on a quorum of the
//     partition's replicas (fsynced Raft log) and applied: its records have
//     offsets and are readable. This is stronger than Kafka's acks=1 and
//     equal to acks=all with min.insync.replicas = a majority.
//   - Offsets are assigned by the state machine when an entry is applied,
//     deterministically, so every replica holds byte-identical batches at
//     the same offsets; they are contiguous from the log start, without gaps.
//   - The high watermark equals the log end of the leader's applied state:
//     nothing a Fetch returns can be rolled back. A follower serving a
//     Fetch answers its own applied end, also committed, at most the
//     leader's.
//   - Batches of one partition are ordered as their Raft entries; batches of
//     one ProduceBatch call are contiguous.
//   - Idempotent producers (producer id >= 0) are de-duplicated per
//     partition like Kafka: a retry of one of the producer's last 5 batches
//     returns its original offset; a gap is ErrOutOfOrderSequence; an older
//     epoch is ErrInvalidProducerEpoch. The state survives restarts.
//   - Transactions (the partition side): a transactional batch starts or
//     continues its producer's transaction on the partition; WriteTxnMarker
//     ends it with a Kafka commit or abort control batch through Raft.
//     FetchOptions.ReadCommitted reads only below the last stable offset
//     and lists the aborted transactions; ListOffsets(LastStable) answers
//     it. The state is rebuilt from the log on restart and after a
//     snapshot. The transaction coordinator that writes the markers lives
//     in package coordinator.
//   - The log start offset moves only by replicated commands (retention,
//     DeleteRecords), so all replicas agree on it.
//
// # Implementation notes
//
// One dragonboat v4 NodeHost per engine, in registry mode with chronik's
// registry (shards.Registry) built from Peers before the NodeHost starts
// and kept equal to __meta's broker addresses afterwards: every broker's
// NodeHostID is derived from its id, and any (shard, replica) resolves from
// the table, also for replicas started later or joined, and for brokers
// added later (AddBroker records the address before the broker becomes a
// member of anything). A target not in the table is logged once and
// counted (UnknownRaftTargets).
//
// Brokers join a running cluster through AddBroker on a member and
// Config.Join on the new broker, and leave through RemoveBroker once they
// hold no replica (members.go); __meta changes by one voter at a time, only
// while the reachable voters keep a quorum.
//
// Shard __meta (id 1, one replica per broker) holds brokers, topics
// with their placement, reported partition leaders, the producer-id counter
// and the cluster id. Any broker may propose; placement happens inside the
// deterministic state machine (round robin over registered brokers, one
// broker further per partition, so preferred leaders spread). Each partition
// is its own Raft group (ids from 100, never reused) whose state machine is
// an IOnDiskStateMachine over a segment.Log (shards.PartitionSM).
//
// A reconciler on every engine watches __meta and starts the replicas
// assigned to it: with the member map on a first start, with none on a
// restart (HasNodeInfo), as a joiner when the replica was added later
// (AddReplica, ReassignPartition). It stops and deletes replicas of deleted
// topics and replicas a reassignment moved away (reassign.go). Before a
// replica starts, segment.Check validates its directory: a damaged one is
// quarantined instead of started (dragonboat would make its failed Open
// fatal for the process), as is a running one whose reads find damage; with
// other replicas it is rebuilt from the leader under the next replica
// generation, alone it answers ErrStorage until an operator acts
// (QuarantinedReplicas, quarantine.go). Leader
// changes come from dragonboat's RaftEventListener; a new partition leader
// reports itself to __meta so that brokers not hosting the partition can
// answer Metadata, and, right after a partition's first election, hands
// leadership to the preferred replica.
//
// Produce validates batches (magic 2, CRC-32C, record count, size against
// max.message.bytes) in one walk over their headers, with package
// segment's batch codec, and proposes them, with the leader epoch and the
// append time, as one Raft entry. Records are decoded only for a compacted
// topic, to refuse a record without a key, and a compressed batch's records
// only up to max.message.bytes (a compression bomb is ErrRecordTooLarge).
// At most MaxInFlightPerPartition proposals per partition are in flight, and
// dragonboat's temporary errors are retried within the caller's deadline.
// The state machine copies each applied batch of entries into one segment
// frame, rewriting base offsets, leader epochs and (for LogAppendTime
// topics) timestamps and CRCs. Fetch reads the local segment files of the
// leader (or of an in-sync follower, readreplica.go);
// a per-partition notifier wakes long polls when the high watermark moves.
//
// Snapshots of partition shards are cheap: dragonboat's periodic snapshot of
// an on-disk state machine carries no data, and a lagging or new replica
// receives a streamed copy of the pinned segments (segment.Checkpoint,
// segment.Restore). Producer de-duplication and transaction state is not
// persisted on its own: Open and snapshot recovery rebuild it with one scan
// of the log (transactions from a checkpoint written every 64 MiB, else
// from the log start; producers' batches from the last segments, up to
// 64 MiB).
//
// The Raft log store (tan or pebble) is fixed at the first start and
// recorded in DataDir/LOGDB; see docs/ENGINE.md for the measurements behind
// the default (tan). dragonboat's own logs go to Config.Logger at WARN and
// above.
package engine
