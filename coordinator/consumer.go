package coordinator

// KIP-848 consumer groups: ConsumerGroupHeartbeat.
//
// A consumer group lives in the same group table as classic groups (a
// group with g.consumer set) and shares their committed offsets. The
// coordinator owns the assignment: it keeps a group epoch, bumped by every
// change of membership, subscriptions or subscribed topics' partitions; a
// target assignment computed by the server-side assignor (uniform or
// range) at that epoch; and, per member, the partitions it currently owns
// and its member epoch. Members converge to the target one heartbeat at a
// time (reconcile in consumer_assign.go): a partition is only given to a
// member once its previous owner has reported it revoked.
//
// Every change is written to __consumer_offsets as Kafka's consumer group
// records (consumer_records.go) before the member is answered, so a new
// coordinator rebuilds exactly the state the members were told.

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Member states, with Kafka's MemberState codes as stored in the current
// assignment record.
const (
	memberStable     int8 = 0
	memberUnrevoked  int8 = 1
	memberUnreleased int8 = 2
)

// Special member epochs of ConsumerGroupHeartbeat.
const (
	epochJoin        = 0
	epochLeave       = -1
	epochStaticLeave = -2
)

// consumerGroup is the KIP-848 state of a group.
type consumerGroup struct {
	epoch           int32                         // group epoch
	assignmentEpoch int32                         // epoch of the target assignment
	topics          []topicMeta                   // subscribed topics at the last epoch bump, by name
	members         map[string]*cmember           // by member id
	static          map[string]string             // instance id -> member id
	owners          map[[16]byte]map[int32]string // partition -> member owning it (assigned or pending revocation)

	// written is the value last written of each record key of the group
	// (string(key) -> value), so that a change writes only what changed.
	written map[string][]byte
	// dropClassic: the group was a classic group with stored metadata,
	// whose tombstone goes with the first consumer records.
	dropClassic bool
	checkedAt   time.Time // last check of the subscribed topics' metadata
	// membership counts member additions, removals and replacements:
	// a heartbeat that changed none of them, nor an epoch, only changed
	// its own member's records.
	membership int
}

// cmember is one member of a consumer group.
type cmember struct {
	id        string
	meta      cgMemberMeta
	re        *regexp.Regexp // compiled meta.regex
	cgCurrent                // with assignedAt, the epoch each owned partition was given at
	target    assignment

	session   *time.Timer
	rebalance *time.Timer
}

type topicPartitionID struct {
	id [16]byte
	p  int32
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*cmember{}, static: map[string]string{},
		owners: map[[16]byte]map[int32]string{}, written: map[string][]byte{}}
}

// consumerState is the group's state as Kafka names it.
func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.epoch > cg.assignmentEpoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != epochStaticLeave && (m.epoch != cg.assignmentEpoch || m.state != memberStable) {
			return "Reconciling"
		}
	}
	return "Stable"
}

// ConsumerGroupHeartbeat runs a ConsumerGroupHeartbeat request (KIP-848)
// and returns its response, after every change it made is written through
// Raft. cl is the connection the member heartbeats from. Errors are in the
// response, as Kafka's coordinator answers them: INVALID_REQUEST (a field
// missing or malformed for the member epoch), INVALID_REGULAR_EXPRESSION,
// UNSUPPORTED_ASSIGNOR, GROUP_ID_NOT_FOUND (a classic group with members,
// or no group for a member that is not joining), UNKNOWN_MEMBER_ID,
// FENCED_MEMBER_EPOCH, FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID, and
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE
// (also for a write that timed out).
func (c *Coordinator) ConsumerGroupHeartbeat(_ context.Context, cl Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.Version = req.Version
	resp.HeartbeatIntervalMillis = int32(c.cfg.ConsumerHeartbeatInterval.Milliseconds())
	fail := func(e *kerr.Error, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
		resp.ErrorCode = e.Code
		if msg != "" {
			resp.ErrorMessage = kmsg.StringPtr(msg)
		}
		return resp
	}
	if msg := validateHeartbeat(req); msg != "" {
		return fail(kerr.InvalidRequest, msg)
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		return fail(e, "")
	}
	if cp.isShareGroup(req.Group) {
		return fail(kerr.GroupIDNotFound, "Group "+req.Group+" is a share group.")
	}
	g := cp.lookup(req.Group, req.MemberEpoch == epochJoin)
	if g == nil {
		if req.MemberEpoch == epochJoin {
			return fail(kerr.NotCoordinator, "")
		}
		return fail(kerr.GroupIDNotFound, "Consumer group "+req.Group+" not found.")
	}
	defer g.mu.Unlock()
	var undo func()
	if g.consumer == nil {
		if req.MemberEpoch != epochJoin || len(g.members) > 0 || len(g.pending) > 0 || g.state != groupEmpty {
			return fail(kerr.GroupIDNotFound, "Group "+req.Group+" is not a consumer group.")
		}
		undo = g.toConsumer()
	}
	e, msg := g.consumerHeartbeat(cl, req, resp)
	if e != nil {
		if undo != nil && len(g.consumer.written) == 0 && len(g.consumer.members) == 0 {
			undo() // a join refused: the group stays what it was
		}
		return fail(e, msg)
	}
	return resp
}

// validateHeartbeat is Kafka's request validation: the error message of
// an INVALID_REQUEST, "" if the request is well formed.
func validateHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) string {
	switch {
	case req.Group == "":
		return "GroupId can't be empty."
	case req.InstanceID != nil && *req.InstanceID == "":
		return "InstanceId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return "RackId can't be empty."
	case req.MemberEpoch < epochStaticLeave:
		return "MemberEpoch is invalid."
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch != epochJoin):
		return "MemberId can't be empty."
	}
	if req.MemberEpoch == epochJoin {
		switch {
		case req.RebalanceTimeoutMillis == -1:
			return "RebalanceTimeoutMs must be provided in first request."
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
		case req.Topics == nil || len(req.Topics) > 0:
			return "TopicPartitions must be empty when (re-)joining."
		}
	}
	if req.SubscribedTopicRegex != nil && req.SubscribedTopicNames != nil && len(req.SubscribedTopicNames) > 0 {
		return "SubscribedTopicNames and SubscribedTopicRegex are mutually exclusive."
	}
	return ""
}

// toConsumer turns an empty classic group into a consumer group (KIP-848's
// online upgrade); its committed offsets stay. A group created by this
// request (no offsets, no metadata) is forgotten again by undo, as is the
// conversion of an existing one.
func (g *group) toConsumer() (undo func()) {
	cg := newConsumerGroup()
	cg.dropClassic = g.protocolType != "" || g.generation > 0
	oldType, oldProto, oldLeader, oldGen, oldState, oldTime := g.protocolType, g.protocol, g.leader, g.generation, g.state, g.stateTime
	g.consumer = cg
	g.protocolType, g.protocol, g.leader, g.generation = "", "", "", 0
	g.setState(groupEmpty)
	return func() {
		g.consumer = nil
		g.protocolType, g.protocol, g.leader, g.generation = oldType, oldProto, oldLeader, oldGen
		g.state, g.stateTime = oldState, oldTime
		if !cg.dropClassic && len(g.offsets) == 0 && len(g.txnOffsets) == 0 {
			g.dead = true
			g.cp.remove(g)
		}
	}
}

// consumerHeartbeat runs the heartbeat on the locked consumer group.
func (g *group) consumerHeartbeat(cl Client, req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) (*kerr.Error, string) {
	cg := g.consumer
	switch req.MemberEpoch {
	case epochLeave, epochStaticLeave:
		return g.consumerLeave(req, resp)
	}
	var owned assignment
	if req.Topics != nil {
		owned = assignment{}
		for _, t := range req.Topics {
			owned[t.TopicID] = append(owned[t.TopicID], t.Partitions...)
		}
	}
	epoch0, assignment0, membership0 := cg.epoch, cg.assignmentEpoch, cg.membership
	m, joined, e, msg := g.consumerMember(cl, req, owned)
	if e != nil {
		return e, msg
	}
	oldAssigned := m.assigned
	changed, e, msg := m.update(cl, req)
	if e != nil {
		if joined {
			g.dropMember(m)
		}
		return e, msg
	}
	if joined || changed {
		cg.epoch++
	}
	g.refreshTopics(changed || joined)
	if cg.epoch > cg.assignmentEpoch {
		g.computeTarget()
	}
	g.reconcile(m, owned, changed)
	persist := g.persistConsumer
	if cg.epoch == epoch0 && cg.assignmentEpoch == assignment0 && cg.membership == membership0 {
		// The common steady heartbeat: only m's records can differ,
		// so the others are not encoded again.
		persist = func() *kerr.Error { return g.persistMember(m) }
	}
	if e := persist(); e != nil {
		return e, ""
	}
	g.sessionTimer(m)
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = m.epoch
	full := req.RebalanceTimeoutMillis != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil
	if req.MemberEpoch == epochJoin || full || !sameAssignment(oldAssigned, m.assigned) {
		resp.Assignment = heartbeatAssignment(m.assigned)
	}
	return nil, ""
}

// consumerMember finds the member a heartbeat of epoch >= 0 is from,
// creating it on a join (joined). A static member rejoining under a new
// member id after leaving with epoch -2 replaces its old self and keeps
// its assignment.
func (g *group) consumerMember(cl Client, req *kmsg.ConsumerGroupHeartbeatRequest, owned assignment) (m *cmember, joined bool, e *kerr.Error, msg string) {
	cg := g.consumer
	id := req.MemberID
	if req.MemberEpoch != epochJoin {
		m = cg.members[id]
		if m == nil {
			if req.InstanceID != nil {
				if owner, ok := cg.static[*req.InstanceID]; ok && owner != id {
					return nil, false, kerr.FencedInstanceID, ""
				}
			}
			return nil, false, kerr.UnknownMemberID, ""
		}
		if req.InstanceID != nil && (m.meta.instanceID == nil || *m.meta.instanceID != *req.InstanceID) {
			return nil, false, kerr.FencedInstanceID, ""
		}
		if req.MemberEpoch > m.epoch {
			return nil, false, kerr.FencedMemberEpoch, "The consumer group member has a greater member epoch than the coordinator's."
		}
		if req.MemberEpoch < m.epoch && (req.MemberEpoch != m.prevEpoch || owned == nil || !owned.subsetOf(m.assigned)) {
			return nil, false, kerr.FencedMemberEpoch, "The consumer group member has a smaller member epoch than the coordinator's."
		}
		return m, false, nil, ""
	}
	if id == "" { // v0: the coordinator names the member
		id = memberID(cl.ID, req.InstanceID)
	}
	if req.InstanceID != nil {
		if oldID, ok := cg.static[*req.InstanceID]; ok && oldID != id {
			old := cg.members[oldID]
			if old != nil && old.epoch != epochStaticLeave {
				return nil, false, kerr.UnreleasedInstanceID, "Static member " + *req.InstanceID + " is still in use by member " + oldID + "."
			}
			if old != nil {
				m = g.replaceStaticMember(old, id)
				return m, false, nil, ""
			}
		}
	}
	if m = cg.members[id]; m != nil {
		if m.epoch == epochStaticLeave {
			m.epoch = m.prevEpoch // back from a static leave under the same id
		}
		return m, false, nil, ""
	}
	m = &cmember{id: id, target: assignment{}, cgCurrent: cgCurrent{assigned: assignment{}, pending: assignment{},
		assignedAt: map[topicPartitionID]int32{}}}
	m.meta.rebalanceTimeout = -1
	cg.members[id] = m
	cg.membership++
	if req.InstanceID != nil {
		cg.static[*req.InstanceID] = id
	}
	return m, true, nil, ""
}

// replaceStaticMember moves a static member that left with epoch -2 to its new
// member id: the new member has its epochs and partitions.
func (g *group) replaceStaticMember(old *cmember, id string) *cmember {
	cg := g.consumer
	g.stopMemberTimers(old)
	delete(cg.members, old.id)
	m := &cmember{id: id, meta: old.meta, re: old.re, cgCurrent: old.cgCurrent, target: old.target}
	m.epoch = old.prevEpoch
	cg.members[id] = m
	cg.membership++
	cg.static[*old.meta.instanceID] = id
	for _, a := range []assignment{m.assigned, m.pending} {
		for tid, ps := range a {
			for _, p := range ps {
				if cg.owners[tid][p] == old.id {
					cg.owners[tid][p] = id
				}
			}
		}
	}
	return m
}

// update applies a heartbeat's member fields to m and reports whether its
// subscription changed (which bumps the group epoch).
func (m *cmember) update(cl Client, req *kmsg.ConsumerGroupHeartbeatRequest) (bool, *kerr.Error, string) {
	changed := false
	m.meta.clientID, m.meta.clientHost = cl.ID, cl.Host
	if req.InstanceID != nil {
		m.meta.instanceID = req.InstanceID
	}
	if req.RackID != nil && (m.meta.rackID == nil || *m.meta.rackID != *req.RackID) {
		m.meta.rackID = req.RackID
		changed = true
	}
	if req.RebalanceTimeoutMillis > 0 {
		m.meta.rebalanceTimeout = req.RebalanceTimeoutMillis
	}
	if req.ServerAssignor != nil {
		if !validAssignor(*req.ServerAssignor) {
			return false, kerr.UnsupportedAssignor, "ServerAssignor " + *req.ServerAssignor + " is not supported. Supported assignors: uniform, range."
		}
		if m.meta.assignor == nil || *m.meta.assignor != *req.ServerAssignor {
			m.meta.assignor = req.ServerAssignor
			changed = true
		}
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		names = slices.Compact(names)
		if !slices.Equal(names, m.meta.topics) {
			changed = true
		}
		m.meta.topics = names
		if req.SubscribedTopicRegex == nil && m.meta.regex != nil {
			m.meta.regex, m.re = nil, nil
			changed = true
		}
	}
	if req.SubscribedTopicRegex != nil && (m.meta.regex == nil || *m.meta.regex != *req.SubscribedTopicRegex) {
		re, err := regexp.Compile("^(?:" + *req.SubscribedTopicRegex + ")$")
		if err != nil {
			return false, kerr.InvalidRegularExpression, "SubscribedTopicRegex " + *req.SubscribedTopicRegex + " is not a valid regular expression: " + err.Error()
		}
		m.meta.regex, m.re = req.SubscribedTopicRegex, re
		if req.SubscribedTopicNames == nil {
			m.meta.topics = nil
		}
		changed = true
	}
	return changed, nil, ""
}

// consumerLeave handles epoch -1 (leave) and -2 (a static member leaves
// for now: its partitions stay reserved until its session expires or it
// rejoins with the same instance id).
func (g *group) consumerLeave(req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) (*kerr.Error, string) {
	cg := g.consumer
	m := cg.members[req.MemberID]
	if m == nil && req.InstanceID != nil {
		m = cg.members[cg.static[*req.InstanceID]]
	}
	if m == nil {
		return kerr.UnknownMemberID, ""
	}
	if req.InstanceID != nil && (m.meta.instanceID == nil || *m.meta.instanceID != *req.InstanceID) {
		return kerr.FencedInstanceID, ""
	}
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = req.MemberEpoch
	if req.MemberEpoch == epochStaticLeave && m.meta.instanceID != nil {
		if m.epoch != epochStaticLeave {
			m.prevEpoch, m.epoch = m.epoch, epochStaticLeave
		}
		g.stopTimer(&m.rebalance)
		if e := g.persistConsumer(); e != nil {
			return e, ""
		}
		g.sessionTimer(m)
		return nil, ""
	}
	g.fence(m, "left")
	if e := g.persistConsumer(); e != nil {
		return e, ""
	}
	return nil, ""
}

// fence removes a member (left, session expired, did not revoke in time)
// and bumps the group epoch; its partitions are free at once.
func (g *group) fence(m *cmember, why string) {
	g.cp.c.log.Info("consumer group member removed", "group", g.name, "member", m.id, "why", why)
	g.dropMember(m)
	g.consumer.epoch++
	if len(g.consumer.members) == 0 {
		g.setState(groupEmpty) // retention counts from now
	}
}

// dropMember forgets a member and frees its partitions.
func (g *group) dropMember(m *cmember) {
	cg := g.consumer
	g.stopMemberTimers(m)
	g.release(m)
	delete(cg.members, m.id)
	cg.membership++
	if m.meta.instanceID != nil && cg.static[*m.meta.instanceID] == m.id {
		delete(cg.static, *m.meta.instanceID)
	}
}

func (g *group) stopMemberTimers(m *cmember) {
	g.stopTimer(&m.session)
	g.stopTimer(&m.rebalance)
}

// sessionTimer (re)starts a member's session: without a heartbeat within
// ConsumerSessionTimeout it is removed.
func (g *group) sessionTimer(m *cmember) {
	g.stopTimer(&m.session)
	m.session = g.after(g.cp.c.cfg.ConsumerSessionTimeout, func() {
		if g.consumer == nil || g.consumer.members[m.id] != m {
			return
		}
		g.fence(m, "session timeout")
		if e := g.persistConsumer(); e != nil {
			g.cp.c.log.Warn("persist consumer group failed", "group", g.name, "err", e)
		}
	})
}

// rebalanceTimer gives a member that must revoke partitions its rebalance
// timeout to do so, else it is removed.
func (g *group) rebalanceTimer(m *cmember) {
	g.stopTimer(&m.rebalance)
	d := time.Duration(m.meta.rebalanceTimeout) * time.Millisecond
	if d <= 0 {
		d = g.cp.c.cfg.ConsumerSessionTimeout
	}
	epoch := m.epoch
	m.rebalance = g.after(d, func() {
		if g.consumer == nil || g.consumer.members[m.id] != m || m.epoch != epoch || m.state != memberUnrevoked {
			return
		}
		g.fence(m, "rebalance timeout: partitions not revoked")
		if e := g.persistConsumer(); e != nil {
			g.cp.c.log.Warn("persist consumer group failed", "group", g.name, "err", e)
		}
	})
}

// killConsumer stops the timers of a dead group's members.
func (g *group) killConsumer() {
	if g.consumer == nil {
		return
	}
	for _, m := range g.consumer.members {
		g.stopMemberTimers(m)
	}
}

func heartbeatAssignment(a assignment) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	out := &kmsg.ConsumerGroupHeartbeatResponseAssignment{Topics: []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}}
	for _, id := range a.sortedIDs() {
		t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
		t.TopicID, t.Partitions = id, slices.Clone(a[id])
		out.Topics = append(out.Topics, t)
	}
	return out
}

func validAssignor(name string) bool { return name == "uniform" || name == "range" }
