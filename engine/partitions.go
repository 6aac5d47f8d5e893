package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/chronik-io/chronik/shards"
)

// CreatePartitions raises topic's partition count to count, as Kafka's
// CreatePartitions does. The controller places the new partitions as
// CreateTopic places partitions, with the replication factor of the topic's
// first partition; existing partitions and their data do not move (so a key
// hashed over the partition count may map to another partition from now
// on, as in Kafka). It returns once every partition has a leader (or ctx is
// done: ErrTimeout, the partitions then exist).
//
// Errors: as CheckCreatePartitions, ErrTimeout, ErrClosed.
func (e *Engine) CreatePartitions(ctx context.Context, topic string, count int32) error {
	if err := e.CheckCreatePartitions(topic, count); err != nil {
		return err
	}
	_, retried, err := e.proposeMetaRetried(ctx, shards.MetaCommand{Op: shards.OpAddPartitions, Name: topic, Partitions: count})
	var me *metaError
	if errors.As(err, &me) {
		if retried && me.code == shards.MetaInvalidPartitions && e.partitionCount(topic) == count {
			err = nil // an earlier, timed-out attempt added them
		} else if cerr := e.CheckCreatePartitions(topic, count); cerr != nil {
			return cerr // the state changed between the check and the proposal
		}
	}
	if err != nil {
		return fmt.Errorf("create partitions of %q: %w", topic, err)
	}
	return e.waitLeaders(ctx, topic)
}

// CheckCreatePartitions reports whether CreatePartitions(topic, count)
// would be accepted now, without changing anything (Kafka's validate-only).
//
// Errors: ErrUnknownTopic; ErrInvalidPartitions when count is not above the
// current count, is over the limit, or the topic is internal;
// ErrInvalidReplicationFactor when fewer brokers are registered than the
// topic has replicas.
func (e *Engine) CheckCreatePartitions(topic string, count int32) error {
	st := e.meta.State()
	t, ok := st.Topics[topic]
	if !ok {
		return fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
	}
	have := int32(len(t.Partitions))
	switch {
	case t.Internal:
		return fmt.Errorf("topic %q is internal, its partition count is fixed: %w", topic, ErrInvalidPartitions)
	case count <= have:
		return fmt.Errorf("topic %q has %d partitions, cannot change to %d (only more): %w", topic, have, count, ErrInvalidPartitions)
	case count > shards.MaxPartitions:
		return fmt.Errorf("topic %q: %d partitions, over the limit of %d: %w", topic, count, shards.MaxPartitions, ErrInvalidPartitions)
	}
	if rf, brokers := t.Partitions[0].ReplicationFactor(), len(st.SortedBrokers()); rf > brokers {
		return fmt.Errorf("topic %q: replication factor %d with %d registered brokers: %w", topic, rf, brokers, ErrInvalidReplicationFactor)
	}
	return nil
}

func (e *Engine) partitionCount(topic string) int32 {
	if t, ok := e.meta.State().Topics[topic]; ok {
		return int32(len(t.Partitions))
	}
	return 0
}
