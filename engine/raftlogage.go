package engine

import (
	"sync"
	"time"
)

// Raft log age bound. With the tan-shared LogDB the replicas of a broker
// share 16 log files, and a file is deleted only once every replica with
// entries in it has compacted past them. A quiet replica compacts rarely
// (its log never reaches the byte bound), so its last few entries would keep
// every file written since then on disk: a consumer-offsets partition
// committed to once an hour, or __meta, would pin the busy partitions'
// gigabytes beside it. So with that LogDB every replica, __meta included,
// also compacts away the entries it applied more than
// Config.RaftLogMaxAge ago. A follower that has been away longer catches
// up from a snapshot, as one that lags by more than the byte bound does.
// A replica notes its applied index every quarter of that age, so an entry
// is compacted between RaftLogMaxAge and 1.25 times it after it was
// applied.
//
// tan also keeps each replica's Raft state (term, vote, commit index) in
// the log file it was last written to, so a replica that applies nothing
// pins that file however short its log. And dragonboat compacts a log only
// in a snapshot, and takes none while nothing was applied since the last.
// So the leader of a shard that applied nothing for Config.RaftLogMaxAge,
// or whose old entries could not be snapshotted past, proposes an empty
// entry (at most once per quarter of the age): every replica applies it
// (the state machines refuse it as a bad command and change nothing),
// writes its state to the current file, and can then compact. An idle
// shard costs one such entry per RaftLogMaxAge.

// logAges knows, for one replica, which of its applied Raft entries are
// older than a bound: it keeps (time, applied index) marks, one per
// interval in which something was applied. Safe for concurrent use.
type logAges struct {
	mu        sync.Mutex
	marks     []ageMark // oldest first
	compacted uint64    // entries up to here are known compacted away
	stuckAt   uint64    // a snapshot at this applied index was refused: nothing new
	nudged    time.Time // when an empty entry was last proposed for this replica
	last      uint64    // the last applied index seen
	lastAt    time.Time // when it was first seen
}

// ageMark: by at, the entries up to index had been applied.
type ageMark struct {
	at    time.Time
	index uint64
}

// due notes that applied entries have been applied by now, and reports the
// index up to which entries were applied more than maxAge ago and are not
// yet compacted, if there is one (ok), and whether nothing was applied for
// maxAge (idle).
func (a *logAges) due(now time.Time, applied uint64, maxAge, every time.Duration) (upTo uint64, ok, idle bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if applied > a.last || a.lastAt.IsZero() {
		a.last, a.lastAt = applied, now
	}
	idle = now.Sub(a.lastAt) >= maxAge
	n := len(a.marks)
	if applied > a.compacted && (n == 0 || (applied > a.marks[n-1].index && now.Sub(a.marks[n-1].at) >= every)) {
		a.marks = append(a.marks, ageMark{at: now, index: applied})
	}
	for _, m := range a.marks {
		if now.Sub(m.at) < maxAge {
			break
		}
		upTo = m.index
	}
	return upTo, upTo > a.compacted, idle
}

// stuck records that a snapshot at applied was refused: nothing was
// applied since the last one.
func (a *logAges) stuck(applied uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stuckAt = max(a.stuckAt, applied)
}

// isStuck reports whether a snapshot at applied was refused before.
func (a *logAges) isStuck(applied uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return applied <= a.stuckAt
}

// mayNudge reports whether an empty entry may be proposed now: at most
// once per every.
func (a *logAges) mayNudge(now time.Time, every time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.nudged) < every {
		return false
	}
	a.nudged = now
	return true
}

// compactedTo records that the log holds no entry up to index any more,
// and forgets the marks that covers.
func (a *logAges) compactedTo(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.compacted = max(a.compacted, index)
	cut := 0
	for cut < len(a.marks) && a.marks[cut].index <= a.compacted {
		cut++
	}
	a.marks = append(a.marks[:0], a.marks[cut:]...)
}
