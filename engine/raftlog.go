package engine

import (
	"time"

	"github.com/chronik-io/chronik/shards"
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
// own log, leader or follower.
//
// Entries the LogDB drops before it flushes its memtable are never written
// twice more (pebble's sstables and their compaction), so a log that needs
// no more keeps only raftLogMinRetain, and not raftLogMinEntries either
// (sixteen 1 MiB produce batches are four times that):
//   - the single replica of a partition without followers;
//   - a leader whose followers have all acknowledged (followerProgress) all
//     but its newest entries, once it has led for raftLogSettle: it keeps
//     what the slowest of them lacks, up to its share, and at least
//     raftLogMinRetain.
// A follower keeps its share: it may be elected, and a replica lagging
// behind it then catches up from its log rather than from a snapshot of
// the whole partition. Keeping 4 MiB moved one broker's RF=1 produce from
// 165-178 to 179-222 MiB/s and dropping the entry minimum from a median
// 255 to 288 MB/s (ProduceVsKfake); trimming settled leaders to what their
// followers lack moved three brokers RF=3 on 8 partitions, in steady
// state, from a median 71.7 to 78.0 MiB/s (docs/PERFORMANCE.md).

// raftLogMinEntries is the fewest entries a byte-bounded compaction keeps,
// however large they are.
const raftLogMinEntries = 16

// raftLogMinRetain is the least a replica's share of the budget can be,
// and the least a log that needs no more keeps.
const raftLogMinRetain = 4 << 20

// raftLogSettle is how many leader balancer cool-downs
// (Config.LeaderBalanceCooldown, 30 s by default) a replica must have led
// its partition before it keeps less than its share. Right after an
// election a replica that was down may still be on its way back (a broker
// restarting under full load took 7 s to answer), and it catches up from
// this log or from a streamed snapshot of the whole partition. A kill test
// under full load (a broker killed every 9 s) streamed such snapshots in 9
// runs of 9 without this wait, 0 of 3 with it, and 1 of 4 before leaders
// kept less than their share at all.
const raftLogSettle = 3

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
		local := make(map[uint64]bool, len(parts))
		for _, p := range parts {
			local[p.shard] = true
			r, minEntries := e.raftLogKeep(st, p, retain)
			e.trimRaftLog(p, r, minEntries)
		}
		e.progress.keepOnly(func(shard uint64) bool { return local[shard] })
	}
}

// raftLogKeep returns how many bytes of p's Raft log to keep, and how many
// entries at least, when p may keep share bytes.
func (e *Engine) raftLogKeep(st *shards.MetaState, p *partition, share int64) (retain int64, minEntries uint64) {
	least := min(share, raftLogMinRetain)
	a := findPartition(st, p)
	if a != nil && len(a.Replicas) == 1 {
		return least, 0
	}
	lacking, ok := e.followersLack(a, p, false)
	if !ok || e.leaders.ledFor(p.shard, p.replica) < raftLogSettle*e.cfg.LeaderBalanceCooldown {
		// A follower (it may be elected), a membership in flux, a
		// follower not heard from, or a leader elected lately: keep the
		// share.
		return share, raftLogMinEntries
	}
	return min(share, max(lacking, least)), 0
}

// followersLack returns about how many bytes of p's applied log its
// slowest follower (of those on reachable brokers, if reachable) has yet to
// acknowledge, when p leads partition a; ok is false when p does not lead,
// a's membership is changing, or a follower has not acknowledged anything
// in the current term or lacks more than p can tell. With reachable and no
// follower reachable, nobody lacks anything: 0, true.
func (e *Engine) followersLack(a *shards.Partition, p *partition, reachable bool) (lacking int64, ok bool) {
	leader, term := e.leaderHint(p.shard, p.replica)
	if a == nil || leader != p.replica || a.Reassign != nil || len(a.Replaced) > 0 {
		return 0, false
	}
	followers := make([]uint64, 0, len(a.Replicas))
	for _, r := range a.Replicas {
		if r != p.replica && (!reachable || e.links.reachable(shards.BrokerOf(r))) {
			followers = append(followers, r)
		}
	}
	if len(followers) == 0 {
		return 0, reachable
	}
	slowest, ok := e.progress.slowest(p.shard, term, followers)
	if !ok {
		return 0, false
	}
	return p.sm.RaftLogBytesAfter(slowest)
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
	upTo, due := p.sm.RaftLogTrim(retain, minEntries)
	if !due || !p.trimming.CompareAndSwap(false, true) {
		return
	}
	// An index, not a count of entries behind the snapshot: the snapshot
	// may be taken well after this, with many more entries applied, and a
	// count would then cut into what a lagging follower still needs.
	opt := dragonboat.SnapshotOption{OverrideCompactionOverhead: true, CompactionIndex: upTo}
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
				p.sm.RaftLogCompacted(r.SnapshotIndex(), upTo)
			}
		case <-e.closing:
		}
	}()
}
