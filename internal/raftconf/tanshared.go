package raftconf

import (
	_ "unsafe" // go:linkname, for the factory below

	"github.com/lni/dragonboat/v4/config"
	_ "github.com/lni/dragonboat/v4/plugin/tan" // the package whose factory is linked
	"github.com/lni/dragonboat/v4/raftio"
)

// dragonboat's tan LogDB has two layouts. The one its plugin exports gives
// every replica its own log files, each preallocated to 64 MiB, which does
// not scale past a few dozen partitions per broker. The other, which it
// builds but does not export, multiplexes the replicas over 16 shared logs
// (by shard ID modulo 16), as pebble shares its 16 key-value stores:
// appends from many replicas meet in one file and one fsync, and a
// compacted entry is never rewritten (pebble writes each entry to its WAL,
// an sstable and again in compaction). The linkname below reaches that
// factory's Create.
//
// It is a yardstick only (`chronik bench raft --logdb tan-shared`), never a
// broker's LogDB: removing one replica's data (RemoveNodeData, as a topic
// deletion or a reassignment does) runs the per-replica layout's cleanup,
// which deletes every log file of the shared log but the current one, with
// the other replicas' entries and Raft state in them; the next read of
// those panics the process ("open .../000002.log: no such file or
// directory"). Shared files are also kept by any replica whose state was
// last written to them, however short its log. docs/ENGINE.md has the
// figures that make it worth fixing.

//go:linkname tanSharedCreate github.com/lni/dragonboat/v4/internal/tan.multiplexLogFactory.Create
func tanSharedCreate(recv struct{}, cfg config.NodeHostConfig, cb config.LogDBCallback, dirs []string, wals []string) (raftio.ILogDB, error)

// tanSharedFactory creates tan LogDBs whose replicas share 16 logs.
type tanSharedFactory struct{}

// Create implements config.LogDBFactory.
func (tanSharedFactory) Create(cfg config.NodeHostConfig, cb config.LogDBCallback, dirs []string, wals []string) (raftio.ILogDB, error) {
	return tanSharedCreate(struct{}{}, cfg, cb, dirs, wals)
}

// Name implements config.LogDBFactory: the name tan itself reports.
func (tanSharedFactory) Name() string { return "Tan" }
