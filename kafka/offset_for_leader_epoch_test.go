package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// epochRequest asks for one partition's epoch at version v.
func epochRequest(v int16, topic string, partition, current, epoch int32) *kmsg.OffsetForLeaderEpochRequest {
	r := kmsg.NewPtrOffsetForLeaderEpochRequest()
	r.Version, r.ReplicaID = v, -1
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic = topic
	p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	p.Partition, p.CurrentLeaderEpoch, p.LeaderEpoch = partition, current, epoch
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func askEpoch(t *testing.T, rc *rawConn, req *kmsg.OffsetForLeaderEpochRequest) kmsg.OffsetForLeaderEpochResponseTopicPartition {
	t.Helper()
	corr := rc.send(req)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	rc.recv(corr, resp)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("response %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestOffsetForLeaderEpochWire: after a failover, every version answers
// where the first epoch ends (the next epoch's first offset) and the
// current epoch's end (the high watermark); errors per partition.
func TestOffsetForLeaderEpochWire(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 3, Config{})
	const topic = "ofle"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	cl := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Value: []byte(fmt.Sprintf("%s%d", prefix, i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("a", 10)
	first := kc.WaitLeader(t, topic, 0, 5*time.Second)
	st, _ := kc.Engine(first).PartitionStats(topic, 0)
	epochA := st.LeaderEpoch
	kc.Kill(first)
	produce("b", 10)
	l := kc.WaitLeader(t, topic, 0, 10*time.Second)
	st, _ = kc.Engine(l).PartitionStats(topic, 0)
	cur := st.LeaderEpoch
	if cur <= epochA {
		t.Fatalf("epoch %d after the failover, was %d", cur, epochA)
	}
	rc := dialRaw(t, kc.addrs[l])
	for v := int16(0); v <= 4; v++ {
		got := askEpoch(t, rc, epochRequest(v, topic, 0, cur, epochA))
		wantEpoch := epochA
		if v == 0 {
			wantEpoch = -1 // not in a v0 response
		}
		if got.ErrorCode != 0 || got.EndOffset != 10 || got.LeaderEpoch != wantEpoch {
			t.Errorf("v%d epoch %d: %+v, want end offset 10", v, epochA, got)
		}
		got = askEpoch(t, rc, epochRequest(v, topic, 0, -1, cur))
		if got.ErrorCode != 0 || got.EndOffset != 20 {
			t.Errorf("v%d current epoch %d: %+v, want end offset 20", v, cur, got)
		}
	}
	for _, c := range []struct {
		name   string
		req    *kmsg.OffsetForLeaderEpochRequest
		code   int16
		epoch  int32
		offset int64
	}{
		{"fenced", epochRequest(4, topic, 0, cur-1, epochA), kerr.FencedLeaderEpoch.Code, -1, -1},
		{"unknown epoch", epochRequest(4, topic, 0, cur+1, epochA), kerr.UnknownLeaderEpoch.Code, -1, -1},
		{"current epoch ignored before v2", epochRequest(1, topic, 0, cur-1, epochA), 0, epochA, 10},
		{"unknown topic", epochRequest(4, "nope", 0, -1, 1), kerr.UnknownTopicOrPartition.Code, -1, -1},
		{"unknown partition", epochRequest(4, topic, 7, -1, 1), kerr.UnknownTopicOrPartition.Code, -1, -1},
		{"epoch above the current", epochRequest(4, topic, 0, -1, cur+1), 0, -1, -1},
		{"follower replica id", func() *kmsg.OffsetForLeaderEpochRequest {
			r := epochRequest(4, topic, 0, cur, epochA)
			r.ReplicaID = int32(first)
			return r
		}(), 0, epochA, 10},
	} {
		got := askEpoch(t, rc, c.req)
		if got.ErrorCode != c.code || got.LeaderEpoch != c.epoch || got.EndOffset != c.offset {
			t.Errorf("%s: %+v, want code %d epoch %d end offset %d", c.name, got, c.code, c.epoch, c.offset)
		}
	}
	for _, i := range kc.Running() {
		if i == l {
			continue
		}
		got := askEpoch(t, dialRaw(t, kc.addrs[i]), epochRequest(4, topic, 0, -1, epochA))
		if got.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("follower %d: %+v, want NOT_LEADER_OR_FOLLOWER", i, got)
		}
	}
}

// epochHook counts the OffsetForLeaderEpoch requests a kgo client sends.
type epochHook struct{ sent, failed atomic.Int64 }

func (h *epochHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key == 23 {
		h.sent.Add(1)
		if e.Err() != nil {
			h.failed.Add(1)
		}
	}
}

// TestOffsetForLeaderEpochKgo: a kgo consumer that saw epoch A's records
// validates its position with OffsetForLeaderEpoch after the leader changes
// (KIP-320), gets an answer without truncation, and reads on without loss.
func TestOffsetForLeaderEpochKgo(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 3, Config{})
	const topic = "ofle-kgo"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	prod := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			if err := prod.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Value: []byte(fmt.Sprintf("%s%d", prefix, i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	hook := &epochHook{}
	cons := kc.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.WithHooks(hook), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(500*time.Millisecond))
	consume := func(want int64) {
		t.Helper()
		var n int64
		for n < want {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			fs := cons.PollFetches(ctx)
			cancel()
			fs.EachError(func(topic string, p int32, err error) {
				if err != context.DeadlineExceeded {
					t.Fatalf("consume %s/%d: %v", topic, p, err)
				}
			})
			if ctx.Err() != nil && fs.NumRecords() == 0 {
				t.Fatalf("consumed %d of %d records", n, want)
			}
			fs.EachRecord(func(*kgo.Record) { n++ })
		}
	}
	produce("a", 10)
	consume(10)
	first := kc.WaitLeader(t, topic, 0, 5*time.Second)
	kc.Kill(first)
	produce("b", 10)
	consume(10)
	deadline := time.Now().Add(10 * time.Second)
	for hook.sent.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hook.sent.Load() == 0 {
		t.Fatal("kgo sent no OffsetForLeaderEpoch after the leader changed")
	}
	if f := hook.failed.Load(); f > 0 {
		t.Fatalf("%d OffsetForLeaderEpoch requests failed", f)
	}
	t.Logf("kgo sent %d OffsetForLeaderEpoch requests", hook.sent.Load())
}
