package kafka

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// fetchCounter counts the records each broker's engine served per
// partition of one topic.
type fetchCounter struct {
	topic string
	mu    sync.Mutex
	recs  map[int32]int // partition -> records served
}

func (f *fetchCounter) OnFetch(topic string, partition int32, _, records int, err error) {
	if topic != f.topic || err != nil {
		return
	}
	f.mu.Lock()
	f.recs[partition] += records
	f.mu.Unlock()
}

func (f *fetchCounter) get(p int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recs[p]
}

func (f *fetchCounter) reset() {
	f.mu.Lock()
	f.recs = map[int32]int{}
	f.mu.Unlock()
}

var _ engine.HookFetch = (*fetchCounter)(nil)

// TestFollowerFetch runs three brokers in racks a, b and c. A consumer in
// rack b reads every record from broker 2, its leader or its follower
// (KIP-392); the follower-side edge cases answer as Kafka's do.
func TestFollowerFetch(t *testing.T) {
	const topic, parts, perPart = "ff", 3, 50
	counters := map[uint64]*fetchCounter{}
	for i := uint64(1); i <= 3; i++ {
		counters[i] = &fetchCounter{topic: topic, recs: map[int32]int{}}
	}
	kc := newKafkaCluster(t, 3, Config{}, testcluster.WithFaults(), testcluster.WithConfig(func(c *engine.Config) {
		c.Rack = string(rune('a' + c.NodeID - 1))
		c.Hooks = append(c.Hooks, counters[c.NodeID])
	}))
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts, ReplicationFactor: 3})
	// Leaders settle on the preferred replicas (a first leader hands over
	// to it), and stay there.
	leaders := map[int32]int{}
	deadline := time.Now().Add(15 * time.Second)
	for p := int32(0); p < parts; p++ {
		for {
			leaders[p] = kc.WaitAgreedLeader(t, topic, p, 10*time.Second)
			if preferredLeader(kc.Engine(1).Metadata(), topic, p) == uint64(leaders[p]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: leader %d is not the preferred replica", p, leaders[p])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	ctx := testCtx(t, 60*time.Second)
	pr := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < parts; p++ {
		for i := 0; i < perPart; i++ {
			pr.Produce(ctx, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)}, nil)
		}
	}
	if err := pr.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("racks in Metadata and DescribeCluster", func(t *testing.T) {
		md, err := kc.admin(t).Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range md.Brokers {
			if want := string(rune('a' + b.NodeID - 1)); b.Rack == nil || *b.Rack != want {
				t.Errorf("Metadata: broker %d rack %v, want %q", b.NodeID, b.Rack, want)
			}
		}
		req := kmsg.NewPtrDescribeClusterRequest()
		dc := roundTrip[*kmsg.DescribeClusterResponse](dialRaw(t, kc.addrs[1]), req)
		if len(dc.Brokers) != 3 {
			t.Fatalf("DescribeCluster: %d brokers", len(dc.Brokers))
		}
		for _, b := range dc.Brokers {
			if want := string(rune('a' + b.NodeID - 1)); b.Rack == nil || *b.Rack != want {
				t.Errorf("DescribeCluster: broker %d rack %v, want %q", b.NodeID, b.Rack, want)
			}
		}
	})

	t.Run("rack b reads from broker 2", func(t *testing.T) {
		consume(t, kc, topic, parts*perPart, kgo.Rack("b"))
		for p := int32(0); p < parts; p++ {
			if got := counters[2].get(p); got != perPart {
				t.Errorf("partition %d (leader %d): broker 2 served %d records, want %d", p, leaders[p], got, perPart)
			}
			for _, b := range []uint64{1, 3} {
				if got := counters[b].get(p); got != 0 {
					t.Errorf("partition %d: broker %d served %d records, want 0", p, b, got)
				}
			}
		}
		followed := false
		for _, l := range leaders {
			followed = followed || l != 2
		}
		if !followed {
			t.Fatalf("broker 2 leads every partition (%v): no follower fetch tested", leaders)
		}
	})

	t.Run("no rack reads from the leaders", func(t *testing.T) {
		for _, c := range counters {
			c.reset()
		}
		consume(t, kc, topic, parts*perPart)
		for p := int32(0); p < parts; p++ {
			if got := counters[uint64(leaders[p])].get(p); got != perPart {
				t.Errorf("partition %d: leader %d served %d records, want %d", p, leaders[p], got, perPart)
			}
		}
	})

	// A follower of partition fp and its leader.
	var fp int32 = -1
	for p, l := range leaders {
		if l != 2 {
			fp = p
		}
	}
	follower := dialRaw(t, kc.addrs[2])
	fetchWait := func(version int16, offset int64, rack string, minBytes int32) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(version)
		req.ReplicaID = -1
		req.MaxBytes, req.MinBytes, req.MaxWaitMillis, req.Rack = 1<<20, minBytes, 5000, rack
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = fp, offset, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := roundTrip[*kmsg.FetchResponse](follower, req)
		return resp.Topics[0].Partitions[0]
	}
	fetch := func(version int16, offset int64, rack string) kmsg.FetchResponseTopicPartition {
		t.Helper()
		return fetchWait(version, offset, rack, 0)
	}

	t.Run("follower edge cases", func(t *testing.T) {
		// Before v11 there is no client metadata: leader only.
		if p := fetch(10, 0, ""); p.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("v10 fetch from a follower: error %d, want NOT_LEADER_OR_FOLLOWER", p.ErrorCode)
		}
		if p := fetch(11, 0, ""); p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.PreferredReadReplica != -1 {
			t.Errorf("v11 fetch from a follower: error %d, %d bytes, preferred %d; want records", p.ErrorCode, len(p.RecordBatches), p.PreferredReadReplica)
		}
		// Past what the leader committed: out of range, after the
		// follower checked with its leader.
		if p := fetch(11, perPart+1000, "b"); p.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Errorf("fetch past the end from a follower: error %d, want OFFSET_OUT_OF_RANGE", p.ErrorCode)
		}
		// A consumer that read a record on the leader asks the follower
		// for the next offset at once, past what the follower may have
		// applied: it catches up first and never answers out of range.
		e := kc.Engine(leaders[fp])
		for i := 0; i < 20; i++ {
			res, err := e.Produce(ctx, topic, fp, []engine.Record{{Value: []byte("x")}})
			if err != nil {
				t.Fatal(err)
			}
			if p := fetch(12, res.BaseOffset+1, "b"); p.ErrorCode != 0 || p.HighWatermark < res.BaseOffset+1 {
				t.Fatalf("fetch of offset %d, just acknowledged on the leader, from the follower: error %d, high watermark %d",
					res.BaseOffset+1, p.ErrorCode, p.HighWatermark)
			}
			if i == 19 {
				// Long poll on the follower from its end; a produce
				// on the leader ends it with the record.
				go func() {
					time.Sleep(200 * time.Millisecond)
					e.Produce(ctx, topic, fp, []engine.Record{{Value: []byte("y")}})
				}()
				start := time.Now()
				p := fetchWait(12, res.BaseOffset+1, "b", 1)
				if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || time.Since(start) > 4*time.Second {
					t.Fatalf("long poll on the follower: error %d, %d bytes after %v", p.ErrorCode, len(p.RecordBatches), time.Since(start))
				}
			}
		}
		// The leader names broker 2 to a rack-b consumer, with no records.
		leader := dialRaw(t, kc.addrs[leaders[fp]])
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(12)
		req.ReplicaID, req.MaxBytes, req.Rack = -1, 1<<20, "b"
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = fp, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p := roundTrip[*kmsg.FetchResponse](leader, req).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.PreferredReadReplica != 2 || len(p.RecordBatches) != 0 || p.HighWatermark < perPart {
			t.Errorf("leader's answer to rack b: error %d, preferred %d, %d bytes, high watermark %d; want preferred 2, no records",
				p.ErrorCode, p.PreferredReadReplica, len(p.RecordBatches), p.HighWatermark)
		}
	})

	t.Run("follower cut off sends the consumer to the leader", func(t *testing.T) {
		kc.Isolate(2)
		defer kc.Heal()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p := fetch(12, 0, "b")
			if p.ErrorCode == kerr.NotLeaderForPartition.Code {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("isolated follower still answers error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func preferredLeader(md engine.Metadata, topic string, p int32) uint64 {
	for _, ti := range md.Topics {
		if ti.Name == topic && int(p) < len(ti.Partitions) {
			return ti.Partitions[p].PreferredLeader
		}
	}
	return 0
}

// consume reads n records of topic from the start with a fresh client and
// checks each partition's offsets come in order without gaps.
func consume(t *testing.T, kc *kafkaCluster, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	cl := kc.client(t, opts...)
	next := map[int32]int64{}
	got := 0
	for got < n {
		fs := cl.PollFetches(testCtx(t, 20*time.Second))
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll after %d of %d records: %v", got, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			got++
		})
	}
	cl.Close()
}
