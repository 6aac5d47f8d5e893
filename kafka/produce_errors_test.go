package kafka

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// produceRaw sends one Produce v11 (acks=all) with batch to topic/0 and
// returns the partition's answer and the response.
func produceRaw(t *testing.T, addr, topic string, batch []byte) (kmsg.ProduceResponseTopicPartition, *kmsg.ProduceResponse) {
	t.Helper()
	rc := dialRaw(t, addr)
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 11
	pr.Acks = -1
	pr.TimeoutMillis = 10000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = batch
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)
	resp := roundTrip[*kmsg.ProduceResponse](rc, pr)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response shape: %+v", resp)
	}
	return resp.Topics[0].Partitions[0], resp
}

// Bad produce input gets the Kafka error a client expects.
func TestProduceErrors(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: false})
	kc.CreateTopic(t, "small", engine.TopicConfig{Partitions: 1, MaxMessageBytes: 1024})
	kc.CreateTopic(t, "plain", engine.TopicConfig{Partitions: 1})
	addr := kc.addrs[1]

	good := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}}, time.Now())
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff // payload no longer matches the CRC
	big := engine.EncodeBatch([]engine.Record{{Value: make([]byte, 4096)}}, time.Now())

	cases := []struct {
		name  string
		topic string
		batch []byte
		want  *kerr.Error
	}{
		{"valid", "plain", good, nil},
		{"bad CRC", "plain", corrupt, kerr.CorruptMessage},
		{"truncated batch", "plain", good[:len(good)-3], kerr.CorruptMessage},
		{"garbage", "plain", []byte("definitely not a record batch, but long enough to look like one......"), kerr.CorruptMessage},
		{"over max.message.bytes", "small", big, kerr.MessageTooLarge},
		{"unknown topic, auto-create off", "nope", good, kerr.UnknownTopicOrPartition},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := produceRaw(t, addr, tc.topic, tc.batch)
			if tc.want == nil {
				if p.ErrorCode != 0 || p.BaseOffset < 0 {
					t.Fatalf("error %v, base offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
				}
				return
			}
			if p.ErrorCode != tc.want.Code {
				t.Fatalf("error %v, want %s", kerr.ErrorForCode(p.ErrorCode), tc.want.Message)
			}
			if p.ErrorMessage == nil {
				t.Fatalf("v8+ error without ErrorMessage")
			}
		})
	}

	// kgo surfaces MESSAGE_TOO_LARGE as a non-retriable produce error.
	cl := kc.client(t, kgo.RecordRetries(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	err := cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: "small", Value: make([]byte, 4096)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("kgo produce of 4 KiB to a 1 KiB topic: %v", err)
	}
}

// Fetch at an offset past the high watermark answers OFFSET_OUT_OF_RANGE
// with the partition's bounds.
func TestFetchOutOfRange(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "t", engine.TopicConfig{Partitions: 1})
	rc := dialRaw(t, kc.addrs[1])
	for _, off := range []int64{0, 1, 1000} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = 11
		fr.MaxWaitMillis = 50
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "t"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.FetchOffset = off
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		resp := roundTrip[*kmsg.FetchResponse](rc, fr)
		p := resp.Topics[0].Partitions[0]
		want := int16(0)
		if off > 0 {
			want = kerr.OffsetOutOfRange.Code
		}
		if p.ErrorCode != want {
			t.Fatalf("fetch at %d: error %v, want %v", off, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(want))
		}
		if off == 0 && (p.HighWatermark != 0 || p.RecordBatches == nil) {
			t.Fatalf("fetch at 0 of an empty partition: hw %d, records %v", p.HighWatermark, p.RecordBatches)
		}
	}
}

// On a follower, Produce and a replica's Fetch answer NOT_LEADER_OR_FOLLOWER
// with the leader hint and its endpoint; a kgo client seeded with the follower only
// still produces and consumes (it follows the metadata).
func TestFollower(t *testing.T) {
	kc := newKafkaCluster(t, 2, Config{})
	kc.CreateTopic(t, "replicated", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	leader := kc.WaitAgreedLeader(t, "replicated", 0, 30*time.Second)
	follower := 3 - leader

	good := engine.EncodeBatch([]engine.Record{{Value: []byte("v")}}, time.Now())
	p, resp := produceRaw(t, kc.addrs[follower], "replicated", good)
	if p.ErrorCode != kerr.NotLeaderForPartition.Code || p.CurrentLeader.LeaderID != int32(leader) || p.CurrentLeader.LeaderEpoch < 1 {
		t.Fatalf("produce on follower: error %v, current leader %+v; want NOT_LEADER_OR_FOLLOWER and leader %d", kerr.ErrorForCode(p.ErrorCode), p.CurrentLeader, leader)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != int32(leader) {
		t.Fatalf("produce on follower: node endpoints %+v, want the leader's", resp.Brokers)
	}

	rc := dialRaw(t, kc.addrs[follower])
	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 16
	// A replica's fetch (ReplicaState.ID set): only leaders serve those.
	// A consumer's (ID -1) is served by an in-sync follower (KIP-392,
	// follower_fetch_test.go).
	fr.ReplicaState.ID = int32(follower)
	ft := kmsg.NewFetchRequestTopic()
	md := kc.Engine(follower).Metadata()
	for _, ti := range md.Topics {
		if ti.Name == "replicated" {
			ft.TopicID = ti.ID
		}
	}
	ft.Partitions = append(ft.Partitions, kmsg.NewFetchRequestTopicPartition())
	fr.Topics = append(fr.Topics, ft)
	fresp := roundTrip[*kmsg.FetchResponse](rc, fr)
	fp := fresp.Topics[0].Partitions[0]
	if fp.ErrorCode != kerr.NotLeaderForPartition.Code || fp.CurrentLeader.LeaderID != int32(leader) {
		t.Fatalf("fetch v16 on follower: error %v, leader %+v", kerr.ErrorForCode(fp.ErrorCode), fp.CurrentLeader)
	}
	if len(fresp.Brokers) != 1 || fresp.Brokers[0].NodeID != int32(leader) {
		t.Fatalf("fetch v16 on follower: node endpoints %+v", fresp.Brokers)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.addrs[follower]), kgo.ConsumePartitions(startOffsets("replicated", 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t, time.Minute)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "replicated", Value: []byte("via follower seed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("record never consumed")
		}
		if recs := fs.Records(); len(recs) > 0 {
			if string(recs[0].Value) != "via follower seed" {
				t.Fatalf("consumed %q", recs[0].Value)
			}
			break
		}
	}
}

// With auto-create on, a Produce to an unknown topic creates it (default
// partitions) and writes; a partition beyond the default count is unknown.
func TestProduceAutoCreates(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 2})
	good := engine.EncodeBatch([]engine.Record{{Value: []byte("v")}}, time.Now())
	if p, _ := produceRaw(t, kc.addrs[1], "fresh", good); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("produce to a new topic: error %v, base offset %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	var parts int
	for _, ti := range kc.Engine(1).Metadata().Topics {
		if ti.Name == "fresh" {
			parts = len(ti.Partitions)
		}
	}
	if parts != 2 {
		t.Fatalf("auto-created topic has %d partitions, want 2", parts)
	}
}

// A broker whose disk is below --min-free-bytes answers Produce with
// KAFKA_STORAGE_ERROR (retriable, so a client retries rather than drops) and
// still serves fetches.
func TestProduceDiskFull(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{}, testcluster.WithConfig(func(c *engine.Config) { c.MinFreeBytes = 1 << 62 }))
	kc.CreateTopic(t, "full", engine.TopicConfig{Partitions: 1})
	kc.WaitLeader(t, "full", 0, 30*time.Second)
	p, _ := produceRaw(t, kc.addrs[1], "full", engine.EncodeBatch([]engine.Record{{Value: []byte("v")}}, time.Now()))
	if p.ErrorCode != kerr.KafkaStorageError.Code || p.ErrorMessage == nil {
		t.Fatalf("produce on a full disk: error %v (message %v), want KAFKA_STORAGE_ERROR with a message", kerr.ErrorForCode(p.ErrorCode), p.ErrorMessage)
	}
	cl := kc.client(t, kgo.RecordRetries(2), kgo.MetadataMinAge(100*time.Millisecond))
	err := cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: "full", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("kgo produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	if ends, err := kc.admin(t).ListEndOffsets(testCtx(t, 10*time.Second), "full"); err != nil || ends["full"][0].Offset != 0 {
		t.Fatalf("end offsets on a full disk: %v, %v; want 0 (nothing written)", ends, err)
	}
}

// requestLog is a HookRequest that records each request's error code.
type requestLog struct {
	mu    sync.Mutex
	codes map[int16][]int16 // API key -> error codes, in answer order
}

func (l *requestLog) OnRequest(info RequestInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.codes == nil {
		l.codes = map[int16][]int16{}
	}
	l.codes[info.APIKey] = append(l.codes[info.APIKey], info.ErrCode)
}

func (l *requestLog) get(key int16) []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.codes[key])
}

// A produce answered CORRUPT_MESSAGE reaches the request hook with that
// code, so metrics do not count it as a success.
func TestProduceErrorReachesRequestHook(t *testing.T) {
	var hook requestLog
	kc := newKafkaCluster(t, 1, Config{RequestHook: &hook})
	kc.CreateTopic(t, "plain", engine.TopicConfig{Partitions: 1})
	good := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}}, time.Now())
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff

	produceRaw(t, kc.addrs[1], "plain", good)
	produceRaw(t, kc.addrs[1], "plain", corrupt)
	// The hook runs once the response is written: the client may read it
	// (and send the next request, on its own connection) a moment before,
	// so the two may be recorded in either order.
	want := []int16{0, kerr.CorruptMessage.Code}
	sorted := func() []int16 { c := hook.get(0); slices.Sort(c); return c }
	deadline := time.Now().Add(5 * time.Second)
	for got := sorted(); !slices.Equal(got, want); got = sorted() {
		if time.Now().After(deadline) {
			t.Fatalf("produce error codes %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
