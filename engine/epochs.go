package engine

import (
	"context"
	"fmt"

	"github.com/chronik-io/chronik/shards"
)

// EpochEndOffset answers OffsetForLeaderEpoch: the largest leader epoch at or
// below the one asked for that the partition's log knows, and the offset
// where that epoch's data ends. Both are -1 (UNDEFINED) when the log knows
// no such epoch.
type EpochEndOffset struct {
	LeaderEpoch int32
	EndOffset   int64
}

// EpochStart is one entry of a partition's leader-epoch history.
type EpochStart struct {
	LeaderEpoch int32
	StartOffset int64 // offset of the epoch's first batch still in the log
}

// OffsetForLeaderEpoch answers on the partition leader where the data of
// leaderEpoch ends, with Kafka's semantics (KIP-101, KIP-320; apache/kafka
// LeaderEpochFileCache.endOffsetFor): for the current epoch the high
// watermark; for an earlier epoch the start offset of the next epoch in the
// history; for an epoch below the first one the history still holds (the
// log start moved past the others) that epoch and the first one's start
// offset; -1, -1 for an epoch above the current one or for -1. A consumer
// whose position is past the end offset of the epoch of its last fetched
// batch knows the log was truncated under it.
//
// currentLeaderEpoch, when >= 0, is the epoch the client believes the
// leader has (from Metadata): an older one is fenced, a newer one is not yet
// known here.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError,
// ErrNotReady, ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch, ErrClosed.
func (e *Engine) OffsetForLeaderEpoch(ctx context.Context, topic string, partition int32, currentLeaderEpoch, leaderEpoch int32) (EpochEndOffset, error) {
	none := EpochEndOffset{LeaderEpoch: -1, EndOffset: -1}
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return none, err
	}
	// Kafka checks the client's epoch before leadership, so a client with
	// stale metadata hears FENCED_LEADER_EPOCH from any replica.
	if p := e.local(part.Shard); p != nil && currentLeaderEpoch >= 0 {
		if _, term := e.leaderHint(part.Shard, p.replica); term > 0 {
			if err := checkLeaderEpoch(currentLeaderEpoch, int32(term)); err != nil {
				return none, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
			}
		}
	}
	p, _, epoch, err := e.leaderOf(topic, partition)
	if err != nil {
		return none, err
	}
	if err := checkLeaderEpoch(currentLeaderEpoch, epoch); err != nil {
		return none, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	le, end, err := p.sm.EndOffsetForEpoch(leaderEpoch, epoch)
	if err != nil {
		return none, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	return EpochEndOffset{LeaderEpoch: le, EndOffset: end}, nil
}

// checkLeaderEpoch fences a client's current leader epoch (-1: none sent)
// against the leader's.
func checkLeaderEpoch(client, leader int32) error {
	switch {
	case client < 0 || client == leader:
		return nil
	case client < leader:
		return fmt.Errorf("leader epoch %d, current is %d: %w", client, leader, ErrFencedLeaderEpoch)
	default:
		return fmt.Errorf("leader epoch %d, this broker knows %d: %w", client, leader, ErrUnknownLeaderEpoch)
	}
}

// LeaderEpochs returns this broker's replica's leader-epoch history of a
// partition, oldest first: each epoch that wrote to the log and the offset
// of its first batch still in the log (the first entry starts at the log
// start). For tools and tests; any replica answers.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError (no local
// replica), ErrNotReady, ErrClosed.
func (e *Engine) LeaderEpochs(topic string, partition int32) ([]EpochStart, error) {
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return nil, err
	}
	p := e.local(part.Shard)
	if p == nil {
		rec := e.meta.State().Leaders[part.Shard]
		return nil, &NotLeaderError{Leader: shards.BrokerOf(rec.Leader), Epoch: rec.Epoch}
	}
	es, err := p.sm.Epochs()
	if err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	out := make([]EpochStart, len(es))
	for i, x := range es {
		out[i] = EpochStart{LeaderEpoch: x.Epoch, StartOffset: x.StartOffset}
	}
	return out, nil
}
