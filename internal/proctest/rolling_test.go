package proctest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRollingRestart stops (SIGTERM) and restarts each broker in turn under
// acks=all load: a stopping broker hands its leaderships over first, so no
// record fails and every acknowledged record is read back in order. Each
// restart moves a partition's leadership twice (away and back); a producer
// without idempotence may have a batch in flight at a move and write it
// twice (see TestKillLeaderFailover), the idempotent one never.
func TestRollingRestart(t *testing.T) {
	if !fullFaults() {
		// make test: its own cluster, beside the other process tests that
		// run in parallel (make test-faults runs it alone, for the figures).
		t.Parallel()
	}
	for _, tc := range []struct {
		name       string
		idempotent bool
		rewrites   int
	}{
		{"acks=all", false, 6},
		{"acks=all,idempotent", true, 0},
	} {
		if !tc.idempotent && !fullFaults() {
			// make test runs the idempotent variant; plain retries
			// through a leader move are covered by TestKillLeaderFailover.
			continue
		}
		t.Run(tc.name, func(t *testing.T) { testRollingRestart(t, tc.idempotent, tc.rewrites) })
	}
}

func testRollingRestart(t *testing.T, idempotent bool, rewrites int) {
	const topic, partitions = "rolling", 6
	c := newCluster(t, 3, "--leader-balance-cooldown", "2s")
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	runCLI(t, "topic", "create", "--brokers", strings.Join(c.kafkaAddrs(), ","), "-p", strconv.Itoa(partitions), "-r", "3", topic)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := produceNumbered(ctx, t, c.kafkaAddrs(), topic, partitions, idempotent)
	waitFor(t, 20*time.Second, "every partition acknowledges records", func() bool {
		for p := range int32(partitions) {
			if acks.count(p) < 20 {
				return false
			}
		}
		return true
	})
	adm := admin(t, c.kafkaAddrs())
	for id := 1; id <= 3; id++ {
		var counts [partitions]int
		for p := range int32(partitions) {
			counts[p] = acks.count(p)
		}
		start := time.Now()
		c.stop(id)
		t.Logf("broker %d stopped gracefully in %v", id, time.Since(start))
		waitFor(t, 15*time.Second, "produce goes on while a broker is down", func() bool {
			for p := range int32(partitions) {
				if acks.count(p) <= counts[p]+10 {
					return false
				}
			}
			return true
		})
		c.start(id)
		c.waitReady(60*time.Second, id)
		waitFor(t, 60*time.Second, "leaders back on the preferred replicas", func() bool {
			ls, err := leaders(ctx, adm, topic)
			if err != nil {
				return false
			}
			pref, err := preferredLeaders(ctx, adm, topic)
			return err == nil && slices.Equal(sortedLeaders(ls), sortedLeaders(pref))
		})
	}
	cancel()
	time.Sleep(time.Second)
	if n := acks.fails.Load(); n > 0 {
		t.Errorf("%d records failed during the rolling restart", n)
	}
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(partitions) {
		lo, _ := ends.Lookup(topic, p)
		acks.mu.Lock()
		acked := slices.Clone(acks.acked[p])
		acks.mu.Unlock()
		checkOnceInOrder(t, p, acked, consumeAll(t, c.kafkaAddrs(), topic, p, lo.Offset), rewrites)
	}
}
