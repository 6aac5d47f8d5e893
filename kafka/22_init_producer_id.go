package kafka

// InitProducerID: v0-4
//
// Behaviour:
//   - Non-transactional only: an idempotent producer gets a fresh producer
//     id and epoch 0 from the engine (allocated through __meta, so ids are
//     unique across the cluster and restarts). The partition state machines
//     de-duplicate its batches by (producer id, epoch, sequence).
//   - v3+ with an existing ProducerID/ProducerEpoch (KIP-360 recovery): a new
//     producer id is returned, which resets the client's sequences.
//   - A TransactionalID goes to the transaction coordinator (package
//     coordinator), which must be this broker (NOT_COORDINATOR otherwise):
//     the id keeps its producer id and gets the next epoch, fencing older
//     producers; an open transaction of the old epoch is aborted first
//     (CONCURRENT_TRANSACTIONS, the client retries). A timeout above
//     TxnConfig.MaxTimeout is INVALID_TRANSACTION_TIMEOUT; a stale
//     ProducerID/ProducerEpoch is PRODUCER_FENCED (INVALID_PRODUCER_EPOCH
//     before v4).
//   - Authorization: Write on the transactional id, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED; an idempotent producer needs
//     IdempotentWrite on the cluster or Write on some topic, else
//     CLUSTER_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ThrottleMillis semantics
//   - v2: flexible versions
//   - v3: ProducerID, ProducerEpoch in the request (KIP-360)
//   - v4: no change (PRODUCER_FENCED)

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.Version = r.version
	if req.TransactionalID != nil {
		if !s.authorize(r, acl.Write, acl.TransactionalID, *req.TransactionalID) {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return resp, nil
		}
		pid, epoch := int64(-1), int16(-1)
		if r.version >= 3 {
			pid, epoch = req.ProducerID, req.ProducerEpoch
		}
		id, ep, e := s.txns.InitProducerID(ctx, *req.TransactionalID, req.TransactionTimeoutMillis, pid, epoch)
		resp.ErrorCode = txnErrCode(e, r.version, 4)
		resp.ProducerID, resp.ProducerEpoch = id, ep
		return resp, nil
	}
	// An idempotent producer needs IdempotentWrite on the cluster, or Write
	// on some topic (Kafka 3.0+, KIP-679).
	if !s.authorizeCluster(r, acl.IdempotentWrite) && !s.authorizeAny(r, acl.Write, acl.Topic) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	id, epoch, err := s.be.AllocateProducerID(ctx)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		if errors.Is(err, context.DeadlineExceeded) || resp.ErrorCode == kerr.NotLeaderForPartition.Code || resp.ErrorCode == kerr.LeaderNotAvailable.Code {
			// Producer ids come from __meta; a missing leader there is the
			// coordinator being unavailable, which clients retry.
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		}
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return resp, nil
}
