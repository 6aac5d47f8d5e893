package coordinator

// Share groups (KIP-932): membership. A share group lives on the same
// __consumer_offsets partition as a consumer group of its name would, and
// its coordinator is that partition's leader. Members join, heartbeat and
// leave as KIP-848 members do (member epochs, the group epoch bumped by
// every change of membership or subscription), and the coordinator assigns
// partitions itself; unlike a consumer group, one partition may be
// assigned to several members, which then share its records.
//
// Membership is kept in memory only: after a coordinator failover the
// members get UNKNOWN_MEMBER_ID on their next heartbeat and join again
// (epoch 0), as clients do. What must survive a failover, the share group's
// configs and the state of its share partitions (share_state.go), is
// written through Raft.

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share group config names (IncrementalAlterConfigs on a GROUP resource),
// as Kafka names them. Their defaults are ShareDefaults.
const (
	ShareAutoOffsetReset    = "share.auto.offset.reset"       // latest
	ShareRecordLockDuration = "share.record.lock.duration.ms" // Config.ShareRecordLockDuration
	ShareDeliveryCountLimit = "share.delivery.count.limit"    // Config.ShareDeliveryCountLimit
	ShareSessionTimeout     = "share.session.timeout.ms"      // Config.ShareSessionTimeout
	ShareHeartbeatInterval  = "share.heartbeat.interval.ms"   // Config.ShareHeartbeatInterval
	ShareIsolationLevel     = "share.isolation.level"         // read_uncommitted
	shareMaxGroupSize       = 200
)

// ShareDefaults returns every share group config with its default: the
// broker's Config for the lock duration, delivery limit, session timeout
// and heartbeat interval.
func (c *Coordinator) ShareDefaults() map[string]string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return map[string]string{
		ShareAutoOffsetReset:    "latest",
		ShareRecordLockDuration: ms(c.cfg.ShareRecordLockDuration),
		ShareDeliveryCountLimit: strconv.Itoa(c.cfg.ShareDeliveryCountLimit),
		ShareSessionTimeout:     ms(c.cfg.ShareSessionTimeout),
		ShareHeartbeatInterval:  ms(c.cfg.ShareHeartbeatInterval),
		ShareIsolationLevel:     "read_uncommitted",
	}
}

// IsShareConfig tells whether name is a share group config.
func IsShareConfig(name string) bool {
	switch name {
	case ShareAutoOffsetReset, ShareRecordLockDuration, ShareDeliveryCountLimit, ShareSessionTimeout, ShareHeartbeatInterval, ShareIsolationLevel:
		return true
	}
	return false
}

// shareGroup is one share group on a coordinator partition. mu guards it.
type shareGroup struct {
	cp   *coordPartition
	name string

	mu      sync.Mutex
	dead    bool
	epoch   int32
	members map[string]*smember
	// configs are the group's altered configs (persisted).
	configs map[string]string
	// states are the persisted share-partition states (share_state.go).
	states map[shareKey]*shareState
}

// smember is one member of a share group.
type smember struct {
	id, clientID, clientHost string
	rack                     *string
	epoch, prevEpoch         int32
	topics                   []string             // sorted subscription
	assignment               map[[16]byte][]int32 // topic id -> partitions
	timer                    *time.Timer
	last                     time.Time
}

// shareLookup returns the share group, creating it when create is set;
// nil when it does not exist. It is returned locked and alive.
func (cp *coordPartition) shareLookup(name string, create bool) *shareGroup {
	for {
		cp.mu.Lock()
		if cp.ctx.Err() != nil {
			cp.mu.Unlock()
			return nil
		}
		g := cp.shares[name]
		if g == nil {
			if !create {
				cp.mu.Unlock()
				return nil
			}
			g = newShareGroup(cp, name)
			cp.shares[name] = g
		}
		cp.mu.Unlock()
		g.mu.Lock()
		if !g.dead {
			return g
		}
		g.mu.Unlock()
	}
}

func newShareGroup(cp *coordPartition, name string) *shareGroup {
	return &shareGroup{cp: cp, name: name, members: map[string]*smember{},
		configs: map[string]string{}, states: map[shareKey]*shareState{}}
}

// shareList returns the partition's share groups (unlocked).
func (cp *coordPartition) shareList() []*shareGroup {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return slices.Collect(maps.Values(cp.shares))
}

// kill stops the group's timers and marks it dead; g is locked.
func (g *shareGroup) kill() {
	g.dead = true
	for _, m := range g.members {
		m.timer.Stop()
	}
	g.members = map[string]*smember{}
}

// isConsumerGroup tells whether a classic or consumer group of this name
// exists: the name then cannot be a share group.
func (cp *coordPartition) isConsumerGroup(name string) bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.groups[name] != nil
}

// isShareGroup tells whether a share group of this name exists: the name
// then cannot be a classic or consumer group (GROUP_ID_NOT_FOUND, as Kafka
// answers a request for a group of another type).
func (cp *coordPartition) isShareGroup(name string) bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.shares[name] != nil
}

// configInt returns an integer config of the group, def when unset.
func (g *shareGroup) configInt(name string, def int64) int64 {
	if v, ok := g.configs[name]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// ShareGroupHeartbeat serves ShareGroupHeartbeat: join (member epoch 0),
// heartbeat (the current or previous member epoch, else
// FENCED_MEMBER_EPOCH), leave (-1). Errors: GROUP_ID_NOT_FOUND (a consumer
// group has the name, or a heartbeat for a group that does not exist),
// UNKNOWN_MEMBER_ID, GROUP_MAX_SIZE_REACHED, INVALID_REQUEST, and the
// coordinator errors.
func (c *Coordinator) ShareGroupHeartbeat(_ context.Context, cl Client, req *kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	fail := func(e *kerr.Error) *kmsg.ShareGroupHeartbeatResponse {
		resp.ErrorCode, resp.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
		return resp
	}
	switch {
	case req.GroupID == "":
		return fail(kerr.InvalidGroupID)
	case req.MemberID == "" || len(req.MemberID) > 36:
		return fail(kerr.InvalidRequest)
	case req.MemberEpoch == 0 && len(req.SubscribedTopicNames) == 0:
		return fail(kerr.InvalidRequest)
	}
	cp, e := c.partitionOf(req.GroupID)
	if e != nil {
		return fail(e)
	}
	if cp.isConsumerGroup(req.GroupID) {
		return fail(kerr.GroupIDNotFound)
	}
	g := cp.shareLookup(req.GroupID, req.MemberEpoch == 0)
	if g == nil {
		if req.MemberEpoch == -1 {
			return fail(kerr.UnknownMemberID)
		}
		return fail(kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	resp.HeartbeatIntervalMillis = int32(g.configInt(ShareHeartbeatInterval, c.cfg.ShareHeartbeatInterval.Milliseconds()))
	m := g.members[req.MemberID]
	switch req.MemberEpoch {
	case -1:
		if m == nil {
			return fail(kerr.UnknownMemberID)
		}
		g.remove(m)
		resp.MemberID, resp.MemberEpoch = &req.MemberID, -1
		return resp
	case 0:
		if m == nil {
			if len(g.members) >= shareMaxGroupSize {
				return fail(kerr.GroupMaxSizeReached)
			}
			m = &smember{id: req.MemberID, assignment: map[[16]byte][]int32{}}
			g.members[m.id] = m
			g.epoch++
		}
	default:
		if m == nil {
			return fail(kerr.UnknownMemberID)
		}
		if req.MemberEpoch != m.epoch && req.MemberEpoch != m.prevEpoch {
			return fail(kerr.FencedMemberEpoch)
		}
	}
	m.clientID, m.clientHost = cl.ID, cl.Host
	if req.RackID != nil {
		m.rack = req.RackID
	}
	if req.SubscribedTopicNames != nil {
		subs := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(subs)
		subs = slices.Compact(subs)
		if !slices.Equal(subs, m.topics) {
			m.topics = subs
			g.epoch++
		}
	}
	g.assign()
	g.touch(m)
	before := m.epoch
	if m.epoch != g.epoch {
		m.prevEpoch, m.epoch = m.epoch, g.epoch
	}
	resp.MemberID, resp.MemberEpoch = &req.MemberID, m.epoch
	if req.MemberEpoch == 0 || req.SubscribedTopicNames != nil || m.epoch != before {
		resp.Assignment = m.wireAssignment()
	}
	return resp
}

// touch restarts the member's session timer.
func (g *shareGroup) touch(m *smember) {
	m.last = time.Now()
	timeout := time.Duration(g.configInt(ShareSessionTimeout, g.cp.c.cfg.ShareSessionTimeout.Milliseconds())) * time.Millisecond
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer = time.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dead || g.members[m.id] != m || time.Since(m.last) < timeout {
			return
		}
		g.cp.c.log.Info("share group member expired", "group", g.name, "member", m.id)
		g.remove(m)
	})
}

// remove drops a member (left or expired) and reassigns; g is locked.
func (g *shareGroup) remove(m *smember) {
	m.timer.Stop()
	delete(g.members, m.id)
	g.epoch++
	g.assign()
}

func (m *smember) wireAssignment() *kmsg.ShareGroupHeartbeatResponseAssignment {
	a := new(kmsg.ShareGroupHeartbeatResponseAssignment)
	a.TopicPartitions = []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}
	for _, id := range slices.SortedFunc(maps.Keys(m.assignment), func(a, b [16]byte) int { return strings.Compare(string(a[:]), string(b[:])) }) {
		tp := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
		tp.TopicID, tp.Partitions = id, m.assignment[id]
		a.TopicPartitions = append(a.TopicPartitions, tp)
	}
	return a
}

// assign recomputes the members' assignments: a sticky assignor that lets
// ceil(members/partitions) members share each partition of a topic, keeps
// what members have where it stays balanced and fills the rest round robin
// (the same target shape as Kafka's SimpleAssignor). Member epochs move only
// when a member heartbeats. g is locked.
func (g *shareGroup) assign() {
	topics := map[string]topicMeta{}
	byID := map[[16]byte]topicMeta{}
	for _, t := range g.cp.c.topicsView() {
		topics[t.name], byID[t.id] = t, t
	}
	ids := slices.Sorted(maps.Keys(g.members))
	type pk struct {
		id [16]byte
		p  int32
	}
	holders := map[pk]map[string]bool{}
	subs := map[string][]string{}
	for _, id := range ids {
		m := g.members[id]
		for _, t := range m.topics {
			subs[t] = append(subs[t], id)
		}
		keep := map[[16]byte][]int32{}
		for tid, ps := range m.assignment {
			t, ok := byID[tid]
			if !ok {
				continue
			}
			if _, sub := slices.BinarySearch(m.topics, t.name); !sub {
				continue
			}
			for _, p := range ps {
				if p < t.partitions {
					keep[tid] = append(keep[tid], p)
					if holders[pk{tid, p}] == nil {
						holders[pk{tid, p}] = map[string]bool{}
					}
					holders[pk{tid, p}][id] = true
				}
			}
		}
		m.assignment = keep
	}
	for name, members := range subs {
		t, ok := topics[name]
		if !ok || t.partitions == 0 {
			continue
		}
		n, np := len(members), int(t.partitions)
		sharing := (n + np - 1) / np
		slots := sharing * np
		want := map[string]int{}
		cum := 0
		for i, id := range members {
			target := ((i+1)*slots + n - 1) / n
			want[id] = target - cum
			cum = target
		}
		// Shed partitions of members over their share, then of
		// partitions held by too many members.
		for _, id := range members {
			m := g.members[id]
			if ps := m.assignment[t.id]; len(ps) > want[id] {
				for _, p := range ps[want[id]:] {
					delete(holders[pk{t.id, p}], id)
				}
				m.assignment[t.id] = ps[:want[id]]
			}
		}
		for p := int32(0); p < t.partitions; p++ {
			hs := slices.Sorted(maps.Keys(holders[pk{t.id, p}]))
			for _, id := range hs[min(len(hs), sharing):] {
				delete(holders[pk{t.id, p}], id)
				m := g.members[id]
				m.assignment[t.id] = slices.DeleteFunc(m.assignment[t.id], func(v int32) bool { return v == p })
			}
		}
		// Fill: each partition up to sharing holders, from members
		// under their share, round robin.
		next := 0
		for p := int32(0); p < t.partitions; p++ {
			k := pk{t.id, p}
			if holders[k] == nil {
				holders[k] = map[string]bool{}
			}
			for tries := 0; len(holders[k]) < sharing && tries < n; tries++ {
				id := members[next%n]
				next++
				m := g.members[id]
				if holders[k][id] || len(m.assignment[t.id]) >= want[id] {
					continue
				}
				holders[k][id] = true
				m.assignment[t.id] = append(m.assignment[t.id], p)
				tries = -1
			}
		}
	}
	for _, m := range g.members {
		for tid, ps := range m.assignment {
			if len(ps) == 0 {
				delete(m.assignment, tid)
				continue
			}
			slices.Sort(ps)
		}
	}
}

// ShareGroupDescribe describes share groups: state (Empty or Stable),
// epochs, members with their assignments. A name that is not a share
// group answers GROUP_ID_NOT_FOUND.
func (c *Coordinator) ShareGroupDescribe(req *kmsg.ShareGroupDescribeRequest) *kmsg.ShareGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, name := range req.GroupIDs {
		dg := kmsg.NewShareGroupDescribeResponseGroup()
		dg.GroupID = name
		dg.AuthorizedOperations = -2147483648
		cp, e := c.partitionOf(name)
		var g *shareGroup
		if e == nil {
			if g = cp.shareLookup(name, false); g == nil {
				e = kerr.GroupIDNotFound
			}
		}
		if e != nil {
			dg.ErrorCode, dg.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg.GroupState = "Empty"
		if len(g.members) > 0 {
			dg.GroupState = "Stable"
		}
		dg.GroupEpoch, dg.AssignmentEpoch, dg.Assignor = g.epoch, g.epoch, "simple"
		for _, id := range slices.Sorted(maps.Keys(g.members)) {
			m := g.members[id]
			dm := kmsg.NewShareGroupDescribeResponseGroupMember()
			dm.MemberID, dm.RackID, dm.MemberEpoch = m.id, m.rack, m.epoch
			dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
			dm.SubscribedTopicNames = slices.Clone(m.topics)
			for _, tp := range m.wireAssignment().TopicPartitions {
				at := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
				at.TopicID, at.Partitions = tp.TopicID, tp.Partitions
				for _, t := range c.topicsView() {
					if t.id == tp.TopicID {
						at.Topic = t.name
					}
				}
				dm.Assignment.TopicPartitions = append(dm.Assignment.TopicPartitions, at)
			}
			dg.Members = append(dg.Members, dm)
		}
		g.mu.Unlock()
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
