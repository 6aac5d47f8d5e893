package coordinator

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/segment"
)

// undecodableBatch is a valid batch (CRC, key) whose one record cannot be
// decoded: it claims three headers and has none.
func undecodableBatch() []byte {
	key := []byte{0, recOffsetKeyV1, 'a', 'b'}
	body := []byte{0}                   // attributes
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, int64(len(key)))
	body = append(body, key...)
	body = binary.AppendVarint(body, -1) // null value
	body = binary.AppendVarint(body, 3)  // three headers, but none follow
	rec := binary.AppendVarint(nil, int64(len(body)))
	rec = append(rec, body...)
	now := time.Now().UnixMilli()
	return segment.AppendBatch(nil, segment.BatchHeader{
		PartitionLeaderEpoch: -1, BaseTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 1,
	}, rec)
}

// An undecodable record in __consumer_offsets is skipped and counted: the
// partition still loads and its groups work.
func TestGroupLoadSkipsUndecodableRecord(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	const group = "bad-load"
	cp := waitLoaded(t, c, group)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Engine(1).ProduceBatch(ctx, OffsetsTopic, cp.p, undecodableBatch()); err != nil {
		t.Fatalf("write the bad record: %v", err)
	}
	if _, err := engine.DecodeBatches(undecodableBatch()); err == nil {
		t.Fatal("the bad record decodes")
	}

	reload(t, c, group)
	if got := c.RecordsSkipped(); got != 1 {
		t.Fatalf("RecordsSkipped %d, want 1", got)
	}

	member, gen := joined(t, c, group)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(8)
	commit.Group, commit.MemberID, commit.Generation = group, member, gen
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "known",
		Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42}}}}
	if code := c.CommitOffsets(commit, anyPartition).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("OffsetCommit: error %d", code)
	}
	offs, e := c.FetchOffsets(group, nil, false)
	if e != nil || len(offs) != 1 || offs[0].Partitions[0].Offset != 42 {
		t.Fatalf("FetchOffsets: %+v %v", offs, e)
	}
}

// TestGroupReloadAfterRestart: a new leader rebuilds committed offsets and
// group metadata from __consumer_offsets.
func TestGroupReloadAfterRestart(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	_, gen := joined(t, c, "reload")
	cp, e := c.partitionOf("reload")
	if e != nil {
		t.Fatal(e)
	}
	g := cp.lookup("reload", false)
	g.offsets[topicPartition{"r", 0}] = offsetCommit{offset: 5, leaderEpoch: 1, metadata: "x", committed: time.Now()}
	if err := cp.write(offsetRecord("reload", "r", 0, &offsetCommit{offset: 5, leaderEpoch: 1, metadata: "x", committed: time.Now()})); err != nil {
		t.Fatal(err)
	}
	g.mu.Unlock()

	reload(t, c, "reload")
	d, e := c.DescribeGroup("reload")
	if e != nil || d.Generation != gen || d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("reloaded %+v %v, want generation %d Stable with 1 member", d, e, gen)
	}
	offs, e := c.FetchOffsets("reload", nil, false)
	if e != nil || len(offs) != 1 || offs[0].Partitions[0].Offset != 5 || offs[0].Partitions[0].Metadata != "x" {
		t.Fatalf("reloaded offsets %+v %v", offs, e)
	}
}

// A broker that leads a group's partition but has not yet taken it into its
// set (just created, or leadership just arrived) answers
// COORDINATOR_LOAD_IN_PROGRESS, which every client retries in place:
// NOT_COORDINATOR there sent kafkajs' sendOffsets to fail.
func TestLedPartitionNotYetWatchedIsLoading(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	waitLoaded(t, c, "early")
	s := &partitionSet[*coordPartition]{be: c.be, topic: OffsetsTopic, parts: map[int32]*coordPartition{},
		newPart: c.set.newPart, log: c.log, noTopic: c.set.noTopic}
	if _, e := s.partitionOf("early"); e != kerr.CoordinatorLoadInProgress {
		t.Fatalf("led, not watched: %v, want COORDINATOR_LOAD_IN_PROGRESS", e)
	}
	s.watch()
	defer s.unloadAll()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, e := s.partitionOf("early")
		if e == nil {
			break
		}
		if e != kerr.CoordinatorLoadInProgress || time.Now().After(deadline) {
			t.Fatalf("after watch: %v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
