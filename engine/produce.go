package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// resolve finds a topic partition in __meta.
func (e *Engine) resolve(topic string, index int32) (*shards.Topic, shards.Partition, error) {
	t, ok := e.meta.State().Topics[topic]
	if !ok {
		return nil, shards.Partition{}, fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
	}
	if index < 0 || int(index) >= len(t.Partitions) {
		return nil, shards.Partition{}, fmt.Errorf("topic %q partition %d of %d: %w", topic, index, len(t.Partitions), ErrUnknownPartition)
	}
	return t, t.Partitions[index], nil
}

// leaderOf returns the local replica of a partition this broker leads, with
// the leader epoch, or a *NotLeaderError naming the leader, or ErrNotReady
// while the partition has no leader.
func (e *Engine) leaderOf(topic string, index int32) (*partition, *shards.Topic, int32, error) {
	t, part, err := e.resolve(topic, index)
	if err != nil {
		return nil, nil, 0, err
	}
	p := e.local(part.Shard)
	if p == nil {
		rec := e.meta.State().Leaders[part.Shard]
		if rec.Leader == 0 {
			return nil, nil, 0, fmt.Errorf("topic %q partition %d: %w", topic, index, ErrNotReady)
		}
		return nil, nil, 0, &NotLeaderError{Leader: shards.BrokerOf(rec.Leader), Epoch: rec.Epoch}
	}
	leader, term := e.leaders.get(part.Shard)
	if leader == 0 {
		return nil, nil, 0, fmt.Errorf("topic %q partition %d: %w", topic, index, ErrNotReady)
	}
	if leader != p.replica {
		return nil, nil, 0, &NotLeaderError{Leader: shards.BrokerOf(leader), Epoch: term}
	}
	return p, t, int32(term), nil
}

// Produce encodes recs as one record batch (no compression, no producer id)
// and appends it like ProduceBatch. A zero Record.Timestamp means now.
func (e *Engine) Produce(ctx context.Context, topic string, partition int32, recs []Record) (ProduceResult, error) {
	if len(recs) == 0 {
		return ProduceResult{}, fmt.Errorf("produce with no records: %w", ErrInvalidRecord)
	}
	return e.ProduceBatch(ctx, topic, partition, EncodeBatch(recs, time.Now()))
}

// ProduceBatch appends one or more concatenated Kafka v2 record batches (a
// Produce request partition's Records field, as is) on the partition leader.
// It validates the batches (magic 2, CRC-32C, record count, size against the
// topic's max.message.bytes) without decoding records, proposes them as one
// Raft entry and returns once the entry is committed on a quorum and applied:
// offsets are assigned then. Idempotent batches (producer id >= 0) are
// de-duplicated: a retry of one of the producer's last 5 batches returns the
// original base offset.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError (matches
// ErrNotLeader), ErrNotReady, ErrCorruptBatch, ErrRecordTooLarge,
// ErrInvalidRecord, ErrOutOfOrderSequence, ErrInvalidProducerEpoch,
// ErrTimeout (the batch may still be committed), ErrStorage, ErrClosed.
func (e *Engine) ProduceBatch(ctx context.Context, topic string, partition int32, batches []byte) (ProduceResult, error) {
	p, t, epoch, err := e.leaderOf(topic, partition)
	if err != nil {
		return ProduceResult{}, err
	}
	tc, _ := ParseTopicConfigs(t.Configs)
	tc = tc.withDefaults()
	if _, err := shards.ValidateBatches(batches, int(tc.MaxMessageBytes)); err != nil {
		return ProduceResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.ProduceTimeout)
		defer cancel()
	}
	select {
	case p.inflight <- struct{}{}:
	case <-ctx.Done():
		return ProduceResult{}, fmt.Errorf("topic %q partition %d: waiting for an in-flight slot: %w", topic, partition, ErrTimeout)
	case <-e.closing:
		return ProduceResult{}, ErrClosed
	}
	defer func() { <-p.inflight }()
	logAppend := tc.MessageTimestampType == "LogAppendTime"
	now := time.Now().UnixMilli()
	cmd := shards.AppendCommand(make([]byte, 0, len(batches)+16), batches, epoch, now, logAppend)
	res, err := e.propose(ctx, p.shard, cmd)
	if err != nil {
		return ProduceResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	if len(res.Data) > 0 {
		var perr error
		switch res.Data[0] {
		case shards.ResultOutOfOrderSequence:
			perr = ErrOutOfOrderSequence
		case shards.ResultInvalidProducerEpoch:
			perr = ErrInvalidProducerEpoch
		case shards.ResultCorrupt, shards.ResultBadCommand:
			perr = ErrCorruptBatch
		default:
			perr = ErrStorage
		}
		return ProduceResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, perr)
	}
	out := ProduceResult{BaseOffset: int64(res.Value), LogAppendTime: -1}
	if logAppend {
		out.LogAppendTime = now
	}
	out.LogStartOffset, _, _ = p.sm.Offsets()
	return out, nil
}

// AllocateProducerID returns a cluster-unique idempotent producer id (from a
// counter in __meta) and its epoch 0, as Kafka's InitProducerID does.
func (e *Engine) AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error) {
	v, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpProducerID})
	if err != nil {
		return 0, 0, err
	}
	return int64(v), 0, nil
}
