package compat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaCodecs are the codecs sarama's producer supports.
var saramaCodecs = []struct {
	name  string
	codec sarama.CompressionCodec
}{
	{"none", sarama.CompressionNone},
	{"gzip", sarama.CompressionGZIP},
	{"snappy", sarama.CompressionSnappy},
	{"lz4", sarama.CompressionLZ4},
	{"zstd", sarama.CompressionZSTD},
}

// TestSarama runs the whole client cycle with sarama: admin CreateTopic,
// an idempotent acks=all producer per codec, partition consumers, list
// offsets, a consumer group that commits, and its restart resuming from the
// committed offsets. It runs with sarama's default protocol version
// (V2_8_0_0), the oldest one Kafka 4 still serves (V2_1_0_0, also the
// oldest sarama allows zstd with) and two modern ones, on one broker, and
// once on three.
func TestSarama(t *testing.T) {
	t.Parallel() // mostly waiting: group joins wait out the initial rebalance delay
	cases := []struct {
		name    string
		nodes   int
		version sarama.KafkaVersion
	}{
		{"default-version/1-node", 1, sarama.DefaultVersion},
		{"V3_6_0_0/1-node", 1, sarama.V3_6_0_0},
		{"V2_1_0_0/1-node", 1, sarama.V2_1_0_0},
		{"V4_1_0_0/1-node", 1, sarama.V4_1_0_0},
		{"V3_6_0_0/3-node", 3, sarama.V3_6_0_0},
	}
	one := startCluster(t, 1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := one
			if tc.nodes == 3 {
				if testing.Short() {
					t.Skip("3-node cluster skipped in -short")
				}
				c = startCluster(t, 3)
			}
			topic := "sarama-" + tc.version.String() + fmt.Sprintf("-%dn", tc.nodes)
			runSarama(t, c.Brokers(), tc.nodes, tc.version, topic)
		})
	}
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "chronik-compat"
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Idempotent = true
	cfg.Producer.Retry.Max = 10
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

func runSarama(t *testing.T, brokers []string, nodes int, v sarama.KafkaVersion, topic string) {
	cfg := saramaConfig(v)
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: -1}, false); err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: -1}, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Errorf("CreateTopic %s again: %v, want %v", topic, err, sarama.ErrTopicAlreadyExists)
	}

	waitLeadersEverywhere(t, brokers, topic)

	var phaseA []rec
	for _, c := range saramaCodecs {
		pcfg := saramaConfig(v)
		pcfg.Producer.Compression = c.codec
		phaseA = append(phaseA, saramaProduce(t, brokers, pcfg, topic, makeRecs("a", c.name, 120))...)
	}

	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatalf("sarama client: %v", err)
	}
	defer client.Close()
	perPart := countPerPartition(phaseA)
	for p := int32(0); p < partitions; p++ {
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("GetOffset oldest %d: %v", p, err)
		}
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("GetOffset newest %d: %v", p, err)
		}
		if oldest != 0 || newest != perPart[p] {
			t.Errorf("partition %d: offsets [%d, %d), want [0, %d)", p, oldest, newest, perPart[p])
		}
	}

	got := saramaConsumePartitions(t, client, topic, perPart)
	checkRecs(t, "partition consumer", phaseA, got)

	group := topic + "-group"
	got = saramaConsumeGroup(t, brokers, cfg, group, topic, len(phaseA))
	checkRecs(t, "group consumer", phaseA, got)

	// The committed offsets are the log end offsets.
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	for p := int32(0); p < partitions; p++ {
		b := resp.GetBlock(topic, p)
		if b == nil || b.Err != sarama.ErrNoError || b.Offset != perPart[p] {
			t.Errorf("committed offset of partition %d: %+v, want %d", p, b, perPart[p])
		}
	}

	// A restarted group member resumes after the committed offsets: it
	// sees the new records only.
	pcfg := saramaConfig(v)
	pcfg.Producer.Compression = sarama.CompressionZSTD
	phaseB := saramaProduce(t, brokers, pcfg, topic, makeRecs("b", "zstd", 40))
	got = saramaConsumeGroup(t, brokers, cfg, group, topic, len(phaseB))
	checkRecs(t, "restarted group consumer", phaseB, got)
	for _, r := range got {
		if r.Offset < perPart[r.Partition] {
			t.Errorf("restarted group consumer read %d/%d, before the committed offset %d", r.Partition, r.Offset, perPart[r.Partition])
			break
		}
	}
	saramaAdmin(t, admin, nodes, topic, group)
}

// saramaProduce sends recs in one SendMessages call (so batches hold many
// records) and returns them with the partition and offset assigned.
func saramaProduce(t *testing.T, brokers []string, cfg *sarama.Config, topic string, recs []rec) []rec {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("sarama producer (%s): %v", cfg.Producer.Compression, err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
		for _, k := range []string{"codec", "seq"} {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(r.Headers[k])})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			err = fmt.Errorf("%w: first: %s at %d: %w", err, perrs[0].Msg.Value, perrs[0].Msg.Partition, perrs[0].Err)
		}
		t.Fatalf("SendMessages (%s): %v", cfg.Producer.Compression, err)
	}
	out := make([]rec, len(recs))
	for i, m := range msgs {
		out[i] = recs[i]
		out[i].Partition, out[i].Offset = m.Partition, m.Offset
	}
	return out
}

func saramaRec(m *sarama.ConsumerMessage) rec {
	r := rec{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: map[string]string{}}
	for _, h := range m.Headers {
		r.Headers[string(h.Key)] = string(h.Value)
	}
	return r
}

// saramaConsumePartitions reads want[p] records of every partition from
// the oldest offset with partition consumers.
func saramaConsumePartitions(t *testing.T, client sarama.Client, topic string, want map[int32]int64) []rec {
	t.Helper()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer cons.Close()
	var got []rec
	for p := int32(0); p < partitions; p++ {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition %d: %v", p, err)
		}
		timeout := time.After(20 * time.Second)
		for n := int64(0); n < want[p]; n++ {
			select {
			case m := <-pc.Messages():
				got = append(got, saramaRec(m))
			case err := <-pc.Errors():
				t.Fatalf("partition %d: %v", p, err)
			case <-timeout:
				t.Fatalf("partition %d: %d of %d records after 20s", p, n, want[p])
			}
		}
		pc.Close()
	}
	return got
}

// collector is a sarama ConsumerGroupHandler that marks every record,
// commits in Cleanup, and cancels its context once n records arrived.
type collector struct {
	mu     sync.Mutex
	recs   []rec
	n      int
	cancel context.CancelFunc
}

func (c *collector) Setup(sarama.ConsumerGroupSession) error { return nil }

func (c *collector) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

func (c *collector) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		s.MarkMessage(m, "")
		c.mu.Lock()
		c.recs = append(c.recs, saramaRec(m))
		if len(c.recs) >= c.n {
			c.cancel()
		}
		c.mu.Unlock()
	}
	return nil
}

// saramaConsumeGroup joins group, reads until n records arrived (then
// waits briefly for extra ones that would be duplicates), commits and
// leaves.
func saramaConsumeGroup(t *testing.T, brokers []string, cfg *sarama.Config, group, topic string, n int) []rec {
	t.Helper()
	cg, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		t.Fatalf("sarama consumer group: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := &collector{n: n, cancel: cancel}
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("group %s: Consume: %v", group, err)
		}
	case err := <-cg.Errors():
		t.Fatalf("group %s: %v", group, err)
	}
	if err := cg.Close(); err != nil {
		t.Errorf("group %s: Close: %v", group, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) < n {
		t.Fatalf("group %s: %d of %d records after 30s", group, len(h.recs), n)
	}
	return h.recs
}
