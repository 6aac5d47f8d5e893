package compat

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/chronik-io/chronik/bench"
)

// partitions is the partition count of every topic the tests create.
const partitions = 3

// logDB is the Raft log store of the brokers these tests start:
// CHRONIK_LOGDB when set (to run the suites on another one), else the
// engine's default.
func logDB() string { return os.Getenv("CHRONIK_LOGDB") }

// startCluster starts an embedded cluster of n brokers, closed when t ends.
func startCluster(t *testing.T, n int) *bench.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: n, LogDB: logDB()})
	if err != nil {
		t.Fatalf("start %d-node cluster: %v", n, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// rec is one record as produced and as consumed.
type rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   map[string]string
}

// makeRecs returns n records tagged with codec: keys cycle over 7 values so
// every partition gets several keys, values are unique across the test, and
// two headers carry the codec and the sequence number.
func makeRecs(phase, codec string, n int) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{
			Key:   "k" + strconv.Itoa(i%7),
			Value: fmt.Sprintf("%s/%s/%05d", phase, codec, i),
			Headers: map[string]string{
				"codec": codec,
				"seq":   strconv.Itoa(i),
			},
		}
	}
	return out
}

// checkRecs fails t unless got holds exactly want (no loss, no duplicate,
// same key and headers), every partition's offsets strictly increase in the
// order consumed, and records of one key arrive in the order produced.
func checkRecs(t *testing.T, what string, want, got []rec) {
	t.Helper()
	byValue := map[string]rec{}
	for _, r := range want {
		byValue[r.Value] = r
	}
	seen := map[string]bool{}
	lastOff := map[int32]int64{}
	lastSeq := map[string]int{} // phase/codec/key -> sequence
	keyPart := map[string]int32{}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(what+": "+format, args...)
		}
	}
	for _, r := range got {
		w, ok := byValue[r.Value]
		switch {
		case !ok:
			fail("unexpected record %q at %d/%d", r.Value, r.Partition, r.Offset)
			continue
		case seen[r.Value]:
			fail("duplicate record %q at %d/%d", r.Value, r.Partition, r.Offset)
			continue
		}
		seen[r.Value] = true
		if r.Key != w.Key {
			fail("record %q: key %q, want %q", r.Value, r.Key, w.Key)
		}
		if fmt.Sprint(r.Headers) != fmt.Sprint(w.Headers) {
			fail("record %q: headers %v, want %v", r.Value, r.Headers, w.Headers)
		}
		if last, ok := lastOff[r.Partition]; ok && r.Offset <= last {
			fail("partition %d: offset %d after %d", r.Partition, r.Offset, last)
		}
		lastOff[r.Partition] = r.Offset
		if p, ok := keyPart[r.Key]; ok && p != r.Partition {
			fail("key %q in partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[r.Key] = r.Partition
		seq, _ := strconv.Atoi(w.Headers["seq"])
		k := r.Value[:len(r.Value)-5] + r.Key
		if last, ok := lastSeq[k]; ok && seq <= last {
			fail("record %q (key %q) after sequence %d: out of order", r.Value, r.Key, last)
		}
		lastSeq[k] = seq
	}
	var missing []string
	for _, r := range want {
		if !seen[r.Value] {
			missing = append(missing, r.Value)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%s: %d of %d records missing, first %q", what, len(missing), len(want), missing[0])
	}
}

// countPerPartition returns how many of recs each partition holds.
func countPerPartition(recs []rec) map[int32]int64 {
	m := map[int32]int64{}
	for _, r := range recs {
		m[r.Partition]++
	}
	return m
}

// waitLeadersEverywhere waits until every broker's Metadata shows a leader
// for each partition of topic. CreateTopics answers once the handling
// broker's Metadata shows the leaders; the other brokers apply __meta and
// track leaders on their own, so for some milliseconds after CreateTopics
// one of them can still answer LEADER_NOT_AVAILABLE. A client that caches
// that answer (kafka-go's Writer keeps metadata for 6 s) fails its writes
// meanwhile. docs/COMPATIBILITY.md describes this.
func waitLeadersEverywhere(t *testing.T, brokers []string, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	for _, b := range brokers {
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		client := &kafka.Client{Addr: kafka.TCP(b), Timeout: 5 * time.Second, Transport: tr}
		for polls := 0; ; polls++ {
			md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
			if polls == 1 {
				t.Logf("broker %s: %s not yet led %s after CreateTopics returned (%v)", b, topic, time.Since(start).Round(time.Millisecond), err)
			}
			if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions && allLed(md.Topics[0].Partitions) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("broker %s: partitions of %s without leader after 20s: %v, %+v", b, topic, err, md)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

func allLed(ps []kafka.Partition) bool {
	for _, p := range ps {
		if p.Error != nil || p.Leader.Port == 0 {
			return false
		}
	}
	return true
}
