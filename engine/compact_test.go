package engine_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// compactWorkload produces, on topic/0: keys k0..k9 written 50 times each
// (one batch of the ten keys per round, plus a keyless record every fifth
// round), the keys "gone" and "kept" each written once then deleted by a
// tombstone (gone's dated two days back, so past delete.retention.ms;
// kept's now), and finally ten batches of the key "tail" large enough to
// roll the segment, so that everything before them is sealed. It returns
// the records compaction must leave below the tail, in offset order.
func compactWorkload(t *testing.T, c *testcluster.Cluster, topic string) []engine.Record {
	t.Helper()
	type rec struct {
		key, value []byte
		off        int64
	}
	var all []rec
	produce := func(recs []engine.Record) {
		res := produceLeader(t, c, topic, 0, recs)
		for i, r := range recs {
			all = append(all, rec{r.Key, r.Value, res.BaseOffset + int64(i)})
		}
	}
	round := func(r int) {
		var recs []engine.Record
		for k := 0; k < 10; k++ {
			recs = append(recs, engine.Record{Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "k%d-%02d", k, r)})
		}
		produce(recs)
		if r%5 == 0 {
			produce([]engine.Record{{Value: fmt.Appendf(nil, "free-%02d", r)}})
		}
	}
	for r := 0; r < 25; r++ {
		round(r)
	}
	produce([]engine.Record{{Key: []byte("gone"), Value: []byte("g")}, {Key: []byte("kept"), Value: []byte("k")}})
	produce([]engine.Record{{Key: []byte("gone"), Timestamp: time.Now().Add(-48 * time.Hour)}})
	produce([]engine.Record{{Key: []byte("kept")}})
	for r := 25; r < 50; r++ {
		round(r)
	}
	// The expected survivors: the latest record of each key, keyless
	// records, kept's tombstone; gone's tombstone is past its retention.
	latest := map[string]int64{}
	for _, r := range all {
		if r.key != nil {
			latest[string(r.key)] = r.off
		}
	}
	var want []engine.Record
	for _, r := range all {
		if r.key == nil || (latest[string(r.key)] == r.off && string(r.key) != "gone") {
			want = append(want, engine.Record{Key: r.key, Value: r.value, Offset: r.off})
		}
	}
	for i := 0; i < 10; i++ {
		produceLeader(t, c, topic, 0, []engine.Record{{Key: []byte("tail"), Value: make([]byte, 400)}})
	}
	return want
}

// checkCompacted compares got (records in offset order) below the first
// "tail" record with want, and checks that the latest tail record is there.
func checkCompacted(got, want []engine.Record, hw int64) error {
	var below []engine.Record
	last := int64(-1)
	sawLastTail := false
	for _, r := range got {
		if r.Offset <= last {
			return fmt.Errorf("offset %d after %d", r.Offset, last)
		}
		last = r.Offset
		if string(r.Key) == "tail" {
			sawLastTail = sawLastTail || r.Offset == hw-1
			continue
		}
		below = append(below, r)
	}
	if len(below) != len(want) {
		return fmt.Errorf("%d records below the tail, want %d", len(below), len(want))
	}
	for i, r := range below {
		w := want[i]
		if r.Offset != w.Offset || string(r.Key) != string(w.Key) || string(r.Value) != string(w.Value) || (r.Value == nil) != (w.Value == nil) {
			return fmt.Errorf("record %d: offset %d %q=%q, want offset %d %q=%q", i, r.Offset, r.Key, r.Value, w.Offset, w.Key, w.Value)
		}
	}
	if !sawLastTail {
		return fmt.Errorf("the latest tail record (offset %d) is missing", hw-1)
	}
	return nil
}

// TestCompaction: on a 3-replica compacted topic every replica compacts
// its own sealed segments down to the latest record per key (plus keyless
// records and a tombstone still within delete.retention.ms), offsets and
// the high watermark unchanged and the partition smaller; a fetch at a
// removed offset starts at the next surviving record; the replicas' files
// hold the same records after a restart, and the log goes on.
func TestCompaction(t *testing.T) {
	c := testcluster.New(t, 3)
	// Compression none: the sealed segments are not rewritten to another
	// codec, so the size drop is compaction's alone.
	// It starts with the delete policy so that keyless records can be
	// written: a compacted topic refuses them, as Kafka does, and
	// compaction must keep those written before the policy changed.
	c.CreateTopic(t, "cmp", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 2048, Compression: "none"})
	// A delete-policy twin that must not be compacted.
	c.CreateTopic(t, "plain", engine.TopicConfig{Partitions: 1, ReplicationFactor: 1, SegmentBytes: 2048, Compression: "none"})
	want := compactWorkload(t, c, "cmp")
	compactWorkload(t, c, "plain")
	if _, err := c.Engine(1).AlterTopicConfig(ctxT(t, 10*time.Second), "cmp",
		engine.ConfigChange{Set: map[string]string{"cleanup.policy": "compact"}}, false); err != nil {
		t.Fatal(err)
	}
	// The leader refuses keyless records once its __meta has the change.
	l := c.WaitLeader(t, "cmp", 0, 5*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for policy := ""; policy != "compact"; time.Sleep(10 * time.Millisecond) {
		for _, ti := range c.Engine(l).Metadata().Topics {
			if ti.Name == "cmp" {
				policy = ti.Config.CleanupPolicy
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader %d: cleanup.policy %q 10 s after the change", l, policy)
		}
	}
	if _, err := c.Engine(l).Produce(ctxT(t, 10*time.Second), "cmp", 0, []engine.Record{{Value: []byte("no key")}}); !errors.Is(err, engine.ErrInvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want ErrInvalidRecord", err)
	}

	leader := c.WaitLeader(t, "cmp", 0, 5*time.Second)
	st0, err := c.Engine(leader).PartitionStats("cmp", 0)
	if err != nil {
		t.Fatal(err)
	}
	hw := st0.HighWatermark
	waitReplicasCaughtUp(t, c, "cmp", 0, hw)

	// Every replica compacts its own copy: its size ends below half of the
	// delete-policy twin's, which holds the same records uncompacted; and
	// the leader serves the compacted content.
	pst, err := c.Engine(c.WaitLeader(t, "plain", 0, 5*time.Second)).PartitionStats("plain", 0)
	if err != nil {
		t.Fatal(err)
	}
	if pst.HighWatermark != hw {
		t.Fatalf("plain high watermark %d, cmp %d", pst.HighWatermark, hw)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		var lastErr error
		leader = c.WaitLeader(t, "cmp", 0, 5*time.Second)
		lastErr = checkCompacted(fetchAll(t, c.Engine(leader), "cmp", 0), want, hw)
		for _, i := range c.Running() {
			st, err := c.Engine(i).PartitionStats("cmp", 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.HighWatermark != hw || st.LogStartOffset != 0 {
				t.Fatalf("engine %d: high watermark %d log start %d, want %d 0", i, st.HighWatermark, st.LogStartOffset, hw)
			}
			if time.Now().After(deadline) {
				t.Logf("engine %d: %+v", i, st)
			}
			if lastErr == nil && st.SizeBytes > pst.SizeBytes/2 {
				lastErr = fmt.Errorf("engine %d: size %d, uncompacted %d", i, st.SizeBytes, pst.SizeBytes)
			}
		}
		if lastErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted: %v", lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A fetch at a removed offset (k0's first record) starts with the
	// batch that covered it and yields the next surviving record.
	fr, err := c.Engine(leader).Fetch(ctxT(t, 10*time.Second), "cmp", 0, 0, engine.FetchOptions{MaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); len(fr.Batches) > 0; {
		recs, err := fr.Records()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			if recs[0].Offset != want[0].Offset {
				t.Fatalf("fetch from 0: first record at %d, want %d", recs[0].Offset, want[0].Offset)
			}
			break
		}
		// An emptied batch: continue after it, as a consumer does.
		off = nextOffset(t, fr.Batches)
		if fr, err = c.Engine(leader).Fetch(ctxT(t, 10*time.Second), "cmp", 0, off, engine.FetchOptions{MaxBytes: 1}); err != nil {
			t.Fatal(err)
		}
	}

	// The delete-policy topic keeps everything.
	pl := c.WaitLeader(t, "plain", 0, 5*time.Second)
	if got := fetchAll(t, c.Engine(pl), "plain", 0); int64(len(got)) != hw {
		t.Fatalf("plain: %d records, want every one of %d", len(got), hw)
	}

	// Stop everything and read each replica's files: each holds the
	// compacted records; then restart and go on.
	for _, i := range c.Running() {
		c.Stop(i)
	}
	reps := replicaBatches(t, c, "cmp", 0)
	if len(reps) != 3 {
		t.Fatalf("%d replicas on disk", len(reps))
	}
	for i, b := range reps {
		recs, err := engine.DecodeBatches(b)
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		if err := checkCompacted(recs, want, hw); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	c.RestartAll()
	leader = c.WaitLeader(t, "cmp", 0, 10*time.Second)
	got := fetchAll(t, c.Engine(leader), "cmp", 0)
	if err := checkCompacted(got, want, hw); err != nil {
		// Say what the leader served, to tell a short read from a lost record.
		st, _ := c.Engine(leader).PartitionStats("cmp", 0)
		var last []int64
		for _, r := range got[max(0, len(got)-5):] {
			last = append(last, r.Offset)
		}
		t.Fatalf("after restart: %v (leader %d: %+v; last offsets read %v)", err, leader, st, last)
	}
	res := produceLeader(t, c, "cmp", 0, []engine.Record{{Key: []byte("after"), Value: []byte("x")}})
	if res.BaseOffset != hw {
		t.Fatalf("produce after restart at %d, want %d", res.BaseOffset, hw)
	}
	waitReplicasCaughtUp(t, c, "cmp", 0, hw+1)
	// Every replica, restarted on its compacted files, applied the next
	// entry after them and holds the same records.
	for _, i := range c.Running() {
		c.Stop(i)
	}
	want = append(want, engine.Record{Key: []byte("after"), Value: []byte("x"), Offset: hw})
	for i, b := range replicaBatches(t, c, "cmp", 0) {
		recs, err := engine.DecodeBatches(b)
		if err != nil {
			t.Fatalf("replica %d after restart: %v", i, err)
		}
		if err := checkCompacted(recs, want, hw); err != nil {
			t.Fatalf("replica %d after restart: %v", i, err)
		}
	}
}
