package kafka

// FindCoordinator: v0-5
//
// Behaviour:
//   - Group keys (type 0) answer the leader of __consumer_offsets partition
//     abs(javaStringHashCode(group)) % partitions, as Kafka computes it. The
//     topic is created on the first lookup (GroupConfig); meanwhile, and
//     while the partition has no leader or its broker no address, the answer
//     is COORDINATOR_NOT_AVAILABLE and the client retries.
//   - Transaction keys (type 1) answer the leader of __transaction_state
//     partition abs(javaStringHashCode(id)) % partitions, the topic being
//     created on first lookup (TxnConfig) as for groups. Without a
//     transaction coordinator (a backend that cannot write markers) they are
//     COORDINATOR_NOT_AVAILABLE.
//   - v4+ looks up a batch of keys, each answered on its own.
//   - Authorization: Describe on the group (or transactional id), else
//     GROUP_AUTHORIZATION_FAILED (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
//
// Version notes:
//   - v1: KeyType, ThrottleMillis, ErrorMessage
//   - v3: flexible versions
//   - v4: CoordinatorKeys (batched, KIP-699)
//   - v5: TRANSACTION_ABORTABLE may be returned (KIP-890; never here)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(10, 0, 5, handleFindCoordinator) }

func handleFindCoordinator(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.Version = r.version
	v := s.view(OffsetsTopic) // the brokers, and the offsets topic's partitions
	find := func(key string) (endpoint, *kerr.Error) {
		var id uint64
		var e *kerr.Error
		switch {
		case req.CoordinatorType == 1 && key == "":
			return endpoint{}, kerr.InvalidRequest
		case req.CoordinatorType == 1 && !s.authorize(r, acl.Describe, acl.TransactionalID, key):
			return endpoint{}, kerr.TransactionalIDAuthorizationFailed
		case req.CoordinatorType == 1:
			id, e = s.txns.Locate(key)
		case req.CoordinatorType != 0:
			return endpoint{}, kerr.CoordinatorNotAvailable
		case key == "":
			return endpoint{}, kerr.InvalidGroupID
		case !s.authorize(r, acl.Describe, acl.Group, key):
			return endpoint{}, kerr.GroupAuthorizationFailed
		default:
			id, e = s.groups.Locate(v.byName[OffsetsTopic], key)
		}
		if e != nil {
			return endpoint{}, e
		}
		ep, ok := v.endpoint(id, r.listener)
		if !ok {
			return endpoint{}, kerr.CoordinatorNotAvailable
		}
		return ep, nil
	}
	if r.version < 4 {
		ep, e := find(req.CoordinatorKey)
		if e != nil {
			resp.ErrorCode = e.Code
			resp.ErrorMessage = kmsg.StringPtr(e.Message)
			resp.NodeID = -1
			return resp, nil
		}
		resp.NodeID, resp.Host, resp.Port = ep.id, ep.host, ep.port
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		ep, e := find(key)
		if e != nil {
			c.ErrorCode = e.Code
			c.ErrorMessage = kmsg.StringPtr(e.Message)
			c.NodeID = -1
		} else {
			c.NodeID, c.Host, c.Port = ep.id, ep.host, ep.port
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}
