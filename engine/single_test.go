package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestSingleNodeReopen produces 100k records over 3 partitions, restarts the
// engine and reads every record back: offsets contiguous from 0, each record
// exactly once.
func TestSingleNodeReopen(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "t100k", engine.TopicConfig{Partitions: 3, SegmentBytes: 256 << 10})
	const perPartition, batch = 33334, 500
	var wg sync.WaitGroup
	for p := int32(0); p < 3; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perPartition; i += batch {
				n := min(batch, perPartition-i)
				recs := make([]engine.Record, n)
				for j := range recs {
					recs[j] = engine.Record{Value: []byte(fmt.Sprintf("p%d-%06d", p, i+j))}
				}
				res, err := c.Engine(1).Produce(ctxT(t, 10*time.Second), "t100k", p, recs)
				if err != nil {
					t.Errorf("produce p%d at %d: %v", p, i, err)
					return
				}
				if res.BaseOffset != int64(i) {
					t.Errorf("p%d: base offset %d, want %d", p, res.BaseOffset, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	c.Restart(1)
	c.WaitLeader(t, "t100k", 0, 10*time.Second)
	total := 0
	for p := int32(0); p < 3; p++ {
		c.WaitLeader(t, "t100k", p, 10*time.Second)
		recs := fetchAll(t, c.Engine(1), "t100k", p)
		if len(recs) != perPartition {
			t.Fatalf("p%d: %d records after reopen, want %d", p, len(recs), perPartition)
		}
		for i, r := range recs {
			if r.Offset != int64(i) {
				t.Fatalf("p%d: record %d has offset %d", p, i, r.Offset)
			}
			if want := fmt.Sprintf("p%d-%06d", p, i); string(r.Value) != want {
				t.Fatalf("p%d offset %d: value %q, want %q", p, i, r.Value, want)
			}
		}
		total += len(recs)
	}
	if total < 100000 {
		t.Fatalf("%d records, want >= 100000", total)
	}
}

// TestBadInput checks that invalid produces fail with typed errors and
// write nothing.
func TestBadInput(t *testing.T) {
	c := testcluster.New(t, 1)
	e := c.Engine(1)
	c.CreateTopic(t, "bad", engine.TopicConfig{Partitions: 2, MaxMessageBytes: 1024})
	good := engine.EncodeBatch(records("x", 3), time.Now())
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	badMagic := append([]byte(nil), good...)
	badMagic[16] = 1
	big := engine.EncodeBatch([]engine.Record{{Value: make([]byte, 2000)}}, time.Now())
	truncated := good[:len(good)-3]
	tests := []struct {
		name    string
		topic   string
		p       int32
		batches []byte
		want    error
	}{
		{"unknown topic", "nope", 0, good, engine.ErrUnknownTopic},
		{"partition out of range", "bad", 2, good, engine.ErrUnknownPartition},
		{"negative partition", "bad", -1, good, engine.ErrUnknownPartition},
		{"crc mismatch", "bad", 0, corrupt, engine.ErrCorruptBatch},
		{"magic 1", "bad", 0, badMagic, engine.ErrCorruptBatch},
		{"truncated", "bad", 0, truncated, engine.ErrCorruptBatch},
		{"good then corrupt", "bad", 0, append(append([]byte(nil), good...), corrupt...), engine.ErrCorruptBatch},
		{"too large", "bad", 0, big, engine.ErrRecordTooLarge},
		{"empty", "bad", 0, nil, engine.ErrCorruptBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ProduceBatch(ctxT(t, 5*time.Second), tt.topic, tt.p, tt.batches)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	for p := int32(0); p < 2; p++ {
		lo, err := e.ListOffsets(ctxT(t, 5*time.Second), "bad", p, engine.Latest)
		if err != nil || lo.Offset != 0 {
			t.Fatalf("p%d: high watermark %d (%v) after rejected produces, want 0", p, lo.Offset, err)
		}
	}
	if _, err := e.Fetch(ctxT(t, 5*time.Second), "bad", 0, 5, engine.FetchOptions{}); !errors.Is(err, engine.ErrOffsetOutOfRange) {
		t.Fatalf("fetch past the end: %v, want ErrOffsetOutOfRange", err)
	}
	if err := e.CreateTopic(ctxT(t, 5*time.Second), "bad", engine.TopicConfig{}); !errors.Is(err, engine.ErrTopicExists) {
		t.Fatalf("create existing: %v", err)
	}
	for _, name := range []string{"", "a b", "ü", string(make([]byte, 250)), ".."} {
		if err := e.CreateTopic(ctxT(t, 5*time.Second), name, engine.TopicConfig{}); !errors.Is(err, engine.ErrInvalidTopic) {
			t.Fatalf("create %q: %v, want ErrInvalidTopic", name, err)
		}
	}
	if err := e.CreateTopic(ctxT(t, 5*time.Second), "rf", engine.TopicConfig{ReplicationFactor: 2}); !errors.Is(err, engine.ErrInvalidReplicationFactor) {
		t.Fatalf("rf 2 on one broker: %v", err)
	}
	// A deadline shorter than one Raft tick is a timeout (REQUEST_TIMED_OUT
	// to a Kafka client), not an unknown error.
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond) // < the test cluster's 25 ms tick
	defer cancel()
	if _, err := e.ProduceBatch(short, "bad", 0, good); !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("produce with a 10ms deadline: %v, want ErrTimeout", err)
	}
	short2, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := e.ProduceBatchAsync(short2, "bad", 0, good); !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("async produce with a 10ms deadline: %v, want ErrTimeout", err)
	}
}

// TestIdempotentProducer checks de-duplication, sequence gaps and fencing,
// also across a restart.
func TestIdempotentProducer(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "idem", engine.TopicConfig{Partitions: 1})
	e := c.Engine(1)
	pid, epoch, err := e.AllocateProducerID(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	pid2, _, _ := e.AllocateProducerID(ctxT(t, 5*time.Second))
	if pid2 == pid {
		t.Fatalf("producer ids not unique: %d", pid)
	}
	b0 := idempotentBatch(records("a", 5), pid, epoch, 0)
	b1 := idempotentBatch(records("b", 5), pid, epoch, 5)
	produce := func(b []byte) (int64, error) {
		res, err := c.Engine(1).ProduceBatch(ctxT(t, 5*time.Second), "idem", 0, b)
		return res.BaseOffset, err
	}
	if off, err := produce(b0); err != nil || off != 0 {
		t.Fatalf("b0: %d %v", off, err)
	}
	if off, err := produce(b1); err != nil || off != 5 {
		t.Fatalf("b1: %d %v", off, err)
	}
	if off, err := produce(b0); err != nil || off != 0 {
		t.Fatalf("b0 again: %d %v, want the original offset 0", off, err)
	}
	if _, err := produce(idempotentBatch(records("c", 1), pid, epoch, 20)); !errors.Is(err, engine.ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	c.Restart(1)
	c.WaitLeader(t, "idem", 0, 10*time.Second)
	if off, err := produce(b1); err != nil || off != 5 {
		t.Fatalf("b1 after restart: %d %v, want the original offset 5", off, err)
	}
	if off, err := produce(idempotentBatch(records("d", 2), pid, epoch+1, 0)); err != nil || off != 10 {
		t.Fatalf("new epoch: %d %v", off, err)
	}
	if _, err := produce(idempotentBatch(records("e", 1), pid, epoch, 10)); !errors.Is(err, engine.ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	lo, _ := c.Engine(1).ListOffsets(ctxT(t, 5*time.Second), "idem", 0, engine.Latest)
	if lo.Offset != 12 {
		t.Fatalf("high watermark %d, want 12", lo.Offset)
	}
}

// TestProduceBatchAsyncOrder: pipelined produces from one goroutine commit
// in call order.
func TestProduceBatchAsyncOrder(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "async", engine.TopicConfig{Partitions: 1})
	e := c.Engine(1)
	const n = 200
	pending := make([]*engine.PendingProduce, n)
	for i := range pending {
		b := engine.EncodeBatch([]engine.Record{{Value: []byte(fmt.Sprintf("%04d", i))}, {Value: []byte(fmt.Sprintf("%04d+", i))}}, time.Now())
		pp, err := e.ProduceBatchAsync(ctxT(t, 10*time.Second), "async", 0, b)
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		pending[i] = pp
	}
	for i, pp := range pending {
		res, err := pp.Wait(ctxT(t, 10*time.Second))
		if err != nil || res.BaseOffset != int64(2*i) {
			t.Fatalf("produce %d: offset %d, %v; want %d", i, res.BaseOffset, err, 2*i)
		}
	}
	recs := fetchAll(t, e, "async", 0)
	for i, r := range recs {
		want := fmt.Sprintf("%04d", i/2)
		if i%2 == 1 {
			want += "+"
		}
		if string(r.Value) != want {
			t.Fatalf("offset %d: %q, want %q", i, r.Value, want)
		}
	}
	if _, err := e.ProduceBatchAsync(ctxT(t, time.Second), "nope", 0, nil); !errors.Is(err, engine.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
}

// TestListOffsetsAndTimestamps: Earliest/Latest/MaxTimestamp/by timestamp,
// and LogAppendTime topics stamping the broker's time.
func TestListOffsetsAndTimestamps(t *testing.T) {
	c := testcluster.New(t, 1)
	e := c.Engine(1)
	c.CreateTopic(t, "ts", engine.TopicConfig{Partitions: 1})
	c.CreateTopic(t, "lat", engine.TopicConfig{Partitions: 1, MessageTimestampType: "LogAppendTime"})
	base := time.UnixMilli(1_700_000_000_000)
	for i := 0; i < 5; i++ {
		recs := []engine.Record{{Value: []byte("a"), Timestamp: base.Add(time.Duration(i) * time.Minute)}, {Value: []byte("b"), Timestamp: base.Add(time.Duration(i)*time.Minute + time.Second)}}
		if _, err := e.Produce(ctxT(t, 5*time.Second), "ts", 0, recs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		spec       int64
		off, stamp int64
	}{
		{engine.Earliest, 0, -1},
		{engine.Latest, 10, -1},
		{engine.MaxTimestamp, 9, base.Add(4*time.Minute + time.Second).UnixMilli()},
		{base.Add(2 * time.Minute).UnixMilli(), 4, base.Add(2 * time.Minute).UnixMilli()},
		{base.Add(2*time.Minute + time.Millisecond).UnixMilli(), 5, base.Add(2*time.Minute + time.Second).UnixMilli()},
		{base.Add(time.Hour).UnixMilli(), -1, -1},
	}
	for _, tt := range tests {
		lo, err := e.ListOffsets(ctxT(t, 5*time.Second), "ts", 0, tt.spec)
		if err != nil || lo.Offset != tt.off || (tt.stamp != -1 && lo.Timestamp != tt.stamp) {
			t.Errorf("ListOffsets(%d) = %+v, %v; want offset %d timestamp %d", tt.spec, lo, err, tt.off, tt.stamp)
		}
	}
	before := time.Now().UnixMilli()
	res, err := e.Produce(ctxT(t, 5*time.Second), "lat", 0, []engine.Record{{Value: []byte("x"), Timestamp: base}})
	if err != nil || res.LogAppendTime < before {
		t.Fatalf("log append time produce: %+v %v", res, err)
	}
	recs := fetchAll(t, e, "lat", 0)
	if len(recs) != 1 || recs[0].Timestamp.UnixMilli() != res.LogAppendTime {
		t.Fatalf("LogAppendTime record: %+v, want timestamp %d", recs, res.LogAppendTime)
	}
}

// TestCorruptSegment: a damaged frame in a sealed segment is reported as
// ErrStorage and counted, never served.
func TestCorruptSegment(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "rot", engine.TopicConfig{Partitions: 1, SegmentBytes: 2048, Compression: "none"})
	for i := 0; i < 20; i++ {
		if _, err := c.Engine(1).Produce(ctxT(t, 5*time.Second), "rot", 0, records(fmt.Sprintf("r%02d", i), 10)); err != nil {
			t.Fatal(err)
		}
	}
	c.Stop(1)
	logs, _ := filepath.Glob(filepath.Join(c.Config(1).DataDir, "partitions", "rot-0.*", "*.log"))
	if len(logs) < 3 {
		t.Fatalf("want several segments, have %v", logs)
	}
	sort.Strings(logs)
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(logs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Restart(1)
	c.WaitLeader(t, "rot", 0, 10*time.Second)
	// Reading through the log hits the damaged frame.
	var off int64
	for {
		res, err := c.Engine(1).Fetch(ctxT(t, 5*time.Second), "rot", 0, off, engine.FetchOptions{MaxBytes: 1 << 20})
		if errors.Is(err, engine.ErrStorage) {
			break
		}
		recs, derr := res.Records()
		if err != nil || derr != nil || len(recs) == 0 {
			t.Fatalf("fetch at %d: %v %v (%d records) before any storage error", off, err, derr, len(recs))
		}
		off = recs[len(recs)-1].Offset + 1
	}
	if c.Engine(1).CorruptFrames() == 0 {
		t.Fatal("corruption not counted")
	}
	// The rest of the log is still served.
	segs, _ := c.Engine(1).PartitionStats("rot", 0)
	if res, err := c.Engine(1).Fetch(ctxT(t, 5*time.Second), "rot", 0, segs.HighWatermark-10, engine.FetchOptions{}); err != nil || len(res.Batches) == 0 {
		t.Fatalf("fetch of the tail: %v", err)
	}
}
