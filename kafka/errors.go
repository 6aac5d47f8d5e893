package kafka

// The one table from engine errors to Kafka error codes. Handlers put the
// code into the per-partition (or per-topic) slot of their response; only
// framing and version violations close a connection.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// errorCodes maps engine sentinels (matched with errors.Is, in order) to the
// Kafka error a client acts on. Anything else is UNKNOWN_SERVER_ERROR.
var errorCodes = []struct {
	err  error
	kerr *kerr.Error
}{
	// Leadership: retriable, the client refreshes metadata (and uses the
	// CurrentLeader hint the handler adds).
	{engine.ErrNotLeader, kerr.NotLeaderForPartition},
	{engine.ErrNotReady, kerr.LeaderNotAvailable},
	// A closing engine is transferring its leaderships away.
	{engine.ErrClosed, kerr.NotLeaderForPartition},

	{engine.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{engine.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
	{engine.ErrTopicExists, kerr.TopicAlreadyExists},
	{engine.ErrInvalidTopic, kerr.InvalidTopicException},
	{engine.ErrInvalidPartitions, kerr.InvalidPartitions},
	{engine.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{engine.ErrInvalidConfig, kerr.InvalidConfig},
	{engine.ErrInvalidACL, kerr.InvalidRequest},

	{engine.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	// A client's current leader epoch older (fenced: refresh metadata) or
	// newer (this broker is behind: retry) than the partition leader's.
	{engine.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
	{engine.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},

	// A timed-out produce may still commit; the client retries and
	// idempotent producers are de-duplicated.
	{engine.ErrTimeout, kerr.RequestTimedOut},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
	// Cancelled only when the server shuts down.
	{context.Canceled, kerr.NotLeaderForPartition},

	{engine.ErrCorruptBatch, kerr.CorruptMessage},
	{engine.ErrRecordTooLarge, kerr.MessageTooLarge},
	{engine.ErrInvalidRecord, kerr.InvalidRecord},
	{engine.ErrDuplicateSequence, kerr.DuplicateSequenceNumber},
	{engine.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{engine.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{engine.ErrInvalidTxnState, kerr.InvalidTxnState},
	{engine.ErrCoordinatorFenced, kerr.TransactionCoordinatorFenced},
	{engine.ErrStorage, kerr.KafkaStorageError},

	{engine.ErrUnknownCredential, kerr.ResourceNotFound},
	{engine.ErrInvalidCredential, kerr.UnacceptableCredential},
	{engine.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{engine.ErrNoReassignmentInProgress, kerr.NoReassignmentInProgress},
	{engine.ErrUnknownBroker, kerr.BrokerIDNotRegistered},
	{engine.ErrBrokerRemoved, kerr.InvalidRequest},
	{engine.ErrBrokerHasReplicas, kerr.InvalidRequest},
	{engine.ErrMetaQuorum, kerr.InvalidRequest},
	{engine.ErrInvalidBroker, kerr.InvalidRequest},
}

// errorCode returns the Kafka error code for err: 0 for nil, the first match
// in errorCodes, else UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	return kafkaError(err).Code
}

// controllerErrorCode is errorCode for the requests Kafka sends to its
// controller (CreateTopics, DeleteTopics, CreatePartitions): chronik's
// controller is __meta's Raft group, and a leadership error there (an
// election, or this broker closing) answers NOT_CONTROLLER, which admin
// clients retry after finding the controller again, where they give up on
// NOT_LEADER_OR_FOLLOWER for a topic-level error.
func controllerErrorCode(err error) int16 {
	switch {
	case errors.Is(err, engine.ErrNotLeader), errors.Is(err, engine.ErrNotReady),
		errors.Is(err, engine.ErrClosed), errors.Is(err, context.Canceled):
		return kerr.NotController.Code
	}
	return errorCode(err)
}

// kafkaError is errorCode returning the kerr.Error (nil for nil).
func kafkaError(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.kerr
		}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke // a coordinator's answer (share groups)
	}
	return kerr.UnknownServerError
}

// errorMessage is the ErrorMessage of a response slot: nil when there is no
// error, else the engine's text (which never holds secrets).
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// leaderHint returns the current leader carried by a NotLeaderError: the
// broker id and epoch, or -1, -1 when unknown.
func leaderHint(err error) (leader int32, epoch int32) {
	var nl *engine.NotLeaderError
	if errors.As(err, &nl) && nl.Leader != 0 {
		return int32(nl.Leader), int32(nl.Epoch)
	}
	return -1, -1
}

// remoteError is an error code another broker answered, as an error that
// matches both the kerr.Error and the engine sentinel the table maps to that
// code (its first one), so that the caller acts as on the same failure of
// the local engine; just the kerr.Error for a code the table lacks.
func remoteError(code int16) error {
	ke := kerr.ErrorForCode(code)
	for _, m := range errorCodes {
		if m.kerr.Code == code {
			return &peerError{code: ke, err: m.err}
		}
	}
	return ke
}

// peerError is an error code answered by another broker (remoteError).
type peerError struct {
	code error // a *kerr.Error
	err  error // the engine sentinel
}

func (e *peerError) Error() string   { return e.code.Error() }
func (e *peerError) Unwrap() []error { return []error{e.code, e.err} }

// kerrWith is an error that the frontend answers with code and err's
// message: for refusals decided here rather than by the engine.
func kerrWith(code *kerr.Error, err error) error { return &codedError{code: code, err: err} }

type codedError struct {
	code *kerr.Error
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
