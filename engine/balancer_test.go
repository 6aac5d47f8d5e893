package engine_test

import (
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestLeaderBalancer kills the broker that prefers (and leads) a partition,
// lets another take over, restarts it and checks whether leadership returns
// after the cool-down: with the balancer on it does, with it off it stays
// away.
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
			if moves := c.Engine(preferred).LeaderBalanceMoves(); (moves > 0) != tc.wantBack {
				t.Errorf("balancer moves on the preferred broker: %d", moves)
			}
		})
	}
}
