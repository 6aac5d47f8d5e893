package kafka

// AddOffsetsToTxn: v0-4
//
// Behaviour:
//   - Sent to the transaction coordinator of the id (NOT_COORDINATOR
//     otherwise). The group's __consumer_offsets partition joins the
//     producer's transaction, so that it gets the transaction's marker.
//     Errors as AddPartitionsToTxn. __consumer_offsets need not exist
//     yet: the group's partition follows from the partition count it is
//     created with (offsets.topic.num.partitions), and its creation starts.
//   - The offsets are then committed with TxnOffsetCommit (28) to the
//     group coordinator.
//   - Authorization: Write on the transactional id, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED; Read on the group, else
//     GROUP_AUTHORIZATION_FAILED.
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

func init() { regKey(25, 0, 4, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.Version = r.version
	switch {
	case !s.authorize(r, acl.Write, acl.TransactionalID, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	case !s.authorize(r, acl.Read, acl.Group, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	p, e := s.groups.OffsetsPartition(req.Group)
	if e == nil {
		e = s.txns.AddOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, p)
	}
	resp.ErrorCode = txnErrCode(e, r.version, 2)
	return resp, nil
}
