package engine

import "github.com/chronik-io/chronik/internal/errs"

// Sentinel errors returned by the engine, matched with errors.Is. Each maps to
// one Kafka error code in the kafka package.
var (
	ErrNotLeader                = errs.ErrNotLeader
	ErrNotReady                 = errs.ErrNotReady
	ErrUnknownTopic             = errs.ErrUnknownTopic
	ErrUnknownPartition         = errs.ErrUnknownPartition
	ErrTopicExists              = errs.ErrTopicExists
	ErrInvalidTopic             = errs.ErrInvalidTopic
	ErrInvalidPartitions        = errs.ErrInvalidPartitions
	ErrInvalidReplicationFactor = errs.ErrInvalidReplicationFactor
	ErrInvalidConfig            = errs.ErrInvalidConfig
	ErrOffsetOutOfRange         = errs.ErrOffsetOutOfRange
	ErrTimeout                  = errs.ErrTimeout
	ErrCorruptBatch             = errs.ErrCorruptBatch
	ErrRecordTooLarge           = errs.ErrRecordTooLarge
	ErrInvalidRecord            = errs.ErrInvalidRecord
	ErrDuplicateSequence        = errs.ErrDuplicateSequence
	ErrOutOfOrderSequence       = errs.ErrOutOfOrderSequence
	ErrInvalidProducerEpoch     = errs.ErrInvalidProducerEpoch
	ErrStorage                  = errs.ErrStorage
	ErrClosed                   = errs.ErrClosed
	ErrFencedLeaderEpoch        = errs.ErrFencedLeaderEpoch
	ErrUnknownLeaderEpoch       = errs.ErrUnknownLeaderEpoch
	ErrInvalidACL               = errs.ErrInvalidACL
	ErrUnknownCredential        = errs.ErrUnknownCredential
	ErrInvalidCredential        = errs.ErrInvalidCredential
	ErrInvalidReplicaAssignment = errs.ErrInvalidReplicaAssignment
	ErrNoReassignmentInProgress = errs.ErrNoReassignmentInProgress
	ErrUnknownBroker            = errs.ErrUnknownBroker
	ErrBrokerRemoved            = errs.ErrBrokerRemoved
	ErrBrokerHasReplicas        = errs.ErrBrokerHasReplicas
	ErrMetaQuorum               = errs.ErrMetaQuorum
	ErrInvalidBroker            = errs.ErrInvalidBroker
)

// NotLeaderError carries the current leader of a partition; it matches
// ErrNotLeader.
type NotLeaderError = errs.NotLeaderError
