package kafka

// EndTxn: v0-4
//
// Behaviour:
//   - Sent to the transaction coordinator of the id (NOT_COORDINATOR
//     otherwise). Commit or abort is answered once the PrepareCommit or
//     PrepareAbort record is committed to __transaction_state; the markers
//     are then written to every partition of the transaction, retried until
//     written (also by a new coordinator after a failover), and the
//     transaction completes.
//   - A retry of a completed EndTxn succeeds; the other outcome, or no open
//     transaction, is INVALID_TXN_STATE; the same outcome while markers are
//     still being written is CONCURRENT_TRANSACTIONS. Producer errors as
//     AddPartitionsToTxn.
//   - v5 (KIP-890 transaction version 2, an epoch bump per transaction) is
//     not served.
//   - Authorization: Write on the transactional id, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: no change
//   - v2: PRODUCER_FENCED (KIP-588)
//   - v3: flexible versions
//   - v4: TRANSACTION_ABORTABLE may be returned (KIP-890; never here)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(26, 0, 4, handleEndTxn) }

func handleEndTxn(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.Version = r.version
	if !s.authorize(r, acl.Write, acl.TransactionalID, req.TransactionalID) {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	e := s.txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
	resp.ErrorCode = txnErrCode(e, r.version, 2)
	return resp, nil
}
