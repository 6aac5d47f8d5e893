package coordinator

import (
	"strconv"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// BenchmarkGroupLoad: a new coordinator replays a __consumer_offsets
// partition of 10,000 offset records (1,000 groups x 10 partitions) before
// it answers; reported as load-ms.
func BenchmarkGroupLoad(b *testing.B) {
	_, c := newTestCoordinator(b, testConfig())
	commitStandalone(b, c, "g0")
	cp, e := c.partitionOf("g0")
	if e != nil {
		b.Fatal(e)
	}
	var recs []engine.Record
	for g, n := 0, 0; n < 1000; g++ {
		name := "g" + strconv.Itoa(g)
		if PartitionFor(name, 4) != cp.p {
			continue
		}
		n++
		for p := range 10 {
			recs = append(recs, offsetRecord(name, "t", int32(p), &offsetCommit{offset: int64(g), committed: time.Now()}))
		}
		if len(recs) >= 2000 {
			if err := cp.write(recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if len(recs) > 0 {
		if err := cp.write(recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		// A fresh partition state replays the log (load marker, read,
		// decode, rebuild), as a new leader does.
		fresh := &coordPartition{c: c, p: cp.p, epoch: cp.epoch, ctx: cp.ctx, cancel: func() {},
			loaded: make(chan struct{}), groups: map[string]*group{}, txnPids: map[int64]map[string]struct{}{}}
		st, err := fresh.replay()
		if err != nil || st.records < 10000 {
			b.Fatalf("replayed %d records: %v", st.records, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "load-ms")
}
