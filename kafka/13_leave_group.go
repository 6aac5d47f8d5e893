package kafka

// LeaveGroup: v0-5
//
// Behaviour:
//   - Removes members and rebalances the group at once (no wait for their
//     session timeouts). v3+ removes a batch of members, each by member id
//     or by group.instance.id (KIP-345); a member id that does not match the
//     instance's current one is FENCED_INSTANCE_ID, an unknown one
//     UNKNOWN_MEMBER_ID, per member.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: Members (batched, KIP-345)
//   - v4: flexible versions
//   - v5: Reason

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	if g := r.kreq.(*kmsg.LeaveGroupRequest).Group; !s.authorize(r, acl.Read, acl.Group, g) {
		return errorResponse(r.kreq, kerr.GroupAuthorizationFailed.Code), nil
	}
	req := r.kreq.(*kmsg.LeaveGroupRequest)
	if r.version < 3 {
		req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	resp := s.groups.LeaveGroup(req)
	if r.version < 3 {
		if len(resp.Members) > 0 { // no members when the group failed
			resp.ErrorCode = resp.Members[0].ErrorCode
		}
		resp.Members = nil
	}
	return resp, nil
}
