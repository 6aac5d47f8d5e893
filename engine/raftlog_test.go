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
// RaftLogRetainBytes says, while a replicated partition's keeps that much.
func TestRaftLogSingleReplica(t *testing.T) {
	const batchBytes, batches = 64 << 10, 320 // 20 MiB
	c := testcluster.New(t, 1, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.RaftLogRetainBytes = 64 << 20
	}))
	c.CreateTopic(t, "single", engine.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	val := make([]byte, batchBytes-200)
	for i := range batches {
		produceLeader(t, c, "single", 0, []engine.Record{{Key: []byte(fmt.Sprint(i)), Value: val}})
	}
	// At most twice the 4 MiB kept, plus the 16 entries kept at least and
	// a few config and election entries: far below the 320 of 64 MiB.
	const want = 2*(4<<20)/batchBytes + 16 + 8
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

// TestRaftLogMaxAge: with the tan-shared LogDB, whose log files are shared
// by every replica of a broker, a quiet partition's replicas compact their
// Raft log once its entries are RaftLogMaxAge old (else they would keep the
// shared files on disk), and the records stay readable after a restart;
// pebble keeps them (it needs no age bound). A byte bound of 1 KiB makes
// the replicas snapshot right after the produce, so that nothing is left
// to snapshot at when the entries grow old: the leader's empty entry has
// to move them on.
func TestRaftLogMaxAge(t *testing.T) {
	const recs = 20
	for _, tc := range []struct {
		logdb     string
		retain    int64
		compacted bool
	}{
		{engine.LogDBTanShared, 1 << 10, true},
		{engine.LogDBPebble, -1, false},
	} {
		t.Run(tc.logdb, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
				cfg.LogDB = tc.logdb
				cfg.RaftLogMaxAge = 2 * time.Second
				cfg.RaftLogRetainBytes = tc.retain
			}))
			if got := c.Engine(1).LogDB(); got != tc.logdb {
				t.Fatalf("LogDB() = %q, want %q", got, tc.logdb)
			}
			c.CreateTopic(t, "quiet", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
			for i := range recs {
				produceLeader(t, c, "quiet", 0, []engine.Record{{Value: []byte(fmt.Sprintf("%01024d", i))}})
			}
			entries := func() (most uint64) {
				for n := 1; n <= 3; n++ {
					for _, r := range c.Engine(n).LocalReplicas(false) {
						if r.Topic == "quiet" {
							most = max(most, r.RaftLogEntries)
						}
					}
				}
				return most
			}
			if !tc.compacted {
				time.Sleep(4 * time.Second) // twice the age
				if got := entries(); got < recs {
					t.Fatalf("a replica's log holds %d entries, want >= %d", got, recs)
				}
				return
			}
			deadline := time.Now().Add(15 * time.Second)
			for entries() > 1 {
				if time.Now().After(deadline) {
					t.Fatalf("a replica's Raft log still holds %d entries %s after the last produce, want <= 1", entries(), 15*time.Second)
				}
				time.Sleep(100 * time.Millisecond)
			}
			c.Restart(2)
			leader := c.Engine(c.WaitLeader(t, "quiet", 0, 10*time.Second))
			if got := fetchAll(t, leader, "quiet", 0); len(got) != recs {
				t.Fatalf("%d records readable after a restart, want %d", len(got), recs)
			}
			produceLeader(t, c, "quiet", 0, []engine.Record{{Value: []byte("after")}})
			// Every replica, the restarted one too, reaches the new record
			// with the same bytes.
			same := func() bool {
				n, sum := 0, uint32(0)
				for i := 1; i <= 3; i++ {
					for _, r := range c.Engine(i).LocalReplicas(true) {
						if r.Topic == "quiet" && r.HighWatermark == recs+1 && (n == 0 || r.Checksum == sum) {
							n, sum = n+1, r.Checksum
						}
					}
				}
				return n == 3
			}
			for deadline := time.Now().Add(10 * time.Second); !same(); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the replicas did not all reach %d identical records", recs+1)
				}
			}
		})
	}
}
