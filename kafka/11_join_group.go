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
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Version = r.version
	resp.MemberID = req.MemberID
	fail := func(e *kerr.Error) (kmsg.Response, error) {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	if r.version == 0 {
		req.RebalanceTimeoutMillis = req.SessionTimeoutMillis
	}
	cfg := s.groups.cfg
	if st := time.Duration(req.SessionTimeoutMillis) * time.Millisecond; st < cfg.MinSessionTimeout || st > cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout)
	}
	cp, e := s.groups.partitionOf(req.Group)
	if e != nil {
		return fail(e)
	}
	g := cp.lookup(req.Group, req.MemberID == "")
	if g == nil {
		if req.MemberID != "" {
			return fail(kerr.UnknownMemberID)
		}
		return fail(kerr.NotCoordinator)
	}
	w := g.join(r, req, resp)
	g.mu.Unlock()
	if w == nil {
		return resp, nil
	}
	return wait(s, ctx, w, func() (kmsg.Response, error) { return fail(kerr.NotCoordinator) })
}

// wait returns a parked request's answer, or orElse when the server closes.
func wait(s *Server, ctx context.Context, w *waiter, orElse func() (kmsg.Response, error)) (kmsg.Response, error) {
	select {
	case out := <-w.ch:
		return out, nil
	case <-ctx.Done():
	case <-s.closing:
	}
	select {
	case out := <-w.ch:
		return out, nil
	default:
		return orElse()
	}
}

// join runs a JoinGroup on the locked group: it fills resp and returns nil,
// or parks the request and returns its waiter.
func (g *group) join(r *request, req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) *waiter {
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
				return g.replaceStatic(old, r, req, resp)
			}
		}
		m := &member{id: memberID(r.clientID, req.InstanceID), instanceID: req.InstanceID, clientID: r.clientID, clientHost: r.clientHost, join: req}
		resp.MemberID = m.id
		if req.InstanceID != nil {
			g.static[*req.InstanceID] = m.id
		} else if r.version >= 4 {
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
func (g *group) replaceStatic(oldID string, r *request, req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) *waiter {
	m := &member{id: memberID(r.clientID, req.InstanceID), instanceID: req.InstanceID, clientID: r.clientID, clientHost: r.clientHost, join: req}
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
