package kafka

// The transaction coordinator lives in package coordinator; the handlers of
// the transaction APIs (22 with a transactional id, 24, 25, 26) decode
// requests, call it and encode its answers.
//
// It writes transaction markers through a markerWriter
// (txn_marker_writer.go): the engine's WriteTxnMarker, or WriteTxnMarkers to
// the partition leader's broker when this one holds no replica. Without a
// backend that allocates producer ids (coordinator.TxnBackend),
// transactional requests answer COORDINATOR_NOT_AVAILABLE.

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/coordinator"
)

// TxnTopic is the internal topic holding transaction state
// (coordinator.TxnTopic).
const TxnTopic = coordinator.TxnTopic

// TxnConfig configures the transaction coordinator (coordinator.TxnConfig).
type TxnConfig = coordinator.TxnConfig

// newTxnCoordinator starts the transaction coordinator over be, writing
// markers through be or, for partitions this broker holds no replica of,
// through ps to their leaders; or one that serves no transactions when be
// is not a coordinator.TxnBackend.
func newTxnCoordinator(be backend, ps *peers, cfg TxnConfig, log *slog.Logger) *coordinator.TxnCoordinator {
	if tb, ok := be.(coordinator.TxnBackend); ok {
		return coordinator.NewTxn(tb, &markerWriter{be: be, peers: ps}, cfg, log)
	}
	return coordinator.NewTxn(nil, nil, cfg, log)
}

// txnErrCode is the code of a transaction coordinator answer at a request
// version: PRODUCER_FENCED is INVALID_PRODUCER_EPOCH for versions before
// fencedSince, which predate it (KIP-588).
func txnErrCode(e *kerr.Error, version, fencedSince int16) int16 {
	if e == kerr.ProducerFenced && version < fencedSince {
		return kerr.InvalidProducerEpoch.Code
	}
	return errCode(e)
}
