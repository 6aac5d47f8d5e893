package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-io/chronik/internal/raftconf"
	"github.com/chronik-io/chronik/shards"
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
// follower to catch up, so it keeps only raftLogMinRetain: entries the
// LogDB drops before it flushes its memtable are never written twice more
// (pebble's sstables), which moved one broker's RF=1 produce from 165-178
// to 179-222 MiB/s.

// raftLogMinEntries is the fewest entries a byte-bounded compaction keeps,
// however large they are.
const raftLogMinEntries = 16

// raftLogMinRetain is the least a replica's share of the budget can be.
const raftLogMinRetain = 4 << 20

// raftLogCheckInterval is how often raftLogLoop looks at every replica.
const raftLogCheckInterval = 250 * time.Millisecond

// raftLogLoop compacts the Raft logs of local partition replicas by bytes,
// and with a shared-log LogDB those of every local replica by age
// (raftlogage.go).
func (e *Engine) raftLogLoop() {
	byAge := e.logdb == raftconf.LogDBTanShared
	if e.cfg.RaftLogRetainBytes < 0 && !byAge {
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
		now := time.Now()
		if byAge {
			e.trimMetaLog(now, st.Index)
		}
		for _, p := range parts {
			r := retain
			if a := findPartition(st, p); a != nil && len(a.Replicas) == 1 {
				r = min(r, raftLogMinRetain)
			}
			e.trimRaftLog(p, r, now, byAge)
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
// the newest retain bytes, when it holds more than twice that (if retain is
// not negative), and, byAge, past the entries applied more than
// Config.RaftLogMaxAge ago.
func (e *Engine) trimRaftLog(p *partition, retain int64, now time.Time, byAge bool) {
	var keep uint64
	var due, aged bool
	if retain >= 0 {
		keep, due = p.sm.RaftLogTrim(retain, raftLogMinEntries)
	}
	var applied uint64
	if byAge {
		var err error
		if applied, err = p.sm.LastIndex(); err != nil {
			return // closed: the replica is going away
		}
		if k, ok := e.agedKeep(p.shard, &p.ages, now, applied); ok {
			if !due || k < keep {
				keep = k
			}
			due, aged = true, true
		}
	}
	if !due {
		return
	}
	e.compactRaftLog(p.shard, keep, &p.trimming, func(r dragonboat.RequestResult, ok bool) {
		switch {
		case ok:
			p.sm.RaftLogCompacted(r.SnapshotIndex(), keep)
			p.ages.compactedTo(r.SnapshotIndex() - min(keep, r.SnapshotIndex()))
		case aged && r.Rejected():
			p.ages.stuck(applied)
		}
	})
}

// trimMetaLog compacts away the entries of this broker's __meta replica
// applied more than Config.RaftLogMaxAge ago (applied is its last applied
// index).
func (e *Engine) trimMetaLog(now time.Time, applied uint64) {
	keep, ok := e.agedKeep(shards.MetaShardID, &e.metaAges, now, applied)
	if !ok {
		return
	}
	e.compactRaftLog(shards.MetaShardID, keep, &e.metaTrimming, func(r dragonboat.RequestResult, ok bool) {
		switch {
		case ok:
			e.metaAges.compactedTo(r.SnapshotIndex() - min(keep, r.SnapshotIndex()))
		case r.Rejected():
			e.metaAges.stuck(applied)
		}
	})
}

// agedKeep returns how many of shard's newest entries to keep so that none
// applied more than Config.RaftLogMaxAge ago stays, if some are due to go
// (ages is the replica's record of when it applied what, applied its last
// applied index). On the shard's leader, when the shard applied nothing for
// that long or a snapshot at applied was refused before, it also proposes
// an empty entry (raftlogage.go).
func (e *Engine) agedKeep(shard uint64, ages *logAges, now time.Time, applied uint64) (keep uint64, ok bool) {
	every := e.cfg.RaftLogMaxAge / 4
	upTo, old, idle := ages.due(now, applied, e.cfg.RaftLogMaxAge, every)
	stuck := old && ages.isStuck(applied)
	if leader, _ := e.leaders.get(shard); (idle || stuck) && leader == e.cfg.NodeID && ages.mayNudge(now, every) {
		e.goFunc(func() { e.proposeEmpty(shard) })
	}
	if !old || stuck {
		return 0, false
	}
	return applied - min(upTo, applied), true
}

// proposeEmpty proposes an empty entry to shard, within two election
// timeouts or until the engine closes.
func (e *Engine) proposeEmpty(shard uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.cfg.RTT*time.Duration(e.cfg.ElectionTicks))
	defer cancel()
	go func() {
		select {
		case <-e.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := e.nh.SyncPropose(ctx, e.nh.GetNoOPSession(shard), nil); err != nil {
		e.log.Debug("raft log compaction: empty entry", "shard", shard, "err", err)
	}
}

// compactRaftLog asks for a snapshot of shard that keeps its newest keep
// entries in the Raft log and compacts the rest away, unless one is under
// way (busy). The snapshot is awaited on its own goroutine, which then calls
// done with its result (ok: taken).
func (e *Engine) compactRaftLog(shard, keep uint64, busy *atomic.Bool, done func(r dragonboat.RequestResult, ok bool)) {
	if !busy.CompareAndSwap(false, true) {
		return
	}
	opt := dragonboat.SnapshotOption{OverrideCompactionOverhead: true, CompactionOverhead: keep}
	rs, err := e.nh.RequestSnapshot(shard, opt, 10*time.Second)
	if err != nil {
		// Busy (a snapshot is being taken), not ready, or closing: the next
		// check tries again.
		busy.Store(false)
		e.log.Debug("raft log compaction: snapshot request", "shard", shard, "err", err)
		return
	}
	go func() {
		defer busy.Store(false)
		defer rs.Release()
		select {
		case r := <-rs.ResultC():
			done(r, r.Completed())
		case <-e.closing:
		}
	}()
}
