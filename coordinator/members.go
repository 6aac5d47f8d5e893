package coordinator

// Heartbeat and LeaveGroup: members keep their sessions alive and leave.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat keeps a member's session alive and returns nil, or the error
// the member acts on: REBALANCE_IN_PROGRESS (rejoin), ILLEGAL_GENERATION or
// UNKNOWN_MEMBER_ID (it was removed), FENCED_INSTANCE_ID, and
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_GROUP_ID.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kerr.Error {
	if req.Group == "" {
		return kerr.InvalidGroupID
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		return e
	}
	g := cp.lookup(req.Group, false)
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	if e := g.checkInstance(req.InstanceID, req.MemberID); e != nil {
		return e
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		return kerr.UnknownMemberID
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	switch g.state {
	case groupPreparingRebalance:
		g.heartbeat(m)
		return kerr.RebalanceInProgress
	case groupCompletingRebalance, groupStable:
		g.heartbeat(m)
		return nil
	}
	return kerr.UnknownMemberID
}

// LeaveGroup removes req.Members (the caller fills Members from MemberID
// for requests before v3) and rebalances the group at once if any left.
// The response has one entry per member with its error code (nil group
// errors leave ErrorCode 0): UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID per
// member; INVALID_GROUP_ID, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS
// or UNKNOWN_MEMBER_ID (no such group) for the request.
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.Version = req.Version
	fail := func(e *kerr.Error) *kmsg.LeaveGroupResponse {
		resp.ErrorCode = e.Code
		return resp
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		return fail(e)
	}
	g := cp.lookup(req.Group, false)
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	defer g.mu.Unlock()
	left := false
	for _, rm := range req.Members {
		out := kmsg.NewLeaveGroupResponseMember()
		out.MemberID, out.InstanceID = rm.MemberID, rm.InstanceID
		if e := g.leave(rm); e != nil {
			out.ErrorCode = e.Code
		} else {
			left = true
		}
		resp.Members = append(resp.Members, out)
	}
	if left {
		g.rebalance()
	}
	return resp
}

// leave removes one member (without rebalancing): nil, or its error.
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
		return nil
	}
	m, ok := g.members[id]
	if !ok {
		return kerr.UnknownMemberID
	}
	g.removeMember(m)
	return nil
}
