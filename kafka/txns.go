package kafka

// The transaction coordinator lives in package coordinator; the handlers of
// the transaction APIs (22 with a transactional id, 24, 25, 26) decode
// requests, call it and encode its answers.
//
// It needs a backend that writes transaction markers to partitions
// (coordinator.MarkerWriter, the engine's WriteTxnMarker): without one,
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

// newTxnCoordinator starts the transaction coordinator over be, or one that
// serves no transactions when be cannot write markers.
func newTxnCoordinator(be backend, cfg TxnConfig, log *slog.Logger) *coordinator.TxnCoordinator {
	tb, ok := be.(coordinator.TxnBackend)
	mw, ok2 := be.(coordinator.MarkerWriter)
	if ok && ok2 {
		return coordinator.NewTxn(tb, mw, cfg, log)
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
