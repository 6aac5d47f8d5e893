package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// Fetch honours MaxBytes across partitions and PartitionMaxBytes per
// partition, always returning at least one whole batch for the first
// non-empty partition, and reports the high watermark of partitions past the
// budget.
func TestFetchByteLimits(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "limits", engine.TopicConfig{Partitions: 2})
	e := kc.Engine(1)
	ctx := testCtx(t, time.Minute)
	var batchLen int
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			b := engine.EncodeBatch([]engine.Record{{Value: make([]byte, 1000)}}, time.Now())
			batchLen = len(b)
			if _, err := e.ProduceBatch(ctx, "limits", p, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc := dialRaw(t, kc.addrs[1])
	fetch := func(maxBytes, partMax int32) []kmsg.FetchResponseTopicPartition {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = 12
		fr.MaxBytes = maxBytes
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "limits"
		for p := int32(0); p < 2; p++ {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition = p
			fp.PartitionMaxBytes = partMax
			ft.Partitions = append(ft.Partitions, fp)
		}
		fr.Topics = append(fr.Topics, ft)
		return roundTrip[*kmsg.FetchResponse](rc, fr).Topics[0].Partitions
	}
	batches := func(b []byte) int { return len(b) / batchLen }

	cases := []struct {
		name           string
		maxBytes, part int32
		want0, want1   int // whole batches per partition
	}{
		{"everything", 1 << 20, 1 << 20, 10, 10},
		{"partition max 3 batches", 1 << 20, int32(3 * batchLen), 3, 3},
		{"partition max below one batch", 1 << 20, 10, 1, 1},
		{"response max 4 batches", int32(4 * batchLen), 1 << 20, 4, 0},
		{"response max below one batch", 10, 1 << 20, 1, 0},
	}
	for _, tc := range cases {
		ps := fetch(tc.maxBytes, tc.part)
		if got0, got1 := batches(ps[0].RecordBatches), batches(ps[1].RecordBatches); got0 != tc.want0 || got1 != tc.want1 {
			t.Errorf("%s: %d and %d batches, want %d and %d", tc.name, got0, got1, tc.want0, tc.want1)
		}
		for _, p := range ps {
			if p.ErrorCode != 0 || p.HighWatermark != 10 || p.LogStartOffset != 0 || p.LastStableOffset != 10 {
				t.Errorf("%s: partition %d: error %d hw %d lso %d log start %d", tc.name, p.Partition, p.ErrorCode, p.HighWatermark, p.LastStableOffset, p.LogStartOffset)
			}
		}
	}
}

// A fetch with MinBytes that no data satisfies returns after MaxWait, and
// Close interrupts a parked fetch at once.
func TestFetchMaxWaitAndClose(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "idle", engine.TopicConfig{Partitions: 1})
	rc := dialRaw(t, kc.addrs[1])
	req := func(wait int32) *kmsg.FetchRequest {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = 12
		fr.MaxWaitMillis, fr.MinBytes = wait, 1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "idle"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		return fr
	}
	start := time.Now()
	roundTrip[*kmsg.FetchResponse](rc, req(300))
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("fetch with MinBytes=1 on an empty partition returned after %s, before MaxWait 300ms", d)
	}

	// A partition error answers at once instead of after MaxWait.
	withBad := req(20_000)
	bad := kmsg.NewFetchRequestTopicPartition()
	bad.Partition = 7
	withBad.Topics[0].Partitions = append(withBad.Topics[0].Partitions, bad)
	start = time.Now()
	resp0 := roundTrip[*kmsg.FetchResponse](rc, withBad)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("fetch with an unknown partition waited %s", d)
	}
	if code := resp0.Topics[0].Partitions[1].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: error %v", kerr.ErrorForCode(code))
	}

	corr := rc.send(req(60_000))
	time.Sleep(200 * time.Millisecond)
	start = time.Now()
	go kc.servers[1].Close()
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	rc.recv(corr, resp)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close took %s to answer a parked fetch", d)
	}
	rc.expectClosed()
}
