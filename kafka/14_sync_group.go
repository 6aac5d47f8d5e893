package kafka

// SyncGroup: v0-5
//
// Behaviour:
//   - After a JoinGroup, every member sends SyncGroup; the leader's carries
//     the assignment. Members wait until the leader's arrives; the group's
//     metadata (members, subscriptions, assignments) is then written through
//     Raft to the group's __consumer_offsets partition before anyone is
//     answered, so a new coordinator resumes the generation after failover.
//   - A wrong generation is ILLEGAL_GENERATION, an unknown member
//     UNKNOWN_MEMBER_ID, a sync during the join phase REBALANCE_IN_PROGRESS,
//     a ProtocolType/Protocol that differs from the group's (v5+)
//     INCONSISTENT_GROUP_PROTOCOL.
//   - An empty assignment of a "consumer" group is answered as an encoded
//     empty ConsumerMemberAssignment, which every client decodes.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: InstanceID (KIP-345)
//   - v4: flexible versions
//   - v5: ProtocolType and Protocol in request and response

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	if g := r.kreq.(*kmsg.SyncGroupRequest).Group; !s.authorize(r, acl.Read, acl.Group, g) {
		return errorResponse(r.kreq, kerr.GroupAuthorizationFailed.Code), nil
	}
	return s.groups.SyncGroup(ctx, r.kreq.(*kmsg.SyncGroupRequest)), nil
}
