package raftconf

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
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
// (128 MiB per LogDB shard), by when most of what it would rewrite has been
// deleted. The cost is read amplification of up to 8 L0 files on a Raft
// log read (a lagging follower's catch-up, a restart), against which
// pebble still stalls writes at L0StopWritesThreshold (24, from
// LogDBConfig.KVLevel0StopWritesTrigger).
//
// dragonboat maps its LogDBConfig onto pebble.Options itself and does not
// expose this one. pebbleFactory below builds dragonboat's own sharded
// pebble LogDB (linkname to internal/logdb.NewLogDB) with dragonboat's own
// pebble key-value store (linkname to its NewKVStore) and sets the
// threshold on each opened pebble.DB, under the DB's mutex, as pebble's
// compaction picker reads it.
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
	// opened, if not nil, is told of every pebble store opened (tests).
	opened func(*pebble.DB)
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
	if err == nil {
		err = setL0CompactionThreshold(db, f.l0Threshold)
	}
	if err != nil {
		return kvStore{}, errors.Join(fmt.Errorf("tune LogDB store %s: %w", dir, err), kv.close())
	}
	if f.opened != nil {
		f.opened(db)
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

// setL0CompactionThreshold sets db's L0CompactionThreshold to n.
func setL0CompactionThreshold(db *pebble.DB, n int) error {
	off, err := pebbleDBFields()
	if err != nil {
		return err
	}
	opts := *(**pebble.Options)(unsafe.Add(unsafe.Pointer(db), off[0]))
	mu := (*sync.Mutex)(unsafe.Add(unsafe.Pointer(db), off[1]))
	mu.Lock()
	defer mu.Unlock()
	if n > opts.L0StopWritesThreshold {
		return fmt.Errorf("L0 compaction threshold %d above the stop-writes threshold %d", n, opts.L0StopWritesThreshold)
	}
	opts.L0CompactionThreshold = n
	return nil
}
