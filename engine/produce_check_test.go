package engine_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/segment"
)

// produceRecorder is a HookProduce that keeps what it is told.
type produceRecorder struct {
	mu    sync.Mutex
	calls [][2]int // bytes, records
}

func (r *produceRecorder) OnProduce(_ string, _ int32, bytes, records int, _ time.Duration, err error) {
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, [2]int{bytes, records})
}

func (r *produceRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *produceRecorder) last() [2]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return [2]int{}
	}
	return r.calls[len(r.calls)-1]
}

// TestProduceHookCounts: the produce hooks get the bytes and the record
// count of a produce of several batches, from validation's summary, for
// ProduceBatch and ProduceBatchAsync alike; a produce validation refuses
// reaches no hook; a compacted topic refuses a batch with a keyless record
// in the same walk.
func TestProduceHookCounts(t *testing.T) {
	rec := &produceRecorder{}
	c := testcluster.New(t, 1, testcluster.WithConfig(func(cfg *engine.Config) { cfg.Hooks = append(cfg.Hooks, rec) }))
	e := c.Engine(1)
	c.CreateTopic(t, "hooks", engine.TopicConfig{Partitions: 1})
	c.CreateTopic(t, "keyed", engine.TopicConfig{Partitions: 1, CleanupPolicy: "compact"})
	c.WaitLeader(t, "hooks", 0, 10*time.Second)
	c.WaitLeader(t, "keyed", 0, 10*time.Second)
	b := append(engine.EncodeBatch(records("a", 3), time.Now()), engine.EncodeBatch(records("b", 2), time.Now())...)
	if _, err := e.ProduceBatch(ctxT(t, 10*time.Second), "hooks", 0, b); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(); got != [2]int{len(b), 5} {
		t.Fatalf("ProduceBatch hook: bytes, records = %v, want [%d 5]", got, len(b))
	}
	b = append(b, engine.EncodeBatch(records("c", 4), time.Now())...)
	pp, err := e.ProduceBatchAsync(ctxT(t, 10*time.Second), "hooks", 0, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pp.Wait(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	<-pp.Done()
	deadline := time.Now().Add(5 * time.Second)
	for rec.last() != [2]int{len(b), 9} {
		if time.Now().After(deadline) {
			t.Fatalf("ProduceBatchAsync hook: bytes, records = %v, want [%d 9]", rec.last(), len(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	n := rec.count()
	keyed := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}}, time.Now())
	keyless := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}, {Value: []byte("no key")}}, time.Now())
	if _, err := e.ProduceBatch(ctxT(t, 10*time.Second), "keyed", 0, append(keyed, keyless...)); !errors.Is(err, engine.ErrInvalidRecord) {
		t.Fatalf("keyless record in the second batch to a compacted topic: %v, want ErrInvalidRecord", err)
	}
	if _, err := e.ProduceBatch(ctxT(t, 10*time.Second), "keyed", 0, keyed); err != nil {
		t.Fatal(err)
	}
	if rec.count() != n+1 || rec.last() != [2]int{len(keyed), 1} {
		t.Fatalf("hooks after a refused and an accepted produce: %d calls, last %v", rec.count()-n, rec.last())
	}
}

// gzipRecordBatch returns a gzip-compressed v2 batch of one record with key
// "k" and a value of n zero bytes, written to the compressor a MiB at a
// time: a 64 MiB value compresses to about 64 KiB, a compression bomb.
func gzipRecordBatch(t *testing.T, n int) []byte {
	t.Helper()
	body := []byte{0}                          // attributes
	body = binary.AppendVarint(body, 0)        // timestamp delta
	body = binary.AppendVarint(body, 0)        // offset delta
	body = binary.AppendVarint(body, 1)        // key length
	body = append(body, 'k')                   // key
	body = binary.AppendVarint(body, int64(n)) // value length
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(binary.AppendVarint(nil, int64(len(body)+n+1))) // record length
	w.Write(body)
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zeros) {
		w.Write(zeros[:min(left, len(zeros))])
	}
	w.Write(binary.AppendVarint(nil, 0)) // no headers
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	return segment.AppendBatch(nil, segment.BatchHeader{PartitionLeaderEpoch: -1, Attributes: segment.CompressionGzip,
		BaseTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 1},
		buf.Bytes())
}

// TestCompactedTopicRefusesCompressionBomb: the key check of a compacted
// topic decompresses a producer's gzip batch only up to max.message.bytes
// (1 MiB here): a 64 KiB batch expanding to 64 MiB is refused with
// ErrRecordTooLarge (MESSAGE_TOO_LARGE, on which a Kafka producer splits
// the batch), having allocated a few MiB rather than the expansion, and
// nothing is written; a compressed batch within the bound is accepted.
func TestCompactedTopicRefusesCompressionBomb(t *testing.T) {
	c := testcluster.New(t, 1)
	e := c.Engine(1)
	c.CreateTopic(t, "bomb", engine.TopicConfig{Partitions: 1, CleanupPolicy: "compact", MaxMessageBytes: 1 << 20})
	c.WaitLeader(t, "bomb", 0, 10*time.Second)
	ok := gzipRecordBatch(t, 256<<10)
	if _, err := e.ProduceBatch(ctxT(t, 10*time.Second), "bomb", 0, ok); err != nil {
		t.Fatalf("gzip batch of 256 KiB of records: %v", err)
	}
	bomb := gzipRecordBatch(t, 64<<20)
	if len(bomb) > 1<<20 {
		t.Fatalf("the bomb is %d bytes, not under max.message.bytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := e.ProduceBatch(ctxT(t, 10*time.Second), "bomb", 0, bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, engine.ErrRecordTooLarge) {
		t.Fatalf("gzip bomb (%d bytes, 64 MiB of records): %v, want ErrRecordTooLarge", len(bomb), err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("bomb of %d bytes refused (%v) after %.1f MiB allocated by the process", len(bomb), err, float64(alloc)/(1<<20))
	if alloc > 16<<20 {
		t.Fatalf("%d MiB allocated while refusing a bomb at a 1 MiB limit", alloc>>20)
	}
	lo, err := e.ListOffsets(ctxT(t, 5*time.Second), "bomb", 0, engine.Latest)
	if err != nil || lo.Offset != 1 {
		t.Fatalf("high watermark %d (%v), want 1: the bomb must write nothing", lo.Offset, err)
	}
}
