package engine_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
	"github.com/chronik-io/chronik/segment"
)

// txnBatchOf is idempotentBatch with the transactional attribute (bit 4).
func txnBatchOf(recs []engine.Record, pid int64, epoch int16, seq int32) []byte {
	b := idempotentBatch(recs, pid, epoch, seq)
	binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|0x10)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// onLeader runs f on the partition's leader, retrying while leadership
// moves, for up to 15 s.
func onLeader(t *testing.T, c *testcluster.Cluster, topic string, p int32, what string, f func(e *engine.Engine) error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		if l := c.Leader(topic, p); l != 0 {
			if err = f(c.Engine(l)); err == nil {
				return
			}
			if !errors.Is(err, engine.ErrNotLeader) && !errors.Is(err, engine.ErrNotReady) && !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("%s on %d: %v", what, l, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no leader answered: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// txnSnapshot is what a reader sees of the partition.
type txnSnapshot struct {
	HW, LSO, ListedLSO int64
	Committed          []int64 // base offsets of the read_committed batches
	Aborted            []engine.AbortedTxn
	All                int64 // batches of a read_uncommitted fetch
}

func viewPartition(t *testing.T, c *testcluster.Cluster, topic string) txnSnapshot {
	t.Helper()
	var v txnSnapshot
	onLeader(t, c, topic, 0, "read", func(e *engine.Engine) error {
		v = txnSnapshot{}
		rc, err := e.Fetch(ctxT(t, 10*time.Second), topic, 0, 0, engine.FetchOptions{MaxBytes: 1 << 20, ReadCommitted: true})
		if err != nil {
			return err
		}
		ru, err := e.Fetch(ctxT(t, 10*time.Second), topic, 0, 0, engine.FetchOptions{MaxBytes: 1 << 20})
		if err != nil {
			return err
		}
		lo, err := e.ListOffsets(ctxT(t, 10*time.Second), topic, 0, engine.LastStable)
		if err != nil {
			return err
		}
		if ru.AbortedTxns != nil || ru.LastStableOffset != rc.LastStableOffset {
			t.Errorf("read_uncommitted fetch: aborted %v, LSO %d", ru.AbortedTxns, ru.LastStableOffset)
		}
		v.HW, v.LSO, v.ListedLSO, v.Aborted = rc.HighWatermark, rc.LastStableOffset, lo.Offset, rc.AbortedTxns
		_ = segment.EachBatch(rc.Batches, func(h segment.BatchHeader, _ []byte) error {
			v.Committed = append(v.Committed, h.BaseOffset)
			return nil
		})
		_ = segment.EachBatch(ru.Batches, func(segment.BatchHeader, []byte) error { v.All++; return nil })
		return nil
	})
	return v
}

// TestTxnMarkersThreeNodes: transactional batches of three producers, an
// abort and a commit marker on an RF=3 partition; a read_committed fetch
// stops at the LSO and lists the aborted transaction; all of it is the same
// after leader kills and restarts and on a replica that caught up from a
// snapshot.
func TestTxnMarkersThreeNodes(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SnapshotEntries = 10
		cfg.CompactionOverhead = 2
	}))
	const topic = "txn"
	c.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 16 << 10})
	l := c.WaitLeader(t, topic, 0, 5*time.Second)
	down := l%3 + 1 // a follower that misses everything and catches up from a snapshot
	c.Stop(down)

	produce := func(what string, b []byte, want int64) {
		t.Helper()
		onLeader(t, c, topic, 0, what, func(e *engine.Engine) error {
			res, err := e.ProduceBatch(ctxT(t, 10*time.Second), topic, 0, b)
			if err == nil && res.BaseOffset != want {
				t.Fatalf("%s at %d, want %d", what, res.BaseOffset, want)
			}
			return err
		})
	}
	marker := func(what string, pid int64, epoch int16, commit bool) {
		t.Helper()
		onLeader(t, c, topic, 0, what, func(e *engine.Engine) error {
			return e.WriteTxnMarker(ctxT(t, 10*time.Second), topic, 0, pid, epoch, commit, 1)
		})
	}
	var pids [3]int64
	for i := range pids {
		onLeader(t, c, topic, 0, "allocate", func(e *engine.Engine) error {
			var err error
			pids[i], _, err = e.AllocateProducerID(ctxT(t, 10*time.Second))
			return err
		})
	}
	a, b, d := pids[0], pids[1], pids[2]
	produce("plain", engine.EncodeBatch(records("p", 3), time.Now()), 0)    // 0-2
	produce("txn a", txnBatchOf(records("a", 2), a, 0, 0), 3)               // 3-4
	produce("txn b", txnBatchOf(records("b", 2), b, 0, 0), 5)               // 5-6
	marker("abort a", a, 0, false)                                          // 7
	marker("commit b", b, 0, true)                                          // 8
	produce("txn d", txnBatchOf(records("d", 1), d, 0, 0), 9)               // 9, stays open
	produce("plain 2", engine.EncodeBatch(records("q", 1), time.Now()), 10) // 10
	marker("empty abort bumps a's epoch", a, 1, false)                      // 11
	for i := range 30 {
		produce("filler", engine.EncodeBatch(records(fmt.Sprintf("f%d", i), 1), time.Now()), int64(12+i))
	}
	onLeader(t, c, topic, 0, "plain batch inside d's transaction", func(e *engine.Engine) error {
		_, err := e.ProduceBatch(ctxT(t, 10*time.Second), topic, 0, idempotentBatch(records("x", 1), d, 0, 1))
		if errors.Is(err, engine.ErrInvalidTxnState) {
			return nil
		}
		if err == nil {
			t.Fatal("plain batch of a producer in a transaction accepted")
		}
		return err
	})
	// A marker written on a follower is forwarded to the leader (the
	// transaction coordinator may run on any replica's broker) and fenced
	// there by the producer epoch like any other.
	if f := c.Leader(topic, 0); f != 0 {
		other := f%3 + 1
		if other == down {
			other = other%3 + 1
		}
		if err := c.Engine(other).WriteTxnMarker(ctxT(t, 5*time.Second), topic, 0, a, 0, true, 1); !errors.Is(err, engine.ErrInvalidProducerEpoch) {
			t.Fatalf("fenced marker forwarded from follower %d: %v, want ErrInvalidProducerEpoch", other, err)
		}
	}
	onLeader(t, c, topic, 0, "old epoch marker", func(e *engine.Engine) error {
		err := e.WriteTxnMarker(ctxT(t, 10*time.Second), topic, 0, a, 0, true, 1)
		if errors.Is(err, engine.ErrInvalidProducerEpoch) {
			return nil
		}
		if err == nil {
			t.Fatal("marker of a fenced epoch written")
		}
		return err
	})

	want := txnSnapshot{HW: 42, LSO: 9, ListedLSO: 9, Committed: []int64{0, 3, 5, 7, 8},
		Aborted: []engine.AbortedTxn{{ProducerID: a, FirstOffset: 3, LastOffset: 7}}, All: 38}
	check := func(when string) {
		t.Helper()
		if got := viewPartition(t, c, topic); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s (leader %d):\n got %+v\nwant %+v", when, c.Leader(topic, 0), got, want)
		}
	}
	check("before failures")

	c.Restart(down)
	waitReplicasCaughtUp(t, c, topic, 0, 42)
	if st, err := c.Engine(down).PartitionStats(topic, 0); err != nil || st.SnapshotsRecovered == 0 {
		t.Fatalf("follower %d: %+v %v; want a recovered snapshot", down, st, err)
	}
	// Kill the leader at least once, and until the replica restored from
	// the snapshot leads, checking every new leader.
	for i := 0; i < 6; i++ {
		old := c.WaitLeader(t, topic, 0, 5*time.Second)
		if i > 0 && old == down {
			break
		}
		c.Kill(old)
		c.WaitLeader(t, topic, 0, 5*time.Second)
		check(fmt.Sprintf("after killing leader %d", old))
		c.Restart(old)
		waitReplicasCaughtUp(t, c, topic, 0, 42)
		t.Logf("killed and restarted leader %d", old)
	}
	check("at the end")
	t.Logf("final leader %d, snapshot follower %d", c.Leader(topic, 0), down)

	// Committing d makes everything stable.
	marker("commit d", d, 0, true) // 42
	got := viewPartition(t, c, topic)
	if got.LSO != 43 || got.HW != 43 || got.ListedLSO != 43 || len(got.Committed) != 39 || got.All != 39 {
		t.Fatalf("after commit d: %+v", got)
	}
}
