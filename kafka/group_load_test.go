package kafka

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

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
	kc := newKafkaCluster(t, 1, groupTestConfig())
	kc.CreateTopic(t, "known", engine.TopicConfig{Partitions: 2})
	const group = "bad-load"
	rc := dialRaw(t, kc.addrs[1])
	waitCoordinator(t, rc, group)
	s := kc.servers[1]
	c := s.groups
	cp := waitLoaded(t, c, group)

	// Through the engine: Kafka clients cannot write to the topic.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kc.Engine(1).ProduceBatch(ctx, OffsetsTopic, cp.p, undecodableBatch()); err != nil {
		t.Fatalf("write the bad record: %v", err)
	}
	if _, err := engine.DecodeBatches(undecodableBatch()); err == nil {
		t.Fatal("the bad record decodes")
	}

	// Unload and load the partition again, as a new leader would.
	c.mu.Lock()
	delete(c.parts, cp.p)
	c.mu.Unlock()
	cp.unload()
	waitLoaded(t, c, group)
	if got := s.GroupRecordsSkipped(); got != 1 {
		t.Fatalf("GroupRecordsSkipped %d, want 1", got)
	}

	member, gen := joinedGroup(t, rc, group)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(8)
	commit.Group, commit.MemberID, commit.Generation = group, member, gen
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "known",
		Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42}}}}
	if code := roundTrip[*kmsg.OffsetCommitResponse](rc, commit).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("OffsetCommit: error %d", code)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.SetVersion(7)
	fetch.Group = group
	fr := roundTrip[*kmsg.OffsetFetchResponse](rc, fetch)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].Offset != 42 {
		t.Fatalf("OffsetFetch: %+v", fr)
	}
}

// waitLoaded waits until group's partition is loaded on c.
func waitLoaded(t *testing.T, c *coordinator, group string) *coordPartition {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cp, e := c.partitionOf(group)
		if e == nil {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition of group %q not loaded: %v", group, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
