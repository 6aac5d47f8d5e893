package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestEmbeddedProduceConsume is the end-to-end check of chronik itself: an
// in-process one-node cluster (real Raft, real disk, real Kafka listener),
// 20,000 records produced with acks=all and read back.
func TestEmbeddedProduceConsume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := StartEmbedded(ctx, EmbeddedConfig{Nodes: 1, Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})

	pc := DefaultProduceConfig()
	pc.Brokers = cl.Brokers()
	pc.Topic = "e2e"
	pc.Partitions = 2
	pc.ReplicationFactor = 1
	pc.Records = 20000
	pc.RecordSize = 256
	pres, err := Produce(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	if pres.Sent != 20000 || pres.Acked != 20000 || pres.Failed != 0 {
		t.Fatalf("sent %d acked %d failed %d, want 20000/20000/0 (errors %v)", pres.Sent, pres.Acked, pres.Failed, pres.Errors)
	}
	checkOrdered(t, pres.Latency)
	checkJSON(t, pres)

	// Direct partition reads, then a consumer group (chronik's coordinator).
	for _, group := range []string{"", "bench-e2e"} {
		cc := DefaultConsumeConfig()
		cc.Brokers = cl.Brokers()
		cc.Topic = "e2e"
		cc.Group = group
		cc.Records = 20000
		cres, err := Consume(ctx, cc)
		if err != nil {
			t.Fatalf("group %q: %v (errors %v)", group, err, cres.Errors)
		}
		if cres.Consumed != pres.Acked || cres.Bytes != pres.Bytes {
			t.Errorf("group %q: consumed %d records / %d bytes, produced %d / %d", group, cres.Consumed, cres.Bytes, pres.Acked, pres.Bytes)
		}
		if cres.Latency.Count != cres.Consumed {
			t.Errorf("group %q: end-to-end samples %d, want %d", group, cres.Latency.Count, cres.Consumed)
		}
		checkOrdered(t, cres.Latency)
		checkJSON(t, cres)
		t.Logf("produce: %.0f rec/s p50 %.2fms p99 %.2fms; consume (group %q): %.0f rec/s",
			pres.RecordsPerSec, pres.Latency.P50, pres.Latency.P99, group, cres.RecordsPerSec)
	}
}

// checkJSON fails unless r's JSON report parses and keeps its ordering.
func checkJSON(t *testing.T, r Result) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, buf.String())
	}
	if !(back.Latency.P50 <= back.Latency.P99 && back.Latency.P99 <= back.Latency.Max) {
		t.Errorf("JSON percentiles out of order: %+v", back.Latency)
	}
}
