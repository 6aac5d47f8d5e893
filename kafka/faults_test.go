package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// Fault makes engine calls fail, kfake style: calls of Op ("produce",
// "fetch", "list_offsets") on Topic/Partition (empty topic = any; partition
// -1 = any) return Err instead of reaching the engine, Count times (0 =
// until removed). With After, the call reaches the engine first and Err
// replaces its success (a produce that committed but whose answer was lost).
type Fault struct {
	Op        string
	Topic     string
	Partition int32
	Err       error
	Count     int
	After     bool
}

// faultHandle reports how often a fault fired and removes it.
type faultHandle struct {
	f     Fault
	fired atomic.Int64
	fb    *faultBackend
}

// Fired returns how many calls the fault failed.
func (h *faultHandle) Fired() int { return int(h.fired.Load()) }

// Remove stops the fault.
func (h *faultHandle) Remove() { h.fb.remove(h) }

func (h *faultHandle) String() string {
	return fmt.Sprintf("%s %s/%d -> %v (x%d, fired %d)", h.f.Op, h.f.Topic, h.f.Partition, h.f.Err, h.f.Count, h.Fired())
}

// faultBackend wraps a real engine and injects Faults.
type faultBackend struct {
	backend
	mu     sync.Mutex
	faults []*faultHandle
}

// AddFault installs f and returns its handle.
func (fb *faultBackend) AddFault(f Fault) *faultHandle {
	h := &faultHandle{f: f, fb: fb}
	fb.mu.Lock()
	fb.faults = append(fb.faults, h)
	fb.mu.Unlock()
	return h
}

func (fb *faultBackend) remove(h *faultHandle) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for i, x := range fb.faults {
		if x == h {
			fb.faults = append(fb.faults[:i], fb.faults[i+1:]...)
			return
		}
	}
}

func (fb *faultBackend) check(op, topic string, partition int32, after bool) error {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for i, h := range fb.faults {
		f := h.f
		if f.After != after || f.Op != op || (f.Topic != "" && f.Topic != topic) || (f.Partition >= 0 && f.Partition != partition) {
			continue
		}
		n := h.fired.Add(1)
		if f.Count > 0 && int(n) >= f.Count {
			fb.faults = append(fb.faults[:i], fb.faults[i+1:]...)
		}
		return f.Err
	}
	return nil
}

func (fb *faultBackend) ProduceAsync(ctx context.Context, topic string, partition int32, b []byte) (produceWaiter, error) {
	if err := fb.check("produce", topic, partition, false); err != nil {
		return nil, err
	}
	w, err := fb.backend.ProduceAsync(ctx, topic, partition, b)
	if err != nil {
		return nil, err
	}
	return afterWaiter{w, fb, topic, partition}, nil
}

// afterWaiter applies After faults to a produce's successful outcome.
type afterWaiter struct {
	produceWaiter
	fb        *faultBackend
	topic     string
	partition int32
}

func (w afterWaiter) Wait(ctx context.Context) (engine.ProduceResult, error) {
	res, err := w.produceWaiter.Wait(ctx)
	if err == nil {
		if ferr := w.fb.check("produce", w.topic, w.partition, true); ferr != nil {
			return engine.ProduceResult{}, ferr
		}
	}
	return res, err
}

func (fb *faultBackend) Fetch(ctx context.Context, topic string, partition int32, offset int64, o engine.FetchOptions) (engine.FetchResult, error) {
	if err := fb.check("fetch", topic, partition, false); err != nil {
		return engine.FetchResult{}, err
	}
	return fb.backend.Fetch(ctx, topic, partition, offset, o)
}

func (fb *faultBackend) ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (engine.ListOffsetsResult, error) {
	if err := fb.check("list_offsets", topic, partition, false); err != nil {
		return engine.ListOffsetsResult{}, err
	}
	return fb.backend.ListOffsets(ctx, topic, partition, spec)
}

// faultCluster is a one-node cluster whose Kafka server goes through a
// faultBackend.
func faultCluster(t *testing.T) (*faultBackend, string) {
	t.Helper()
	var fb *faultBackend
	kc := newKafkaClusterWith(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 3}, func(_ int, be backend) backend {
		fb = &faultBackend{backend: be}
		return fb
	})
	return fb, kc.addrs[1]
}

// Retriable errors injected on produce are retried by kgo until they clear;
// every record arrives exactly once, in order.
func TestFaultsRetriableProduce(t *testing.T) {
	fb, addr := faultCluster(t)
	cases := []struct {
		name  string
		err   error
		after bool
	}{
		{"LEADER_NOT_AVAILABLE", engine.ErrNotReady, false},
		{"REQUEST_TIMED_OUT", fmt.Errorf("shard 7: %w", engine.ErrTimeout), false},
		// The batch committed but the answer was a timeout: the retry is
		// de-duplicated by producer id and sequence.
		{"REQUEST_TIMED_OUT after commit", fmt.Errorf("shard 7: %w", engine.ErrTimeout), true},
		{"NOT_LEADER_OR_FOLLOWER with hint", &engine.NotLeaderError{Leader: 1, Epoch: 2}, false},
		{"NOT_LEADER_OR_FOLLOWER without hint", &engine.NotLeaderError{}, false},
		{"KAFKA_STORAGE_ERROR", engine.ErrStorage, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("faulty-%d", i)
			// Errors that call for a metadata refresh wait for it; kgo rate
			// limits refreshes by MetadataMinAge (5s by default).
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx := testCtx(t, time.Minute)
			// Create the topic first, so the fault hits writes only.
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("warm-up")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			h := fb.AddFault(Fault{Op: "produce", Topic: topic, Partition: 1, Err: tc.err, Count: 2, After: tc.after})
			const n = 300
			var recs []*kgo.Record
			for i := 0; i < n; i++ {
				recs = append(recs, testRecord(topic, i, 3))
			}
			start := time.Now()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce through a retriable fault: %v", err)
			}
			t.Logf("produced through %d faults in %s", h.Fired(), time.Since(start))
			if h.Fired() != 2 {
				t.Errorf("fault fired %d times, want 2", h.Fired())
			}
			cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(startOffsets(topic, 3)))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			seen := map[int32]int{}
			total := 0
			for total < n+1 {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("consumed %d of %d", total, n+1)
				}
				fs.EachRecord(func(r *kgo.Record) { seen[r.Partition]++; total++ })
			}
			if total != n+1 || seen[0] != n/3+1 || seen[1] != n/3 || seen[2] != n/3 {
				t.Fatalf("consumed %d records (%v per partition), want %d exactly once", total, seen, n+1)
			}
		})
	}
}

// A storage error on one partition's fetch (kgo retries it internally)
// does not stop the other partitions; once it clears, the partition is read.
func TestFaultsFetchStorageError(t *testing.T) {
	fb, addr := faultCluster(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := testCtx(t, time.Minute)
	for p := int32(0); p < 3; p++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "disk", Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	h := fb.AddFault(Fault{Op: "fetch", Topic: "disk", Partition: 1, Err: fmt.Errorf("segment 3: crc mismatch: %w", engine.ErrStorage)})
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(startOffsets("disk", 3)))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[int32]bool{}
	poll := func(until func() bool) {
		for !until() {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("partitions read %v", got)
			}
			fs.EachError(func(_ string, p int32, err error) {
				if !errors.Is(err, kerr.KafkaStorageError) {
					t.Fatalf("partition %d: %v", p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = true })
		}
	}
	poll(func() bool { return got[0] && got[2] && h.Fired() > 0 })
	if got[1] {
		t.Fatalf("read partition 1 despite its storage fault")
	}
	h.Remove()
	poll(func() bool { return got[1] })
}
