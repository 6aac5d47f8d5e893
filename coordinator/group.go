package coordinator

// A classic-protocol group: members, generations and the rebalance state
// machine (Empty -> PreparingRebalance -> CompletingRebalance -> Stable),
// as Kafka's GroupCoordinator. Each group has a mutex; JoinGroup and
// SyncGroup requests that must wait for other members park on a channel
// that the completing step answers. Timers (session, rebalance, pending
// sync) run their callbacks under the group's mutex and do nothing once the
// group is dead (deleted, or its partition unloaded).

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type groupState int8

const (
	groupEmpty groupState = iota
	groupPreparingRebalance
	groupCompletingRebalance
	groupStable
	groupDead
)

func (s groupState) String() string {
	switch s {
	case groupEmpty:
		return "Empty"
	case groupPreparingRebalance:
		return "PreparingRebalance"
	case groupCompletingRebalance:
		return "CompletingRebalance"
	case groupStable:
		return "Stable"
	}
	return "Dead"
}

type topicPartition struct {
	topic     string
	partition int32
}

type offsetCommit struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	committed   time.Time
	logOffset   int64 // offset of its record in __consumer_offsets: the later record wins
}

// waiter is a parked JoinGroup or SyncGroup request.
type waiter struct {
	req kmsg.Request
	ch  chan kmsg.Response // buffered 1
}

func newWaiter(req kmsg.Request) *waiter { return &waiter{req: req, ch: make(chan kmsg.Response, 1)} }

func (w *waiter) reply(r kmsg.Response) {
	select {
	case w.ch <- r:
	default:
	}
}

type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string
	join       *kmsg.JoinGroupRequest // latest join (protocols, timeouts)
	waiting    *waiter                // parked join or sync
	assignment []byte
	timer      *time.Timer
}

type group struct {
	name string
	cp   *coordPartition

	mu           sync.Mutex
	dead         bool
	state        groupState
	stateTime    time.Time
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	pending      map[string]*member // KIP-394: ids handed out, not joined yet
	static       map[string]string  // instance id -> member id
	protocols    map[string]int     // protocol name -> members supporting it
	nJoining     int
	pendingSync  map[string]struct{}
	tRebalance   *time.Timer
	tSync        *time.Timer
	delayUntil   time.Time // initial rebalance delay of a group that was empty
	offsets      map[topicPartition]offsetCommit
	txnOffsets   txnCommitState // offsets committed in transactions not ended yet (txn_offsets.go)
	// consumer is the KIP-848 state of a consumer group (consumer.go);
	// nil for a classic group.
	consumer *consumerGroup
}

func newGroup(cp *coordPartition, name string) *group {
	return &group{name: name, cp: cp, state: groupEmpty, stateTime: time.Now(),
		members: map[string]*member{}, pending: map[string]*member{}, static: map[string]string{},
		protocols: map[string]int{}, offsets: map[topicPartition]offsetCommit{}, txnOffsets: txnCommitState{}}
}

func (g *group) setState(s groupState) {
	g.state = s
	g.stateTime = time.Now()
}

// after runs fn under the group's lock after d, unless the group died.
func (g *group) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.dead {
			fn()
		}
	})
}

// kill marks the group dead: timers stop, parked requests get code.
func (g *group) kill(code *kerr.Error) {
	g.dead = true
	g.setState(groupDead)
	for _, m := range g.members {
		g.replyErr(m, code)
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	for _, m := range g.pending {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	g.stopTimer(&g.tRebalance)
	g.stopTimer(&g.tSync)
	g.killConsumer()
}

func (g *group) stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// replyErr answers a member's parked request with an error.
func (g *group) replyErr(m *member, code *kerr.Error) {
	if m.waiting == nil {
		return
	}
	resp := m.waiting.req.ResponseKind()
	resp.SetVersion(m.waiting.req.GetVersion())
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code.Code
		r.MemberID = m.id
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code.Code
	}
	g.reply(m, resp)
}

// reply answers a member's parked request and restarts its session timer.
func (g *group) reply(m *member, resp kmsg.Response) {
	if m.waiting == nil {
		return
	}
	m.waiting.reply(resp)
	m.waiting = nil
	if !g.dead {
		g.heartbeat(m)
	}
}

func memberID(clientID string, instanceID *string) string {
	var b [16]byte
	rand.Read(b[:])
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	id := hex.EncodeToString(b[:])
	return prefix + "-" + id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

func sessionTimeout(m *member) time.Duration {
	return time.Duration(m.join.SessionTimeoutMillis) * time.Millisecond
}

// heartbeat restarts the member's session timer; on expiry the member is
// removed and the group rebalances. A member parked in join or sync is kept.
func (g *group) heartbeat(m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timer = g.after(sessionTimeout(m), func() {
		if g.members[m.id] != m {
			return
		}
		if m.waiting != nil {
			g.heartbeat(m)
			return
		}
		g.cp.c.log.Info("member session expired", "group", g.name, "member", m.id)
		g.removeMember(m)
		g.rebalance()
	})
}

func (g *group) addPending(m *member) {
	g.pending[m.id] = m
	m.timer = g.after(sessionTimeout(m), func() {
		if g.pending[m.id] == m {
			delete(g.pending, m.id)
		}
	})
}

func (g *group) stopPending(m *member) {
	delete(g.pending, m.id)
	if m.timer != nil {
		m.timer.Stop()
	}
}

// removeMember forgets a member without rebalancing.
func (g *group) removeMember(m *member) {
	for _, p := range m.join.Protocols {
		g.protocols[p.Name]--
		if g.protocols[p.Name] <= 0 {
			delete(g.protocols, p.Name)
		}
	}
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.waiting != nil {
		if _, ok := m.waiting.req.(*kmsg.JoinGroupRequest); ok {
			g.nJoining--
		}
		g.replyErr(m, kerr.UnknownMemberID)
	}
}

func (g *group) addMember(m *member, w *waiter, join *kmsg.JoinGroupRequest) {
	g.stopPending(m)
	m.join = join
	for _, p := range join.Protocols {
		g.protocols[p.Name]++
	}
	g.members[m.id] = m
	g.nJoining++
	m.waiting = w
	g.rebalance()
}

// updateMember records a rejoin of a known member and rebalances.
func (g *group) updateMember(m *member, w *waiter, join *kmsg.JoinGroupRequest) {
	for _, p := range m.join.Protocols {
		g.protocols[p.Name]--
	}
	m.join = join
	for _, p := range join.Protocols {
		g.protocols[p.Name]++
	}
	if m.waiting != nil {
		if _, ok := m.waiting.req.(*kmsg.JoinGroupRequest); ok {
			g.nJoining--
		}
		g.replyErr(m, kerr.RebalanceInProgress)
	}
	g.nJoining++
	m.waiting = w
	g.rebalance()
}

// rebalance moves the group to PreparingRebalance and completes the join
// phase at once when every member has rejoined (after the initial delay for
// a group that was empty), else when the longest rebalance timeout passes.
func (g *group) rebalance() {
	if g.state == groupCompletingRebalance {
		// Members waiting in SyncGroup must rejoin; a JoinGroup that
		// arrived now (the one that started this rebalance) waits for it.
		for _, m := range g.members {
			m.assignment = nil
			if m.waiting != nil {
				if _, join := m.waiting.req.(*kmsg.JoinGroupRequest); !join {
					g.replyErr(m, kerr.RebalanceInProgress)
				}
			}
		}
	}
	if g.state == groupStable {
		for _, m := range g.members {
			m.assignment = nil
		}
	}
	if g.state == groupEmpty && g.cp.c.cfg.InitialRebalanceDelay > 0 {
		g.delayUntil = time.Now().Add(g.cp.c.cfg.InitialRebalanceDelay)
	}
	if g.state != groupPreparingRebalance {
		g.setState(groupPreparingRebalance)
	}
	g.pendingSync = nil
	g.stopTimer(&g.tSync)

	if len(g.members) == 0 {
		g.completeJoin()
		return
	}
	wait := time.Duration(g.maxRebalanceTimeout()) * time.Millisecond
	if g.nJoining >= len(g.members) {
		d := time.Until(g.delayUntil)
		if d <= 0 {
			g.completeJoin()
			return
		}
		wait = min(wait, d)
	}
	g.stopTimer(&g.tRebalance)
	gen := g.generation
	g.tRebalance = g.after(wait, func() {
		if g.generation == gen && g.state == groupPreparingRebalance {
			g.completeJoin()
		}
	})
}

func (g *group) maxRebalanceTimeout() int32 {
	var m int32
	for _, mem := range g.members {
		m = max(m, mem.join.RebalanceTimeoutMillis)
	}
	return m
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, the generation advances, a protocol is chosen and every joined
// member is answered (the leader with the members' metadata).
func (g *group) completeJoin() {
	if g.state != groupPreparingRebalance {
		return
	}
	g.stopTimer(&g.tRebalance)
	g.nJoining = 0
	for _, m := range g.members {
		if m.waiting == nil {
			g.removeMember(m)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.setState(groupEmpty)
		g.leader, g.protocol = "", ""
		g.persistMeta()
		return
	}
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ""
	}
	g.protocol = g.chooseProtocol()
	g.setState(groupCompletingRebalance)
	g.pendingSync = map[string]struct{}{}
	for _, m := range g.members {
		if g.leader == "" {
			g.leader = m.id
		}
		g.pendingSync[m.id] = struct{}{}
	}
	for _, m := range g.members {
		resp := m.waiting.req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.SetVersion(m.waiting.req.GetVersion())
		g.fillJoin(m.id, resp)
		g.reply(m, resp)
	}
	gen := g.generation
	g.tSync = g.after(time.Duration(g.maxRebalanceTimeout())*time.Millisecond, func() {
		if g.generation != gen || g.state != groupCompletingRebalance || len(g.pendingSync) == 0 {
			return
		}
		for id := range g.pendingSync {
			if m := g.members[id]; m != nil {
				g.removeMember(m)
			}
		}
		g.rebalance()
	})
}

// chooseProtocol is Kafka's vote: among protocols every member supports,
// each member votes for its first, the most votes win.
func (g *group) chooseProtocol() string {
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.join.Protocols {
			if g.protocols[p.Name] == len(g.members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, n := "", 0
	for p, v := range votes {
		if v > n || (v == n && p < best) {
			best, n = p, v
		}
	}
	return best
}

func (g *group) fillJoin(id string, resp *kmsg.JoinGroupResponse) {
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = id
	if id != g.leader {
		return
	}
	for _, m := range g.members {
		for _, p := range m.join.Protocols {
			if p.Name == g.protocol {
				jm := kmsg.NewJoinGroupResponseMember()
				jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.id, m.instanceID, p.Metadata
				resp.Members = append(resp.Members, jm)
				break
			}
		}
	}
}

// protocolsMatch reports whether a join's protocols fit the group.
func (g *group) protocolsMatch(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(protocols) == 0 {
		return false
	}
	if len(g.members) == 0 {
		return g.protocolType == "" || g.state == groupEmpty || g.protocolType == protocolType
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.protocols[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

func sameJoin(a, b *kmsg.JoinGroupRequest) bool {
	if len(a.Protocols) != len(b.Protocols) {
		return false
	}
	for i := range a.Protocols {
		if a.Protocols[i].Name != b.Protocols[i].Name || !bytes.Equal(a.Protocols[i].Metadata, b.Protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// checkInstance validates a static member's instance id against its member id.
func (g *group) checkInstance(instanceID *string, memberID string) *kerr.Error {
	if instanceID == nil {
		return nil
	}
	known, ok := g.static[*instanceID]
	if !ok {
		return kerr.UnknownMemberID
	}
	if known != memberID {
		return kerr.FencedInstanceID
	}
	return nil
}

// metaValue is the group's stored metadata.
func (g *group) metaValue() *kmsg.GroupMetadataValue {
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.members {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = m.join.RebalanceTimeoutMillis
		vm.SessionTimeoutMillis = m.join.SessionTimeoutMillis
		for _, p := range m.join.Protocols {
			if p.Name == g.protocol {
				vm.Subscription = p.Metadata
			}
		}
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return &v
}

// persistMeta writes the group's metadata; a failure is logged (the state
// is rebuilt from the last record written after a failover).
func (g *group) persistMeta() *kerr.Error {
	if err := g.cp.write(groupRecord(g.name, g.metaValue())); err != nil {
		g.cp.c.log.Warn("persist group metadata failed", "group", g.name, "err", err)
		return writeError(err)
	}
	return nil
}
