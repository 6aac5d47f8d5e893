package engine_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// brokerIDs returns the brokers engine i's Metadata lists.
func brokerIDs(c *testcluster.Cluster, i int) []uint64 {
	var ids []uint64
	for _, b := range c.Engine(i).Metadata().Brokers {
		ids = append(ids, b.ID)
	}
	slices.Sort(ids)
	return ids
}

// waitReassigned waits until engine 1 shows partition 0 of topic on
// exactly brokers, in order, with no reassignment in progress.
func waitReassigned(t *testing.T, c *testcluster.Cluster, topic string, brokers []uint64) {
	t.Helper()
	waitUntil(t, 20*time.Second, "reassignment of "+topic+" done", func() bool {
		return len(c.Engine(1).ListReassignments(topic)) == 0 && slices.Equal(partitionReplicas(c, 1, topic), brokers)
	})
}

// A three-broker cluster grows to four (the new broker joins with
// Config.Join, its address reaching every registry through __meta), a
// partition moves onto the new broker and back, the broker is removed, and
// the records survive. Removal is refused while the broker holds a replica,
// a removed id cannot come back, and an addition or a removal that would
// leave __meta without a reachable quorum is refused.
func TestGrowAndShrinkCluster(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "grow", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	c.WaitLeader(t, "grow", 0, 5*time.Second)
	produceLeader(t, c, "grow", 0, records("a", 20))

	n := c.AddEngine(t)
	if n != 4 {
		t.Fatalf("added engine %d, want 4", n)
	}
	for i := 1; i <= 4; i++ {
		waitUntil(t, 10*time.Second, "four brokers in Metadata", func() bool { return slices.Equal(brokerIDs(c, i), []uint64{1, 2, 3, 4}) })
	}

	if err := c.Engine(2).ReassignPartition(ctxT(t, 10*time.Second), "grow", 0, []uint64{4, 1, 2}); err != nil {
		t.Fatalf("reassign onto the new broker: %v", err)
	}
	waitReassigned(t, c, "grow", []uint64{4, 1, 2})
	produceLeader(t, c, "grow", 0, records("b", 20))
	if _, ok := localReplica(c, 4, "grow"); !ok {
		t.Fatal("the new broker hosts no replica after the reassignment")
	}

	err := c.Engine(1).RemoveBroker(ctxT(t, 10*time.Second), 4)
	if !errors.Is(err, engine.ErrBrokerHasReplicas) {
		t.Fatalf("remove a broker holding a replica: %v, want ErrBrokerHasReplicas", err)
	}
	if err := c.Engine(1).ReassignPartition(ctxT(t, 10*time.Second), "grow", 0, []uint64{1, 2, 3}); err != nil {
		t.Fatalf("reassign off the new broker: %v", err)
	}
	waitReassigned(t, c, "grow", []uint64{1, 2, 3})

	if err := c.Engine(1).RemoveBroker(ctxT(t, 20*time.Second), 4); err != nil {
		t.Fatalf("remove broker 4: %v", err)
	}
	select {
	case <-c.Engine(4).Removed():
	case <-time.After(10 * time.Second):
		t.Fatal("broker 4 did not see itself removed")
	}
	c.Stop(4)
	for i := 1; i <= 3; i++ {
		waitUntil(t, 10*time.Second, "three brokers in Metadata", func() bool { return slices.Equal(brokerIDs(c, i), []uint64{1, 2, 3}) })
		if u := c.Engine(i).UnknownRaftTargets(); u != 0 {
			t.Errorf("engine %d: %d raft messages without an address", i, u)
		}
	}
	l := c.WaitLeader(t, "grow", 0, 5*time.Second)
	if got := fetchAll(t, c.Engine(l), "grow", 0); len(got) != 40 {
		t.Errorf("read %d records after the shrink, want 40", len(got))
	}
	if err := c.Engine(2).AddBroker(ctxT(t, 10*time.Second), 4, "127.0.0.1:1"); !errors.Is(err, engine.ErrBrokerRemoved) {
		t.Errorf("add removed broker 4 again: %v, want ErrBrokerRemoved", err)
	}

	// With broker 3 down, a fourth voter would make __meta need all of
	// 1, 2 and the new one, which has not started.
	c.Kill(3)
	waitUntil(t, 10*time.Second, "broker 3 unreachable", func() bool {
		return slices.Contains(c.Engine(1).RaftStats().UnreachablePeers, 3)
	})
	if err := c.Engine(1).AddBroker(ctxT(t, 10*time.Second), 5, "127.0.0.1:2"); !errors.Is(err, engine.ErrMetaQuorum) {
		t.Errorf("add a broker with a voter down: %v, want ErrMetaQuorum", err)
	}
	if err := c.Engine(1).RemoveBroker(ctxT(t, 10*time.Second), 9); !errors.Is(err, engine.ErrUnknownBroker) {
		t.Errorf("remove an unknown broker: %v, want ErrUnknownBroker", err)
	}
	// Broker 2 holds no replica once the topic is gone, but with 3 down
	// __meta would be left with broker 1 alone of {1, 3}.
	if err := c.Engine(1).DeleteTopic(ctxT(t, 10*time.Second), "grow"); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	if err := c.Engine(1).RemoveBroker(ctxT(t, 10*time.Second), 2); !errors.Is(err, engine.ErrMetaQuorum) {
		t.Errorf("remove a broker with another voter down: %v, want ErrMetaQuorum", err)
	}
}

// A removal cut short after __meta recorded it (the driver stopped) is
// finished by __meta's leader: the broker leaves __meta's Raft group and
// every registry, and the removed broker sees itself removed.
func TestBrokerRemovalResumes(t *testing.T) {
	// Not parallel: it changes a package setting every engine reads.
	old := engine.SetRemovalResumeDelay(200 * time.Millisecond)
	t.Cleanup(func() { engine.SetRemovalResumeDelay(old) })
	c := testcluster.New(t, 3)
	n := c.AddEngine(t)
	if err := c.Engine(1).MarkBrokerRemoved(ctxT(t, 10*time.Second), uint64(n)); err != nil {
		t.Fatalf("record the removal: %v", err)
	}
	select {
	case <-c.Engine(n).Removed():
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not see itself removed")
	}
	c.Stop(n)
	waitUntil(t, 15*time.Second, "broker 4 out of __meta's raft group", func() bool {
		v, err := c.Engine(2).MetaVoters(ctxT(t, 5*time.Second))
		return err == nil && slices.Equal(v, []uint64{1, 2, 3})
	})
	for i := 1; i <= 3; i++ {
		waitUntil(t, 10*time.Second, "broker 4 out of every registry", func() bool {
			_, ok := c.Engine(i).RegistryAddr(uint64(n))
			return !ok
		})
	}
	for i := 1; i <= 3; i++ {
		waitUntil(t, 10*time.Second, "three brokers in Metadata", func() bool { return slices.Equal(brokerIDs(c, i), []uint64{1, 2, 3}) })
	}
}

// A one-broker cluster grows to two (the joining broker's Raft port
// answers before it asks to be added, so it counts towards the quorum of
// the two-voter __meta) and topics can have two replicas; then it shrinks
// back to one.
func TestGrowOneBrokerToTwo(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 1)
	n := c.AddEngine(t)
	for i := 1; i <= n; i++ {
		waitUntil(t, 10*time.Second, "two brokers in Metadata", func() bool { return slices.Equal(brokerIDs(c, i), []uint64{1, 2}) })
	}
	c.CreateTopic(t, "two", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	c.WaitLeader(t, "two", 0, 5*time.Second)
	produceLeader(t, c, "two", 0, records("x", 10))
	if got := fetchAll(t, c.Engine(c.WaitLeader(t, "two", 0, 5*time.Second)), "two", 0); len(got) != 10 {
		t.Errorf("read %d records, want 10", len(got))
	}

	// And back to one: the leaving broker's vote commits its own removal
	// from the two-voter __meta.
	if err := c.Engine(1).ReassignPartition(ctxT(t, 10*time.Second), "two", 0, []uint64{1}); err != nil {
		t.Fatalf("reassign onto broker 1: %v", err)
	}
	waitReassigned(t, c, "two", []uint64{1})
	if err := c.Engine(1).RemoveBroker(ctxT(t, 20*time.Second), 2); err != nil {
		t.Fatalf("remove broker 2 of 2: %v", err)
	}
	select {
	case <-c.Engine(2).Removed():
	case <-time.After(15 * time.Second):
		t.Fatal("broker 2 did not see itself removed")
	}
	c.Stop(2)
	waitUntil(t, 10*time.Second, "one broker in Metadata", func() bool { return slices.Equal(brokerIDs(c, 1), []uint64{1}) })
	produceLeader(t, c, "two", 0, records("y", 5))
	if got := fetchAll(t, c.Engine(1), "two", 0); len(got) != 15 {
		t.Errorf("read %d records on the last broker, want 15", len(got))
	}
}
