package coordinator

// JoinGroup: a member joins (or rejoins) a group and waits for the join
// phase of the rebalance to complete.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client identifies the client connection a member joins from, as
// DescribeGroups shows it.
type Client struct {
	// ID is the request header's client id; a new member's id starts with
	// it (or with its group.instance.id).
	ID string
	// Host is the peer's address as Kafka shows it ("/127.0.0.1").
	Host string
}

// JoinGroup runs a JoinGroup request of any version (req.Version selects
// the behaviour: MEMBER_ID_REQUIRED from v4, KIP-394) on the group's
// coordinator, and returns its response. A v0 request has no rebalance
// timeout: the caller sets RebalanceTimeoutMillis to the session timeout.
// It waits until the join phase completes, ctx is done or the coordinator
// closes (then NOT_COORDINATOR). Errors are in the response, as Kafka's
// classic coordinator answers them: INVALID_GROUP_ID,
// INVALID_SESSION_TIMEOUT (outside [MinSessionTimeout, MaxSessionTimeout]),
// INCONSISTENT_GROUP_PROTOCOL, MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS, and NOT_COORDINATOR or
// COORDINATOR_LOAD_IN_PROGRESS when this broker does not (yet) coordinate
// the group.
func (c *Coordinator) JoinGroup(ctx context.Context, cl Client, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Version = req.Version
	resp.MemberID = req.MemberID
	fail := func(e *kerr.Error) *kmsg.JoinGroupResponse {
		resp.ErrorCode = e.Code
		return resp
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	if st := time.Duration(req.SessionTimeoutMillis) * time.Millisecond; st < c.cfg.MinSessionTimeout || st > c.cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout)
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		return fail(e)
	}
	if cp.isShareGroup(req.Group) {
		return fail(kerr.GroupIDNotFound)
	}
	g := cp.lookup(req.Group, req.MemberID == "")
	if g == nil {
		if req.MemberID != "" {
			return fail(kerr.UnknownMemberID)
		}
		return fail(kerr.NotCoordinator)
	}
	if g.consumer != nil {
		// A consumer group (KIP-848): a classic member may only take
		// it over while it is empty, as Kafka.
		if len(g.consumer.members) > 0 {
			g.mu.Unlock()
			return fail(kerr.InconsistentGroupProtocol)
		}
		if e := g.toClassic(); e != nil {
			g.mu.Unlock()
			return fail(e)
		}
	}
	w := g.join(cl, req, resp)
	g.mu.Unlock()
	if w == nil {
		return resp
	}
	if out := c.wait(ctx, w); out != nil {
		return out.(*kmsg.JoinGroupResponse)
	}
	return fail(kerr.NotCoordinator)
}

// wait returns a parked request's answer, or nil when ctx is done or the
// coordinator closes first.
func (c *Coordinator) wait(ctx context.Context, w *waiter) kmsg.Response {
	select {
	case out := <-w.ch:
		return out
	case <-ctx.Done():
	case <-c.stop:
	}
	select {
	case out := <-w.ch:
		return out
	default:
		return nil
	}
}

// join runs a JoinGroup on the locked group: it fills resp and returns nil,
// or parks the request and returns its waiter.
func (g *group) join(cl Client, req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) *waiter {
	if !g.protocolsMatch(req.ProtocolType, req.Protocols) {
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return nil
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	if req.MemberID == "" {
		if req.InstanceID != nil {
			if old, ok := g.static[*req.InstanceID]; ok {
				return g.replaceStatic(old, cl, req, resp)
			}
		}
		m := &member{id: memberID(cl.ID, req.InstanceID), instanceID: req.InstanceID, clientID: cl.ID, clientHost: cl.Host, join: req}
		resp.MemberID = m.id
		if req.InstanceID != nil {
			g.static[*req.InstanceID] = m.id
		} else if req.Version >= 4 {
			g.addPending(m)
			resp.ErrorCode = kerr.MemberIDRequired.Code
			return nil
		}
		w := newWaiter(req)
		g.addMember(m, w, req)
		return w
	}
	if e := g.checkInstance(req.InstanceID, req.MemberID); e != nil {
		resp.ErrorCode = e.Code
		return nil
	}
	if m, ok := g.pending[req.MemberID]; ok {
		w := newWaiter(req)
		g.addMember(m, w, req)
		return w
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return nil
	}
	switch g.state {
	case groupCompletingRebalance:
		if sameJoin(m.join, req) {
			g.fillJoin(m.id, resp)
			return nil
		}
	case groupStable:
		if m.id != g.leader && sameJoin(m.join, req) {
			g.fillJoin(m.id, resp)
			return nil
		}
	case groupPreparingRebalance:
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return nil
	}
	w := newWaiter(req)
	g.updateMember(m, w, req)
	return w
}

// replaceStatic handles a static member rejoining with an empty member id
// (a restart): it gets a new id; the old one is fenced. A stable group whose
// selected protocol stays keeps its assignment without a rebalance (KIP-345).
func (g *group) replaceStatic(oldID string, cl Client, req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) *waiter {
	m := &member{id: memberID(cl.ID, req.InstanceID), instanceID: req.InstanceID, clientID: cl.ID, clientHost: cl.Host, join: req}
	resp.MemberID = m.id
	old, ok := g.members[oldID]
	if !ok {
		if p, ok := g.pending[oldID]; ok {
			g.stopPending(p)
		}
		g.static[*req.InstanceID] = m.id
		w := newWaiter(req)
		g.addMember(m, w, req)
		return w
	}
	m.assignment = old.assignment
	g.replyErr(old, kerr.FencedInstanceID)
	wasLeader := g.leader == oldID
	g.removeMember(old)
	g.static[*req.InstanceID] = m.id
	g.members[m.id] = m
	for _, p := range req.Protocols {
		g.protocols[p.Name]++
	}
	if wasLeader {
		g.leader = m.id
	}
	// As in Kafka, a restarted static member of a Stable group gets its old
	// assignment back unless the protocol the group would select changes;
	// its metadata may differ (kgo's carries the last generation), and the
	// leader sees it at the next rebalance.
	if g.state == groupStable && g.chooseProtocol() == g.protocol {
		if e := g.persistMeta(); e != nil {
			resp.ErrorCode = e.Code
			return nil
		}
		g.heartbeat(m)
		g.fillJoin(m.id, resp)
		resp.SkipAssignment = m.id == g.leader
		return nil
	}
	w := newWaiter(req)
	g.nJoining++
	m.waiting = w
	g.rebalance()
	return w
}
