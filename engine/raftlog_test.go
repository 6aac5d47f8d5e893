package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestRaftLogBoundedInBytes: with RaftLogRetainBytes set, every replica's
// Raft log is compacted down to about that many bytes of entries while the
// records stay readable (also after a restart); with it off, the log keeps
// every entry (dragonboat's entry count alone never triggers here).
func TestRaftLogBoundedInBytes(t *testing.T) {
	const batchBytes, batches = 64 << 10, 160 // 10 MiB
	for _, tc := range []struct {
		name   string
		retain int64
		// maxEntries bounds every replica's log once produce is done.
		maxEntries uint64
	}{
		// 2 x 1 MiB of 64 KiB entries, plus the 16 kept at least, plus a
		// few config and election entries.
		{"1MiB", 1 << 20, 2*(1<<20)/batchBytes + 16 + 8},
		{"off", -1, batches},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
				cfg.RaftLogRetainBytes = tc.retain
			}))
			c.CreateTopic(t, "rl", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
			val := make([]byte, batchBytes-200)
			for i := range batches {
				produceLeader(t, c, "rl", 0, []engine.Record{{Key: []byte(fmt.Sprint(i)), Value: val}})
			}
			entries := func() (most uint64) {
				for n := 1; n <= 3; n++ {
					for _, r := range c.Engine(n).LocalReplicas(false) {
						if r.Topic == "rl" {
							most = max(most, r.RaftLogEntries)
						}
					}
				}
				return most
			}
			if tc.retain < 0 {
				time.Sleep(time.Second) // what compaction there would be
				if got := entries(); got < tc.maxEntries {
					t.Fatalf("without a byte bound a replica's log holds %d entries, want >= %d", got, tc.maxEntries)
				}
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for entries() > tc.maxEntries {
				if time.Now().After(deadline) {
					t.Fatalf("a replica's Raft log still holds %d entries, want <= %d", entries(), tc.maxEntries)
				}
				time.Sleep(50 * time.Millisecond)
			}
			c.Restart(2)
			c.WaitLeader(t, "rl", 0, 10*time.Second)
			leader := c.Engine(c.WaitLeader(t, "rl", 0, 10*time.Second))
			if recs := fetchAll(t, leader, "rl", 0); len(recs) != batches {
				t.Fatalf("%d records readable, want %d", len(recs), batches)
			}
		})
	}
}

// TestRaftLogSingleReplica: a partition with one replica has no follower to
// catch up, so its Raft log is compacted to a few MiB whatever
// RaftLogRetainBytes says, and without the 16 entries a replicated
// partition keeps at least (here 16 MiB of them).
func TestRaftLogSingleReplica(t *testing.T) {
	const batchBytes, batches = 1<<20 - 4<<10, 40 // 40 MiB
	c := testcluster.New(t, 1, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.RaftLogRetainBytes = 64 << 20
	}))
	c.CreateTopic(t, "single", engine.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	val := make([]byte, batchBytes-200)
	for i := range batches {
		produceLeader(t, c, "single", 0, []engine.Record{{Key: []byte(fmt.Sprint(i)), Value: val}})
	}
	// At most twice the 4 MiB kept and a few config and election entries:
	// below the 16 entries a replicated partition keeps at least.
	const want = 2*(4<<20)/batchBytes + 1 + 6
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got uint64
		for _, r := range c.Engine(1).LocalReplicas(false) {
			if r.Topic == "single" {
				got = r.RaftLogEntries
			}
		}
		if got <= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the single replica's Raft log holds %d entries, want <= %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recs := fetchAll(t, c.Engine(1), "single", 0); len(recs) != batches {
		t.Fatalf("%d records readable, want %d", len(recs), batches)
	}
}

// TestRaftLogLeaderKeepsWhatFollowersLack: a partition leader whose
// followers have acknowledged its log keeps only a few MiB of it (they lack
// nothing), its followers keep their share (one of them may be elected),
// and with a follower down the leader keeps everything that follower
// lacks, so that it catches up from the log and not from a snapshot. A
// leader keeps less only once it has led for three balancer cool-downs.
func TestRaftLogLeaderKeepsWhatFollowersLack(t *testing.T) {
	t.Run("new leader", func(t *testing.T) { testLeaderKeeps(t, false) })
	t.Run("settled leader", func(t *testing.T) { testLeaderKeeps(t, true) })
}

func testLeaderKeeps(t *testing.T, settled bool) {
	const batchBytes, batches = 1<<20 - 4<<10, 24 // 24 MiB
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.RaftLogRetainBytes = 64 << 20
		if settled {
			cfg.LeaderBalanceCooldown = 300 * time.Millisecond // settled after three
		}
	}))
	c.CreateTopic(t, "lk", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	val := make([]byte, batchBytes-200)
	produce := func(n int) {
		for i := range n {
			produceLeader(t, c, "lk", 0, []engine.Record{{Key: []byte(fmt.Sprint(i)), Value: val}})
		}
	}
	replica := func(n int) (r engine.ReplicaStatus) {
		for _, s := range c.Engine(n).LocalReplicas(false) {
			if s.Topic == "lk" {
				r = s
			}
		}
		return r
	}
	produce(batches)
	leader := c.Leader("lk", 0)
	if !settled {
		// Led for less than 30 s: all 24 entries stay.
		time.Sleep(4 * 250 * time.Millisecond) // a few rounds of compaction
		if got := replica(leader).RaftLogEntries; got < batches {
			t.Fatalf("a leader elected moments ago keeps %d entries, want its share (>= %d)", got, batches)
		}
		return
	}
	// Twice the 4 MiB kept beyond what the followers lack (a MiB at most),
	// and a few config and election entries: fewer than the 16 entries a
	// log keeps at least otherwise, and than the 24 of a 64 MiB share.
	const want = 2*(5<<20)/batchBytes + 1 + 6
	deadline := time.Now().Add(10 * time.Second)
	for got := replica(leader).RaftLogEntries; got > want; got = replica(leader).RaftLogEntries {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's Raft log holds %d entries with every follower caught up, want <= %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	follower := 1 + leader%3
	if got := replica(follower).RaftLogEntries; got < batches {
		t.Fatalf("follower %d's Raft log holds %d entries, want its share (>= %d)", follower, got, batches)
	}

	c.Stop(follower)
	produce(batches)
	time.Sleep(4 * 250 * time.Millisecond) // a few rounds of compaction
	if l := c.Leader("lk", 0); l != leader {
		t.Fatalf("leadership moved from %d to %d", leader, l)
	}
	if got := replica(leader).RaftLogEntries; got < batches {
		t.Fatalf("with follower %d down the leader's Raft log holds %d entries, want >= %d (all it lacks)", follower, got, batches)
	}
	c.Restart(follower)
	deadline = time.Now().Add(10 * time.Second)
	for {
		r := replica(follower)
		if r.SnapshotsRecovered > 0 {
			t.Fatalf("follower %d caught up from a streamed snapshot, want from the log", follower)
		}
		if r.HighWatermark == 2*batches {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted follower %d has high watermark %d, want %d", follower, r.HighWatermark, 2*batches)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
