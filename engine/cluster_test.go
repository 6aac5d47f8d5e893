package engine_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestThreeNodeFailover: RF=3, produce on the leader, stop the leader, a new
// leader within 3 s, produce continues, the old leader restarts and catches
// up; at the end every replica's segments hold identical batches.
func TestThreeNodeFailover(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "fo", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	for i := 0; i < 50; i++ {
		produceLeader(t, c, "fo", 0, records(fmt.Sprintf("a%d", i), 10))
	}
	old := c.WaitLeader(t, "fo", 0, 5*time.Second)
	md := c.Engine(old).Metadata()
	if got := md.Topics[0].Partitions[0]; len(got.Replicas) != 3 || got.Leader != uint64(old) {
		t.Fatalf("metadata %+v, leader %d", got, old)
	}
	c.Kill(old)
	t0 := time.Now()
	next := c.WaitLeader(t, "fo", 0, 3*time.Second)
	t.Logf("new leader %d after %v", next, time.Since(t0))
	for i := 0; i < 50; i++ {
		produceLeader(t, c, "fo", 0, records(fmt.Sprintf("b%d", i), 10))
	}
	c.Restart(old)
	for i := 0; i < 20; i++ {
		produceLeader(t, c, "fo", 0, records(fmt.Sprintf("c%d", i), 10))
	}
	l := c.WaitLeader(t, "fo", 0, 5*time.Second)
	recs := fetchAll(t, c.Engine(l), "fo", 0)
	if len(recs) != 1200 {
		t.Fatalf("%d records, want 1200", len(recs))
	}
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
	}
	waitReplicasCaughtUp(t, c, "fo", 0, 1200)
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "fo", 0), 3)

	// A full-cluster restart keeps everything and elects a leader again.
	c.RestartAll()
	l = c.WaitLeader(t, "fo", 0, 10*time.Second)
	if got := len(fetchAll(t, c.Engine(l), "fo", 0)); got != 1200 {
		t.Fatalf("%d records after a full restart, want 1200", got)
	}
	if res := produceLeader(t, c, "fo", 0, records("d", 1)); res.BaseOffset != 1200 {
		t.Fatalf("produce after a full restart at %d, want 1200", res.BaseOffset)
	}
}

// waitReplicasCaughtUp waits until every running engine's replica of the
// partition holds hw records (its log end, read from the segment files),
// and checks that Watch agrees.
func waitReplicasCaughtUp(t *testing.T, c *testcluster.Cluster, topic string, p int32, hw int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, i := range c.Running() {
		for {
			st, err := c.Engine(i).PartitionStats(topic, p)
			if err == nil && st.HighWatermark == hw {
				break
			}
			if time.Now().After(deadline) {
				for _, j := range c.Running() {
					st, err := c.Engine(j).PartitionStats(topic, p)
					t.Logf("engine %d: %+v %v", j, st, err)
				}
				t.Fatalf("engine %d did not reach high watermark %d", i, hw)
			}
			time.Sleep(10 * time.Millisecond)
		}
		ch, err := c.Engine(i).Watch(topic, p, hw-1)
		if err != nil {
			t.Fatalf("watch on %d: %v", i, err)
		}
		select {
		case <-ch:
		default:
			t.Fatalf("engine %d: Watch(%d) not closed at high watermark %d", i, hw-1, hw)
		}
	}
}

// TestSnapshotCatchUp: with a tiny snapshot interval and compaction
// overhead, a follower that was down while the log moved on catches up
// from a streamed snapshot of the segments.
func TestSnapshotCatchUp(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SnapshotEntries = 10
		cfg.CompactionOverhead = 2
	}))
	c.CreateTopic(t, "snap", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 16 << 10})
	for i := 0; i < 20; i++ {
		produceLeader(t, c, "snap", 0, records(fmt.Sprintf("a%d", i), 20))
	}
	l := c.WaitLeader(t, "snap", 0, 5*time.Second)
	down := l%3 + 1
	c.Stop(down)
	for i := 0; i < 100; i++ {
		produceLeader(t, c, "snap", 0, records(fmt.Sprintf("b%d", i), 20))
	}
	c.Restart(down)
	waitReplicasCaughtUp(t, c, "snap", 0, 2400)
	for i := 0; i < 5; i++ {
		produceLeader(t, c, "snap", 0, records(fmt.Sprintf("c%d", i), 20))
	}
	waitReplicasCaughtUp(t, c, "snap", 0, 2500)
	st, err := c.Engine(down).PartitionStats("snap", 0)
	if err != nil || st.SnapshotsRecovered == 0 || st.HighWatermark != 2500 {
		t.Fatalf("restarted follower %d: %+v, %v; want a recovered snapshot", down, st, err)
	}
	t.Logf("follower %d after catch-up: %+v", down, st)
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "snap", 0), 3)
}

// TestLateShardAndJoin: a partition created after the others and a replica
// added to a running partition exchange messages without a single
// unresolvable Raft target.
func TestLateShardAndJoin(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "early", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	produceLeader(t, c, "early", 0, records("e", 10))
	c.CreateTopic(t, "late", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	for i := 0; i < 10; i++ {
		produceLeader(t, c, "late", 0, records(fmt.Sprintf("l%d", i), 10))
	}
	md := c.Engine(1).Metadata()
	var reps []uint64
	for _, ti := range md.Topics {
		if ti.Name == "late" {
			reps = ti.Partitions[0].Replicas
		}
	}
	if len(reps) != 2 {
		t.Fatalf("late replicas %v", reps)
	}
	var outsider uint64
	for id := uint64(1); id <= 3; id++ {
		if id != reps[0] && id != reps[1] {
			outsider = id
		}
	}
	if err := c.Engine(int(reps[0])).AddReplica(ctxT(t, 10*time.Second), "late", 0, outsider); err != nil {
		t.Fatalf("add replica on %d: %v", outsider, err)
	}
	for i := 0; i < 10; i++ {
		produceLeader(t, c, "late", 0, records(fmt.Sprintf("m%d", i), 10))
	}
	waitReplicasCaughtUp(t, c, "late", 0, 200)
	if err := c.Engine(int(reps[0])).AddReplica(ctxT(t, 10*time.Second), "late", 0, outsider); !errors.Is(err, engine.ErrInvalidReplicationFactor) {
		t.Fatalf("adding it twice: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if n := c.Engine(i).UnknownRaftTargets(); n != 0 {
			t.Fatalf("engine %d: %d unknown raft targets", i, n)
		}
	}
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "late", 0), 3)
}

// TestIsolateLeader: the leader of a partition is cut off from the others;
// with CheckQuorum it stops leading, the majority elects a new leader within
// 3 s and keeps accepting produces; after Heal the old leader catches up and
// every replica holds identical batches.
func TestIsolateLeader(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithFaults())
	c.CreateTopic(t, "iso", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	for i := 0; i < 20; i++ {
		produceLeader(t, c, "iso", 0, records(fmt.Sprintf("a%d", i), 10))
	}
	old := c.WaitLeader(t, "iso", 0, 5*time.Second)
	c.Isolate(old)
	t0 := time.Now()
	var next int
	for next == 0 || next == old {
		if time.Since(t0) > 3*time.Second {
			t.Fatalf("no new leader 3 s after isolating %d", old)
		}
		for _, i := range c.Running() {
			if i == old {
				continue
			}
			if st, err := c.Engine(i).PartitionStats("iso", 0); err == nil && st.IsLeader {
				next = i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("isolated %d, new leader %d after %v", old, next, time.Since(t0))
	// The majority keeps accepting produces. On a loaded machine it may
	// elect again meanwhile, so follow a NOT_LEADER to the engine it names.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 20; {
		_, err := c.Engine(next).Produce(ctxT(t, 5*time.Second), "iso", 0, records(fmt.Sprintf("b%d", i), 10))
		var nl *engine.NotLeaderError
		switch {
		case err == nil:
			i++
		case time.Now().After(deadline):
			t.Fatalf("produce on the majority side (engine %d): %v", next, err)
		case errors.As(err, &nl) && nl.Leader != 0 && int(nl.Leader) != old:
			t.Logf("leadership moved from %d to %d within the majority", next, nl.Leader)
			next = int(nl.Leader)
		case errors.Is(err, engine.ErrNotReady) || errors.As(err, &nl):
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("produce on the majority side (engine %d): %v", next, err)
		}
	}
	// The isolated replica cannot commit anything.
	_, err := c.Engine(old).Produce(ctxT(t, 2*time.Second), "iso", 0, records("lost", 1))
	if err == nil {
		t.Fatal("an isolated replica acknowledged a produce")
	}
	c.Heal()
	waitReplicasCaughtUp(t, c, "iso", 0, 400)
	l := c.WaitLeader(t, "iso", 0, 5*time.Second)
	recs := fetchAll(t, c.Engine(l), "iso", 0)
	if len(recs) != 400 {
		t.Fatalf("%d records after heal, want 400", len(recs))
	}
	for _, r := range recs {
		if string(r.Key) == "lost" {
			t.Fatal("a record produced on the isolated replica is in the log")
		}
	}
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "iso", 0), 3)
}

// TestProduceInFlightOnDeposedLeader: a produce proposed on a leader that is
// then cut off cannot commit; once that replica stops leading it answers a
// retriable error (NOT_LEADER or not ready) rather than holding the client
// until its request times out, so the client retries on the new leader.
func TestProduceInFlightOnDeposedLeader(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithFaults())
	c.CreateTopic(t, "deposed", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	produceLeader(t, c, "deposed", 0, records("warm", 5))
	old := c.WaitLeader(t, "deposed", 0, 5*time.Second)
	c.Isolate(old)
	defer c.Heal()
	const timeout = 20 * time.Second
	start := time.Now()
	_, err := c.Engine(old).Produce(ctxT(t, timeout), "deposed", 0, records("cut", 1))
	took := time.Since(start)
	var nl *engine.NotLeaderError
	if !errors.As(err, &nl) && !errors.Is(err, engine.ErrNotReady) {
		t.Fatalf("produce on the isolated leader after %v: %v; want NOT_LEADER or not ready", took, err)
	}
	if took > timeout/2 {
		t.Fatalf("produce on the isolated leader answered after %v, near its %v timeout", took, timeout)
	}
	t.Logf("isolated leader %d answered %v after %v", old, err, took)
}
