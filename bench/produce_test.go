package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newFake starts franz-go's in-process Kafka cluster for load-generator
// tests; it is closed when the test ends.
func newFake(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// checkOrdered fails unless min <= p50 <= p90 <= p99 <= p99.9 <= max.
func checkOrdered(t *testing.T, l Latency) {
	t.Helper()
	v := []float64{l.Min, l.P50, l.P90, l.P99, l.P999, l.Max}
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] {
			t.Errorf("latency not ordered: %+v", l)
			return
		}
	}
}

func TestProduceCountsAndReport(t *testing.T) {
	fake := newFake(t)
	var mu sync.Mutex
	var progress []Progress
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "counts"
	cfg.Partitions = 4
	cfg.Records = 5000
	cfg.RecordSize = 100
	cfg.Keys = "sequential"
	cfg.Producers = 2
	cfg.ProgressInterval = 20 * time.Millisecond
	cfg.Progress = func(p Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}
	res, err := Produce(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 5000 || res.Acked != 5000 || res.Failed != 0 {
		t.Fatalf("sent %d acked %d failed %d, want 5000/5000/0 (errors %v)", res.Sent, res.Acked, res.Failed, res.Errors)
	}
	if res.Bytes != 5000*100 {
		t.Errorf("bytes %d, want %d", res.Bytes, 5000*100)
	}
	if res.Latency.Count != 5000 {
		t.Errorf("latency samples %d, want 5000", res.Latency.Count)
	}
	checkOrdered(t, res.Latency)
	if res.Elapsed <= 0 || res.RecordsPerSec <= 0 || res.MiBPerSec <= 0 {
		t.Errorf("elapsed %s, %f rec/s, %f MiB/s: want all positive", res.Elapsed, res.RecordsPerSec, res.MiBPerSec)
	}
	if got := res.Settings["partitions"]; got != "4" {
		t.Errorf("settings partitions %q, want 4", got)
	}
	mu.Lock()
	last := progress[len(progress)-1]
	mu.Unlock()
	if !last.Done || last.Records != 5000 {
		t.Errorf("last progress %+v: want Done with 5000 records", last)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, buf.String())
	}
	if back["acked"].(float64) != 5000 {
		t.Errorf("JSON acked %v, want 5000", back["acked"])
	}
	buf.Reset()
	if err := WriteText(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"5,000 records sent, 5,000 acknowledged, 0 failed", "p99.9", "acks=all", "partitions=4"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestProduceCountsFailures(t *testing.T) {
	fake := newFake(t)
	// Fail every produce request with a non-retriable error: each record
	// must be counted as failed, none hidden.
	fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			rt.TopicID = tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.InvalidRecord.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "failing"
	cfg.Partitions = 2
	cfg.Records = 300
	cfg.RecordSize = 10
	res, err := Produce(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 300 || res.Failed != 300 || res.Acked != 0 {
		t.Fatalf("sent %d acked %d failed %d, want 300/0/300", res.Sent, res.Acked, res.Failed)
	}
	if len(res.Errors) == 0 || res.Errors[0].Count != 300 || !strings.Contains(res.Errors[0].Error, "INVALID_RECORD") {
		t.Errorf("errors %+v: want 300 x INVALID_RECORD", res.Errors)
	}
	if res.Latency.Count != 0 {
		t.Errorf("failed records must not enter the latency histogram: %+v", res.Latency)
	}
}

func TestProduceWarmupAndDuration(t *testing.T) {
	fake := newFake(t)
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "timed"
	cfg.Partitions = 1
	cfg.Records = 0
	cfg.Warmup = 200 * time.Millisecond
	cfg.Duration = 300 * time.Millisecond
	cfg.RecordSize = 64
	cfg.Rate = 2000
	res, err := Produce(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.WarmupRecords == 0 {
		t.Error("no warm-up records were produced")
	}
	if res.Sent != res.Acked+res.Failed {
		t.Errorf("sent %d != acked %d + failed %d", res.Sent, res.Acked, res.Failed)
	}
	// 2000 records/s for 0.3s: about 600 measured records, never the
	// warm-up's 400 on top.
	if res.Sent < 450 || res.Sent > 700 {
		t.Errorf("sent %d records in 300ms at 2000/s, want about 600", res.Sent)
	}
	if res.Latency.Count != res.Acked {
		t.Errorf("latency samples %d != acked %d", res.Latency.Count, res.Acked)
	}
	if res.Elapsed < 250*time.Millisecond || res.Elapsed > 5*time.Second {
		t.Errorf("elapsed %s for a 300ms run", res.Elapsed)
	}
}

func TestProduceInterrupted(t *testing.T) {
	fake := newFake(t)
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "interrupted"
	cfg.Partitions = 1
	cfg.Records = 0
	cfg.Duration = time.Hour
	cfg.RecordSize = 10
	cfg.Rate = 1000
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	res, err := Produce(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted {
		t.Error("Interrupted not set")
	}
	if res.Sent == 0 || res.Sent != res.Acked+res.Failed {
		t.Errorf("sent %d acked %d failed %d: every sent record must be accounted for", res.Sent, res.Acked, res.Failed)
	}
}

func TestProduceLatencyIncludesBrokerDelay(t *testing.T) {
	fake := newFake(t)
	const delay = 50 * time.Millisecond
	// Hold every produce request before kfake handles it: each record's
	// latency must include the wait.
	fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		time.Sleep(delay)
		return nil, nil, false
	})
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "slow"
	cfg.Partitions = 1
	cfg.Records = 200
	cfg.RecordSize = 10
	cfg.Rate = 1000
	res, err := Produce(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 200 {
		t.Fatalf("acked %d, want 200 (%v)", res.Acked, res.Errors)
	}
	if min := time.Duration(res.Latency.Min * float64(time.Millisecond)); min < delay {
		t.Errorf("min latency %s, want at least the broker's %s", min, delay)
	}
	// 200 records at 1000/s take 0.2s to send, and the last one waits for at
	// least one held request: the clock stops at its acknowledgement.
	if res.Elapsed < 200*time.Millisecond+delay {
		t.Errorf("elapsed %s, want at least %s", res.Elapsed, 200*time.Millisecond+delay)
	}
}

func BenchmarkProduceKfake(b *testing.B) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	cfg := DefaultProduceConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Topic = "bench"
	cfg.Partitions = 4
	cfg.RecordSize = 1024
	cfg.Records = int64(max(b.N, 1))
	b.SetBytes(int64(cfg.RecordSize))
	b.ReportAllocs()
	b.ResetTimer()
	res, err := Produce(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if res.Acked != cfg.Records {
		b.Fatalf("acked %d of %d", res.Acked, cfg.Records)
	}
}

func TestLatencyStart(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	tests := []struct {
		name    string
		at, now time.Time
		slept   bool
		want    time.Time
	}{
		{"on time", t0, t0, false, t0},
		{"early, sent at once", t0.Add(ms / 2), t0, false, t0},
		{"held up by the client or broker", t0, t0.Add(5 * ms), false, t0},
		{"slept, woke late", t0, t0.Add(ms * 6 / 10), true, t0.Add(ms * 6 / 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := latencyStart(tc.at, tc.now, tc.slept); !got.Equal(tc.want) {
				t.Fatalf("latencyStart = %v, want %v", got.Sub(t0), tc.want.Sub(t0))
			}
		})
	}
}
