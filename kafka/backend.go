package kafka

import (
	"context"

	"github.com/chronik-io/chronik/engine"
)

// backend is the part of *engine.Engine the server calls. It exists so tests
// can wrap a real engine and inject faults (faults_test.go); production code
// always passes an *engine.Engine to New.
type backend interface {
	NodeID() uint64
	Metadata() engine.Metadata
	CreateTopic(ctx context.Context, name string, tc engine.TopicConfig) error
	DeleteTopic(ctx context.Context, name string) error
	ProduceBatch(ctx context.Context, topic string, partition int32, batches []byte) (engine.ProduceResult, error)
	Fetch(ctx context.Context, topic string, partition int32, offset int64, opts engine.FetchOptions) (engine.FetchResult, error)
	Watch(topic string, partition int32, hw int64) (<-chan struct{}, error)
	ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (engine.ListOffsetsResult, error)
	AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error)
}

var _ backend = (*engine.Engine)(nil)
