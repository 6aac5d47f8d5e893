package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// While free disk space is below Config.MinFreeBytes, produce is refused
// with ErrStorage and nothing is written; reads go on, and once the space is
// there again produce resumes at the next offset.
func TestDiskGuardRefusesProduce(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "guarded", engine.TopicConfig{Partitions: 1})
	produceLeader(t, c, "guarded", 0, records("before", 10))
	if free := c.Engine(1).DiskFreeBytes(); free <= 0 {
		t.Fatalf("DiskFreeBytes = %d, want the free space of the data dir", free)
	}

	// More free space required than any disk has: the disk counts as full.
	c.Reconfigure(1, func(cfg *engine.Config) { cfg.MinFreeBytes = 1 << 62 })
	c.Restart(1)
	c.WaitLeader(t, "guarded", 0, 10*time.Second)
	_, err := c.Engine(1).Produce(ctxT(t, 10*time.Second), "guarded", 0, records("refused", 1))
	if !errors.Is(err, engine.ErrStorage) {
		t.Fatalf("produce with the disk below the minimum: %v, want ErrStorage", err)
	}
	if got := fetchAll(t, c.Engine(1), "guarded", 0); len(got) != 10 {
		t.Fatalf("fetch with the disk below the minimum: %d records, want 10", len(got))
	}

	c.Reconfigure(1, func(cfg *engine.Config) { cfg.MinFreeBytes = 0 }) // default
	c.Restart(1)
	res := produceLeader(t, c, "guarded", 0, records("after", 1))
	if res.BaseOffset != 10 {
		t.Fatalf("produce after space is back: base offset %d, want 10", res.BaseOffset)
	}
}

// A follower low on disk stops intake on its partitions' leaders too (so it
// never has to apply a write it cannot store), while partitions without a
// replica on it go on; once it has room again, intake resumes.
func TestDiskGuardFollower(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "wide", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	c.CreateTopic(t, "single", engine.TopicConfig{Partitions: 3, ReplicationFactor: 1})
	var elsewhere int32 = -1 // a partition of "single" not on broker 3
	for _, ti := range c.Engine(1).Metadata().Topics {
		if ti.Name == "single" {
			for _, p := range ti.Partitions {
				if p.Replicas[0] != 3 {
					elsewhere = p.Partition
				}
			}
		}
	}
	produceLeader(t, c, "wide", 0, records("before", 1))

	c.Reconfigure(3, func(cfg *engine.Config) { cfg.MinFreeBytes = 1 << 62 })
	c.Restart(3)
	// Leadership of "wide" may stay on 1 or 2 (or move to 3): either way
	// its leader refuses once broker 3's report reaches __meta.
	deadline := time.Now().Add(15 * time.Second)
	for {
		l := c.WaitLeader(t, "wide", 0, 10*time.Second)
		_, err := c.Engine(l).Produce(ctxT(t, 5*time.Second), "wide", 0, records("refused", 1))
		if errors.Is(err, engine.ErrStorage) {
			t.Logf("leader %d refuses: %v", l, err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce to a partition with a replica on a broker low on disk: %v, want ErrStorage", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	produceLeader(t, c, "single", elsewhere, records("elsewhere", 1))

	c.Reconfigure(3, func(cfg *engine.Config) { cfg.MinFreeBytes = 0 })
	c.Restart(3)
	produceLeader(t, c, "wide", 0, records("after", 1))
}
