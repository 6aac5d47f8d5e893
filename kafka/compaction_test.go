package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/segment"
)

// TestCompactionKgo: a topic switched to cleanup.policy=compact through
// the Kafka API is compacted while kgo producers (snappy batches, idempotent)
// write keys k0..k9 fifty times, keyless records and tombstones; a kgo
// consumer from the start then reads exactly the latest value per key,
// the keyless records and the fresh tombstone, in increasing offsets, through
// the gaps and the batches compaction emptied, up to an unchanged high
// watermark; DescribeConfigs reports delete.retention.ms.
func TestCompactionKgo(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	const topic = "compacted"
	ctx := testCtx(t, 2*time.Minute)
	adm := kc.admin(t)
	// Created with the delete policy, so that keyless records can be
	// written first: a compacted topic refuses them (as Kafka does), and
	// compaction must keep the ones written before the policy changed.
	seg := "2048"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &seg}, topic); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe: %v %v", err, rc.Err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "delete.retention.ms" {
			found = c.Value != nil && *c.Value == "86400000"
		}
	}
	if !found {
		t.Fatalf("delete.retention.ms not described as 86400000: %+v", rc.Configs)
	}

	cl := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	latest := map[string]int64{}
	produced := map[int64]compactWant{}
	keyless := map[int64]bool{}
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			w := compactWant{string(r.Record.Key), string(r.Record.Value), r.Record.Value == nil}
			produced[r.Record.Offset] = w
			if r.Record.Key == nil {
				keyless[r.Record.Offset] = true
			} else {
				latest[w.key] = r.Record.Offset
			}
		}
	}
	round := func(r int) {
		var recs []*kgo.Record
		for k := 0; k < 10; k++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "k%d-%02d", k, r)})
		}
		if r%7 == 0 {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "free-%02d", r)})
		}
		produce(recs...)
	}
	for r := 0; r < 25; r++ {
		round(r)
	}
	produce(&kgo.Record{Key: []byte("gone"), Value: []byte("g")}, &kgo.Record{Key: []byte("kept"), Value: []byte("k")})
	produce(&kgo.Record{Key: []byte("gone"), Timestamp: time.Now().Add(-48 * time.Hour)})
	produce(&kgo.Record{Key: []byte("kept")})
	for r := 25; r < 50; r++ {
		round(r)
	}
	for i := 0; i < 10; i++ {
		produce(&kgo.Record{Key: []byte("tail"), Value: make([]byte, 400)})
	}
	compact := "compact"
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: &compact}}, topic); err != nil || rs[0].Err != nil {
		t.Fatalf("alter cleanup.policy to compact: %v %v", err, rs)
	}
	strict := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1))
	if err := strict.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}
	hw := int64(0)
	for off := range produced {
		hw = max(hw, off+1)
	}
	// Below the tail: the latest of each key but gone, and every keyless
	// record.
	var expect []int64
	for off := int64(0); off < hw; off++ {
		w, ok := produced[off]
		if !ok || w.key == "tail" {
			continue
		}
		if keyless[off] || (latest[w.key] == off && w.key != "gone") {
			expect = append(expect, off)
		}
	}

	var lastErr error
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, err := consumeCompacted(t, kc, topic, hw)
		if err != nil {
			t.Fatal(err)
		}
		if lastErr = compareCompacted(got, produced, expect, hw); lastErr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("not compacted: %v", lastErr)
	}

	// The consumer read through batches compaction emptied.
	empty := 0
	for off := int64(0); off < hw; {
		fr, err := kc.Engine(1).Fetch(ctx, topic, 0, off, engine.FetchOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for b := fr.Batches; len(b) > 0; {
			h, err := segment.ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.RecordCount == 0 {
				empty++
			}
			off = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	if empty == 0 {
		t.Fatal("no batch was emptied by compaction: the test does not cover them")
	}
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lo.Lookup(topic, 0); o.Offset != hw {
		t.Fatalf("high watermark %d, want %d", o.Offset, hw)
	}
	// The idempotent producer goes on after compaction.
	produce(&kgo.Record{Key: []byte("k0"), Value: []byte("after")})
}

// consumeCompacted reads topic partition 0 from the start up to hw with a fresh
// kgo consumer.
func consumeCompacted(t *testing.T, kc *kafkaCluster, topic string, hw int64) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.seeds()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(4096), kgo.FetchMaxPartitionBytes(4096))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("consumed up to %d records, no more before the high watermark %d: %w", len(out), hw, err)
		}
		for _, e := range fs.Errors() {
			return nil, fmt.Errorf("fetch: %w", e.Err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			done = done || r.Offset == hw-1
		})
		if done {
			return out, nil
		}
	}
}

// compactWant is a produced record.
type compactWant struct {
	key, value string
	null       bool
}

// compareCompacted checks consumed records against what was produced: the
// records below the tail are exactly expect, offsets increase, the last is
// hw-1.
func compareCompacted(got []*kgo.Record, produced map[int64]compactWant, expect []int64, hw int64) error {
	last := int64(-1)
	var below []int64
	for _, r := range got {
		if r.Offset <= last {
			return fmt.Errorf("offset %d after %d", r.Offset, last)
		}
		last = r.Offset
		w := produced[r.Offset]
		if string(r.Key) != w.key || string(r.Value) != w.value || (r.Value == nil) != w.null {
			return fmt.Errorf("offset %d: %q=%q, produced %q=%q", r.Offset, r.Key, r.Value, w.key, w.value)
		}
		if w.key != "tail" {
			below = append(below, r.Offset)
		}
	}
	if last != hw-1 {
		return fmt.Errorf("last offset %d, want %d", last, hw-1)
	}
	if fmt.Sprint(below) != fmt.Sprint(expect) {
		return fmt.Errorf("offsets below the tail %v, want %v", below, expect)
	}
	return nil
}
