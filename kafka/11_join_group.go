package kafka

// JoinGroup: v0-9
//
// Behaviour:
//   - Sent to the group's coordinator (FindCoordinator); any other broker
//     answers NOT_COORDINATOR, a coordinator still replaying its partition
//     COORDINATOR_LOAD_IN_PROGRESS.
//   - A dynamic member joining with an empty member id on v4+ gets
//     MEMBER_ID_REQUIRED with its id and joins again with it (KIP-394).
//   - A static member (group.instance.id, v5+, KIP-345) that rejoins while
//     the group is stable with unchanged protocols replaces its old member id
//     without a rebalance; the old id is fenced (FENCED_INSTANCE_ID). The
//     leader gets SkipAssignment (v9, KIP-814) and keeps the assignment.
//   - The request waits until every member has rejoined or the longest
//     rebalance timeout passes; the first rebalance of an empty group waits
//     GroupConfig.InitialRebalanceDelay for more members.
//   - Session timeouts outside [MinSessionTimeout, MaxSessionTimeout] are
//     INVALID_SESSION_TIMEOUT; a protocol type or protocol set that does not
//     match the group's is INCONSISTENT_GROUP_PROTOCOL.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: RebalanceTimeoutMillis (v0 uses the session timeout)
//   - v2: ThrottleMillis
//   - v4: MEMBER_ID_REQUIRED (KIP-394)
//   - v5: InstanceID (KIP-345)
//   - v6: flexible versions
//   - v7: ProtocolType and Protocol in the response
//   - v8: Reason
//   - v9: SkipAssignment in the response

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() { regKey(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	if g := r.kreq.(*kmsg.JoinGroupRequest).Group; !s.authorize(r, acl.Read, acl.Group, g) {
		return errorResponse(r.kreq, kerr.GroupAuthorizationFailed.Code), nil
	}
	req := r.kreq.(*kmsg.JoinGroupRequest)
	if r.version == 0 {
		req.RebalanceTimeoutMillis = req.SessionTimeoutMillis
	}
	// A parked request answers NOT_COORDINATOR once ctx is done or the
	// server closes (Close closes the coordinator).
	return s.groups.JoinGroup(ctx, coordinator.Client{ID: r.clientID, Host: r.clientHost}, req), nil
}
