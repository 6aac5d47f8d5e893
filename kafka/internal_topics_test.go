package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// Clients cannot write to internal topics: each partition answers
// INVALID_TOPIC_EXCEPTION and nothing is appended (the high watermark stays).
func TestProduceInternalTopicRefused(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true})
	e := kc.Engine(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{OffsetsTopic, "__chronik_internal"} {
		if err := e.CreateInternalTopic(ctx, name, engine.TopicConfig{Partitions: 1, CleanupPolicy: "compact"}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	hw := func(topic string) int64 {
		t.Helper()
		lo, err := e.ListOffsets(ctx, topic, 0, engine.Latest)
		if err != nil {
			t.Fatalf("list offsets %s: %v", topic, err)
		}
		return lo.Offset
	}
	batch := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}}, time.Now())

	for _, topic := range []string{OffsetsTopic, "__chronik_internal", "__transaction_state"} {
		t.Run(topic, func(t *testing.T) {
			before := int64(-1)
			if topic != "__transaction_state" {
				before = hw(topic)
			}
			p, _ := produceRaw(t, kc.addrs[1], topic, batch)
			if p.ErrorCode != kerr.InvalidTopicException.Code {
				t.Fatalf("error %v, want INVALID_TOPIC_EXCEPTION", kerr.ErrorForCode(p.ErrorCode))
			}
			if p.ErrorMessage == nil || p.BaseOffset != -1 {
				t.Fatalf("message %v, base offset %d", p.ErrorMessage, p.BaseOffset)
			}
			if before >= 0 {
				if got := hw(topic); got != before {
					t.Fatalf("high watermark %d -> %d: the write was appended", before, got)
				}
			} else if md := e.Metadata(topic); len(md.Topics) != 0 {
				t.Fatalf("produce auto-created internal topic %s", topic)
			}
		})
	}

	// kgo sees the same error; a normal topic beside it still works.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.addrs[1]), kgo.RecordRetries(1), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	before := hw(OffsetsTopic)
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: OffsetsTopic, Key: []byte("k"), Value: []byte("v")}).FirstErr()
	if err != kerr.InvalidTopicException {
		t.Fatalf("kgo produce to %s: %v, want INVALID_TOPIC_EXCEPTION", OffsetsTopic, err)
	}
	if got := hw(OffsetsTopic); got != before {
		t.Fatalf("high watermark %d -> %d after kgo produce", before, got)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "plain", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce to a normal topic: %v", err)
	}
}
