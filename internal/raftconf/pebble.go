package raftconf

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe" // go:linkname and the pebble options below

	"github.com/cockroachdb/pebble"
	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	"github.com/lni/vfs"
)

// pebble deletes a compacted Raft log range with a range tombstone, and
// drops the entries a tombstone covers wherever it meets them: in a
// memtable flush, in a compaction, or (a whole file covered) by removing
// the file. A partition replica keeps its share of the Raft log for
// followers to catch up from (64 MiB each at 8 partitions), longer than a
// 16 MiB memtable lives, so its entries reach L0 sstables; pebble's default
// then compacts L0 into the base level once two flushes overlap
// (L0CompactionThreshold 4, read as "score 2 x sublevels / 4 >= 1"), and
// every entry was rewritten at least once more before its tombstone came.
// With the threshold at 16, L0 compaction waits for 8 overlapping flushes
// (128 MiB per LogDB shard), by when part of what it would rewrite has been
// deleted: compactions then wrote about 0.8 of the WAL's bytes at 8
// partitions RF=3 (chronik_logdb_written_bytes_total), and the brokers'
// disk writes per byte produced fell by a fifth. dragonboat's own file
// count trigger (LogDBConfig.KVLevel0FileNumCompactionTrigger, 8 files)
// fires at about the same depth, so a higher threshold alone changes
// nothing; with both raised further compactions halved again but
// throughput did not move (docs/PERFORMANCE.md). The cost is read
// amplification of up to 8 L0 files on a Raft log read (a lagging
// follower's catch-up, a restart), against which pebble still stalls
// writes at L0StopWritesThreshold (24, from
// LogDBConfig.KVLevel0StopWritesTrigger).
//
// dragonboat maps its LogDBConfig onto pebble.Options itself and does not
// expose this one. pebbleFactory below builds dragonboat's own sharded
// pebble LogDB (linkname to internal/logdb.NewLogDB) with dragonboat's own
// pebble key-value store (linkname to its NewKVStore) and sets the
// threshold on each opened pebble.DB, under the DB's mutex, as pebble's
// compaction picker reads it; it also hooks the store's write stalls,
// which LogDBStats counts.
const pebbleL0CompactionThreshold = 16

// kvStore has the layout of dragonboat's kv.IKVStore interface value, a
// type outside dragonboat's internal packages cannot name.
type kvStore struct {
	itab unsafe.Pointer
	data unsafe.Pointer
}

// kvFactory has the signature of dragonboat's kv.Factory.
type kvFactory func(cfg config.LogDBConfig, cb func(busy bool), dir, wal string, fs vfs.FS) (kvStore, error)

//go:linkname newLogDB github.com/lni/dragonboat/v4/internal/logdb.NewLogDB
func newLogDB(cfg config.NodeHostConfig, cb config.LogDBCallback, dirs []string, lldirs []string, batched bool, check bool, f kvFactory) (raftio.ILogDB, error)

//go:linkname newPebbleKV github.com/lni/dragonboat/v4/internal/logdb/kv/pebble.NewKVStore
func newPebbleKV(cfg config.LogDBConfig, cb func(busy bool), dir, wal string, fs vfs.FS) (kvStore, error)

// pebbleFactory creates dragonboat's default LogDB with each pebble store's
// L0 compaction threshold raised to l0Threshold.
type pebbleFactory struct {
	l0Threshold int
	// opened, if not nil, is told of every pebble store opened and of
	// its write stalls (ObserveLogDB, tests).
	opened func(*pebble.DB, *writeStalls)
}

// Create implements config.LogDBFactory as dragonboat's default factory
// does (unbatched entries, checking for batched ones in an existing DB).
func (f pebbleFactory) Create(cfg config.NodeHostConfig, cb config.LogDBCallback, dirs []string, wals []string) (raftio.ILogDB, error) {
	return newLogDB(cfg, cb, dirs, wals, false, true, f.open)
}

// Name implements config.LogDBFactory: the name dragonboat's default
// factory reports and records in the NodeHost directory, so that data
// directories made with either open with the other.
func (pebbleFactory) Name() string { return "sharded-pebble" }

// open opens one of the LogDB's pebble stores and tunes it.
func (f pebbleFactory) open(cfg config.LogDBConfig, cb func(busy bool), dir, wal string, fs vfs.FS) (kvStore, error) {
	kv, err := newPebbleKV(cfg, cb, dir, wal, fs)
	if err != nil {
		return kv, err
	}
	db, err := kv.pebbleDB()
	stalls := &writeStalls{}
	if err == nil {
		err = withOptions(db, func(o *pebble.Options) error {
			if f.l0Threshold > o.L0StopWritesThreshold {
				return fmt.Errorf("L0 compaction threshold %d above the stop-writes threshold %d", f.l0Threshold, o.L0StopWritesThreshold)
			}
			o.L0CompactionThreshold = f.l0Threshold
			o.EventListener.WriteStallBegin = stalls.begin
			o.EventListener.WriteStallEnd = stalls.end
			return nil
		})
	}
	if err != nil {
		return kvStore{}, errors.Join(fmt.Errorf("tune LogDB store %s: %w", dir, err), kv.close())
	}
	if f.opened != nil {
		f.opened(db, stalls)
	}
	return kv, nil
}

// value returns the key-value store as an any, with its dynamic type.
func (s kvStore) value() any {
	// An itab starts with the interface type, then the dynamic type.
	typ := *(*unsafe.Pointer)(unsafe.Add(s.itab, unsafe.Sizeof(uintptr(0))))
	eface := [2]unsafe.Pointer{typ, s.data}
	return *(*any)(unsafe.Pointer(&eface))
}

// pebbleDB returns the pebble.DB in dragonboat's pebble key-value store, a
// *KV whose field db holds it.
func (s kvStore) pebbleDB() (*pebble.DB, error) {
	v := reflect.ValueOf(s.value())
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("LogDB store is a %s, not a pointer to dragonboat's pebble store", v.Type())
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*pebble.DB]() {
		return nil, fmt.Errorf("LogDB store %s has no field db *pebble.DB", v.Type())
	}
	return *(**pebble.DB)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// close closes the key-value store through its Close method.
func (s kvStore) close() error {
	c, ok := s.value().(interface{ Close() error })
	if !ok {
		return nil
	}
	return c.Close()
}

// pebbleDBFields are the offsets of pebble.DB's options and of the mutex
// its compaction picker holds while reading them.
var pebbleDBFields = sync.OnceValues(func() ([2]uintptr, error) {
	t := reflect.TypeFor[pebble.DB]()
	opts, ok := t.FieldByName("opts")
	if !ok || opts.Type != reflect.TypeFor[*pebble.Options]() {
		return [2]uintptr{}, errors.New("pebble.DB has no field opts *pebble.Options")
	}
	mu, ok := t.FieldByName("mu")
	if !ok || mu.Type.Kind() != reflect.Struct || mu.Type.NumField() == 0 ||
		mu.Type.Field(0).Type != reflect.TypeFor[sync.Mutex]() || mu.Type.Field(0).Offset != 0 {
		return [2]uintptr{}, errors.New("pebble.DB's field mu does not start with a sync.Mutex")
	}
	return [2]uintptr{opts.Offset, mu.Offset}, nil
})

// withOptions runs f on db's options under db's mutex, where pebble reads
// them (its compaction picker) and calls their event listener's write
// stall hooks.
func withOptions(db *pebble.DB, f func(*pebble.Options) error) error {
	off, err := pebbleDBFields()
	if err != nil {
		return err
	}
	opts := *(**pebble.Options)(unsafe.Add(unsafe.Pointer(db), off[0]))
	mu := (*sync.Mutex)(unsafe.Add(unsafe.Pointer(db), off[1]))
	mu.Lock()
	defer mu.Unlock()
	return f(opts)
}

// LogDBStats are the counters of a NodeHost's pebble LogDB, summed over its
// stores (one per LogDB shard): what its Raft log costs in writes besides
// the WAL, and how deep L0 is.
type LogDBStats struct {
	WALBytes        uint64 // bytes appended to the write-ahead logs
	Flushes         int64  // memtables flushed to L0
	FlushBytes      uint64 // bytes those flushes wrote
	Compactions     int64  // compactions run
	CompactionBytes uint64 // bytes compactions wrote
	L0Files         int64  // sstables in L0 now
	L0Sublevels     int32  // the deepest store's L0 sublevels now
	DiskBytes       uint64 // disk used by the stores now
	// WriteStalls counts the times a store held writes back (its memtables
	// all full and flushing, or L0 at its stop-writes depth); every Raft
	// log write of the LogDB shard waits meanwhile, and with it the
	// dragonboat step worker that made it.
	WriteStalls uint64
	// WriteStallTime is how long writes were held back in all.
	WriteStallTime time.Duration
}

// LogDBStores are the pebble stores of one NodeHost's LogDB, as they open.
type LogDBStores struct {
	mu     sync.Mutex
	dbs    []*pebble.DB
	stalls []*writeStalls
}

// writeStalls times one store's write stalls. pebble reports their start
// and end under the store's mutex, once for each writer held back.
type writeStalls struct {
	held  int       // writers held back now (under the store's mutex)
	since time.Time // when the first of them was (under the store's mutex)
	count atomic.Uint64
	nanos atomic.Int64
}

func (w *writeStalls) begin(pebble.WriteStallBeginInfo) {
	if w.held == 0 {
		w.since = time.Now()
		w.count.Add(1)
	}
	w.held++
}

func (w *writeStalls) end() {
	if w.held == 0 {
		return
	}
	w.held--
	if w.held == 0 {
		w.nanos.Add(int64(time.Since(w.since)))
	}
}

// ObserveLogDB returns the stores the NodeHost of nhc opens, or nil if its
// LogDB is not pebble (Stats of nil is zero).
func ObserveLogDB(nhc *config.NodeHostConfig) *LogDBStores {
	f, ok := nhc.Expert.LogDBFactory.(pebbleFactory)
	if !ok {
		return nil
	}
	s := &LogDBStores{}
	f.opened = s.add
	nhc.Expert.LogDBFactory = f
	return s
}

func (s *LogDBStores) add(db *pebble.DB, stalls *writeStalls) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs = append(s.dbs, db)
	s.stalls = append(s.stalls, stalls)
}

// Detach forgets the stores, before their NodeHost closes them; Stats is
// zero from then on.
func (s *LogDBStores) Detach() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs = nil
	s.stalls = nil
}

// Stats sums the stores' metrics (zero once detached).
func (s *LogDBStores) Stats() LogDBStats {
	var st LogDBStats
	if s == nil {
		return st
	}
	s.mu.Lock() // held throughout, so that Detach waits for it
	defer s.mu.Unlock()
	for _, db := range s.dbs {
		m := db.Metrics()
		st.WALBytes += m.WAL.BytesWritten
		st.Flushes += m.Flush.Count
		st.Compactions += m.Compact.Count
		for _, l := range m.Levels {
			st.FlushBytes += l.BytesFlushed
			st.CompactionBytes += l.BytesCompacted
		}
		st.L0Files += m.Levels[0].NumFiles
		st.L0Sublevels = max(st.L0Sublevels, m.Levels[0].Sublevels)
		st.DiskBytes += m.DiskSpaceUsage()
	}
	for _, w := range s.stalls {
		st.WriteStalls += w.count.Load()
		st.WriteStallTime += time.Duration(w.nanos.Load())
	}
	return st
}
