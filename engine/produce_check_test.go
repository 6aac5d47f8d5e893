package engine_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
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
