package engine

import (
	"time"

	"github.com/lni/dragonboat/v4"
)

// Raft log bounds. dragonboat compacts a replica's Raft log only when it
// takes a snapshot, every SnapshotEntries entries, keeping
// CompactionOverhead entries behind it for followers to catch up from. A
// partition's entries are whole produce batches, up to megabytes each, so
// a count alone let a busy partition keep gigabytes of log that its segment
// files hold anyway; filling the page cache with it more than halved
// produce throughput (docs/PERFORMANCE.md). raftLogLoop therefore also
// compacts each replica's log by bytes: once the log holds more than twice
// Config.RaftLogRetainBytes of applied entries, it asks for a snapshot (for
// a partition that is only metadata, segment files are the state) that
// keeps the newest RaftLogRetainBytes of entries. With many partitions the
// logs also share one budget, Config.RaftLogBudgetBytes: each keeps at most
// its share of it (and at least raftLogMinRetain), so 256 partitions do not
// keep 256 times a busy partition's log. Every replica does this for its
// own log, leader or follower. A partition with a single replica has no
// follower to catch up, so it keeps only raftLogMinRetain, and not
// raftLogMinEntries either (sixteen 1 MiB produce batches are four times
// that): entries the LogDB drops before it flushes its memtable are never
// written twice more (pebble's sstables). Keeping 4 MiB moved one broker's
// RF=1 produce from 165-178 to 179-222 MiB/s, and dropping the entry
// minimum from a median 255 to 288 MB/s (ProduceVsKfake,
// docs/PERFORMANCE.md).

// raftLogMinEntries is the fewest entries a byte-bounded compaction keeps,
// however large they are.
const raftLogMinEntries = 16

// raftLogMinRetain is the least a replica's share of the budget can be.
const raftLogMinRetain = 4 << 20

// raftLogCheckInterval is how often raftLogLoop looks at every replica.
const raftLogCheckInterval = 250 * time.Millisecond

// raftLogLoop compacts the Raft logs of local partition replicas by bytes.
func (e *Engine) raftLogLoop() {
	if e.cfg.RaftLogRetainBytes < 0 {
		return
	}
	t := time.NewTicker(raftLogCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		e.mu.Lock()
		parts := make([]*partition, 0, len(e.parts))
		for _, p := range e.parts {
			parts = append(parts, p)
		}
		e.mu.Unlock()
		retain := raftLogRetain(e.cfg.RaftLogRetainBytes, e.cfg.RaftLogBudgetBytes, len(parts))
		st := e.meta.State()
		for _, p := range parts {
			r, minEntries := retain, uint64(raftLogMinEntries)
			if a := findPartition(st, p); a != nil && len(a.Replicas) == 1 {
				r, minEntries = min(r, raftLogMinRetain), 0
			}
			e.trimRaftLog(p, r, minEntries)
		}
	}
}

// raftLogRetain is what each of n replicas keeps: retain, or its share of
// budget (a log grows to twice what it keeps) if that is less, but not less
// than raftLogMinRetain.
func raftLogRetain(retain, budget int64, n int) int64 {
	if budget > 0 && n > 0 {
		retain = min(retain, max(budget/int64(2*n), raftLogMinRetain))
	}
	return retain
}

// trimRaftLog asks for a snapshot of p that compacts its Raft log down to
// the newest retain bytes (and at least minEntries entries), when it holds
// more than twice that. The snapshot is awaited on its own goroutine; one
// at a time per partition.
func (e *Engine) trimRaftLog(p *partition, retain int64, minEntries uint64) {
	keep, due := p.sm.RaftLogTrim(retain, minEntries)
	if !due || !p.trimming.CompareAndSwap(false, true) {
		return
	}
	opt := dragonboat.SnapshotOption{OverrideCompactionOverhead: true, CompactionOverhead: keep}
	rs, err := e.nh.RequestSnapshot(p.shard, opt, 10*time.Second)
	if err != nil {
		// Busy (a snapshot is being taken), not ready, or closing: the next
		// check tries again.
		p.trimming.Store(false)
		e.log.Debug("raft log compaction: snapshot request", "topic", p.topic, "partition", p.index, "err", err)
		return
	}
	go func() {
		defer p.trimming.Store(false)
		defer rs.Release()
		select {
		case r := <-rs.ResultC():
			if r.Completed() {
				p.sm.RaftLogCompacted(r.SnapshotIndex(), keep)
			}
		case <-e.closing:
		}
	}()
}
