package coordinator

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// A share group's configs and share-partition states are written through
// Raft: a new coordinator (a reload from the log) has them, state epochs
// fence stale writers, and deleting the group leaves nothing to load.
func TestShareStateSurvivesReload(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	const group = "share-state"
	waitLoaded(t, c, group)
	topic := [16]byte{1, 2, 3}

	earliest := "earliest"
	if e := c.AlterShareGroupConfigs(group, map[string]*string{ShareAutoOffsetReset: &earliest}); e != nil {
		t.Fatal(e)
	}
	st, _, e := c.ReadShareState(group, topic, 0, 1)
	if e != nil || st.StartOffset != -1 {
		t.Fatalf("fresh partition: %+v %v, want start offset -1", st, e)
	}
	want := ShareState{LeaderEpoch: 1, StartOffset: 10, Batches: []ShareStateBatch{
		{First: 10, Last: 11, State: ShareAvailable, DeliveryCount: 2},
		{First: 12, Last: 14, State: ShareAcknowledged, DeliveryCount: 1},
		{First: 15, Last: 15, State: ShareArchived, DeliveryCount: 5},
	}}
	if e := c.WriteShareState(group, topic, 0, want); e != nil {
		t.Fatal(e)
	}

	reload(t, c, group)
	got, cfg, e := c.ReadShareState(group, topic, 0, 1)
	if e != nil {
		t.Fatal(e)
	}
	if got.StartOffset != want.StartOffset || !slices.Equal(got.Batches, want.Batches) {
		t.Fatalf("after reload: %+v, want %+v", got, want)
	}
	if !maps.Equal(cfg, map[string]string{ShareAutoOffsetReset: "earliest"}) {
		t.Fatalf("configs after reload: %v", cfg)
	}

	for _, tc := range []struct {
		name string
		st   ShareState
		want *kerr.Error
	}{
		{"older leader epoch", ShareState{LeaderEpoch: 0, StartOffset: 20}, kerr.FencedLeaderEpoch},
		{"other state epoch", ShareState{StateEpoch: 7, LeaderEpoch: 1, StartOffset: 20}, kerr.FencedStateEpoch},
		{"current epochs", ShareState{LeaderEpoch: 2, StartOffset: 20}, nil},
	} {
		if e := c.WriteShareState(group, topic, 0, tc.st); e != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, e, tc.want)
		}
	}

	// Altering offsets replaces the state under a new state epoch.
	if e := c.AlterShareGroupOffsets(group, []ShareOffset{{Topic: topic, Partition: 0, StartOffset: 3}}); e != nil {
		t.Fatal(e)
	}
	if e := c.WriteShareState(group, topic, 0, ShareState{LeaderEpoch: 2, StartOffset: 30}); e != kerr.FencedStateEpoch {
		t.Fatalf("write over altered offsets: %v, want FENCED_STATE_EPOCH", e)
	}
	offs, e := c.ShareGroupOffsets(group)
	if e != nil || len(offs) != 1 || offs[0].StartOffset != 3 {
		t.Fatalf("offsets %+v %v, want start offset 3", offs, e)
	}

	// Deleting the offsets makes the partition uninitialized under a new
	// state epoch.
	if e := c.DeleteShareGroupOffsets(group, [][16]byte{topic}); e != nil {
		t.Fatal(e)
	}
	if st, _, e := c.ReadShareState(group, topic, 0, 2); e != nil || st.StartOffset != -1 || st.StateEpoch != 2 {
		t.Fatalf("after deleting offsets: %+v %v, want start offset -1 at state epoch 2", st, e)
	}

	if e := c.DeleteGroup(group); e != nil {
		t.Fatal(e)
	}
	reload(t, c, group)
	if _, e := c.ShareGroupOffsets(group); e != kerr.GroupIDNotFound {
		t.Fatalf("deleted group after reload: %v, want GROUP_ID_NOT_FOUND", e)
	}
}

// The share assignor shares a topic's partitions among its members: every
// partition is assigned, and with more members than partitions each
// partition goes to ceil(members/partitions) members.
func TestShareGroupAssignment(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	const group = "share-assign"
	waitLoaded(t, c, group)
	cl.CreateTopic(t, "two", engine.TopicConfig{Partitions: 2, ReplicationFactor: 1})
	c.topics.at = c.topics.at.Add(-topicsCacheTTL) // see the new topic now

	hb := func(member string, epoch int32) *kmsg.ShareGroupHeartbeatResponse {
		req := kmsg.NewPtrShareGroupHeartbeatRequest()
		req.GroupID, req.MemberID, req.MemberEpoch = group, member, epoch
		if epoch == 0 {
			req.SubscribedTopicNames = []string{"two"}
		}
		return c.ShareGroupHeartbeat(context.Background(), Client{ID: "test"}, req)
	}
	for _, tc := range []struct {
		name   string
		member string
		epoch  int32
		code   int16
	}{
		{"unknown member", "nobody", 5, kerr.GroupIDNotFound.Code}, // no group yet
	} {
		if got := hb(tc.member, tc.epoch).ErrorCode; got != tc.code {
			t.Errorf("%s: code %d, want %d", tc.name, got, tc.code)
		}
	}
	members := []string{"a", "b", "c"}
	epochs := map[string]int32{}
	assigned := map[string]*kmsg.ShareGroupHeartbeatResponseAssignment{}
	for _, m := range members {
		r := hb(m, 0)
		if r.ErrorCode != 0 {
			t.Fatalf("join %s: code %d", m, r.ErrorCode)
		}
		epochs[m], assigned[m] = r.MemberEpoch, r.Assignment
	}
	if r := hb("a", epochs["a"]+100); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("wrong epoch: code %d, want FENCED_MEMBER_EPOCH", r.ErrorCode)
	}
	if r := hb("nobody", 1); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("unknown member: code %d, want UNKNOWN_MEMBER_ID", r.ErrorCode)
	}
	holders := map[int32]int{}
	for _, m := range members {
		r := hb(m, epochs[m])
		if r.ErrorCode != 0 {
			t.Fatalf("heartbeat %s: code %d", m, r.ErrorCode)
		}
		if r.Assignment != nil { // else unchanged since the join
			assigned[m] = r.Assignment
		}
		for _, tp := range assigned[m].TopicPartitions {
			for _, p := range tp.Partitions {
				holders[p]++
			}
		}
	}
	if holders[0] != 2 || holders[1] != 2 {
		t.Fatalf("3 members on 2 partitions: holders %v, want 2 per partition", holders)
	}
	d := c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{GroupIDs: []string{group}})
	if len(d.Groups) != 1 || d.Groups[0].GroupState != "Stable" || len(d.Groups[0].Members) != 3 {
		t.Fatalf("describe: %+v", d.Groups)
	}
	if e := c.DeleteGroup(group); e != kerr.NonEmptyGroup {
		t.Fatalf("delete with members: %v, want NON_EMPTY_GROUP", e)
	}

	// The name is taken: classic and consumer groups cannot use it.
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(9)
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = group, 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if r := c.JoinGroup(context.Background(), Client{ID: "test"}, join); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("JoinGroup of a share group: code %d, want GROUP_ID_NOT_FOUND", r.ErrorCode)
	}
	chb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	chb.SetVersion(1)
	chb.Group, chb.MemberID, chb.RebalanceTimeoutMillis, chb.SubscribedTopicNames = group, "x", 10000, []string{"two"}
	chb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if r := c.ConsumerGroupHeartbeat(context.Background(), Client{ID: "test"}, chb); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("ConsumerGroupHeartbeat of a share group: code %d, want GROUP_ID_NOT_FOUND", r.ErrorCode)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(8)
	commit.Group, commit.Generation = group, -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "two", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	if r := c.CommitOffsets(commit, anyPartition); r.Topics[0].Partitions[0].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("OffsetCommit to a share group: code %d, want GROUP_ID_NOT_FOUND", r.Topics[0].Partitions[0].ErrorCode)
	}
}

// Share group configs are checked by name and value, and the broker-wide
// share defaults by Config.Validate.
func TestShareConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{ShareAutoOffsetReset, "earliest", true},
		{ShareAutoOffsetReset, "none", false},
		{ShareRecordLockDuration, "15000", true},
		{ShareRecordLockDuration, "0", false},
		{ShareRecordLockDuration, "99999999999", false},
		{ShareDeliveryCountLimit, "x", false},
		{ShareIsolationLevel, "read_committed", true},
		{"consumer.session.timeout.ms", "45000", false},
	} {
		if got := ValidateShareConfig(tc.name, tc.value) == nil; got != tc.ok {
			t.Errorf("%s=%s: valid %v, want %v", tc.name, tc.value, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"negative lock", Config{ShareRecordLockDuration: -time.Second}, false},
		{"delivery limit too large", Config{ShareDeliveryCountLimit: 1 << 16}, false},
		{"heartbeat not below session", Config{ShareSessionTimeout: time.Second, ShareHeartbeatInterval: time.Second}, false},
	} {
		if got := tc.cfg.Validate() == nil; got != tc.ok {
			t.Errorf("%s: valid %v, want %v (%v)", tc.name, got, tc.ok, tc.cfg.Validate())
		}
	}
}
