package coordinator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/internal/testcluster"
)

// testConfig is a coordinator config with short group timers.
func testConfig() Config {
	return Config{OffsetsTopicPartitions: 4, InitialRebalanceDelay: 300 * time.Millisecond,
		MinSessionTimeout: time.Second, PollInterval: 50 * time.Millisecond}
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// newTestCoordinator starts a one-node cluster and a coordinator over its
// engine; both close at t's cleanup.
func newTestCoordinator(t testing.TB, cfg Config) (*testcluster.Cluster, *Coordinator) {
	t.Helper()
	cl := testcluster.New(t, 1)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := New(cl.Engine(1), cfg, log)
	t.Cleanup(c.Close)
	return cl, c
}

// waitLoaded creates __consumer_offsets if needed and waits until group's
// partition is loaded on c.
func waitLoaded(t testing.TB, c *Coordinator, group string) *coordPartition {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, e := c.Locate(offsetsTopicInfo(c.be.Metadata(OffsetsTopic)), group); e == nil {
			if cp, e := c.partitionOf(group); e == nil {
				return cp
			}
		}
		if time.Now().After(deadline) {
			_, e := c.partitionOf(group)
			t.Fatalf("partition of group %q not loaded: %v", group, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reload unloads the partition coordinating group and waits until the
// watcher has loaded it again from the log, as a new leader would.
func reload(t testing.TB, c *Coordinator, group string) *coordPartition {
	t.Helper()
	cp, e := c.partitionOf(group)
	if e != nil {
		t.Fatal(e)
	}
	c.set.mu.Lock()
	delete(c.set.parts, cp.p)
	c.set.mu.Unlock()
	cp.unload()
	return waitLoaded(t, c, group)
}

func anyPartition(string, int32) bool { return true }

// commitStandalone commits offset 1 of partition 0 of topic "t" for group
// without membership (generation -1), creating the group.
func commitStandalone(t testing.TB, c *Coordinator, group string) {
	t.Helper()
	waitLoaded(t, c, group)
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(8)
	req.Group, req.Generation = group, -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	if code := c.CommitOffsets(req, anyPartition).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("standalone commit to %s: %v", group, kerr.ErrorForCode(code))
	}
}

// joined joins group as its only member (the KIP-394 MEMBER_ID_REQUIRED
// round, then SyncGroup as leader) and returns the member id and generation.
func joined(t testing.TB, c *Coordinator, group string) (string, int32) {
	t.Helper()
	waitLoaded(t, c, group)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	join := func(memberID string) *kmsg.JoinGroupResponse {
		jr := kmsg.NewPtrJoinGroupRequest()
		jr.SetVersion(9)
		jr.Group, jr.MemberID, jr.ProtocolType = group, memberID, "consumer"
		jr.SessionTimeoutMillis, jr.RebalanceTimeoutMillis = 10000, 5000
		jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
		return c.JoinGroup(ctx, Client{ID: "test", Host: "/127.0.0.1"}, jr)
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
	if sresp := c.SyncGroup(ctx, sr); sresp.ErrorCode != 0 || string(sresp.MemberAssignment) != string([]byte{0, 1, 2}) {
		t.Fatalf("SyncGroup: code %d assignment %v", sresp.ErrorCode, sresp.MemberAssignment)
	}
	return jr.MemberID, jr.Generation
}
