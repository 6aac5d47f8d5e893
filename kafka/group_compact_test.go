package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// reloadPartition unloads the partition coordinating group and waits until
// the watcher has loaded it again from the log, as a new leader would.
func reloadPartition(t testing.TB, s *Server, group string) *coordPartition {
	t.Helper()
	c := s.groups
	cp, e := c.partitionOf(group)
	if e != nil {
		t.Fatal(e)
	}
	c.mu.Lock()
	delete(c.parts, cp.p)
	c.mu.Unlock()
	cp.unload()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if cp, e := c.partitionOf(group); e == nil {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatal("partition not reloaded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGroupCompaction: many commits of few keys are compacted to the live
// records (the log start moves past the rest) and a reload after the
// compaction rebuilds the same offsets; deleted groups stay deleted.
func TestGroupCompaction(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	kc.CreateTopic(t, "t", engine.TopicConfig{Partitions: 1})
	rc := dialRaw(t, kc.addrs[1])
	commitStandalone(t, rc, "compacted") // creates the topic and the group
	commitStandalone(t, rc, "deleted")
	s := kc.servers[1]
	cp, e := s.groups.partitionOf("compacted")
	if e != nil {
		t.Fatal(e)
	}
	for round := range 15 {
		var recs []engine.Record
		for i := range 100 {
			recs = append(recs, offsetRecord("compacted", "t", int32(i%10), &offsetCommit{offset: int64(round*100 + i), committed: time.Now()}))
		}
		if err := cp.write(recs...); err != nil {
			t.Fatal(err)
		}
	}
	if code := s.groups.deleteGroup("deleted"); code.Code != 0 {
		t.Fatalf("delete: %v", code)
	}
	if err := cp.compactIfNeeded(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, err := kc.Engine(1).ListOffsets(ctx, OffsetsTopic, cp.p, engine.Earliest)
	if err != nil {
		t.Fatal(err)
	}
	if start.Offset < 1500 {
		t.Fatalf("log start %d after compaction, want past the 1500 overwritten commits", start.Offset)
	}
	cp = reloadPartition(t, s, "compacted")
	offs, e := s.groups.fetchOffsets("compacted", nil)
	if e != nil || len(offs) != 1 || len(offs[0].parts) != 10 {
		t.Fatalf("after compaction and reload: %+v %v", offs, e)
	}
	for _, p := range offs[0].parts {
		if want := int64(1400 + 90 + p.partition); p.offset != want {
			t.Errorf("partition %d at %d, want %d", p.partition, p.offset, want)
		}
	}
	if _, _, _, ok := kc.groupState("deleted"); ok {
		t.Error("deleted group came back after compaction")
	}
	cp.liveMu.Lock()
	defer cp.liveMu.Unlock()
	if cp.written > 20 {
		t.Errorf("%d records replayed after compaction, want the ~11 live ones and markers", cp.written)
	}
}
