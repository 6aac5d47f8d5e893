// Package shards holds chronik's dragonboat state machines (the __meta shard
// and partition shards), the static node registry that resolves every
// (shard, replica) to a Raft address, and the encoding of proposals. It opens
// no network listeners.
//
// Record batches are read and rewritten with package segment's batch codec
// (segment.ParseBatchHeader and its setters); this package adds only the
// produce policy on top of it: ValidateBatches, which the engine runs once
// per produce on the leader, and whose BatchSummary the produce path hands
// on instead of parsing the batches again. The partition state machine
// parses the headers again when it applies an entry, on every replica.
package shards
