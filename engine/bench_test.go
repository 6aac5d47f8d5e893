package engine_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// BenchmarkProduce measures replicated produce throughput and latency:
// 1 KiB records in 64 KiB batches, 8 partitions, 16 batches in flight per
// partition, each on the partition's leader (the shape of the raw dragonboat
// yardstick in tools/raft-ceiling). Reports MB/s (SetBytes) and p50/p99
// produce latency.
func BenchmarkProduce(b *testing.B) {
	for _, n := range []int{1, 3} {
		for _, db := range []string{engine.LogDBTan, engine.LogDBPebble} {
			for _, codec := range []string{"s2", "none"} {
				b.Run(fmt.Sprintf("nodes=%d/logdb=%s/active=%s", n, db, codec), func(b *testing.B) { benchProduce(b, n, db, codec) })
			}
		}
	}
}

func benchProduce(b *testing.B, nodes int, logdb, codec string) {
	const partitions, inflight = 8, 16
	c := testcluster.New(b, nodes, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SmallLogDBMemory = false
		cfg.LogDB = logdb
		cfg.ActiveSegmentCodec = codec
		cfg.RTT = 5 * time.Millisecond
		cfg.ElectionTicks = 100 // 0.5-1 s: a loaded 2-core box must not churn leaders
		cfg.MaxInFlightPerPartition = inflight
	}))
	c.CreateTopic(b, "bench", engine.TopicConfig{Partitions: partitions, ReplicationFactor: int16(nodes)})
	recs := make([]engine.Record, 64)
	for i := range recs {
		v := make([]byte, 1024)
		for j := range v {
			v[j] = byte(i*7 + j*13)
		}
		recs[i] = engine.Record{Value: v}
	}
	batch := engine.EncodeBatch(recs, time.Now())
	var leaders [partitions]atomic.Pointer[engine.Engine]
	for p := range leaders {
		leaders[p].Store(c.Engine(c.WaitLeader(b, "bench", int32(p), 10*time.Second)))
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	var next atomic.Int64
	var mu sync.Mutex
	var lats []time.Duration
	var failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := 0; p < partitions; p++ {
		for w := 0; w < inflight; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, b.N/(partitions*inflight)+1)
				for next.Add(1) <= int64(b.N) {
					t0 := time.Now()
					if _, err := leaders[p].Load().ProduceBatch(ctxT(b, 30*time.Second), "bench", int32(p), batch); err != nil {
						// A leader change: count it, find the new leader, and
						// retry this iteration.
						failed.Add(1)
						next.Add(-1)
						time.Sleep(10 * time.Millisecond)
						if l := c.Leader("bench", int32(p)); l != 0 {
							leaders[p].Store(c.Engine(l))
						}
						continue
					}
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				lats = append(lats, local...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	b.StopTimer()
	if f := failed.Load(); f > int64(b.N) {
		b.Fatalf("%d failed produces for %d successful ones", f, b.N)
	}
	b.ReportMetric(float64(failed.Load()), "errors")
	b.ReportMetric(float64(diskUsage(filepath.Join(c.Config(1).DataDir, "raft")))/(1<<20), "raft-MiB")
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// diskUsage returns the bytes allocated on disk under dir (tan preallocates
// its log files, so their apparent size says little).
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// BenchmarkProduceLatency measures the commit latency of one 1 KiB record
// with nothing else in flight (one partition, on its leader): the floor
// under every produce, to be read beside the raw dragonboat commit latency
// (chronik bench raft --shards 1 --inflight 1 --payload 1KiB).
func BenchmarkProduceLatency(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			c := testcluster.New(b, n, testcluster.WithConfig(func(cfg *engine.Config) {
				cfg.SmallLogDBMemory = false
				cfg.LogDB = engine.LogDBTan
			}))
			c.CreateTopic(b, "lat", engine.TopicConfig{Partitions: 1, ReplicationFactor: int16(n)})
			leader := c.Engine(c.WaitLeader(b, "lat", 0, 10*time.Second))
			batch := engine.EncodeBatch([]engine.Record{{Value: make([]byte, 1024)}}, time.Now())
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			lats := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := leader.ProduceBatch(ctxT(b, 10*time.Second), "lat", 0, batch); err != nil {
					b.Fatalf("produce: %v", err)
				}
				lats = append(lats, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lats)
			b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
