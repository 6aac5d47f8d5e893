package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// commitStandalone commits offset 3 of t/0 for group outside group
// management (generation -1), as admin tools do.
func commitStandalone(t *testing.T, rc *rawConn, group string) {
	t.Helper()
	r := kmsg.NewPtrOffsetCommitRequest()
	r.SetVersion(8)
	r.Group, r.Generation = group, -1
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := roundTrip[*kmsg.OffsetCommitResponse](rc, r).Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			return
		}
		// The first lookup creates __consumer_offsets: retry while the
		// coordinator is not there yet.
		if e := kerr.ErrorForCode(code); !kerr.IsRetriable(e) || time.Now().After(deadline) {
			t.Fatalf("commit: %v", e)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = group
		roundTrip[*kmsg.FindCoordinatorResponse](rc, fc)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGroupSessionExpiry: a member that stops heartbeating is removed after
// its session timeout and the group becomes Empty at the next generation.
func TestGroupSessionExpiry(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	rc := dialRaw(t, kc.addrs[1])
	_, gen := joinedGroupSession(t, rc, "expiring", 1000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, state, members, _ := kc.groupState("expiring")
		if state == "Empty" && members == 0 {
			if g != gen+1 {
				t.Errorf("generation %d after expiry, want %d", g, gen+1)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s with %d members 10s after its only member stopped heartbeating", state, members)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGroupOffsetRetention: the offsets of an empty group expire after
// OffsetsRetention and the group is deleted; a group with a live member
// keeps its offsets.
func TestGroupOffsetRetention(t *testing.T) {
	cfg := groupTestConfig()
	cfg.Groups.OffsetsRetention = 500 * time.Millisecond
	cfg.Groups.RetentionCheckInterval = 50 * time.Millisecond
	kc := newKafkaCluster(t, 1, cfg)
	kc.CreateTopic(t, "t", engine.TopicConfig{Partitions: 1})
	rc := dialRaw(t, kc.addrs[1])
	member, gen := joinedGroup(t, rc, "live")
	cr := kmsg.NewPtrOffsetCommitRequest()
	cr.SetVersion(8)
	cr.Group, cr.MemberID, cr.Generation = "live", member, gen
	cr.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 7}}}}
	if code := roundTrip[*kmsg.OffsetCommitResponse](rc, cr).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("member commit: code %d", code)
	}
	commitStandalone(t, rc, "idle")

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, _, ok := kc.groupState("idle"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle group's offsets did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	offs, e := kc.servers[1].groups.FetchOffsets("live", nil, false)
	if e != nil || len(offs) != 1 || offs[0].Partitions[0].Offset != 7 {
		t.Fatalf("live group's offsets %+v %v, want offset 7 kept", offs, e)
	}
}
