package coordinator

// SyncGroup: members of a generation wait for the leader's assignment.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var emptyConsumerAssignment = func() []byte {
	a := kmsg.NewConsumerMemberAssignment()
	return a.AppendTo(nil)
}()

// SyncGroup runs a SyncGroup request of any version and returns its
// response. A member waits until the leader's request (carrying the
// assignment) has stored the group's metadata through Raft, ctx is done or
// the coordinator closes (then NOT_COORDINATOR). Errors are in the
// response: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS,
// INCONSISTENT_GROUP_PROTOCOL, FENCED_INSTANCE_ID, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.Version = req.Version
	fail := func(e *kerr.Error) *kmsg.SyncGroupResponse {
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
	w := g.sync(req, resp)
	g.mu.Unlock()
	if w == nil {
		return resp
	}
	if out := c.wait(ctx, w); out != nil {
		return out.(*kmsg.SyncGroupResponse)
	}
	return fail(kerr.NotCoordinator)
}

func (g *group) sync(req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) *waiter {
	if e := g.checkInstance(req.InstanceID, req.MemberID); e != nil {
		resp.ErrorCode = e.Code
		return nil
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return nil
	}
	if req.Generation != g.generation {
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return nil
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return nil
	}
	switch g.state {
	case groupPreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case groupCompletingRebalance:
		delete(g.pendingSync, m.id)
		w := newWaiter(req)
		m.waiting = w
		if m.id == g.leader {
			g.completeSync(req)
		}
		return w
	case groupStable:
		g.fillSync(m, resp)
		g.heartbeat(m)
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return nil
}

func (g *group) fillSync(m *member, resp *kmsg.SyncGroupResponse) {
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.MemberAssignment = m.assignment
	if len(m.assignment) == 0 && g.protocolType == "consumer" {
		resp.MemberAssignment = emptyConsumerAssignment
	}
}

// completeSync stores the leader's assignment and makes the group stable,
// answering every member waiting in SyncGroup. If the metadata cannot be
// written the waiting members get the error and the group stays in
// CompletingRebalance (they rejoin).
func (g *group) completeSync(req *kmsg.SyncGroupRequest) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range req.GroupAssignment {
		if m, ok := g.members[a.MemberID]; ok {
			m.assignment = a.MemberAssignment
		}
	}
	if e := g.persistMeta(); e != nil {
		for _, m := range g.members {
			m.assignment = nil
			if m.waiting != nil {
				g.replyErr(m, e)
			}
		}
		return
	}
	g.setState(groupStable)
	g.pendingSync = nil
	g.stopTimer(&g.tSync)
	for _, m := range g.members {
		if m.waiting == nil {
			continue
		}
		resp := m.waiting.req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.SetVersion(m.waiting.req.GetVersion())
		g.fillSync(m, resp)
		g.reply(m, resp)
	}
}
