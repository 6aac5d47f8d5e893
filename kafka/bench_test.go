package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// BenchmarkProduce measures end-to-end produce through the Kafka layer: a kgo
// producer (acks=all, idempotent, no compression) writing 1 KiB records to a
// 3-partition topic on a one-node cluster. Each op is one acknowledged
// record.
func BenchmarkProduce(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			// The production Raft tick (50ms, ~1s election timeout): the
			// test cluster's 10ms tick elects new leaders whenever this
			// shared machine stalls a follower for 200ms.
			kc := newKafkaCluster(b, nodes, Config{Logger: benchLogger()},
				testcluster.WithConfig(func(c *engine.Config) { c.RTT = 50 * time.Millisecond }))
			kc.CreateTopic(b, "bench", engine.TopicConfig{Partitions: 3})
			waitStableLeaders(b, kc, "bench")
			cl := kc.client(b, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(time.Millisecond))
			val := make([]byte, 1024)
			ctx := context.Background()
			// Warm up for a second: leaders may still move right after
			// creation (the controller spreads them), and a client that hits
			// a move waits for its next metadata refresh.
			for end := time.Now().Add(time.Second); time.Now().Before(end); {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: val}).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(val)))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			var errOnce sync.Once
			for i := 0; i < b.N; i++ {
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: val}, func(_ *kgo.Record, err error) {
					if err != nil {
						errOnce.Do(func() { b.Error(err) })
					}
					wg.Done()
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkConsume measures fetching 1 KiB records back through the Kafka
// layer with a kgo direct consumer. Each op is one consumed record.
func BenchmarkConsume(b *testing.B) {
	kc := newKafkaCluster(b, 1, Config{Logger: discardLogger()})
	kc.CreateTopic(b, "bench", engine.TopicConfig{Partitions: 3})
	prod := kc.client(b, kgo.ProducerBatchCompression(kgo.NoCompression()))
	val := make([]byte, 1024)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Topic: "bench", Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	cons := kc.client(b, kgo.ConsumePartitions(startOffsets("bench", 3)))
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	b.ResetTimer()
	for got := 0; got < b.N; {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) { b.Fatal(err) })
		got += fs.NumRecords()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeProduce measures header and body decoding of a Produce
// request carrying one 64 KiB batch per partition for 3 partitions.
func BenchmarkDecodeProduce(b *testing.B) {
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 11
	pr.Acks = -1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "bench"
	for p := int32(0); p < 3; p++ {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = p
		pp.Records = make([]byte, 64<<10)
		pt.Partitions = append(pt.Partitions, pp)
	}
	pr.Topics = append(pr.Topics, pt)
	frame := encodeRequest(1, "bench", pr)[4:]
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLogger discards logs unless CHRONIK_BENCH_LOG is set (then debug to
// stderr), to see retries behind a slow run.
func benchLogger() *slog.Logger {
	if os.Getenv("CHRONIK_BENCH_LOG") == "" {
		return discardLogger()
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitStableLeaders waits (up to 15s) until the leaders of topic have not
// changed for a second, so a benchmark does not time the controller
// spreading leaders after creation.
func waitStableLeaders(b *testing.B, kc *kafkaCluster, topic string) {
	b.Helper()
	leaders := func() string {
		for _, ti := range kc.Engine(1).Metadata().Topics {
			if ti.Name == topic {
				return fmt.Sprint(ti.Partitions)
			}
		}
		return ""
	}
	last, since := leaders(), time.Now()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cur := leaders(); cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) > time.Second {
			return
		}
	}
	b.Logf("leaders of %s still moving after 15s", topic)
}
