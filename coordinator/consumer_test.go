package coordinator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// cgClient drives one KIP-848 member against a coordinator, as a client
// would: it remembers its epoch and owned partitions.
type cgClient struct {
	t        testing.TB
	c        *Coordinator
	group    string
	id       string
	instance *string
	assignor string
	topics   []string
	epoch    int32
	owned    assignment
	// rebalanceMs is the rebalance timeout sent (default 10 s); keep,
	// when set, makes the member keep reporting revoked partitions.
	rebalanceMs int32
	keep        bool
}

func newCGClient(t testing.TB, c *Coordinator, group, id, assignor string, topics ...string) *cgClient {
	return &cgClient{t: t, c: c, group: group, id: id, assignor: assignor, topics: topics, owned: assignment{}}
}

// beat sends a full heartbeat (owned partitions included) and adopts the
// answer: a member gives up revoked partitions at once.
func (m *cgClient) beat() *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.SetVersion(1)
	req.Group, req.MemberID, req.MemberEpoch, req.InstanceID = m.group, m.id, m.epoch, m.instance
	req.RebalanceTimeoutMillis = 10000
	if m.rebalanceMs > 0 {
		req.RebalanceTimeoutMillis = m.rebalanceMs
	}
	req.ServerAssignor = kmsg.StringPtr(m.assignor)
	req.SubscribedTopicNames = m.topics
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if m.epoch != 0 {
		for _, id := range m.owned.sortedIDs() {
			req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: m.owned[id]})
		}
	}
	resp := m.c.ConsumerGroupHeartbeat(context.Background(), Client{ID: "test", Host: "/127.0.0.1"}, req)
	if resp.ErrorCode != 0 {
		return resp
	}
	m.epoch = resp.MemberEpoch
	if resp.Assignment != nil && !m.keep {
		m.owned = assignment{}
		for _, t := range resp.Assignment.Topics {
			m.owned[t.TopicID] = slices.Clone(t.Partitions)
		}
	}
	return resp
}

func (m *cgClient) mustBeat() {
	m.t.Helper()
	if resp := m.beat(); resp.ErrorCode != 0 {
		m.t.Fatalf("member %s heartbeat: %v %v", m.id, kerr.ErrorForCode(resp.ErrorCode), resp.ErrorMessage)
	}
}

func createTopic(t testing.TB, e *engine.Engine, name string, parts int32) [16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.CreateTopic(ctx, name, engine.TopicConfig{Partitions: parts, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	for _, ti := range e.Metadata(name).Topics {
		return ti.ID
	}
	t.Fatalf("topic %s not in metadata", name)
	return [16]byte{}
}

// settle heartbeats every member until nothing changes, at most n rounds.
func settle(t testing.TB, n int, ms ...*cgClient) {
	t.Helper()
	for range n {
		for _, m := range ms {
			m.mustBeat()
		}
	}
}

// checkExclusive fails if two members own a partition, or if the owned
// partitions are not exactly 0..parts-1 of topic id.
func checkExclusive(t testing.TB, id [16]byte, parts int32, ms ...*cgClient) {
	t.Helper()
	seen := map[int32]string{}
	for _, m := range ms {
		for _, p := range m.owned[id] {
			if o, ok := seen[p]; ok {
				t.Fatalf("partition %d owned by %s and %s", p, o, m.id)
			}
			seen[p] = m.id
		}
	}
	if int32(len(seen)) != parts {
		t.Fatalf("owned partitions %v, want all %d", seen, parts)
	}
}

func TestConsumerGroupAssignors(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	for i, tc := range []struct {
		assignor string
		parts    int32
		members  int
		want     []int // partitions per member after settling, sorted
	}{
		{"uniform", 6, 2, []int{3, 3}},
		{"uniform", 7, 3, []int{2, 2, 3}},
		{"range", 6, 4, []int{1, 1, 2, 2}},
		{"range", 2, 3, []int{0, 1, 1}},
	} {
		t.Run(fmt.Sprintf("%s/%d/%d", tc.assignor, tc.parts, tc.members), func(t *testing.T) {
			topic, group := fmt.Sprintf("assign-%d", i), fmt.Sprintf("g-assign-%d", i)
			id := createTopic(t, cl.Engine(1), topic, tc.parts)
			waitLoaded(t, c, group)
			var ms []*cgClient
			for j := range tc.members {
				m := newCGClient(t, c, group, fmt.Sprintf("m%d", j), tc.assignor, topic)
				ms = append(ms, m)
				m.mustBeat()
			}
			settle(t, 4, ms...)
			var got []int
			for _, m := range ms {
				got = append(got, len(m.owned[id]))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("partitions per member %v, want %v", got, tc.want)
			}
			checkExclusive(t, id, tc.parts, ms...)
			d, e := c.DescribeConsumerGroup(group)
			if e != nil || d.State != "Stable" || d.AssignorName != tc.assignor || len(d.Members) != tc.members {
				t.Fatalf("describe: %v state %s assignor %s members %d", e, d.State, d.AssignorName, len(d.Members))
			}
		})
	}
}

// TestConsumerGroupRevokeBeforeAssign checks that a partition moving to a
// new member is only given once its owner stopped reporting it.
func TestConsumerGroupRevokeBeforeAssign(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	id := createTopic(t, cl.Engine(1), "revoke", 4)
	waitLoaded(t, c, "g-revoke")
	a := newCGClient(t, c, "g-revoke", "a", "uniform", "revoke")
	a.mustBeat()
	if len(a.owned[id]) != 4 {
		t.Fatalf("first member owns %v, want 4 partitions", a.owned)
	}
	b := newCGClient(t, c, "g-revoke", "b", "uniform", "revoke")
	b.mustBeat()
	if len(b.owned[id]) != 0 {
		t.Fatalf("new member got %v while the first still owns everything", b.owned)
	}
	// a heartbeats with its old ownership: it is told to keep 2 and revoke 2.
	aEpoch := a.epoch
	a.mustBeat()
	if len(a.owned[id]) != 2 || a.epoch != aEpoch {
		t.Fatalf("a after revocation: owned %v epoch %d (was %d), want 2 partitions at the same epoch", a.owned, a.epoch, aEpoch)
	}
	b.mustBeat() // a has not confirmed the revocation: b still gets nothing
	if len(b.owned[id]) != 0 {
		t.Fatalf("b got %v before a revoked them", b.owned)
	}
	a.mustBeat() // confirms the revocation (its owned set dropped them)
	b.mustBeat()
	checkExclusive(t, id, 4, a, b)
	if a.epoch != b.epoch {
		t.Fatalf("epochs differ after settling: a %d b %d", a.epoch, b.epoch)
	}
	// A stale epoch is fenced; a leave frees the partitions.
	stale := *b
	stale.epoch = b.epoch + 5
	if resp := stale.beat(); resp.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("heartbeat at a future epoch: %v, want FENCED_MEMBER_EPOCH", kerr.ErrorForCode(resp.ErrorCode))
	}
	b.epoch = epochLeave
	if resp := b.beat(); resp.ErrorCode != 0 || resp.MemberEpoch != epochLeave {
		t.Fatalf("leave: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	settle(t, 2, a)
	checkExclusive(t, id, 4, a)
}

// TestConsumerGroupReload checks that a new coordinator (the partition
// replayed from its log) keeps members, epochs and assignments, and that
// commits are validated against member epochs.
func TestConsumerGroupReload(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	id := createTopic(t, cl.Engine(1), "reload", 5)
	waitLoaded(t, c, "g-reload")
	a := newCGClient(t, c, "g-reload", "a", "range", "reload")
	b := newCGClient(t, c, "g-reload", "b", "range", "reload")
	b.instance = kmsg.StringPtr("static-b")
	a.mustBeat()
	b.mustBeat()
	settle(t, 3, a, b)
	checkExclusive(t, id, 5, a, b)
	commit := func(member string, epoch int32, v int16) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.SetVersion(v)
		req.Group, req.MemberID, req.Generation = "g-reload", member, epoch
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "reload", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: a.owned[id][0], Offset: 7}}}}
		return c.CommitOffsets(req, anyPartition).Topics[0].Partitions[0].ErrorCode
	}
	for _, tc := range []struct {
		name   string
		member string
		epoch  int32
		v      int16
		want   *kerr.Error
	}{
		{"member at its epoch", "a", a.epoch, 9, nil},
		{"future epoch", "a", a.epoch + 1, 9, kerr.StaleMemberEpoch},
		{"unknown member", "zz", a.epoch, 9, kerr.UnknownMemberID},
		{"without membership while members", "", -1, 9, kerr.UnknownMemberID},
		{"old version", "a", a.epoch, 8, kerr.UnsupportedVersion},
	} {
		if got := commit(tc.member, tc.epoch, tc.v); got != errCode(tc.want) {
			t.Errorf("commit %s: %v, want %v", tc.name, kerr.ErrorForCode(got), tc.want)
		}
	}
	before, _ := c.DescribeConsumerGroup("g-reload")
	// assignedAt is the epoch each partition was given at (KIP-1251).
	assignedAt := func() string {
		cp, e := c.partitionOf("g-reload")
		if e != nil {
			t.Fatal(e)
		}
		g := cp.lookup("g-reload", false)
		defer g.mu.Unlock()
		return fmt.Sprint(g.consumer.members["a"].assignedAt, g.consumer.members["b"].assignedAt)
	}
	atBefore := assignedAt()
	reload(t, c, "g-reload")
	if at := assignedAt(); at != atBefore {
		t.Fatalf("partitions' assignment epochs %s after reload, %s before", at, atBefore)
	}
	after, e := c.DescribeConsumerGroup("g-reload")
	if e != nil {
		t.Fatal(e)
	}
	if after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
		t.Fatalf("after reload: epoch %d/%d members %d, before %d/%d", after.Epoch, after.AssignmentEpoch, len(after.Members), before.Epoch, before.AssignmentEpoch)
	}
	for i := range after.Members {
		bm, am := before.Members[i], after.Members[i]
		if bm.MemberEpoch != am.MemberEpoch || fmt.Sprint(bm.Assignment) != fmt.Sprint(am.Assignment) {
			t.Fatalf("member %s: epoch %d assignment %v after reload, %d %v before", am.MemberID, am.MemberEpoch, am.Assignment, bm.MemberEpoch, bm.Assignment)
		}
	}
	// Members heartbeat on at their epochs: nobody is fenced.
	settle(t, 2, a, b)
	checkExclusive(t, id, 5, a, b)
	if offs, e := c.FetchOffsets("g-reload", nil, false); e != nil || len(offs) != 1 || offs[0].Partitions[0].Offset != 7 {
		t.Fatalf("offsets after reload: %v %v", offs, e)
	}
	// A static member leaves for now and comes back under a new member
	// id: it keeps its partitions.
	owned := b.owned.count()
	// While b is active its instance id is not free, and a heartbeat
	// naming it from another member id is fenced.
	thief := newCGClient(t, c, "g-reload", "thief", "range", "reload")
	thief.instance = b.instance
	if resp := thief.beat(); resp.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("join with an active member's instance id: %v, want UNRELEASED_INSTANCE_ID", kerr.ErrorForCode(resp.ErrorCode))
	}
	thief.epoch = 1
	if resp := thief.beat(); resp.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("heartbeat with another member's instance id: %v, want FENCED_INSTANCE_ID", kerr.ErrorForCode(resp.ErrorCode))
	}
	b.epoch = epochStaticLeave
	if resp := b.beat(); resp.ErrorCode != 0 {
		t.Fatalf("static leave: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	b2 := newCGClient(t, c, "g-reload", "b2", "range", "reload")
	b2.instance = b.instance
	b2.mustBeat()
	if b2.owned.count() != owned {
		t.Fatalf("static member back: %d partitions, want its %d", b2.owned.count(), owned)
	}
	// A classic member may not join the consumer group.
	jr := kmsg.NewPtrJoinGroupRequest()
	jr.SetVersion(9)
	jr.Group, jr.ProtocolType, jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = "g-reload", "consumer", 10000, 10000
	jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
	if resp := c.JoinGroup(context.Background(), Client{ID: "classic"}, jr); resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("classic join of a consumer group: %v, want INCONSISTENT_GROUP_PROTOCOL", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestConsumerGroupClassicConversion checks KIP-848's online upgrade: an
// empty classic group becomes a consumer group with its offsets, a
// classic group with members refuses consumer members.
func TestConsumerGroupClassicConversion(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	createTopic(t, cl.Engine(1), "conv", 2)
	member, gen := joined(t, c, "g-busy")
	_ = gen
	m := newCGClient(t, c, "g-busy", "x", "uniform", "conv")
	if resp := m.beat(); resp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("consumer join of a classic group with member %s: %v, want GROUP_ID_NOT_FOUND", member, kerr.ErrorForCode(resp.ErrorCode))
	}
	commitStandalone(t, c, "g-empty")
	m = newCGClient(t, c, "g-empty", "x", "uniform", "conv")
	m.mustBeat()
	if m.owned.count() != 2 {
		t.Fatalf("member of the converted group owns %v", m.owned)
	}
	reload(t, c, "g-empty")
	if offs, e := c.FetchOffsets("g-empty", nil, false); e != nil || len(offs) != 1 {
		t.Fatalf("offsets of the converted group after reload: %v %v", offs, e)
	}
	if d, e := c.DescribeConsumerGroup("g-empty"); e != nil || len(d.Members) != 1 {
		t.Fatalf("converted group after reload: %v members %d", e, len(d.Members))
	}
	// Unknown groups and classic groups are not consumer groups.
	if _, e := c.DescribeConsumerGroup("g-busy"); e != kerr.GroupIDNotFound {
		t.Fatalf("describe classic group: %v", e)
	}
}

// TestConsumerGroupNewPartitions checks that partitions added to a
// subscribed topic are assigned at the members' next heartbeats.
func TestConsumerGroupNewPartitions(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	id := createTopic(t, cl.Engine(1), "grow", 2)
	waitLoaded(t, c, "g-grow")
	a := newCGClient(t, c, "g-grow", "a", "uniform", "grow")
	b := newCGClient(t, c, "g-grow", "b", "uniform", "grow")
	a.mustBeat()
	b.mustBeat()
	settle(t, 3, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Engine(1).CreatePartitions(ctx, "grow", 6); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.owned.count()+b.owned.count() < 6 && time.Now().Before(deadline) {
		time.Sleep(topicsCheckInterval / 2)
		settle(t, 1, a, b)
	}
	settle(t, 3, a, b)
	checkExclusive(t, id, 6, a, b)
}

func TestConsumerGroupHeartbeatValidation(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	waitLoaded(t, c, "g-valid")
	for _, tc := range []struct {
		name string
		mod  func(*kmsg.ConsumerGroupHeartbeatRequest)
		want *kerr.Error
	}{
		{"no member id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest},
		{"owned partitions on join", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{Partitions: []int32{0}}}
		}, kerr.InvalidRequest},
		{"no subscription on join", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest},
		{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = kmsg.StringPtr("sticky") }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.SubscribedTopicNames, r.SubscribedTopicRegex = nil, kmsg.StringPtr("(")
		}, kerr.InvalidRegularExpression},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 3 }, kerr.GroupIDNotFound},
		{"ok", func(*kmsg.ConsumerGroupHeartbeatRequest) {}, nil},
		{"unknown member of a group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "other", 3 }, kerr.UnknownMemberID},
	} {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.SetVersion(1)
		req.Group, req.MemberID, req.RebalanceTimeoutMillis = "g-valid", "m", 5000
		req.SubscribedTopicNames, req.Topics = []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		tc.mod(req)
		if got := c.ConsumerGroupHeartbeat(context.Background(), Client{}, req).ErrorCode; got != errCode(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(got), tc.want)
		}
	}
}

// TestConsumerGroupHeartbeatV0 checks that v0 members without an id get
// one from the coordinator.
func TestConsumerGroupHeartbeatV0(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	waitLoaded(t, c, "g-v0")
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.SetVersion(0)
	req.Group, req.RebalanceTimeoutMillis = "g-v0", 5000
	req.SubscribedTopicNames, req.Topics = []string{"none"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp := c.ConsumerGroupHeartbeat(context.Background(), Client{ID: "v0client"}, req)
	if resp.ErrorCode != 0 || resp.MemberID == nil || *resp.MemberID == "" || resp.MemberEpoch != 1 || resp.Assignment == nil {
		t.Fatalf("v0 join: %v member %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberID, resp.MemberEpoch)
	}
}

// TestConsumerGroupRegexNewTopic checks that a topic created later and
// matching a member's regex is assigned at its next heartbeats.
func TestConsumerGroupRegexNewTopic(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	first := createTopic(t, cl.Engine(1), "rx-a", 2)
	waitLoaded(t, c, "g-rx")
	m := newCGClient(t, c, "g-rx", "m", "uniform")
	m.topics = nil
	beat := func() {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.SetVersion(1)
		req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = "g-rx", "m", m.epoch, 5000
		req.SubscribedTopicRegex = kmsg.StringPtr("rx-.*")
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, id := range m.owned.sortedIDs() {
			req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: m.owned[id]})
		}
		resp := c.ConsumerGroupHeartbeat(context.Background(), Client{}, req)
		if resp.ErrorCode != 0 {
			t.Fatalf("heartbeat: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = assignment{}
			for _, tp := range resp.Assignment.Topics {
				m.owned[tp.TopicID] = tp.Partitions
			}
		}
	}
	beat()
	if len(m.owned[first]) != 2 {
		t.Fatalf("regex member owns %v, want rx-a's 2 partitions", m.owned)
	}
	createTopic(t, cl.Engine(1), "other", 1) // does not match
	second := createTopic(t, cl.Engine(1), "rx-b", 3)
	deadline := time.Now().Add(10 * time.Second)
	for len(m.owned[second]) != 3 && time.Now().Before(deadline) {
		time.Sleep(topicsCheckInterval / 2)
		beat()
	}
	if len(m.owned[second]) != 3 || m.owned.count() != 5 {
		t.Fatalf("after rx-b was created the member owns %v, want rx-a and rx-b (5 partitions)", m.owned)
	}
}

func errCode(e *kerr.Error) int16 {
	if e == nil {
		return 0
	}
	return e.Code
}

func TestConsumerRecordsRoundTrip(t *testing.T) {
	id := [16]byte{1, 2, 3}
	for _, tc := range []struct {
		key   cgKey
		value []byte
	}{
		{cgKey{version: recCGMetadata, group: "g"}, encodeEpochValue(7)},
		{cgKey{version: recCGPartitionMeta, group: "g"}, encodePartitionMeta([]topicMeta{{id: id, name: "t", partitions: 3}})},
		{cgKey{version: recCGMemberMeta, group: "g", member: "m"}, encodeMemberMeta(cgMemberMeta{instanceID: kmsg.StringPtr("i"),
			clientID: "c", clientHost: "/h", topics: []string{"a", "b"}, regex: kmsg.StringPtr("x.*"), rebalanceTimeout: 100, assignor: kmsg.StringPtr("range")})},
		{cgKey{version: recCGTargetMeta, group: "g"}, encodeEpochValue(6)},
		{cgKey{version: recCGTargetMember, group: "g", member: "m"}, encodeTargetMember(assignment{id: {0, 2}})},
		{cgKey{version: recCGCurrentAssign, group: "g", member: "m"}, encodeCurrent(cgCurrent{epoch: 5, prevEpoch: 4, state: memberUnrevoked,
			assigned: assignment{id: {0}}, pending: assignment{id: {2}},
			assignedAt: map[topicPartitionID]int32{{id, 0}: 3, {id, 2}: 1}})},
	} {
		raw := tc.key.encode()
		sr, err := decodeStoredRecord(raw, tc.value)
		if err != nil || sr.kind != tc.key.version || sr.group != "g" || sr.cg != tc.key {
			t.Fatalf("key v%d: %+v %v", tc.key.version, sr.cg, err)
		}
		lc := newLoadedConsumer()
		if err := lc.apply(sr.cg, raw, tc.value); err != nil {
			t.Fatalf("value v%d: %v", tc.key.version, err)
		}
		// Truncated values are refused, never a panic.
		for n := 0; n < len(tc.value); n++ {
			if _, err := decodeStoredRecord(raw, tc.value[:n]); err == nil && n < len(tc.value)-1 {
				t.Fatalf("key v%d: value cut at %d of %d decoded", tc.key.version, n, len(tc.value))
			}
		}
		if tc.key.version == recCGCurrentAssign {
			c := lc.current["m"]
			if c.epoch != 5 || c.prevEpoch != 4 || c.state != memberUnrevoked || !sameAssignment(c.pending, assignment{id: {2}}) ||
				c.assignedAt[topicPartitionID{id, 0}] != 3 || c.assignedAt[topicPartitionID{id, 2}] != 1 {
				t.Fatalf("current assignment decoded as %+v", c)
			}
		}
	}
}

// TestConsumerGroupCompaction: a consumer group whose members came and
// went many times is compacted to its live records (the log start moves
// past the rest; members that left leave no record), and a reload after
// the compaction rebuilds the same epochs and assignments.
func TestConsumerGroupCompaction(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	id := createTopic(t, cl.Engine(1), "churn", 4)
	cp := waitLoaded(t, c, "g-churn")
	stay := newCGClient(t, c, "g-churn", "stay", "uniform", "churn")
	stay.mustBeat()
	for i := range 120 {
		m := newCGClient(t, c, "g-churn", fmt.Sprintf("tmp-%d", i), "uniform", "churn")
		m.mustBeat()
		stay.mustBeat()
		m.epoch = epochLeave
		if resp := m.beat(); resp.ErrorCode != 0 {
			t.Fatalf("leave %d: %v", i, kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	settle(t, 3, stay)
	checkExclusive(t, id, 4, stay)
	before, _ := c.DescribeConsumerGroup("g-churn")
	if _, _, err := cp.compactIfNeeded(context.Background(), c.be, OffsetsTopic, cp.p, cp.txnPending); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, err := cl.Engine(1).ListOffsets(ctx, OffsetsTopic, cp.p, engine.Earliest)
	if err != nil {
		t.Fatal(err)
	}
	if start.Offset < 500 {
		t.Fatalf("log start %d after compaction, want past the churn", start.Offset)
	}
	cp = reload(t, c, "g-churn")
	after, e := c.DescribeConsumerGroup("g-churn")
	if e != nil || len(after.Members) != 1 || after.Epoch != before.Epoch || after.Members[0].MemberEpoch != before.Members[0].MemberEpoch ||
		fmt.Sprint(after.Members[0].Assignment) != fmt.Sprint(before.Members[0].Assignment) {
		t.Fatalf("after compaction and reload: %+v %v, before %+v", after, e, before)
	}
	cp.liveMu.Lock()
	n := cp.written
	cp.liveMu.Unlock()
	if n > 20 {
		t.Errorf("%d records replayed after compaction, want the group's ~6 live ones and markers", n)
	}
	settle(t, 2, stay)
	checkExclusive(t, id, 4, stay)
}

// TestConsumerGroupTimeouts: a member that stops heartbeating is removed
// after the session timeout, one that does not revoke after its rebalance
// timeout, and a static member that left with epoch -2 keeps its
// partitions until its session expires; then the others get them.
func TestConsumerGroupTimeouts(t *testing.T) {
	cfg := testConfig()
	cfg.ConsumerSessionTimeout, cfg.ConsumerHeartbeatInterval = 1500*time.Millisecond, 100*time.Millisecond
	cl, c := newTestCoordinator(t, cfg)
	for i, tc := range []struct {
		name string
		// stall makes a member of a group of two misbehave; the other
		// must end up with every partition.
		stall func(t *testing.T, bad *cgClient)
	}{
		{"session", func(*testing.T, *cgClient) {}},
		{"rebalance", func(t *testing.T, bad *cgClient) {
			bad.keep = true // keeps reporting the partitions it must revoke
		}},
		{"static leave", func(t *testing.T, bad *cgClient) {
			bad.epoch = epochStaticLeave
			if resp := bad.beat(); resp.ErrorCode != 0 {
				t.Fatalf("static leave: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			bad.epoch = -100 // never heartbeats again
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, group := fmt.Sprintf("to-%d", i), fmt.Sprintf("g-to-%d", i)
			id := createTopic(t, cl.Engine(1), topic, 4)
			waitLoaded(t, c, group)
			bad := newCGClient(t, c, group, "bad", "uniform", topic)
			bad.instance = kmsg.StringPtr("bad-" + tc.name)
			bad.rebalanceMs = 700
			bad.mustBeat()
			good := newCGClient(t, c, group, "good", "uniform", topic)
			good.mustBeat()
			tc.stall(t, bad)
			deadline := time.Now().Add(8 * time.Second)
			for len(good.owned[id]) != 4 && time.Now().Before(deadline) {
				good.mustBeat()
				if tc.name == "rebalance" {
					if resp := bad.beat(); resp.ErrorCode != 0 && resp.ErrorCode != kerr.UnknownMemberID.Code {
						t.Fatalf("bad member: %v", kerr.ErrorForCode(resp.ErrorCode))
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(good.owned[id]) != 4 {
				t.Fatalf("the good member owns %v, want all 4 partitions", good.owned)
			}
			if d, _ := c.DescribeConsumerGroup(group); len(d.Members) != 1 || d.Members[0].MemberID != "good" {
				t.Fatalf("members left: %+v", d.Members)
			}
		})
	}
}

// TestConsumerGroupConversionReload: a classic group whose members left
// (its metadata stored) becomes a consumer group, and back; each
// conversion survives a reload with the group's offsets, and the other
// protocol's records do not come back.
func TestConsumerGroupConversionReload(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	createTopic(t, cl.Engine(1), "conv2", 2)
	const group = "g-conv2"
	member, _ := joined(t, c, group)
	commitStandalone(t, c, "g-other") // topic "t" offsets for a second group
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.SetVersion(3)
	leave.Group = group
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}}
	if resp := c.LeaveGroup(leave); resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", resp)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(9)
	commit.Group, commit.Generation = group, -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "conv2", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42}}}}
	if code := c.CommitOffsets(commit, anyPartition).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	m := newCGClient(t, c, group, "x", "range", "conv2")
	m.mustBeat()
	reload(t, c, group)
	if d, e := c.DescribeConsumerGroup(group); e != nil || len(d.Members) != 1 {
		t.Fatalf("upgraded group after reload: %v %+v", e, d)
	}
	if d, _ := c.DescribeGroup(group); d.State != "Dead" {
		t.Fatalf("the classic group came back after reload: %+v", d)
	}
	offset := func() int64 {
		t.Helper()
		offs, e := c.FetchOffsets(group, map[string][]int32{"conv2": {1}}, false)
		if e != nil || len(offs) != 1 {
			t.Fatalf("fetch offsets: %v %v", offs, e)
		}
		return offs[0].Partitions[0].Offset
	}
	if o := offset(); o != 42 {
		t.Fatalf("offset %d after the upgrade and reload, want 42", o)
	}
	// Back to classic: the consumer member leaves, a classic member joins.
	m.epoch = epochLeave
	if resp := m.beat(); resp.ErrorCode != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	joined(t, c, group)
	reload(t, c, group)
	if _, e := c.DescribeConsumerGroup(group); e != kerr.GroupIDNotFound {
		t.Fatalf("the consumer group came back after the downgrade and reload: %v", e)
	}
	if d, _ := c.DescribeGroup(group); d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("classic group after the downgrade and reload: %+v", d)
	}
	if o := offset(); o != 42 {
		t.Fatalf("offset %d after the downgrade and reload, want 42", o)
	}
}

// BenchmarkConsumerGroupHeartbeat measures a steady heartbeat (nothing to
// change, nothing written) of a member of a 100-member group.
func BenchmarkConsumerGroupHeartbeat(b *testing.B) {
	cl, c := newTestCoordinator(b, testConfig())
	createTopic(b, cl.Engine(1), "bench", 200)
	waitLoaded(b, c, "g-bench")
	var ms []*cgClient
	for i := range 100 {
		m := newCGClient(b, c, "g-bench", fmt.Sprintf("m%03d", i), "uniform", "bench")
		m.mustBeat()
		ms = append(ms, m)
	}
	settle(b, 3, ms...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ms[i%len(ms)].mustBeat()
	}
}
