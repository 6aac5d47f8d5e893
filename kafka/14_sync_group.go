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
)

func init() { regKey(14, 0, 5, handleSyncGroup) }

var emptyConsumerAssignment = func() []byte {
	a := kmsg.NewConsumerMemberAssignment()
	return a.AppendTo(nil)
}()

func handleSyncGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.Version = r.version
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
	w := g.sync(req, resp)
	g.mu.Unlock()
	if w == nil {
		return resp, nil
	}
	return wait(s, ctx, w, func() (kmsg.Response, error) { return fail(kerr.NotCoordinator) })
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
