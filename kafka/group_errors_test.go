package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// joinedGroup drives one member through FindCoordinator, JoinGroup (with the
// KIP-394 MEMBER_ID_REQUIRED round) and SyncGroup on a raw connection and
// returns its member id and generation.
func joinedGroup(t *testing.T, rc *rawConn, group string) (string, int32) {
	t.Helper()
	return joinedGroupSession(t, rc, group, 10000)
}

// joinedGroupSession is joinedGroup with a session timeout in ms.
func joinedGroupSession(t *testing.T, rc *rawConn, group string, sessionMs int32) (string, int32) {
	t.Helper()
	waitCoordinator(t, rc, group)
	deadline := time.Now().Add(30 * time.Second)
	join := func(memberID string) *kmsg.JoinGroupResponse {
		for {
			jr := kmsg.NewPtrJoinGroupRequest()
			jr.SetVersion(9)
			jr.Group, jr.MemberID, jr.ProtocolType = group, memberID, "consumer"
			jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = sessionMs, 5000
			jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
			resp := roundTrip[*kmsg.JoinGroupResponse](rc, jr)
			if resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code && resp.ErrorCode != kerr.NotCoordinator.Code {
				return resp
			}
			if time.Now().After(deadline) {
				t.Fatalf("JoinGroup: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := join("")
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" {
		t.Fatalf("first JoinGroup v9: code %d member %q, want MEMBER_ID_REQUIRED with an id", first.ErrorCode, first.MemberID)
	}
	jr := join(first.MemberID)
	if jr.ErrorCode != 0 || jr.LeaderID != first.MemberID || len(jr.Members) != 1 {
		t.Fatalf("JoinGroup: code %d leader %q members %d", jr.ErrorCode, jr.LeaderID, len(jr.Members))
	}
	sr := kmsg.NewPtrSyncGroupRequest()
	sr.SetVersion(5)
	sr.Group, sr.MemberID, sr.Generation = group, jr.MemberID, jr.Generation
	sr.ProtocolType, sr.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sr.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{0, 1, 2}}}
	sresp := roundTrip[*kmsg.SyncGroupResponse](rc, sr)
	if sresp.ErrorCode != 0 || string(sresp.MemberAssignment) != string([]byte{0, 1, 2}) {
		t.Fatalf("SyncGroup: code %d assignment %v", sresp.ErrorCode, sresp.MemberAssignment)
	}
	return jr.MemberID, jr.Generation
}

// waitCoordinator waits up to 30 s until FindCoordinator for group
// answers without error (its __consumer_offsets partition has a leader).
func waitCoordinator(t *testing.T, rc *rawConn, group string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.SetVersion(4)
		fc.CoordinatorKeys = []string{group}
		resp := roundTrip[*kmsg.FindCoordinatorResponse](rc, fc)
		if resp.Coordinators[0].ErrorCode == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator %s: %v", group, kerr.ErrorForCode(resp.Coordinators[0].ErrorCode))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGroupErrorCodes: bad requests get the Kafka error codes clients act on.
func TestGroupErrorCodes(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	kc.CreateTopic(t, "known", engine.TopicConfig{Partitions: 2})
	rc := dialRaw(t, kc.addrs[1])
	const group = "bad-input"
	member, gen := joinedGroup(t, rc, group)

	heartbeat := func(memberID string, gen int32, instance *string) int16 {
		r := kmsg.NewPtrHeartbeatRequest()
		r.SetVersion(4)
		r.Group, r.MemberID, r.Generation, r.InstanceID = group, memberID, gen, instance
		return roundTrip[*kmsg.HeartbeatResponse](rc, r).ErrorCode
	}
	commit := func(memberID string, gen int32, topic string) int16 {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.SetVersion(8)
		r.Group, r.MemberID, r.Generation = group, memberID, gen
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = 1, 42, kmsg.StringPtr("meta")
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return roundTrip[*kmsg.OffsetCommitResponse](rc, r).Topics[0].Partitions[0].ErrorCode
	}
	joinWith := func(protocolType string, session int32) int16 {
		r := kmsg.NewPtrJoinGroupRequest()
		r.SetVersion(9)
		r.Group, r.MemberID, r.ProtocolType = group, member, protocolType
		r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = session, 5000
		r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
		return roundTrip[*kmsg.JoinGroupResponse](rc, r).ErrorCode
	}
	sync := func(gen int32) int16 {
		r := kmsg.NewPtrSyncGroupRequest()
		r.SetVersion(5)
		r.Group, r.MemberID, r.Generation = group, member, gen
		return roundTrip[*kmsg.SyncGroupResponse](rc, r).ErrorCode
	}
	deleteGroup := func(name string) int16 {
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.SetVersion(2)
		r.Groups = []string{name}
		return roundTrip[*kmsg.DeleteGroupsResponse](rc, r).Groups[0].ErrorCode
	}
	fence := "nobody"
	for _, tc := range []struct {
		name string
		got  func() int16
		want *kerr.Error
	}{
		{"heartbeat ok", func() int16 { return heartbeat(member, gen, nil) }, nil},
		{"heartbeat unknown member", func() int16 { return heartbeat("stranger", gen, nil) }, kerr.UnknownMemberID},
		{"heartbeat stale generation", func() int16 { return heartbeat(member, gen-1, nil) }, kerr.IllegalGeneration},
		{"heartbeat unknown instance", func() int16 { return heartbeat(member, gen, &fence) }, kerr.UnknownMemberID},
		{"sync stale generation", func() int16 { return sync(gen + 1) }, kerr.IllegalGeneration},
		{"join wrong protocol type", func() int16 { return joinWith("connect", 10000) }, kerr.InconsistentGroupProtocol},
		{"join session too short", func() int16 { return joinWith("consumer", 10) }, kerr.InvalidSessionTimeout},
		{"commit ok", func() int16 { return commit(member, gen, "known") }, nil},
		{"commit unknown topic", func() int16 { return commit(member, gen, "unknown-topic") }, kerr.UnknownTopicOrPartition},
		{"commit stale generation", func() int16 { return commit(member, gen-1, "known") }, kerr.IllegalGeneration},
		{"commit unknown member", func() int16 { return commit("stranger", gen, "known") }, kerr.UnknownMemberID},
		{"standalone commit while members", func() int16 { return commit("", -1, "known") }, kerr.UnknownMemberID},
		{"delete non-empty group", func() int16 { return deleteGroup(group) }, kerr.NonEmptyGroup},
		{"delete unknown group", func() int16 {
			// Its __consumer_offsets partition may still be electing or
			// loading; the answer then is retriable.
			waitCoordinator(t, rc, "no-such-group")
			deadline := time.Now().Add(30 * time.Second)
			for {
				code := deleteGroup("no-such-group")
				retriable := code == kerr.NotCoordinator.Code || code == kerr.CoordinatorLoadInProgress.Code
				if !retriable || time.Now().After(deadline) {
					return code
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, kerr.GroupIDNotFound},
		{"heartbeat empty group id", func() int16 {
			r := kmsg.NewPtrHeartbeatRequest()
			r.SetVersion(4)
			return roundTrip[*kmsg.HeartbeatResponse](rc, r).ErrorCode
		}, kerr.InvalidGroupID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want int16
			if tc.want != nil {
				want = tc.want.Code
			}
			if got := tc.got(); got != want {
				t.Errorf("code %d (%v), want %d (%v)", got, kerr.ErrorForCode(got), want, tc.want)
			}
		})
	}

	// The committed offset, with its metadata and leader epoch, is fetched
	// back (v8 batched, with a second group that has nothing).
	of := kmsg.NewPtrOffsetFetchRequest()
	of.SetVersion(8)
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}, {Group: "empty-group", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "known", Partitions: []int32{0}}}}}
	var ofr *kmsg.OffsetFetchResponse
	// The second group's coordinator partition may still be loading: a
	// client retries COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR.
	for deadline := time.Now().Add(30 * time.Second); ; {
		ofr = roundTrip[*kmsg.OffsetFetchResponse](rc, of)
		if len(ofr.Groups) != 2 {
			t.Fatalf("OffsetFetch v8: %+v", ofr.Groups)
		}
		code := ofr.Groups[1].ErrorCode
		if code != kerr.CoordinatorLoadInProgress.Code && code != kerr.NotCoordinator.Code && code != kerr.CoordinatorNotAvailable.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OffsetFetch v8 of a second group: %v", kerr.ErrorForCode(code))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(ofr.Groups[0].Topics) != 1 || len(ofr.Groups[1].Topics) != 1 {
		t.Fatalf("OffsetFetch v8: %+v", ofr.Groups)
	}
	if p := ofr.Groups[0].Topics[0].Partitions[0]; p.Partition != 1 || p.Offset != 42 || *p.Metadata != "meta" || p.LeaderEpoch != -1 {
		t.Errorf("fetched %+v, want partition 1 offset 42 metadata meta", p)
	}
	if p := ofr.Groups[1].Topics[0].Partitions[0]; ofr.Groups[1].ErrorCode != 0 || p.Offset != -1 {
		t.Errorf("group without commits: code %d offset %d, want 0 and -1", ofr.Groups[1].ErrorCode, p.Offset)
	}

	// LeaveGroup v3 (batched): an unknown instance fails alone, the member leaves.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.SetVersion(5)
	lr.Group = group
	lr.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}, {InstanceID: &fence}}
	lresp := roundTrip[*kmsg.LeaveGroupResponse](rc, lr)
	if lresp.ErrorCode != 0 || lresp.Members[0].ErrorCode != 0 || lresp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("LeaveGroup: %+v", lresp)
	}

	// Empty now: listed with state Empty, described, deletable.
	lg := kmsg.NewPtrListGroupsRequest()
	lg.SetVersion(5)
	lg.StatesFilter = []string{"empty"}
	lgr := roundTrip[*kmsg.ListGroupsResponse](rc, lg)
	if len(lgr.Groups) != 1 || lgr.Groups[0].Group != group || lgr.Groups[0].GroupState != "Empty" || lgr.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("ListGroups(Empty): %+v", lgr.Groups)
	}
	lg.StatesFilter = []string{"Stable"}
	if lgr := roundTrip[*kmsg.ListGroupsResponse](rc, lg); len(lgr.Groups) != 0 {
		t.Fatalf("ListGroups(Stable): %+v", lgr.Groups)
	}
	if code := commit("", -1, "known"); code != 0 {
		t.Fatalf("standalone commit to an empty group: %v", kerr.ErrorForCode(code))
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = group
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "known", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}}
	if odr := roundTrip[*kmsg.OffsetDeleteResponse](rc, od); odr.ErrorCode != 0 || odr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("OffsetDelete: %+v", odr)
	}
	if code := deleteGroup(group); code != 0 {
		t.Fatalf("DeleteGroups: %v", kerr.ErrorForCode(code))
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.SetVersion(5)
	dg.Groups = []string{group}
	if dgr := roundTrip[*kmsg.DescribeGroupsResponse](rc, dg); dgr.Groups[0].State != "Dead" {
		t.Fatalf("described after delete: %+v", dgr.Groups[0])
	}
}

// A member that joins while the group waits for SyncGroups
// (CompletingRebalance) starts a new rebalance: the members waiting to sync
// get REBALANCE_IN_PROGRESS and rejoin, and the new member's JoinGroup waits
// for them and succeeds (kgo surfaces a REBALANCE_IN_PROGRESS JoinGroup
// answer as a poll error).
func TestJoinDuringCompletingRebalance(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const group = "late-joiner"
	rcA, rcB := dialRaw(t, kc.addrs[1]), dialRaw(t, kc.addrs[1])
	memberA, _ := joinedGroup(t, rcA, group) // A alone, Stable
	join := func(rc *rawConn, memberID string) *kmsg.JoinGroupResponse {
		jr := kmsg.NewPtrJoinGroupRequest()
		jr.SetVersion(9)
		jr.Group, jr.MemberID, jr.ProtocolType = group, memberID, "consumer"
		jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = 10000, 5000
		jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
		return roundTrip[*kmsg.JoinGroupResponse](rc, jr)
	}
	sync := func(rc *rawConn, memberID string, gen int32) int16 {
		sr := kmsg.NewPtrSyncGroupRequest()
		sr.SetVersion(5)
		sr.Group, sr.MemberID, sr.Generation = group, memberID, gen
		sr.ProtocolType, sr.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		return roundTrip[*kmsg.SyncGroupResponse](rc, sr).ErrorCode
	}

	// A rejoins: the group completes the join at once (A is its only
	// member) and waits for A's SyncGroup.
	a := join(rcA, memberA)
	if a.ErrorCode != 0 {
		t.Fatalf("A's JoinGroup: %v", kerr.ErrorForCode(a.ErrorCode))
	}
	// B joins now, in CompletingRebalance.
	first := join(rcB, "")
	if first.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("B's first JoinGroup: %v", kerr.ErrorForCode(first.ErrorCode))
	}
	bDone := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { bDone <- join(rcB, first.MemberID) }()
	time.Sleep(200 * time.Millisecond) // B's JoinGroup reaches the coordinator
	select {
	case b := <-bDone:
		t.Fatalf("B's JoinGroup answered before the rebalance completed: %v", kerr.ErrorForCode(b.ErrorCode))
	default:
	}
	if code := sync(rcA, a.MemberID, a.Generation); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("A's SyncGroup after B joined: %v, want REBALANCE_IN_PROGRESS", kerr.ErrorForCode(code))
	}
	a2 := join(rcA, a.MemberID)
	b := <-bDone
	if a2.ErrorCode != 0 || b.ErrorCode != 0 || a2.Generation != b.Generation || a2.Generation <= a.Generation {
		t.Fatalf("rejoin: A %v gen %d, B %v gen %d; want both in generation > %d", kerr.ErrorForCode(a2.ErrorCode), a2.Generation,
			kerr.ErrorForCode(b.ErrorCode), b.Generation, a.Generation)
	}
}
