package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceN produces n records round-robin over partitions with keys, values
// and headers derived from their index, and fails on any error.
func produceN(t testing.TB, cl *kgo.Client, topic string, partitions, n int) {
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		cl.Produce(ctx, testRecord(topic, i, partitions), func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

func testRecord(topic string, i, partitions int) *kgo.Record {
	return &kgo.Record{
		Topic:     topic,
		Partition: int32(i % partitions),
		Key:       []byte("key-" + strconv.Itoa(i)),
		Value:     bytes.Repeat([]byte(fmt.Sprintf("value %d;", i)), 1+i%7),
		Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "empty"}},
	}
}

// consumeAll reads partitions 0..partitions-1 from the start until n records
// arrived, and checks every record against testRecord: partition p, offset o
// holds record o*partitions+p.
func consumeAll(t testing.TB, cl *kgo.Client, topic string, partitions, n int) {
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	next := make([]int64, partitions)
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			p := int(r.Partition)
			if r.Offset != next[p] {
				t.Fatalf("partition %d: offset %d, want %d (offsets must be contiguous)", p, r.Offset, next[p])
			}
			next[p]++
			want := testRecord(topic, int(r.Offset)*partitions+p, partitions)
			if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) {
				t.Fatalf("partition %d offset %d: key %q value %.40q, want %q %.40q", p, r.Offset, r.Key, r.Value, want.Key, want.Value)
			}
			if len(r.Headers) != 2 || r.Headers[0].Key != "i" || !bytes.Equal(r.Headers[0].Value, want.Headers[0].Value) || r.Headers[1].Key != "empty" || len(r.Headers[1].Value) != 0 {
				t.Fatalf("partition %d offset %d: headers %+v", p, r.Offset, r.Headers)
			}
			got++
		})
	}
	if got != n {
		t.Fatalf("consumed %d records, want %d", got, n)
	}
}

func startOffsets(topic string, partitions int) map[string]map[int32]kgo.Offset {
	m := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		m[int32(p)] = kgo.NewOffset().AtStart()
	}
	return map[string]map[int32]kgo.Offset{topic: m}
}

// 100k records over 3 partitions with each codec: keys, values and headers
// come back intact at contiguous offsets.
func TestProduceConsumeCodecs(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 3})
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			prod := kc.client(t, kgo.ProducerBatchCompression(c.codec), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
			start := time.Now()
			produceN(t, prod, topic, 3, n)
			t.Logf("%s: produced %d records in %s", c.name, n, time.Since(start))
			cons := kc.client(t, kgo.ConsumePartitions(startOffsets(topic, 3)))
			consumeAll(t, cons, topic, 3, n)
		})
	}
}

// acks=0, 1 and all each deliver every record.
func TestAcks(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 3})
	cases := []struct {
		name string
		opts []kgo.Opt
	}{
		{"acks=0", []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}},
		{"acks=1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		{"acks=all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}},
		{"acks=all non-idempotent", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite()}},
	}
	const n = 3000
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := fmt.Sprintf("acks-%d", i)
			opts := append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, c.opts...)
			prod := kc.client(t, opts...)
			produceN(t, prod, topic, 3, n)
			if err := prod.Flush(testCtx(t, time.Minute)); err != nil {
				t.Fatal(err)
			}
			cons := kc.client(t, kgo.ConsumePartitions(startOffsets(topic, 3)))
			consumeAll(t, cons, topic, 3, n)
		})
	}
}

// A long-poll fetch on an empty partition returns as soon as a record
// arrives, not when MaxWait passes.
func TestLongPollWakes(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 3})
	const topic = "longpoll"
	prod := kc.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(testCtx(t, time.Minute), &kgo.Record{Topic: topic, Partition: 2, Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const maxWait = 20 * time.Second
	cons := kc.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		0: kgo.NewOffset().AtEnd(), 1: kgo.NewOffset().AtEnd(), 2: kgo.NewOffset().AtEnd(),
	}}), kgo.FetchMaxWait(maxWait))

	type result struct {
		value   string
		elapsed time.Duration
	}
	got := make(chan result, 1)
	ready := make(chan struct{})
	go func() {
		ctx := testCtx(t, time.Minute)
		close(ready)
		start := time.Now()
		for {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				got <- result{elapsed: time.Since(start)}
				return
			}
			var recs []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
			if len(recs) > 0 {
				got <- result{string(recs[0].Value), time.Since(start)}
				return
			}
		}
	}()
	<-ready
	time.Sleep(time.Second) // let the consumer park in a long poll
	sent := time.Now()
	if err := prod.ProduceSync(testCtx(t, time.Minute), &kgo.Record{Topic: topic, Partition: 1, Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.value != "wake" {
		t.Fatalf("got %q after %s, want the record produced after the poll started", r.value, r.elapsed)
	}
	if d := time.Since(sent); d > maxWait/2 {
		t.Fatalf("long poll returned %s after the produce; it waited for MaxWait (%s) instead of waking", d, maxWait)
	}
	t.Logf("long poll woke %s after the produce was acknowledged", time.Since(sent))
}

// Produce to a topic that does not exist with auto-create off answers
// UNKNOWN_TOPIC_OR_PARTITION; with auto-create on the topic appears with
// the default partition count.
func TestAutoCreate(t *testing.T) {
	off := newKafkaCluster(t, 1, Config{AutoCreateTopics: false})
	cl := off.client(t, kgo.RecordRetries(2), kgo.ProduceRequestTimeout(5*time.Second), kgo.RetryTimeout(3*time.Second))
	err := cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: "nope", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to unknown topic with auto-create off: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	on := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 5})
	cl = on.client(t)
	if err := cl.ProduceSync(testCtx(t, 30*time.Second), &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, err := on.admin(t).Metadata(testCtx(t, 30*time.Second), "auto")
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics["auto"]
	if td.Err != nil || len(td.Partitions) != 5 || td.ID == [16]byte{} {
		t.Fatalf("auto-created topic: err %v, %d partitions, id %v; want 5 partitions and an id", td.Err, len(td.Partitions), td.ID)
	}
	for _, p := range td.Partitions {
		if p.Leader != 1 || p.LeaderEpoch < 1 {
			t.Fatalf("partition %d: leader %d epoch %d", p.Partition, p.Leader, p.LeaderEpoch)
		}
	}
}
