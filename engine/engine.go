package engine

// CONTRACT SKELETON: the signatures below are the API the kafka and bench
// packages build against. The engine implementation replaces the bodies; it
// may add methods and fields but must not change these signatures without
// updating every caller.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

var errUnimplemented = errors.New("chronik: engine not implemented yet")

// Config configures one engine (one broker's replicated log).
type Config struct {
	NodeID    uint64            // this broker's id, >= 1
	DataDir   string            // root of all on-disk state
	RaftAddr  string            // host:port this node's Raft transport listens on
	Peers     map[uint64]string // every member's Raft address, this node included
	KafkaAddr string            // advertised Kafka host:port registered in __meta; "" for none
	Rack      string            // optional rack id for replica placement
	Logger    *slog.Logger      // nil discards logs

	DefaultPartitions int32 // partitions of auto-created topics; default 3
	// DefaultReplicationFactor of created topics; 0 means min(3, brokers).
	DefaultReplicationFactor int16
}

// Engine is one broker's embedded, replicated log. Safe for concurrent use.
type Engine struct{}

// Open starts an engine.
func Open(cfg Config) (*Engine, error) { return nil, errUnimplemented }

// Close stops the engine.
func (e *Engine) Close() error { return nil }

// NodeID returns this broker's id.
func (e *Engine) NodeID() uint64 { return 0 }

// WaitReady blocks until __meta has a leader and this broker is registered.
func (e *Engine) WaitReady(ctx context.Context) error { return errUnimplemented }

// CreateTopic creates a topic and waits until every partition has a leader.
func (e *Engine) CreateTopic(ctx context.Context, name string, tc TopicConfig) error {
	return errUnimplemented
}

// DeleteTopic deletes a topic.
func (e *Engine) DeleteTopic(ctx context.Context, name string) error { return errUnimplemented }

// Produce encodes recs as one record batch and appends it.
func (e *Engine) Produce(ctx context.Context, topic string, partition int32, recs []Record) (ProduceResult, error) {
	return ProduceResult{}, errUnimplemented
}

// ProduceBatch appends one or more concatenated Kafka v2 record batches.
func (e *Engine) ProduceBatch(ctx context.Context, topic string, partition int32, batches []byte) (ProduceResult, error) {
	return ProduceResult{}, errUnimplemented
}

// Fetch reads batches from offset on the partition leader.
func (e *Engine) Fetch(ctx context.Context, topic string, partition int32, offset int64, opts FetchOptions) (FetchResult, error) {
	return FetchResult{}, errUnimplemented
}

// Watch returns a channel closed when the partition's high watermark moves
// past hw. Multi-partition long polls wait on several of these.
func (e *Engine) Watch(topic string, partition int32, hw int64) (<-chan struct{}, error) {
	return nil, errUnimplemented
}

// ListOffsets resolves Earliest, Latest, MaxTimestamp or a timestamp (ms).
func (e *Engine) ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (ListOffsetsResult, error) {
	return ListOffsetsResult{}, errUnimplemented
}

// Metadata returns the cluster as recorded in __meta.
func (e *Engine) Metadata() Metadata { return Metadata{} }

var _ = time.Second
