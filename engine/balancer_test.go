package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestLeaderBalancer kills the broker that prefers (and leads) a partition,
// lets another take over, restarts it and checks whether leadership returns
// after the cool-down: with the balancer on, the leader that took over
// hands it back; with it off it stays away.
func TestLeaderBalancer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		wantBack bool
	}{
		{"on", 100 * time.Millisecond, true},
		{"off", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // mostly waiting
			c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
				cfg.LeaderBalanceInterval = tc.interval
				cfg.LeaderBalanceCooldown = 500 * time.Millisecond
			}))
			c.CreateTopic(t, "bal", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
			id := c.WaitLeader(t, "bal", 0, 5*time.Second)
			preferred := int(c.Engine(id).Metadata().Topics[0].Partitions[0].PreferredLeader)
			// The first election hands leadership to the preferred replica.
			deadline := time.Now().Add(5 * time.Second)
			for c.Leader("bal", 0) != preferred && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if l := c.Leader("bal", 0); l != preferred {
				t.Fatalf("leader %d, want the preferred %d", l, preferred)
			}
			// Past the window in which a new partition's first leader
			// hands over to the preferred replica (reconcile.go), so that
			// only the balancer can move leadership back.
			time.Sleep(10500 * time.Millisecond)
			c.Kill(preferred)
			other := c.WaitLeader(t, "bal", 0, 5*time.Second)
			c.Restart(preferred)
			// Well past the cool-down and several balancer rounds.
			deadline = time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && c.Leader("bal", 0) != preferred {
				time.Sleep(20 * time.Millisecond)
			}
			back := c.Leader("bal", 0) == preferred
			if back != tc.wantBack {
				t.Fatalf("leader %d after the restart of the preferred %d (took over: %d); want back: %v", c.Leader("bal", 0), preferred, other, tc.wantBack)
			}
			// The leader that took over hands the partition back.
			if moves := c.Engine(other).LeaderBalanceMoves(); (moves > 0) != tc.wantBack {
				t.Errorf("balancer moves on broker %d, which took over: %d", other, moves)
			}
		})
	}
}

// The preferred leader of a partition created moments ago crashes: the
// replica that takes over keeps its leadership and takes every write, where
// the hand-over to the preferred replica at creation used to target the
// dead broker every 300 ms for the rest of the partition's first 10 s, and
// Raft drops proposals while a transfer is pending.
func TestFailoverRightAfterCreation(t *testing.T) {
	t.Parallel() // mostly waiting
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "young", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	id := c.WaitLeader(t, "young", 0, 5*time.Second)
	preferred := int(c.Engine(id).Metadata().Topics[0].Partitions[0].PreferredLeader)
	deadline := time.Now().Add(5 * time.Second)
	for c.Leader("young", 0) != preferred && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l := c.Leader("young", 0); l != preferred {
		t.Fatalf("leader %d, want the preferred %d", l, preferred)
	}
	c.Kill(preferred)
	killed := time.Now()
	var l int
	for l == 0 || l == preferred {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("no new leader 5 s after the preferred leader %d crashed", preferred)
		}
		time.Sleep(20 * time.Millisecond)
		l = c.Leader("young", 0)
	}
	// Still inside the creation hand-over window (10 s from the start).
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Engine(l).Produce(ctx, "young", 0, []engine.Record{{Value: []byte("after the crash")}})
		cancel()
		if err != nil {
			t.Fatalf("write %d on the new leader %d, %v after the crash: %v", i, l, time.Since(killed).Round(time.Millisecond), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
