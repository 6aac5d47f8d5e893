// Package shards holds chronik's dragonboat state machines (the __meta shard
// and partition shards), the static node registry that resolves every
// (shard, replica) to a Raft address, and the encoding of proposals. It opens
// no network listeners.
package shards
