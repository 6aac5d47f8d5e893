package kafka

import (
	"context"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

// backend is what the server needs of an engine. engineBackend adapts an
// *engine.Engine; tests wrap it to inject faults (faults_test.go).
type backend interface {
	NodeID() uint64
	// Metadata describes the cluster; with topic names, only those topics
	// (engine.Engine.Metadata).
	Metadata(topics ...string) engine.Metadata
	// TopicName resolves a topic ID (engine.Engine.TopicName).
	TopicName(id [16]byte) (string, bool)
	CreateTopic(ctx context.Context, name string, tc engine.TopicConfig) error
	DeleteTopic(ctx context.Context, name string) error
	CreatePartitions(ctx context.Context, topic string, count int32) error
	CheckCreatePartitions(topic string, count int32) error
	AlterTopicConfig(ctx context.Context, topic string, change engine.ConfigChange, validateOnly bool) (map[string]string, error)
	// ProduceAsync proposes batches and returns once they are queued in
	// Raft; successive calls for one partition from one goroutine commit in
	// call order (engine.ProduceBatchAsync).
	ProduceAsync(ctx context.Context, topic string, partition int32, batches []byte) (produceWaiter, error)
	Fetch(ctx context.Context, topic string, partition int32, offset int64, opts engine.FetchOptions) (engine.FetchResult, error)
	Watch(topic string, partition int32, hw int64) (<-chan struct{}, error)
	ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (engine.ListOffsetsResult, error)
	// OffsetForLeaderEpoch answers where a leader epoch's data ends, on the
	// partition leader (engine.Engine.OffsetForLeaderEpoch).
	OffsetForLeaderEpoch(ctx context.Context, topic string, partition int32, currentLeaderEpoch, leaderEpoch int32) (engine.EpochEndOffset, error)
	AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error)
	// Producers lists a partition's producers, on its leader
	// (engine.Engine.Producers).
	Producers(topic string, partition int32) ([]engine.ProducerState, error)
	// WriteTxnMarker writes a transaction's commit or abort marker to a
	// partition through a local replica (engine.Engine.WriteTxnMarker): a
	// *engine.NotLeaderError means this broker holds none.
	WriteTxnMarker(ctx context.Context, topic string, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error
	// DeleteRecords moves a partition's log start offset on its leader (-1 =
	// the high watermark) and returns the new log start.
	DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error)
	// PartitionStats describes this broker's replica of a partition: whether
	// it leads it, in which leader epoch (Raft term)
	// (engine.Engine.PartitionStats); share partitions are tied to it.
	PartitionStats(topic string, partition int32) (engine.PartitionStats, error)
	// LocalReplicas lists the partition replicas this broker hosts.
	LocalReplicas(checksums bool) []engine.ReplicaStatus
	// DiskFreeBytes is the free space on the data directory's file system,
	// -1 when not (yet) measured.
	DiskFreeBytes() int64
	// ACLIndex indexes the ACLs in __meta (engine.Engine.ACLIndex); cheap
	// enough for every request.
	ACLIndex() *acl.Index
	// ACLs lists the stored bindings f matches (engine.Engine.ACLs).
	ACLs(f acl.Filter) []acl.Binding
	CreateACLs(ctx context.Context, bindings []acl.Binding) error
	// DeleteACLs removes what the filters match and returns it, per filter
	// (engine.Engine.DeleteACLs).
	DeleteACLs(ctx context.Context, filters []acl.Filter) ([][]acl.Binding, error)
	// ScramCredentials returns a user's SCRAM credentials by mechanism,
	// nil if none (engine.Engine.ScramCredentials).
	ScramCredentials(user string) map[string]engine.ScramCredential
	// ScramUsers lists the users with SCRAM credentials, sorted.
	ScramUsers() []string
	// ScramSecret keys the fake credentials of unknown users; nil until
	// a user exists (engine.Engine.ScramSecret).
	ScramSecret() []byte
	// AlterScramCredentials changes one user's credentials, all or none
	// (engine.Engine.AlterScramCredentials).
	AlterScramCredentials(ctx context.Context, user string, change engine.ScramChange) error
	// ReassignPartition moves a partition's replicas to brokers (nil:
	// cancel the move in progress) (engine.Engine.ReassignPartition).
	ReassignPartition(ctx context.Context, topic string, partition int32, brokers []uint64) error
	// ListReassignments lists the moves in progress, of topics or all
	// (engine.Engine.ListReassignments).
	ListReassignments(topics ...string) []engine.Reassignment
	// AddBroker adds a broker to the cluster (engine.Engine.AddBroker).
	AddBroker(ctx context.Context, id uint64, raftAddr string) error
	// RemoveBroker removes a broker that holds no replica from the cluster
	// (engine.Engine.RemoveBroker).
	RemoveBroker(ctx context.Context, id uint64) error
}

// produceWaiter is a proposed produce's outcome (*engine.PendingProduce).
type produceWaiter interface {
	Wait(ctx context.Context) (engine.ProduceResult, error)
}

// engineBackend is the backend of a real engine.
type engineBackend struct{ *engine.Engine }

func (b engineBackend) ProduceAsync(ctx context.Context, topic string, partition int32, batches []byte) (produceWaiter, error) {
	pp, err := b.ProduceBatchAsync(ctx, topic, partition, batches)
	if err != nil {
		return nil, err
	}
	return pp, nil
}

var _ backend = engineBackend{}
