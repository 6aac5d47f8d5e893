package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// shareClient drives ShareFetch and ShareAcknowledge by hand on one broker.
type shareClient struct {
	t      *testing.T
	rc     *rawConn
	group  string
	member string
	topic  [16]byte
	epoch  int32
}

type ack struct {
	first, last int64
	typ         int8
}

// fetch sends a ShareFetch at the client's session epoch with acks, and
// returns the partition's answer (the top-level error code when set).
func (c *shareClient) fetch(wait time.Duration, acks ...ack) (kmsg.ShareFetchResponseTopicPartition, int16) {
	c.t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.Version = 2
	req.GroupID, req.MemberID, req.ShareSessionEpoch = &c.group, &c.member, c.epoch
	req.MaxWaitMillis, req.MaxBytes, req.MaxRecords = int32(wait/time.Millisecond), 1<<20, 100
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = c.topic
	rp := kmsg.NewShareFetchRequestTopicPartition()
	for _, a := range acks {
		b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.first, a.last, []int8{a.typ}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := roundTrip[*kmsg.ShareFetchResponse](c.rc, req)
	if resp.ErrorCode != 0 {
		return kmsg.ShareFetchResponseTopicPartition{}, resp.ErrorCode
	}
	c.epoch++
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		c.t.Fatalf("share fetch answered %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0], 0
}

// ack sends a ShareAcknowledge at the client's session epoch and returns
// the partition's (or the top-level) error code.
func (c *shareClient) ack(acks ...ack) int16 {
	c.t.Helper()
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version = 2
	req.GroupID, req.MemberID, req.ShareSessionEpoch = &c.group, &c.member, c.epoch
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = c.topic
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	for _, a := range acks {
		b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.first, a.last, []int8{a.typ}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := roundTrip[*kmsg.ShareAcknowledgeResponse](c.rc, req)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	c.epoch++
	return resp.Topics[0].Partitions[0].ErrorCode
}

func acquired(p kmsg.ShareFetchResponseTopicPartition) [][3]int64 {
	var out [][3]int64
	for _, a := range p.AcquiredRecords {
		out = append(out, [3]int64{a.FirstOffset, a.LastOffset, int64(a.DeliveryCount)})
	}
	return out
}

// ShareFetch and ShareAcknowledge settle records one by one: accepted and
// rejected records are not delivered again, released ones are, with a
// higher delivery count, until share.delivery.count.limit archives them;
// an expired acquisition lock or a closed connection releases records to
// other members; the share-partition start offset follows. About 5 s.
func TestShareFetchRecordStates(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const topic, group = "share-states", "share-states"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	ctx := testCtx(t, time.Minute)
	prod := kc.client(t, kgo.DefaultProduceTopic(topic))
	for i := range 3 {
		if err := prod.ProduceSync(ctx, kgo.StringRecord(string(rune('a'+i)))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	setShareConfigs(t, ctx, kc, group, map[string]string{
		coordinator.ShareAutoOffsetReset:    "earliest",
		coordinator.ShareDeliveryCountLimit: "2",
		coordinator.ShareRecordLockDuration: "500",
	})
	id := kc.Engine(1).Metadata(topic).Topics[0].ID
	m1 := &shareClient{t: t, rc: dialRaw(t, kc.addrs[1]), group: group, member: "m1", topic: id}
	m2 := &shareClient{t: t, rc: dialRaw(t, kc.addrs[1]), group: group, member: "m2", topic: id}
	m4 := &shareClient{t: t, rc: dialRaw(t, kc.addrs[1]), group: group, member: "m4", topic: id}

	steps := []struct {
		name string
		do   func() (kmsg.ShareFetchResponseTopicPartition, int16)
		want [][3]int64 // acquired (first, last, delivery count)
		code int16      // the top-level or AcknowledgeErrorCode
	}{
		{"first fetch", func() (kmsg.ShareFetchResponseTopicPartition, int16) { return m1.fetch(time.Second) },
			[][3]int64{{0, 2, 1}}, 0},
		{"accept 0, release 1, reject 2", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			p, code := m1.fetch(time.Second, ack{0, 0, ackAccept}, ack{1, 1, ackRelease}, ack{2, 2, ackReject})
			return p, code + p.AcknowledgeErrorCode
		}, [][3]int64{{1, 1, 2}}, 0},
		{"release at the delivery limit archives", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m1.ack(ack{1, 1, ackRelease})
		}, nil, 0},
		{"nothing left", func() (kmsg.ShareFetchResponseTopicPartition, int16) { return m1.fetch(100 * time.Millisecond) },
			nil, 0},
		{"a settled record cannot be acknowledged", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m1.ack(ack{0, 0, ackAccept})
		}, nil, kerr.InvalidRecordState.Code},
		{"a record never acquired cannot be acknowledged", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m1.ack(ack{7, 7, ackAccept})
		}, nil, kerr.InvalidRequest.Code},
		{"a new record", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			if err := prod.ProduceSync(ctx, kgo.StringRecord("d")).FirstErr(); err != nil {
				t.Fatal(err)
			}
			return m1.fetch(time.Second)
		}, [][3]int64{{3, 3, 1}}, 0},
		{"another member gets it when the lock expires", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return m2.fetch(3 * time.Second)
		}, [][3]int64{{3, 3, 2}}, 0},
		{"the first member's late accept is refused", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m1.ack(ack{3, 3, ackAccept})
		}, nil, kerr.InvalidRecordState.Code},
		{"the holder accepts", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m2.ack(ack{3, 3, ackAccept})
		}, nil, 0},
		{"another member acquires a new record", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			if err := prod.ProduceSync(ctx, kgo.StringRecord("e")).FirstErr(); err != nil {
				t.Fatal(err)
			}
			return m4.fetch(time.Second)
		}, [][3]int64{{4, 4, 1}}, 0},
		{"its connection closes: released before its lock expires", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			m4.rc.c.Close()
			return m2.fetch(400 * time.Millisecond)
		}, [][3]int64{{4, 4, 2}}, 0},
		{"accepted", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			return kmsg.ShareFetchResponseTopicPartition{}, m2.ack(ack{4, 4, ackAccept})
		}, nil, 0},
		{"a session that does not exist", func() (kmsg.ShareFetchResponseTopicPartition, int16) {
			m3 := &shareClient{t: t, rc: m1.rc, group: group, member: "m3", topic: id, epoch: 4}
			return m3.fetch(0)
		}, nil, kerr.ShareSessionNotFound.Code},
	}
	for _, st := range steps {
		p, code := st.do()
		if code != st.code {
			t.Fatalf("%s: error code %d, want %d", st.name, code, st.code)
		}
		if got := acquired(p); len(got) != len(st.want) || (len(got) > 0 && got[0] != st.want[0]) {
			t.Fatalf("%s: acquired %v, want %v", st.name, got, st.want)
		}
	}

	resp, err := (&kmsg.DescribeShareGroupOffsetsRequest{Groups: []kmsg.DescribeShareGroupOffsetsRequestGroup{{
		GroupID: group, Topics: []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: topic, Partitions: []int32{0}}},
	}}}).RequestWith(ctx, kc.client(t))
	if err != nil {
		t.Fatal(err)
	}
	if so := resp.Groups[0].Topics[0].Partitions[0].StartOffset; so != 5 {
		t.Fatalf("share-partition start offset %d, want 5 (every record settled)", so)
	}
}

// With share.isolation.level=read_committed a share group acquires only
// committed records: an aborted transaction's records and the transaction
// markers are archived, never delivered. About 3 s.
func TestShareFetchReadCommitted(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const topic, group = "share-committed", "share-committed"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	ctx := testCtx(t, time.Minute)
	tx := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.TransactionalID("share-committed"))
	for _, commit := range []bool{false, true} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := tx.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(commit, i))).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	setShareConfigs(t, ctx, kc, group, map[string]string{
		coordinator.ShareAutoOffsetReset: "earliest",
		coordinator.ShareIsolationLevel:  "read_committed",
	})
	id := kc.Engine(1).Metadata(topic).Topics[0].ID
	m := &shareClient{t: t, rc: dialRaw(t, kc.addrs[1]), group: group, member: "m", topic: id}
	// Offsets 0-2 aborted, 3 its marker, 4-6 committed, 7 its marker.
	p, code := m.fetch(time.Second)
	if got := acquired(p); code != 0 || len(got) != 1 || got[0] != [3]int64{4, 6, 1} {
		t.Fatalf("acquired %v (code %d), want offsets 4-6 only", got, code)
	}
	if code := m.ack(ack{4, 6, ackAccept}); code != 0 {
		t.Fatalf("accept: code %d", code)
	}
	resp, err := (&kmsg.DescribeShareGroupOffsetsRequest{Groups: []kmsg.DescribeShareGroupOffsetsRequestGroup{{
		GroupID: group, Topics: []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: topic, Partitions: []int32{0}}},
	}}}).RequestWith(ctx, kc.client(t))
	if err != nil {
		t.Fatal(err)
	}
	if so := resp.Groups[0].Topics[0].Partitions[0].StartOffset; so < 7 {
		t.Fatalf("share-partition start offset %d, want 7 or 8 (everything before settled)", so)
	}
}
