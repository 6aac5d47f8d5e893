package compat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// kafkaGoCodecs are the codecs kafka-go's Writer supports; the zero value
// is no compression.
var kafkaGoCodecs = []struct {
	name  string
	codec compress.Compression
}{
	{"none", 0},
	{"gzip", kafka.Gzip},
	{"snappy", kafka.Snappy},
	{"lz4", kafka.Lz4},
	{"zstd", kafka.Zstd},
}

// TestKafkaGo runs the whole client cycle with segmentio/kafka-go: Client
// CreateTopics, a Writer with acks=all per codec, partition Readers, Client
// ListOffsets, a group Reader that commits, Client OffsetFetch, and a new
// group Reader resuming from the committed offsets. kafka-go has no
// idempotent producer. It runs on one broker and on three.
func TestKafkaGo(t *testing.T) {
	t.Parallel() // mostly waiting: group joins wait out the initial rebalance delay
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d-node", nodes), func(t *testing.T) {
			t.Parallel()
			if nodes == 3 && testing.Short() {
				t.Skip("3-node cluster skipped in -short")
			}
			c := startCluster(t, nodes)
			runKafkaGo(t, c.Brokers(), fmt.Sprintf("kafkago-%dn", nodes))
		})
	}
}

func runKafkaGo(t *testing.T, brokers []string, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// kafka-go's Client routes by cached metadata (DefaultTransport: 6s) and
	// does not retry NOT_LEADER; a short TTL lets a retry see a leader that
	// moved after the topic was created.
	tr := &kafka.Transport{MetadataTTL: 100 * time.Millisecond}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}
	ct, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1}},
	})
	if err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if err := ct.Errors[topic]; err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	ct, err = client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1}},
	})
	if err != nil || !errors.Is(ct.Errors[topic], kafka.TopicAlreadyExists) {
		t.Errorf("CreateTopics %s again: %v / %v, want %v", topic, err, ct.Errors[topic], kafka.TopicAlreadyExists)
	}

	waitLeadersEverywhere(t, brokers, topic)

	var phaseA []rec
	for _, c := range kafkaGoCodecs {
		phaseA = append(phaseA, kafkaGoProduce(ctx, t, brokers, c.codec, topic, makeRecs("a", c.name, 120))...)
	}

	ends := kafkaGoListOffsets(ctx, t, client, topic)
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != int64(len(phaseA)) {
		t.Errorf("list offsets: partitions end at %v, %d records in all, want %d", ends, total, len(phaseA))
	}

	var got []rec
	for p := range partitions {
		got = append(got, kafkaGoReadPartition(ctx, t, brokers, topic, p, ends[int32(p)])...)
	}
	checkRecs(t, "partition reader", phaseA, got)

	group := topic + "-group"
	got = kafkaGoReadGroup(ctx, t, brokers, group, topic, len(phaseA))
	checkRecs(t, "group reader", phaseA, got)

	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}}})
	if err != nil || of.Error != nil {
		t.Fatalf("OffsetFetch %s: %v / %v", group, err, of.Error)
	}
	for _, p := range of.Topics[topic] {
		if p.Error != nil || p.CommittedOffset != ends[int32(p.Partition)] {
			t.Errorf("committed offset of partition %d: %d (%v), want %d", p.Partition, p.CommittedOffset, p.Error, ends[int32(p.Partition)])
		}
	}
	if len(of.Topics[topic]) != partitions {
		t.Errorf("OffsetFetch: %d partitions, want %d", len(of.Topics[topic]), partitions)
	}

	// A new group member resumes after the committed offsets.
	phaseB := kafkaGoProduce(ctx, t, brokers, kafka.Zstd, topic, makeRecs("b", "zstd", 40))
	got = kafkaGoReadGroup(ctx, t, brokers, group, topic, len(phaseB))
	checkRecs(t, "restarted group reader", phaseB, got)
	for _, r := range got {
		if r.Offset < ends[r.Partition] {
			t.Errorf("restarted group reader read %d/%d, before the committed offset %d", r.Partition, r.Offset, ends[r.Partition])
			break
		}
	}
	kafkaGoAdmin(ctx, t, client, len(brokers), topic, group)
	kafkaGoConn(ctx, t, brokers, topic+"-conn")
}

// kafkaGoProduce writes recs with one Writer (hash partitioning, acks=all,
// batches of up to 50) in one WriteMessages call.
func kafkaGoProduce(ctx context.Context, t *testing.T, brokers []string, codec compress.Compression, topic string, recs []rec) []rec {
	t.Helper()
	// A Transport of its own: kafka-go's shared DefaultTransport caches
	// metadata for 6s, including an answer from before the topic's
	// partitions were led everywhere.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Transport:    tr,
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		BatchSize:    50,
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  10,
	}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, k := range []string{"codec", "seq"} {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: k, Value: []byte(r.Headers[k])})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("WriteMessages (%v): %v", codec, err)
	}
	return recs
}

// kafkaGoListOffsets returns every partition's end offset and checks that
// each starts at 0.
func kafkaGoListOffsets(ctx context.Context, t *testing.T, client *kafka.Client, topic string) map[int32]int64 {
	t.Helper()
	var reqs []kafka.OffsetRequest
	for p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	var resp *kafka.ListOffsetsResponse
	var err error
	for attempt := 0; ; attempt++ {
		resp, err = client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			t.Fatalf("ListOffsets: %v", err)
		}
		retry := false
		for _, p := range resp.Topics[topic] {
			retry = retry || errors.Is(p.Error, kafka.NotLeaderForPartition) || errors.Is(p.Error, kafka.LeaderNotAvailable)
		}
		if !retry || attempt == 20 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	ends := map[int32]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("ListOffsets partition %d: %v", p.Partition, p.Error)
		}
		if p.FirstOffset != 0 {
			t.Errorf("ListOffsets partition %d: first offset %d, want 0", p.Partition, p.FirstOffset)
		}
		ends[int32(p.Partition)] = p.LastOffset
	}
	if len(ends) != partitions {
		t.Fatalf("ListOffsets: %d partitions, want %d", len(ends), partitions)
	}
	return ends
}

func kafkaGoRec(m kafka.Message) rec {
	r := rec{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: map[string]string{}}
	for _, h := range m.Headers {
		r.Headers[h.Key] = string(h.Value)
	}
	return r
}

// kafkaGoReadPartition reads n records of one partition from offset 0.
func kafkaGoReadPartition(ctx context.Context, t *testing.T, brokers []string, topic string, p int, n int64) []rec {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   brokers,
		Topic:     topic,
		Partition: p,
		MinBytes:  1,
		MaxBytes:  1 << 20,
		MaxWait:   100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatalf("SetOffset: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var got []rec
	for int64(len(got)) < n {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("partition %d: %d of %d records: %v", p, len(got), n, err)
		}
		got = append(got, kafkaGoRec(m))
	}
	return got
}

// kafkaGoReadGroup joins group with a Reader, fetches n records, commits
// them, and closes the Reader (leaving the group).
func kafkaGoReadGroup(ctx context.Context, t *testing.T, brokers []string, group, topic string, n int) []rec {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           brokers,
		GroupID:           group,
		Topic:             topic,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           100 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		// The first lookup of a group creates __consumer_offsets; until
		// its partitions have leaders FindCoordinator answers
		// COORDINATOR_NOT_AVAILABLE, as Kafka does. kafka-go retries a
		// failed join MaxAttempts times, JoinGroupBackoff apart (3 and 5s
		// by default), before FetchMessage returns the error.
		JoinGroupBackoff: 200 * time.Millisecond,
		MaxAttempts:      50,
	})
	defer func() {
		if err := r.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
			t.Errorf("group %s: close reader: %v", group, err)
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []rec
	var pending []kafka.Message
	for len(got) < n {
		m, err := r.FetchMessage(rctx)
		if err != nil {
			t.Fatalf("group %s: %d of %d records: %v", group, len(got), n, err)
		}
		got = append(got, kafkaGoRec(m))
		pending = append(pending, m)
		if len(pending) == 100 || len(got) == n {
			if err := r.CommitMessages(rctx, pending...); err != nil {
				t.Fatalf("group %s: CommitMessages: %v", group, err)
			}
			pending = pending[:0]
		}
	}
	return got
}
