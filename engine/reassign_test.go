package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// partitionReplicas returns topic partition 0's replica brokers as engine
// i's Metadata shows them.
func partitionReplicas(c *testcluster.Cluster, i int, topic string) []uint64 {
	md := c.Engine(i).Metadata(topic)
	if len(md.Topics) == 0 || len(md.Topics[0].Partitions) == 0 {
		return nil
	}
	return md.Topics[0].Partitions[0].Replicas
}

// localReplica returns engine i's status of its replica of topic partition
// 0, or false if it hosts none.
func localReplica(c *testcluster.Cluster, i int, topic string) (engine.ReplicaStatus, bool) {
	for _, rs := range c.Engine(i).LocalReplicas(false) {
		if rs.Topic == topic && rs.Partition == 0 {
			return rs, true
		}
	}
	return engine.ReplicaStatus{}, false
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A partition of RF 3 on four brokers moves off its preferred leader (which
// leads it, so leadership must be handed over) onto the fourth broker while
// a producer writes to it without pause. Afterwards Metadata shows the
// target, the old broker hosts no replica and has deleted its files, the new
// one holds the same high watermark as the leader, every acknowledged
// record is readable at its offset from the new leader, and no produce
// waited as long as a stalled leader transfer lasts.
func TestReassignPartitionUnderLoad(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 4)
	c.CreateTopic(t, "mv", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	c.WaitLeader(t, "mv", 0, 5*time.Second)
	old := partitionReplicas(c, 1, "mv")
	leaving := int(old[0])
	dest := 0
	for b := 1; b <= 4; b++ {
		if !slices.Contains(old, uint64(b)) {
			dest = b
		}
	}
	target := append(slices.Clone(old[1:]), uint64(dest))
	// The preferred leader takes over right after creation; wait for it so
	// that the move has to hand leadership away.
	waitUntil(t, 5*time.Second, "the preferred replica to lead", func() bool { return c.Leader("mv", 0) == leaving })

	var mu sync.Mutex
	acked := map[int64]string{} // offset -> value
	var slowest time.Duration   // longest wait for one acknowledgement, retries included
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		asked := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l := c.Leader("mv", 0)
			if l == 0 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			v := fmt.Sprintf("rec-%06d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := c.Engine(l).Produce(ctx, "mv", 0, []engine.Record{{Value: []byte(v)}})
			cancel()
			if err != nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			mu.Lock()
			acked[res.BaseOffset] = v
			slowest = max(slowest, time.Since(asked))
			mu.Unlock()
			asked = time.Now()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitUntil(t, 5*time.Second, "writes before the move", func() bool { return count() >= 50 })

	start := time.Now()
	if err := c.Engine(dest).ReassignPartition(ctxT(t, 10*time.Second), "mv", 0, target); err != nil {
		t.Fatalf("reassign %v -> %v: %v", old, target, err)
	}
	before := count()
	if rs := c.Engine(2).ListReassignments("mv"); len(rs) == 1 {
		if !slices.Equal(rs[0].Target, target) || !slices.Contains(rs[0].Removing, uint64(leaving)) {
			t.Errorf("listed reassignment %+v, want target %v removing %d", rs[0], target, leaving)
		}
	}
	waitUntil(t, 20*time.Second, "the reassignment to finish", func() bool {
		for i := 1; i <= 4; i++ {
			if len(c.Engine(i).ListReassignments()) != 0 || !slices.Equal(partitionReplicas(c, i, "mv"), target) {
				return false
			}
		}
		return true
	})
	t.Logf("moved %v -> %v in %v; %d records acknowledged during the move", old, target, time.Since(start).Round(time.Millisecond), count()-before)
	waitUntil(t, 5*time.Second, "writes after the move", func() bool { return count() >= before+50 })
	close(stop)
	<-done

	waitUntil(t, 10*time.Second, fmt.Sprintf("broker %d to drop its replica and files", leaving), func() bool {
		_, ok := localReplica(c, leaving, "mv")
		dirs, _ := filepath.Glob(filepath.Join(c.Config(leaving).DataDir, "partitions", "mv-0.*"))
		return !ok && len(dirs) == 0
	})
	leader := c.WaitLeader(t, "mv", 0, 5*time.Second)
	if leader == leaving {
		t.Fatalf("the removed broker %d still leads", leaving)
	}
	var lhw, dhw int64
	waitUntil(t, 10*time.Second, "the new replica to reach the leader's high watermark", func() bool {
		l, ok1 := localReplica(c, leader, "mv")
		d, ok2 := localReplica(c, dest, "mv")
		lhw, dhw = l.HighWatermark, d.HighWatermark
		return ok1 && ok2 && lhw == dhw && lhw > 0
	})
	got := map[int64]string{}
	for _, r := range fetchAll(t, c.Engine(leader), "mv", 0) {
		got[r.Offset] = string(r.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	for off, v := range acked {
		if got[off] != v {
			t.Errorf("acknowledged record %q at offset %d reads as %q", v, off, got[off])
		}
	}
	t.Logf("%d acknowledged records all read back; high watermark %d on leader %d and new replica %d; longest wait for an acknowledgement %v",
		len(acked), lhw, leader, dest, slowest.Round(time.Millisecond))
	// A hand-over that stalls ends when dragonboat aborts the transfer,
	// after an election timeout (here 0.5-1 s), with every proposal dropped
	// meanwhile; the quiesced hand-over takes about 150 ms.
	if slowest > 950*time.Millisecond {
		t.Errorf("produce waited %v for an acknowledgement during the move: the leader hand-over stalled", slowest)
	}
}

// Requests that cannot be accepted get their sentinel; a reassignment that
// cannot finish (its destination is down) is listed with its adding and
// removing brokers, and cancelling it moves the partition back onto the
// original brokers, which then take writes; a reorder of the same brokers
// finishes at once with the new preferred leader.
func TestReassignValidateAndCancel(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 4)
	c.CreateTopic(t, "cx", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	c.WaitLeader(t, "cx", 0, 5*time.Second)
	old := partitionReplicas(c, 1, "cx")
	down := 0
	for b := 1; b <= 4; b++ {
		if !slices.Contains(old, uint64(b)) {
			down = b
		}
	}
	e := c.Engine(int(old[0]))
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		brokers   []uint64
		want      error
	}{
		{"unknown topic", "nope", 0, []uint64{1, 2, 3}, engine.ErrUnknownTopic},
		{"unknown partition", "cx", 1, []uint64{1, 2, 3}, engine.ErrUnknownPartition},
		{"no replicas", "cx", 0, []uint64{}, engine.ErrInvalidReplicaAssignment},
		{"duplicate", "cx", 0, []uint64{1, 1, 2}, engine.ErrInvalidReplicaAssignment},
		{"unknown broker", "cx", 0, []uint64{1, 2, 9}, engine.ErrInvalidReplicaAssignment},
		{"cancel of nothing", "cx", 0, nil, engine.ErrNoReassignmentInProgress},
	} {
		if err := e.ReassignPartition(ctxT(t, 5*time.Second), tc.topic, tc.partition, tc.brokers); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if rs := e.ListReassignments(); len(rs) != 0 {
		t.Fatalf("refused requests left reassignments: %+v", rs)
	}

	c.Kill(down) // still registered: the reassignment is accepted but cannot finish
	target := []uint64{old[0], old[1], uint64(down)}
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "cx", 0, target); err != nil {
		t.Fatalf("reassign to %v: %v", target, err)
	}
	var listed []engine.Reassignment
	waitUntil(t, 10*time.Second, "the new replica to be added", func() bool {
		listed = e.ListReassignments("cx")
		return len(listed) == 1 && len(partitionReplicas(c, int(old[0]), "cx")) == 4
	})
	r := listed[0]
	if !slices.Equal(r.Target, target) || !slices.Equal(r.Adding, []uint64{uint64(down)}) || !slices.Equal(r.Removing, []uint64{old[2]}) ||
		!slices.Equal(r.Replicas, append(slices.Clone(old), uint64(down))) {
		t.Fatalf("listed %+v; want target %v adding [%d] removing [%d]", r, target, down, old[2])
	}
	time.Sleep(500 * time.Millisecond) // several reconcile passes: nothing may be removed before the new replica caught up
	if got := partitionReplicas(c, int(old[0]), "cx"); len(got) != 4 {
		t.Fatalf("replicas %v while the new one cannot catch up", got)
	}
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "cx", 0, nil); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	waitUntil(t, 10*time.Second, "the cancel to finish", func() bool {
		return len(e.ListReassignments()) == 0 && slices.Equal(partitionReplicas(c, int(old[0]), "cx"), old)
	})
	produceLeader(t, c, "cx", 0, records("after-cancel", 3))

	reorder := []uint64{old[2], old[0], old[1]}
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "cx", 0, reorder); err != nil {
		t.Fatalf("reorder: %v", err)
	}
	waitUntil(t, 5*time.Second, "the reorder", func() bool {
		md := e.Metadata("cx").Topics[0].Partitions[0]
		return slices.Equal(md.Replicas, reorder) && md.PreferredLeader == old[2] && len(e.ListReassignments()) == 0
	})
}

// A reassignment away from a broker that is down: the other replicas
// finish it without it (the new replica catches up from a streamed
// snapshot, the Raft log being compacted, and the down one is removed from
// the group), and when the broker comes back it finds its replica moved
// away and deletes its Raft data and files.
func TestReassignOffADownBroker(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 4, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SnapshotEntries = 10
		cfg.CompactionOverhead = 2
	}))
	c.CreateTopic(t, "gone", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 16 << 10})
	c.WaitLeader(t, "gone", 0, 5*time.Second)
	old := partitionReplicas(c, 1, "gone")
	leaving, dest := int(old[0]), 0
	for b := 1; b <= 4; b++ {
		if !slices.Contains(old, uint64(b)) {
			dest = b
		}
	}
	for i := 0; i < 30; i++ {
		produceLeader(t, c, "gone", 0, records(fmt.Sprintf("r%d", i), 20))
	}
	c.Kill(leaving)
	other := int(old[1])
	waitUntil(t, 10*time.Second, fmt.Sprintf("broker %d to see broker %d unreachable", other, leaving), func() bool {
		return !slices.Contains(c.Engine(other).Metadata("gone").Topics[0].Partitions[0].ISR, uint64(leaving))
	})
	target := []uint64{old[1], old[2], uint64(dest)}
	if err := c.Engine(other).ReassignPartition(ctxT(t, 10*time.Second), "gone", 0, target); err != nil {
		t.Fatalf("reassign %v -> %v: %v", old, target, err)
	}
	most := 0 // the dead replica leaves before the new one joins: never 4 voters with 2 alive
	waitUntil(t, 20*time.Second, "the reassignment to finish", func() bool {
		most = max(most, len(partitionReplicas(c, other, "gone")))
		return len(c.Engine(other).ListReassignments()) == 0 && slices.Equal(partitionReplicas(c, other, "gone"), target)
	})
	if most > 3 {
		t.Errorf("the partition had %d replicas during the move: the unreachable one should have left first", most)
	}
	produceLeader(t, c, "gone", 0, records("after", 20))
	leader := c.WaitLeader(t, "gone", 0, 5*time.Second)
	waitUntil(t, 10*time.Second, "the new replica to reach the leader's high watermark", func() bool {
		l, ok1 := localReplica(c, leader, "gone")
		d, ok2 := localReplica(c, dest, "gone")
		return ok1 && ok2 && l.HighWatermark == 620 && d.HighWatermark == 620
	})
	if n := len(fetchAll(t, c.Engine(leader), "gone", 0)); n != 620 {
		t.Fatalf("read %d records from the new leader %d, want 620", n, leader)
	}
	if st, err := c.Engine(dest).PartitionStats("gone", 0); err != nil || st.SnapshotsRecovered == 0 {
		t.Errorf("new replica on broker %d: %+v, %v; want it caught up from a snapshot", dest, st, err)
	}

	dirs := func() []string {
		d, _ := filepath.Glob(filepath.Join(c.Config(leaving).DataDir, "partitions", "gone-0.*"))
		return d
	}
	if len(dirs()) != 1 {
		t.Fatalf("broker %d, down, has replica directories %v; want its old one", leaving, dirs())
	}
	c.Restart(leaving)
	waitUntil(t, 10*time.Second, fmt.Sprintf("broker %d to delete the replica moved away", leaving), func() bool {
		_, ok := localReplica(c, leaving, "gone")
		return !ok && len(dirs()) == 0
	})
}

// With MaxMovingPerBroker 1, a second partition moving onto a broker that
// already receives one waits: its new replica is not added while the first
// one's has not caught up (here never: the broker is down), and is added as
// soon as the first move is cancelled.
func TestReassignThrottle(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 4, testcluster.WithConfig(func(cfg *engine.Config) { cfg.MaxMovingPerBroker = 1 }))
	c.CreateTopic(t, "t1", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	c.CreateTopic(t, "t2", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	c.WaitLeader(t, "t1", 0, 5*time.Second)
	c.WaitLeader(t, "t2", 0, 5*time.Second)
	r1, r2 := partitionReplicas(c, 1, "t1"), partitionReplicas(c, 1, "t2")
	dest := 0
	for b := 1; b <= 4; b++ {
		if !slices.Contains(r1, uint64(b)) && !slices.Contains(r2, uint64(b)) {
			dest = b
		}
	}
	if dest == 0 {
		t.Fatalf("replicas %v and %v leave no broker free", r1, r2)
	}
	c.Kill(dest)
	e := c.Engine(int(r1[0]))
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "t1", 0, append(slices.Clone(r1), uint64(dest))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "t1's new replica to be added", func() bool { return len(partitionReplicas(c, int(r1[0]), "t1")) == 3 })
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "t2", 0, append(slices.Clone(r2), uint64(dest))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // ten reconcile passes
	if got := partitionReplicas(c, int(r1[0]), "t2"); len(got) != 2 {
		t.Fatalf("t2 replicas %v while t1 still copies to broker %d: the throttle did not hold", got, dest)
	}
	if err := e.ReassignPartition(ctxT(t, 5*time.Second), "t1", 0, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "t2's new replica to be added after t1's move was cancelled", func() bool {
		return len(partitionReplicas(c, int(r1[0]), "t2")) == 3 && slices.Equal(partitionReplicas(c, int(r1[0]), "t1"), r1)
	})
}

// The sweep of replicas moved away while a broker was down deletes a
// directory of a live partition that has no replica on this broker, and
// leaves this broker's own replicas and directories of unknown shards
// (removeOrphans' business) alone.
func TestRemoveMovedAway(t *testing.T) {
	c := testcluster.New(t, 2)
	c.CreateTopic(t, "sw", engine.TopicConfig{Partitions: 2, ReplicationFactor: 1})
	c.WaitLeader(t, "sw", 0, 5*time.Second)
	c.WaitLeader(t, "sw", 1, 5*time.Second)
	var mine, other []string // broker 1's partition directories, and the other broker's
	for _, i := range []int{1, 2} {
		dirs, _ := filepath.Glob(filepath.Join(c.Config(i).DataDir, "partitions", "sw-*"))
		if len(dirs) != 1 {
			t.Fatalf("broker %d has partition directories %v, want one", i, dirs)
		}
		if i == 1 {
			mine = dirs
		} else {
			other = dirs
		}
	}
	root := filepath.Join(c.Config(1).DataDir, "partitions")
	stale := filepath.Join(root, filepath.Base(other[0])) // as if broker 1 had held it before a move
	unknown := filepath.Join(root, "gone-0.99999")
	for _, d := range []string{stale, unknown} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Engine(1).RemoveMovedAway() {
		t.Fatal("the sweep did not run")
	}
	for d, want := range map[string]bool{stale: false, unknown: true, mine[0]: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
}

// A reassignment held up half way (its new replica's broker is down, so it
// was added but cannot catch up) survives a restart of the whole cluster:
// __meta still records it, and once every broker is back the new replica
// catches up and the old one leaves, with every record kept.
func TestReassignSurvivesRestart(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 4)
	c.CreateTopic(t, "rs", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	c.WaitLeader(t, "rs", 0, 5*time.Second)
	old := partitionReplicas(c, 1, "rs")
	dest := 0
	for b := 1; b <= 4; b++ {
		if !slices.Contains(old, uint64(b)) {
			dest = b
		}
	}
	produceLeader(t, c, "rs", 0, records("before", 50))
	c.Kill(dest)
	target := []uint64{uint64(dest), old[1], old[2]}
	e := c.Engine(int(old[1]))
	if err := e.ReassignPartition(ctxT(t, 10*time.Second), "rs", 0, target); err != nil {
		t.Fatalf("reassign %v -> %v: %v", old, target, err)
	}
	waitUntil(t, 10*time.Second, "the new replica to be added", func() bool { return len(partitionReplicas(c, int(old[1]), "rs")) == 4 })
	c.RestartAll()
	waitUntil(t, 20*time.Second, "the reassignment to finish after the restart", func() bool {
		for i := 1; i <= 4; i++ {
			if len(c.Engine(i).ListReassignments()) != 0 || !slices.Equal(partitionReplicas(c, i, "rs"), target) {
				return false
			}
		}
		return true
	})
	produceLeader(t, c, "rs", 0, records("after", 50))
	leader := c.WaitLeader(t, "rs", 0, 5*time.Second)
	if n := len(fetchAll(t, c.Engine(leader), "rs", 0)); n != 100 {
		t.Fatalf("read %d records from leader %d after the move, want 100", n, leader)
	}
	waitUntil(t, 10*time.Second, fmt.Sprintf("broker %d to drop its replica", old[0]), func() bool {
		_, ok := localReplica(c, int(old[0]), "rs")
		return !ok
	})
}
