package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// replicaDir is engine i's live directory of a partition (not a
// quarantined one moved aside).
func replicaDir(t *testing.T, c *testcluster.Cluster, i int, topic string, p int32) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(c.Config(i).DataDir, "partitions", fmt.Sprintf("%s-%d.*", topic, p)))
	for _, d := range dirs {
		if !strings.Contains(filepath.Base(d), ".quarantined-") && filepath.Ext(d) != ".tmp" {
			return d
		}
	}
	t.Fatalf("engine %d has no directory for %s/%d", i, topic, p)
	return ""
}

// segmentFiles lists a partition directory's .log files, oldest first; all
// but the last are sealed.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(logs)
	if len(logs) < 4 {
		t.Fatalf("%s has %d segments, want at least 4", dir, len(logs))
	}
	return logs
}

func flipFileByte(t *testing.T, path string, pos int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// frameStarts lists the byte positions of the frames of a segment file
// (each frame: an 80-byte header whose stored length is at byte 68).
func frameStarts(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for pos := 0; pos+80 <= len(b); {
		out = append(out, pos)
		pos += 80 + int(uint32(b[pos+68])|uint32(b[pos+69])<<8|uint32(b[pos+70])<<16|uint32(b[pos+71])<<24)
	}
	return out
}

// The ways a replica's segments get damaged in these tests.
var damages = []struct {
	name   string
	damage func(t *testing.T, dir string)
}{
	{"sealed segment removed", func(t *testing.T, dir string) {
		logs := segmentFiles(t, dir)
		if err := os.Remove(logs[1]); err != nil {
			t.Fatal(err)
		}
	}},
	{"sealed segment byte flipped", func(t *testing.T, dir string) {
		logs := segmentFiles(t, dir)
		flipFileByte(t, logs[1], 120)
	}},
	{"garbage in the middle of the active segment", func(t *testing.T, dir string) {
		logs := segmentFiles(t, dir)
		act := logs[len(logs)-1]
		pos := frameStarts(t, act)
		if len(pos) < 3 {
			t.Fatalf("active segment %s has %d frames, want 3", act, len(pos))
		}
		b, _ := os.ReadFile(act)
		garbage := []byte("garbage that is no frame, written into the middle of the active segment")
		b = append(b[:pos[1]:pos[1]], append(garbage, b[pos[1]:]...)...)
		if err := os.WriteFile(act, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestQuarantineRebuild: a follower of an RF=3 partition restarts with a
// damaged segment directory. The broker starts anyway, its other
// partitions serve, the damaged replica is quarantined and rebuilt from the
// leader, and ends up identical to the leader's.
//
// With a compacted Raft log (tiny snapshot interval) the rebuilt replica
// catches up from a streamed snapshot; otherwise from the leader's log.
//
// Each damage runs once, alternating whether the leader's Raft log is
// compacted (the rebuild then goes through a streamed snapshot); with
// CHRONIK_TEST_ALL=1 every damage runs both ways.
func TestQuarantineRebuild(t *testing.T) {
	all := os.Getenv("CHRONIK_TEST_ALL") != ""
	for _, compacted := range []bool{false, true} {
		for i, d := range damages {
			if !all && (i%2 == 1) != compacted {
				continue
			}
			t.Run(fmt.Sprintf("%s/compacted=%v", d.name, compacted), func(t *testing.T) {
				testQuarantineRebuild(t, d.damage, compacted)
			})
		}
	}
}

func testQuarantineRebuild(t *testing.T, damage func(*testing.T, string), compacted bool) {
	var opts []testcluster.Option
	if compacted {
		opts = append(opts, testcluster.WithConfig(func(cfg *engine.Config) {
			cfg.SnapshotEntries = 10
			cfg.CompactionOverhead = 2
		}))
	}
	c := testcluster.New(t, 3, opts...)
	c.CreateTopic(t, "dmg", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 2048, Compression: "none"})
	c.CreateTopic(t, "other", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	for i := 0; i < 60; i++ {
		produceLeader(t, c, "dmg", 0, records(fmt.Sprintf("a%d", i), 5))
	}
	produceLeader(t, c, "other", 0, records("o", 10))
	waitReplicasCaughtUp(t, c, "dmg", 0, 300)
	l := c.WaitLeader(t, "dmg", 0, 5*time.Second)
	f := l%3 + 1
	c.Stop(f)
	damage(t, replicaDir(t, c, f, "dmg", 0))
	for i := 0; i < 10; i++ {
		produceLeader(t, c, "dmg", 0, records(fmt.Sprintf("b%d", i), 5))
	}

	t0 := time.Now()
	c.Restart(f)
	e := c.Engine(f)
	// The broker serves its other partitions.
	if l := c.WaitLeader(t, "other", 0, 5*time.Second); l == f {
		if _, err := e.Fetch(ctxT(t, 5*time.Second), "other", 0, 0, engine.FetchOptions{}); err != nil {
			t.Fatalf("fetch other on %d: %v", f, err)
		}
	}
	produceLeader(t, c, "other", 0, records("p", 10))
	deadline := time.Now().Add(30 * time.Second)
	for e.ReplicasRebuilt() == 0 || len(e.QuarantinedReplicas()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not rebuilt: quarantined %d, rebuilt %d, now %+v", e.ReplicasQuarantined(), e.ReplicasRebuilt(), e.QuarantinedReplicas())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _ := e.PartitionStats("dmg", 0)
	t.Logf("quarantined and rebuilt in %v (restart included); snapshots recovered %d", time.Since(t0).Round(time.Millisecond), st.SnapshotsRecovered)
	if compacted && st.SnapshotsRecovered == 0 {
		t.Fatal("rebuilt without a snapshot from a compacted log")
	}
	if e.ReplicasQuarantined() != 1 {
		t.Fatalf("%d replicas quarantined, want 1", e.ReplicasQuarantined())
	}
	moved, _ := filepath.Glob(replicaDir(t, c, f, "dmg", 0) + ".quarantined-*")
	if len(moved) != 1 {
		t.Fatalf("damaged directory moved aside: %v, want one", moved)
	}
	produceLeader(t, c, "dmg", 0, records("c", 5))
	waitReplicasCaughtUp(t, c, "dmg", 0, 355)
	sums := map[int]engine.ReplicaStatus{}
	for _, i := range c.Running() {
		for _, rs := range c.Engine(i).LocalReplicas(true) {
			if rs.Topic == "dmg" {
				sums[i] = rs
			}
		}
	}
	if len(sums) != 3 || sums[f].Checksum != sums[l].Checksum || sums[f].HighWatermark != sums[l].HighWatermark || sums[f].Quarantine != nil {
		t.Fatalf("replicas after the rebuild: %+v", sums)
	}
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "dmg", 0), 3)
}

// TestQuarantineSingleReplica: on a one-node cluster a damaged RF=1
// partition cannot be rebuilt. The engine opens anyway, the other topic
// produces and consumes, and the damaged partition answers ErrStorage and
// is reported quarantined.
func TestQuarantineSingleReplica(t *testing.T) {
	c := testcluster.New(t, 1)
	c.CreateTopic(t, "bad", engine.TopicConfig{Partitions: 1, SegmentBytes: 2048, Compression: "none"})
	c.CreateTopic(t, "flip", engine.TopicConfig{Partitions: 1, SegmentBytes: 2048, Compression: "none"})
	c.CreateTopic(t, "good", engine.TopicConfig{Partitions: 1})
	for i := 0; i < 40; i++ {
		produceLeader(t, c, "bad", 0, records(fmt.Sprintf("a%d", i), 5))
		produceLeader(t, c, "flip", 0, records(fmt.Sprintf("a%d", i), 5))
	}
	produceLeader(t, c, "good", 0, records("g", 10))
	c.Stop(1)
	damages[0].damage(t, replicaDir(t, c, 1, "bad", 0))
	damages[1].damage(t, replicaDir(t, c, 1, "flip", 0))
	c.Restart(1)
	e := c.Engine(1)

	produceLeader(t, c, "good", 0, records("h", 10))
	if got := len(fetchAll(t, e, "good", 0)); got != 20 {
		t.Fatalf("good: %d records, want 20", got)
	}
	_, err := e.Produce(ctxT(t, 5*time.Second), "bad", 0, records("x", 1))
	if !errors.Is(err, engine.ErrStorage) {
		t.Fatalf("produce to the quarantined partition: %v, want ErrStorage", err)
	}
	if _, err := e.Fetch(ctxT(t, 5*time.Second), "bad", 0, 0, engine.FetchOptions{}); !errors.Is(err, engine.ErrStorage) {
		t.Fatalf("fetch from the quarantined partition: %v, want ErrStorage", err)
	}
	// The flipped byte is found by the reads that rebuild producer state
	// when the replica opens, or by the first fetch that meets it.
	c.WaitLeader(t, "flip", 0, 10*time.Second) // elected after the restart
	var ferr error
	for off := int64(0); off < 200; off += 5 {
		if _, ferr = e.Fetch(ctxT(t, 5*time.Second), "flip", 0, off, engine.FetchOptions{MaxBytes: 1}); ferr != nil {
			break
		}
	}
	if !errors.Is(ferr, engine.ErrStorage) {
		t.Fatalf("fetch over the flipped byte: %v, want ErrStorage", ferr)
	}
	if e.CorruptFrames() == 0 {
		t.Fatal("CorruptFrames is 0 after a damaged frame was read")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.QuarantinedReplicas()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	q := e.QuarantinedReplicas()
	if len(q) != 2 || q[0].Topic != "bad" || q[0].State != engine.QuarantineHeld || q[0].File == "" ||
		q[1].Topic != "flip" || q[1].State != engine.QuarantineDamaged {
		t.Fatalf("quarantined replicas %+v", q)
	}
	var reported []string
	for _, rs := range e.LocalReplicas(false) {
		if rs.Quarantine != nil {
			reported = append(reported, rs.Topic)
		}
	}
	if !slices.Equal(reported, []string{"bad", "flip"}) {
		t.Fatalf("LocalReplicas reports %v quarantined, want [bad flip]", reported)
	}
	// The damaged directory is left in place for the operator.
	if segs, _ := filepath.Glob(filepath.Join(replicaDir(t, c, 1, "bad", 0), "*.log")); len(segs) < 3 {
		t.Fatalf("the quarantined directory holds %d segments", len(segs))
	}
}

// TestQuarantineLeaderReadTime: a byte flips in a sealed segment of the
// running leader of an RF=3 partition. The fetch that meets it answers
// ErrStorage and is counted; the leader hands the partition over,
// quarantines its copy and rebuilds it, and every replica ends identical.
func TestQuarantineLeaderReadTime(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithConfig(func(cfg *engine.Config) {
		cfg.SegmentCacheBytes = -1 // every read goes to the files
	}))
	c.CreateTopic(t, "lead", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 2048, Compression: "none"})
	for i := 0; i < 60; i++ {
		produceLeader(t, c, "lead", 0, records(fmt.Sprintf("a%d", i), 5))
	}
	waitReplicasCaughtUp(t, c, "lead", 0, 300)
	l := c.WaitLeader(t, "lead", 0, 5*time.Second)
	e := c.Engine(l)
	damages[1].damage(t, replicaDir(t, c, l, "lead", 0))
	t0 := time.Now()
	var err error
	for off := int64(0); off < 300 && err == nil; off += 5 {
		_, err = e.Fetch(ctxT(t, 5*time.Second), "lead", 0, off, engine.FetchOptions{MaxBytes: 1})
	}
	if !errors.Is(err, engine.ErrStorage) {
		t.Fatalf("fetch over the flipped byte on leader %d: %v, want ErrStorage", l, err)
	}
	if e.CorruptFrames() == 0 {
		t.Fatal("the damaged frame was not counted")
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.ReplicasRebuilt() == 0 || len(e.QuarantinedReplicas()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not rebuilt: %+v", e.QuarantinedReplicas())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("leader %d quarantined and rebuilt its replica in %v", l, time.Since(t0).Round(time.Millisecond))
	nl := c.WaitLeader(t, "lead", 0, 5*time.Second)
	if got := len(fetchAll(t, c.Engine(nl), "lead", 0)); got != 300 {
		t.Fatalf("%d records on leader %d after the rebuild, want 300", got, nl)
	}
	produceLeader(t, c, "lead", 0, records("b", 5))
	waitReplicasCaughtUp(t, c, "lead", 0, 305)
	c.Close()
	assertIdentical(t, replicaBatches(t, c, "lead", 0), 3)
}
