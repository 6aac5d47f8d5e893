package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkProduceVsKfake measures one broker side by side with franz-go's
// kfake, both fsyncing what they acknowledge: chronik (embedded, RF=1, its
// Raft log fsyncs each entry before the produce is answered) and kfake
// with DataDir and SyncWrites (an fsync per batch). Each iteration is one
// pair of runs of the same load, 8 partitions of 1 KiB random records,
// acks=all, one after the other in this process, so the ratio compares two
// runs taken under the same conditions; the pair's order alternates. It
// reports both throughputs and their ratio:
//
//	go test -run '^$' -bench ProduceVsKfake -benchtime 3x ./bench/
//
// CHRONIK_BENCH_DURATION sets each run's measured phase (default 5s),
// CHRONIK_BENCH_LOGDB chronik's Raft log store (default: the engine's).
func BenchmarkProduceVsKfake(b *testing.B) {
	dur := 5 * time.Second
	if v := os.Getenv("CHRONIK_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("CHRONIK_BENCH_DURATION %q: %v", v, err)
		}
		dur = d
	}
	var chronikSum, kfakeSum, ratioSum float64
	for i := 0; i < b.N; i++ {
		runs := []func() float64{
			func() float64 { return produceOnChronik(b, dur) },
			func() float64 { return produceOnKfake(b, dur) },
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		a, k := runs[0](), runs[1]()
		if i%2 == 1 {
			a, k = k, a
		}
		b.Logf("pair %d: chronik %.1f MB/s, kfake %.1f MB/s, ratio %.2f", i+1, a, k, a/k)
		chronikSum += a
		kfakeSum += k
		ratioSum += a / k
	}
	n := float64(b.N)
	b.ReportMetric(chronikSum/n, "chronik-MB/s")
	b.ReportMetric(kfakeSum/n, "kfake-MB/s")
	b.ReportMetric(ratioSum/n, "ratio")
	b.ReportMetric(0, "ns/op")
}

// vsKfakeLoad is the load of BenchmarkProduceVsKfake against brokers.
func vsKfakeLoad(brokers []string, topic string, dur time.Duration) ProduceConfig {
	cfg := DefaultProduceConfig()
	cfg.Brokers = brokers
	cfg.Topic = topic
	cfg.Partitions = 8
	cfg.ReplicationFactor = 1
	cfg.RecordSize = 1024
	cfg.Records = 0
	cfg.Duration = dur
	cfg.Warmup = 2 * time.Second
	cfg.Acks = "all"
	return cfg
}

// megabytesPerSec runs the load and returns acknowledged value bytes per
// second in MB (10^6), failing b on errors or failed records.
func megabytesPerSec(b *testing.B, cfg ProduceConfig) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+2*time.Minute)
	defer cancel()
	res, err := Produce(ctx, cfg)
	if err != nil {
		b.Fatalf("produce against %v: %v", cfg.Brokers, err)
	}
	if res.Failed > 0 || res.Acked == 0 {
		b.Fatalf("produce against %v: %d acknowledged, %d failed: %v", cfg.Brokers, res.Acked, res.Failed, res.Errors)
	}
	return float64(res.Bytes) / res.Elapsed.Seconds() / 1e6
}

func produceOnChronik(b *testing.B, dur time.Duration) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := freshDir(b)
	defer os.RemoveAll(dir)
	cl, err := StartEmbedded(ctx, EmbeddedConfig{Nodes: 1, Dir: dir, LogDB: os.Getenv("CHRONIK_BENCH_LOGDB")})
	if err != nil {
		b.Fatalf("embedded chronik: %v", err)
	}
	defer cl.Close()
	return megabytesPerSec(b, vsKfakeLoad(cl.Brokers(), "vs-kfake", dur))
}

func produceOnKfake(b *testing.B, dur time.Duration) float64 {
	b.Helper()
	dir := freshDir(b)
	defer os.RemoveAll(dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir), kfake.SyncWrites())
	if err != nil {
		b.Fatalf("kfake: %v", err)
	}
	defer c.Close()
	return megabytesPerSec(b, vsKfakeLoad(c.ListenAddrs(), fmt.Sprintf("vs-kfake-%d", time.Now().UnixNano()), dur))
}

// freshDir is a new directory for one run, which the caller removes when
// the run ends (b.TempDir would keep every run's files until the whole
// benchmark ends, and later runs would pay for earlier runs' pages).
func freshDir(b *testing.B) string {
	b.Helper()
	d, err := os.MkdirTemp("", "chronik-vs-kfake-")
	if err != nil {
		b.Fatal(err)
	}
	return d
}
