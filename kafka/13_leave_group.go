package kafka

// LeaveGroup: v0-5
//
// Behaviour:
//   - Removes members and rebalances the group at once (no wait for their
//     session timeouts). v3+ removes a batch of members, each by member id
//     or by group.instance.id (KIP-345); a member id that does not match the
//     instance's current one is FENCED_INSTANCE_ID, an unknown one
//     UNKNOWN_MEMBER_ID, per member.
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
)

func init() { regKey(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.Version = r.version
	members := req.Members
	if r.version < 3 {
		members = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	fail := func(e *kerr.Error) (kmsg.Response, error) {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	cp, e := s.groups.partitionOf(req.Group)
	if e != nil {
		return fail(e)
	}
	g := cp.lookup(req.Group, false)
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	left := false
	for _, rm := range members {
		out := kmsg.NewLeaveGroupResponseMember()
		out.MemberID, out.InstanceID = rm.MemberID, rm.InstanceID
		code := g.leave(rm)
		out.ErrorCode = code.Code
		if code.Code == 0 {
			left = true
		}
		resp.Members = append(resp.Members, out)
	}
	if left {
		g.rebalance()
	}
	if r.version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp, nil
}

// leave removes one member (without rebalancing) and returns its code.
func (g *group) leave(rm kmsg.LeaveGroupRequestMember) *kerr.Error {
	id := rm.MemberID
	if rm.InstanceID != nil {
		known, ok := g.static[*rm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if id != "" && id != known {
			return kerr.FencedInstanceID
		}
		id = known
	}
	if p, ok := g.pending[id]; ok {
		g.stopPending(p)
		return &kerr.Error{}
	}
	m, ok := g.members[id]
	if !ok {
		return kerr.UnknownMemberID
	}
	g.removeMember(m)
	return &kerr.Error{}
}
