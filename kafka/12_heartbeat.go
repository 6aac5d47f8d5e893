package kafka

// Heartbeat: v0-4
//
// Behaviour:
//   - Keeps a member's session alive. REBALANCE_IN_PROGRESS tells it to
//     rejoin; ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID that it was removed
//     (session expired, or a newer generation); FENCED_INSTANCE_ID that
//     another process took its group.instance.id.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: InstanceID (KIP-345)
//   - v4: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	if g := r.kreq.(*kmsg.HeartbeatRequest).Group; !s.authorize(r, acl.Read, acl.Group, g) {
		return errorResponse(r.kreq, kerr.GroupAuthorizationFailed.Code), nil
	}
	req := r.kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.Version = r.version
	resp.ErrorCode = errCode(s.groups.Heartbeat(req))
	return resp, nil
}
