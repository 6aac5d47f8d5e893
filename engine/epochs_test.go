package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/segment"
)

// stampHistory derives the leader-epoch history from concatenated batches:
// where each higher PartitionLeaderEpoch first appears.
func stampHistory(t testing.TB, b []byte) []engine.EpochStart {
	t.Helper()
	var out []engine.EpochStart
	err := segment.EachBatch(b, func(h segment.BatchHeader, _ []byte) error {
		if n := len(out); n == 0 || h.PartitionLeaderEpoch > out[n-1].LeaderEpoch {
			out = append(out, engine.EpochStart{LeaderEpoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func leaderEpoch(t testing.TB, c *testcluster.Cluster, l int, topic string) int32 {
	t.Helper()
	st, err := c.Engine(l).PartitionStats(topic, 0)
	if err != nil || !st.IsLeader {
		t.Fatalf("engine %d: %+v %v", l, st, err)
	}
	return st.LeaderEpoch
}

// TestOffsetForLeaderEpochFailover: epoch A writes, its leader dies, epoch B
// writes on the new leader; OffsetForLeaderEpoch(A) answers where A ends in
// every replica's log (where the next epoch's first batch is), also on a
// follower that caught up from a snapshot, and after a full restart.
func TestOffsetForLeaderEpochFailover(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SnapshotEntries = 10
		cfg.CompactionOverhead = 2
	}))
	const topic = "ep"
	c.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 16 << 10})
	for i := 0; i < 20; i++ {
		produceLeader(t, c, topic, 0, records(fmt.Sprintf("a%d", i), 10))
	}
	first := c.WaitLeader(t, topic, 0, 5*time.Second)
	epochA := leaderEpoch(t, c, first, topic)
	// A follower misses the failover and all of epoch B: it catches up from
	// a snapshot, whose history must bring epoch B with it.
	down := first%3 + 1
	c.Stop(down)
	c.Kill(first)
	c.Restart(first) // with the third replica, a quorum again: a new epoch
	c.WaitLeader(t, topic, 0, 10*time.Second)
	for i := 0; i < 80; i++ {
		produceLeader(t, c, topic, 0, records(fmt.Sprintf("b%d", i), 10))
	}
	c.Restart(down)
	const hw = 1000
	waitReplicasCaughtUp(t, c, topic, 0, hw)
	if st, err := c.Engine(down).PartitionStats(topic, 0); err != nil || st.SnapshotsRecovered == 0 {
		t.Fatalf("follower %d did not catch up from a snapshot: %+v %v", down, st, err)
	}

	l := c.WaitLeader(t, topic, 0, 5*time.Second)
	var all []byte
	for off := int64(0); off < hw; {
		fr, err := c.Engine(l).Fetch(ctxT(t, 10*time.Second), topic, 0, off, engine.FetchOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, fr.Batches...)
		_ = segment.EachBatch(fr.Batches, func(h segment.BatchHeader, _ []byte) error { off = h.LastOffset() + 1; return nil })
	}
	// Epoch A wrote 20 batches of 10; later epochs (the failover's, and any
	// leadership moves back to the preferred leader) the rest.
	hist := stampHistory(t, all)
	if len(hist) < 2 || hist[0] != (engine.EpochStart{LeaderEpoch: epochA, StartOffset: 0}) || hist[1].StartOffset != 200 {
		t.Fatalf("fetched batches stamp %v; want epoch %d from 0 to 200, then later ones", hist, epochA)
	}
	t.Logf("epoch history %v", hist)
	type query struct {
		req, cur int32
		want     engine.EpochEndOffset
		isErr    error
	}
	none := engine.EpochEndOffset{LeaderEpoch: -1, EndOffset: -1}

	check := func(what string) {
		t.Helper()
		l := c.WaitLeader(t, topic, 0, 10*time.Second)
		e := c.Engine(l)
		cur := leaderEpoch(t, c, l, topic)
		qs := []query{
			{req: epochA - 1, cur: -1, want: engine.EpochEndOffset{LeaderEpoch: epochA - 1, EndOffset: 0}},
			{req: cur, cur: cur, want: engine.EpochEndOffset{LeaderEpoch: cur, EndOffset: hw}},
			{req: cur + 1, cur: -1, want: none},
			{req: -1, cur: -1, want: none},
			{req: epochA, cur: cur - 1, isErr: engine.ErrFencedLeaderEpoch},
			{req: epochA, cur: cur + 1, isErr: engine.ErrUnknownLeaderEpoch},
		}
		for i, h := range hist {
			end := int64(hw)
			if i+1 < len(hist) {
				end = hist[i+1].StartOffset
				// An epoch that never wrote, between two that did, answers
				// for the one below it.
				for gap := h.LeaderEpoch + 1; gap < hist[i+1].LeaderEpoch; gap++ {
					qs = append(qs, query{req: gap, cur: cur, want: engine.EpochEndOffset{LeaderEpoch: h.LeaderEpoch, EndOffset: end}})
				}
			}
			qs = append(qs, query{req: h.LeaderEpoch, cur: -1, want: engine.EpochEndOffset{LeaderEpoch: h.LeaderEpoch, EndOffset: end}})
		}
		for _, q := range qs {
			got, err := e.OffsetForLeaderEpoch(ctxT(t, 5*time.Second), topic, 0, q.cur, q.req)
			if q.isErr != nil {
				if !errors.Is(err, q.isErr) {
					t.Errorf("%s: epoch %d current %d: err %v, want %v", what, q.req, q.cur, err, q.isErr)
				}
				continue
			}
			if err != nil || got != q.want {
				t.Errorf("%s: epoch %d current %d: %+v %v, want %+v", what, q.req, q.cur, got, err, q.want)
			}
		}
		for _, i := range c.Running() {
			if i == l {
				continue
			}
			// A follower that has not yet heard from the new leader (just
			// after a restart) answers ErrNotReady; it must then learn it.
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				_, err = c.Engine(i).OffsetForLeaderEpoch(ctxT(t, 5*time.Second), topic, 0, -1, epochA)
				if !errors.Is(err, engine.ErrNotReady) || time.Now().After(deadline) {
					break
				}
			}
			if err == nil {
				// Leadership may have moved to i since l was found (the
				// preferred leader taking it back after the restart): a
				// leader answers, so i is no follower to ask any more.
				if st, serr := c.Engine(i).PartitionStats(topic, 0); serr == nil && st.IsLeader {
					t.Logf("%s: engine %d became the leader during the check", what, i)
					continue
				}
			}
			if !errors.Is(err, engine.ErrNotLeader) {
				t.Errorf("%s: follower %d answered: %v", what, i, err)
			}
		}
		for _, i := range c.Running() {
			got, err := c.Engine(i).LeaderEpochs(topic, 0)
			if err != nil || !slices.Equal(got, hist) {
				t.Errorf("%s: engine %d holds epochs %v (%v), the batches say %v", what, i, got, err, hist)
			}
		}
	}
	check("after failover and snapshot catch-up")
	c.RestartAll()
	check("after a full restart")
	c.Close()
	for i, b := range replicaBatches(t, c, topic, 0) {
		if got := stampHistory(t, b); !slices.Equal(got, hist) {
			t.Errorf("replica %d's segments stamp %v, want %v", i, got, hist)
		}
	}
}
