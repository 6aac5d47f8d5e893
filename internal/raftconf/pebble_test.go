package raftconf

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/lni/dragonboat/v4/config"
	pb "github.com/lni/dragonboat/v4/raftpb"
	"github.com/lni/vfs"
)

// TestPebbleL0CompactionThreshold writes five memtables of Raft log into a
// LogDB made by pebbleFactory and counts pebble's compactions: with
// pebble's own threshold (4) L0 is compacted once two flushes overlap;
// with chronik's (16) none is, since nothing is deleted and eight
// overlapping flushes have not happened.
func TestPebbleL0CompactionThreshold(t *testing.T) {
	for _, tc := range []struct {
		threshold       int
		wantCompactions bool
	}{
		{threshold: 4, wantCompactions: true},
		{threshold: pebbleL0CompactionThreshold, wantCompactions: false},
	} {
		t.Run(fmt.Sprint("threshold", tc.threshold), func(t *testing.T) {
			o := DefaultOptions()
			o.TinyLogDBMemory = true // 4 MiB memtables
			nhc := NodeHost(t.TempDir(), "127.0.0.1:0", o)
			nhc.Expert.FS = vfs.Default // as NodeHostConfig.Prepare sets it
			stores := &LogDBStores{}
			f := pebbleFactory{l0Threshold: tc.threshold, opened: stores.add}
			ldb, err := f.Create(nhc, func(config.LogDBInfo) {}, []string{nhc.NodeHostDir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ldb.Close()
			if len(stores.dbs) != int(nhc.Expert.LogDB.Shards) {
				t.Fatalf("%d pebble stores opened, want %d", len(stores.dbs), nhc.Expert.LogDB.Shards)
			}

			counts := func() (flushes, compactions int64) {
				st := stores.Stats()
				return st.Flushes, st.Compactions
			}
			// Write 256 KiB entries until five memtables have been flushed
			// (pebble's first memtables are smaller than the configured size).
			const entry = 256 << 10
			written := uint64(0)
			for i := 1; ; i++ {
				if f, _ := counts(); f >= 5 {
					break
				}
				if i > 64*int(nhc.Expert.LogDB.KVWriteBufferSize)/entry {
					f, c := counts()
					t.Fatalf("%d flushes, %d compactions after %d entries", f, c, i-1)
				}
				u := pb.Update{ShardID: 1, ReplicaID: 1,
					State:         pb.State{Term: 1, Commit: uint64(i)},
					EntriesToSave: []pb.Entry{{Term: 1, Index: uint64(i), Cmd: make([]byte, entry)}}}
				if err := ldb.SaveRaftState([]pb.Update{u}, 1); err != nil {
					t.Fatal(err)
				}
				written += entry
			}
			// Wait for compactions: the first as soon as two flushes
			// overlap, or none for a second.
			wait := func(done func(flushes, compactions int64) bool, d time.Duration) bool {
				for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
					if done(counts()) {
						return true
					}
					if time.Now().After(deadline) {
						return false
					}
				}
			}
			st := stores.Stats()
			if st.WALBytes < written || st.FlushBytes == 0 || st.L0Files == 0 || st.DiskBytes == 0 {
				t.Fatalf("stats %+v after %d flushes", st, st.Flushes)
			}
			compacted := wait(func(_, c int64) bool { return c > 0 }, time.Second)
			if f, c := counts(); compacted != tc.wantCompactions {
				t.Fatalf("threshold %d: %d flushes, %d compactions; want compactions %v", tc.threshold, f, c, tc.wantCompactions)
			}
		})
	}
}

// TestNodeHostLogDBFactory: a broker on the default LogDB gets the tuned
// factory under the name dragonboat's own records, so that data directories
// made before it open.
func TestNodeHostLogDBFactory(t *testing.T) {
	nhc := NodeHost(t.TempDir(), "127.0.0.1:0", DefaultOptions())
	f, ok := nhc.Expert.LogDBFactory.(pebbleFactory)
	if !ok || f.l0Threshold != pebbleL0CompactionThreshold {
		t.Fatalf("LogDBFactory %#v, want pebbleFactory with threshold %d", nhc.Expert.LogDBFactory, pebbleL0CompactionThreshold)
	}
	if f.Name() != "sharded-pebble" {
		t.Fatalf("Name %q, want dragonboat's default factory's", f.Name())
	}
}

// TestLogDBWriteStalls: the stores' write-stall hooks, called as pebble
// calls them (under the store's mutex, once per writer held back), count
// one stall per span of overlapping writers and time it.
func TestLogDBWriteStalls(t *testing.T) {
	o := DefaultOptions()
	o.TinyLogDBMemory = true
	nhc := NodeHost(t.TempDir(), "127.0.0.1:0", o)
	nhc.Expert.FS = vfs.Default
	stores := ObserveLogDB(&nhc)
	ldb, err := nhc.Expert.LogDBFactory.Create(nhc, func(config.LogDBInfo) {}, []string{nhc.NodeHostDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ldb.Close()
	info := pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"}
	begin := func(o *pebble.Options) error { o.EventListener.WriteStallBegin(info); return nil }
	end := func(o *pebble.Options) error { o.EventListener.WriteStallEnd(); return nil }
	steps := []struct {
		call       func(*pebble.Options) error
		wantStalls uint64
	}{
		{begin, 1},
		{begin, 1}, // a second writer, same stall
		{end, 1},
		{func(o *pebble.Options) error { time.Sleep(5 * time.Millisecond); return end(o) }, 1},
		{begin, 2},
		{end, 2},
		{end, 2}, // unpaired: ignored
	}
	for i, s := range steps {
		if err := withOptions(stores.dbs[3], s.call); err != nil {
			t.Fatal(err)
		}
		if got := stores.Stats().WriteStalls; got != s.wantStalls {
			t.Fatalf("step %d: %d stalls, want %d", i, got, s.wantStalls)
		}
	}
	if d := stores.Stats().WriteStallTime; d < 5*time.Millisecond || d > time.Minute {
		t.Fatalf("stall time %v, want the 5 ms the first stall lasted and a little more", d)
	}
}
