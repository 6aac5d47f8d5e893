// Package errs holds chronik's sentinel errors. They are defined once here and
// re-exported by package engine (engine.ErrNotLeader = errs.ErrNotLeader), so
// the Kafka frontend and embedders match them with errors.Is.
package errs

import (
	"errors"
	"fmt"
)

// Sentinels. Every message starts with "chronik: ". Callers wrap them with
// context (fmt.Errorf("shard %d: %w", id, errs.ErrTimeout)).
var (
	// ErrNotLeader: this node does not lead the partition. The error returned
	// is a *NotLeaderError that carries the current leader, if known.
	ErrNotLeader = errors.New("chronik: not the leader")
	// ErrNotReady: the partition (or __meta) has no leader yet, or is still
	// starting on this node. Retriable.
	ErrNotReady = errors.New("chronik: not ready, no leader")
	// ErrUnknownTopic: no such topic.
	ErrUnknownTopic = errors.New("chronik: unknown topic")
	// ErrUnknownPartition: the topic exists but has no such partition.
	ErrUnknownPartition = errors.New("chronik: unknown partition")
	// ErrTopicExists: CreateTopic of a name in use.
	ErrTopicExists = errors.New("chronik: topic already exists")
	// ErrInvalidTopic: a topic name that is empty, too long or has bad characters.
	ErrInvalidTopic = errors.New("chronik: invalid topic name")
	// ErrInvalidPartitions: a partition count < 1 or over the limit.
	ErrInvalidPartitions = errors.New("chronik: invalid number of partitions")
	// ErrInvalidReplicationFactor: replication factor < 1 or > brokers.
	ErrInvalidReplicationFactor = errors.New("chronik: invalid replication factor")
	// ErrInvalidConfig: an unknown or malformed topic config.
	ErrInvalidConfig = errors.New("chronik: invalid config")
	// ErrOffsetOutOfRange: a fetch below the log start or above the high watermark.
	ErrOffsetOutOfRange = errors.New("chronik: offset out of range")
	// ErrTimeout: the operation did not finish before its deadline. A timed-out
	// produce may still have been committed.
	ErrTimeout = errors.New("chronik: timed out")
	// ErrCorruptBatch: a record batch that fails validation (magic, CRC, lengths).
	ErrCorruptBatch = errors.New("chronik: corrupt record batch")
	// ErrRecordTooLarge: a batch larger than the topic's max.message.bytes.
	ErrRecordTooLarge = errors.New("chronik: record batch too large")
	// ErrInvalidRecord: a batch that is well formed but not acceptable
	// (e.g. timestamps out of range, control batch from a client).
	ErrInvalidRecord = errors.New("chronik: invalid record")
	// ErrDuplicateSequence: an idempotent producer resent a batch already written.
	ErrDuplicateSequence = errors.New("chronik: duplicate sequence number")
	// ErrOutOfOrderSequence: an idempotent producer skipped a sequence number.
	ErrOutOfOrderSequence = errors.New("chronik: out of order sequence number")
	// ErrInvalidProducerEpoch: a producer epoch older than the one seen.
	ErrInvalidProducerEpoch = errors.New("chronik: invalid producer epoch")
	// ErrCoordinatorFenced: a transaction marker from a transaction
	// coordinator epoch older than the last one the partition saw.
	ErrCoordinatorFenced = errors.New("chronik: transaction coordinator fenced")
	// ErrInvalidTxnState: a non-transactional batch from a producer with a
	// transaction ongoing on the partition (Kafka's INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("chronik: invalid transaction state")
	// ErrStorage: the on-disk log failed (I/O error, full disk, corrupt segment).
	ErrStorage = errors.New("chronik: storage error")
	// ErrClosed: the engine or log was closed.
	ErrClosed = errors.New("chronik: closed")
	// ErrFencedLeaderEpoch: the request names a leader epoch older than the
	// partition's current one (the client's metadata is stale).
	ErrFencedLeaderEpoch = errors.New("chronik: fenced leader epoch")
	// ErrUnknownLeaderEpoch: the request names a leader epoch newer than
	// this broker knows (this broker's view is behind). Retriable.
	ErrUnknownLeaderEpoch = errors.New("chronik: unknown leader epoch")
	// ErrInvalidACL: an ACL binding or filter that cannot be stored or
	// matched (see acl.Binding.Validate), or more bindings than __meta holds.
	ErrInvalidACL = errors.New("chronik: invalid acl")
	// ErrUnknownCredential: a SCRAM credential (user and mechanism) that
	// does not exist.
	ErrUnknownCredential = errors.New("chronik: unknown SCRAM credential")
	// ErrInvalidCredential: a SCRAM credential that is not acceptable (no
	// user name, unknown mechanism, iterations out of range, empty salt).
	ErrInvalidCredential = errors.New("chronik: invalid SCRAM credential")
	// ErrInvalidReplicaAssignment: a reassignment to no broker, a broker
	// named twice, or a broker that is not registered.
	ErrInvalidReplicaAssignment = errors.New("chronik: invalid replica assignment")
	// ErrNoReassignmentInProgress: a cancel of a partition reassignment
	// where none is in progress.
	ErrNoReassignmentInProgress = errors.New("chronik: no reassignment in progress")
	// ErrUnknownBroker: a broker id the cluster does not know.
	ErrUnknownBroker = errors.New("chronik: unknown broker")
	// ErrBrokerRemoved: a broker id that was removed from the cluster; ids
	// are never taken back.
	ErrBrokerRemoved = errors.New("chronik: broker id was removed from the cluster")
	// ErrBrokerHasReplicas: a broker removal while partitions still have,
	// or are moving, a replica on it.
	ErrBrokerHasReplicas = errors.New("chronik: broker still holds partition replicas")
	// ErrMetaQuorum: a membership change of __meta that would leave it
	// without a quorum of reachable brokers.
	ErrMetaQuorum = errors.New("chronik: the change would leave __meta without a quorum")
	// ErrInvalidBroker: a broker to add with an id out of range or a Raft
	// address that is not host:port or already another broker's.
	ErrInvalidBroker = errors.New("chronik: invalid broker")
)

// NotLeaderError is returned for ErrNotLeader. Leader is the broker id of the
// current leader, 0 if unknown; Epoch is its leader epoch (Raft term).
type NotLeaderError struct {
	Leader uint64
	Epoch  uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "chronik: not the leader (leader unknown)"
	}
	return fmt.Sprintf("chronik: not the leader (leader is node %d, epoch %d)", e.Leader, e.Epoch)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
