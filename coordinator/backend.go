package coordinator

import (
	"context"

	"github.com/chronik-io/chronik/engine"
)

// Backend is what the coordinator needs of the replicated log: reading and
// writing the partitions of __consumer_offsets, moving their log start
// (compaction), creating the topic, and seeing which partitions this broker
// leads. *engine.Engine implements it. Its methods are called from several
// goroutines at once and must be safe for concurrent use; each has the
// contract of the engine.Engine method of the same name.
type Backend interface {
	// Metadata describes the cluster; with topic names, only those topics.
	Metadata(topics ...string) engine.Metadata
	// PartitionStats tells whether this broker leads a partition, and in
	// which leader epoch: the coordinator polls it to load and unload
	// partitions.
	PartitionStats(topic string, partition int32) (engine.PartitionStats, error)
	// CreateInternalTopic creates __consumer_offsets (engine.ErrTopicExists
	// if it exists).
	CreateInternalTopic(ctx context.Context, name string, tc engine.TopicConfig) error
	// Produce appends records through Raft and returns once they are
	// committed and applied.
	Produce(ctx context.Context, topic string, partition int32, recs []engine.Record) (engine.ProduceResult, error)
	// ProduceBatch appends encoded record batches (transactional offset
	// commits).
	ProduceBatch(ctx context.Context, topic string, partition int32, batches []byte) (engine.ProduceResult, error)
	// Watch returns a channel closed when the partition's high watermark
	// moves past hw.
	Watch(topic string, partition int32, hw int64) (<-chan struct{}, error)
	// Fetch reads record batches from offset on.
	Fetch(ctx context.Context, topic string, partition int32, offset int64, opts engine.FetchOptions) (engine.FetchResult, error)
	// ListOffsets answers the log start (engine.Earliest) of a partition.
	ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (engine.ListOffsetsResult, error)
	// DeleteRecords moves a partition's log start offset on its leader (-1 =
	// the high watermark) and returns the new log start.
	DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error)
}

var _ Backend = (*engine.Engine)(nil)
