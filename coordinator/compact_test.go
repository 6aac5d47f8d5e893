package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
)

// TestGroupCompaction: many commits of few keys are compacted to the live
// records (the log start moves past the rest) and a reload after the
// compaction rebuilds the same offsets; deleted groups stay deleted.
func TestGroupCompaction(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	commitStandalone(t, c, "compacted") // creates the topic and the group
	commitStandalone(t, c, "deleted")
	cp, e := c.partitionOf("compacted")
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
	if code := c.DeleteGroup("deleted"); code != nil {
		t.Fatalf("delete: %v", code)
	}
	if _, _, err := cp.compactIfNeeded(context.Background(), c.be, OffsetsTopic, cp.p, cp.txnPending); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, err := cl.Engine(1).ListOffsets(ctx, OffsetsTopic, cp.p, engine.Earliest)
	if err != nil {
		t.Fatal(err)
	}
	if start.Offset < 1500 {
		t.Fatalf("log start %d after compaction, want past the 1500 overwritten commits", start.Offset)
	}
	cp = reload(t, c, "compacted")
	offs, e := c.FetchOffsets("compacted", nil, false)
	if e != nil || len(offs) != 1 || len(offs[0].Partitions) != 10 {
		t.Fatalf("after compaction and reload: %+v %v", offs, e)
	}
	for _, p := range offs[0].Partitions {
		if want := int64(1400 + 90 + p.Partition); p.Offset != want {
			t.Errorf("partition %d at %d, want %d", p.Partition, p.Offset, want)
		}
	}
	if d, _ := c.DescribeGroup("deleted"); d.State != "Dead" {
		t.Error("deleted group came back after compaction")
	}
	cp.liveMu.Lock()
	defer cp.liveMu.Unlock()
	if cp.written > 20 {
		t.Errorf("%d records replayed after compaction, want the ~11 live ones and markers", cp.written)
	}
}
