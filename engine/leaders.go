package engine

import (
	"context"
	"sync"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// leaderHint is the leader (replica id) and term a broker hosting shard as
// replica self names to clients.
func (e *Engine) leaderHint(shard, self uint64) (leader, term uint64) {
	leader, term = e.leaders.get(shard)
	return pickLeader(leader, term, e.meta.State().Leaders[shard], self)
}

// awaitLeader waits until the broker hosting shard as replica self can name
// a leader for it, at most maxWait and within ctx, and returns the leader
// (0 if none by then; with minTerm, possibly the one it was waiting to see
// go) and term. It bridges the few milliseconds of an
// election or leadership transfer, so that a produce arriving then is
// answered with the new leader (NOT_LEADER_OR_FOLLOWER and its hint, which
// clients follow at once) instead of LEADER_NOT_AVAILABLE, after which
// clients wait for their next metadata refresh (seconds for franz-go).
//
// With minTerm above 0 it waits for a leader of at least that term, or for
// one other than self: how a replica that led in term minTerm-1 learns
// where its leadership went.
func (e *Engine) awaitLeader(ctx context.Context, shard, self, minTerm uint64, maxWait time.Duration) (leader, term uint64) {
	var timeout <-chan time.Time
	for {
		changed := e.leaders.watch()
		if leader, term = e.leaderHint(shard, self); leader != 0 && (term >= minTerm || leader != self) {
			return leader, term
		}
		if timeout == nil {
			t := time.NewTimer(maxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return leader, term
		case <-ctx.Done():
			return leader, term
		case <-e.closing:
			return leader, term
		}
	}
}

// pickLeader merges a replica's own Raft view (leader, term) with the
// leader last reported to __meta. The own view wins when it knows a leader
// for a term no older than the report. Otherwise the reported leader is
// named, but only for a term this replica has not passed: a fresh replica
// that has not yet heard from its leader names it, while a replica that has
// seen a later term is in an election and names none, so clients retry at
// once rather than dial a leader that may be dead.
func pickLeader(leader, term uint64, reported shards.LeaderInfo, self uint64) (uint64, uint64) {
	switch {
	case leader != 0 && term >= reported.Epoch:
		return leader, term
	case reported.Leader != 0 && reported.Leader != self && reported.Epoch >= term:
		return reported.Leader, reported.Epoch
	}
	return 0, term
}

// leaderTable caches the leader and term of every local shard, as reported
// by dragonboat's RaftEventListener.
type leaderTable struct {
	mu sync.RWMutex
	m  map[uint64]leaderTerm
	// changed is closed, and replaced, at every set: waiters for a leader
	// (awaitLeader) look again then.
	changed chan struct{}
}

type leaderTerm struct {
	leader uint64 // replica id; 0 = none
	term   uint64
	since  time.Time // when leader became the leader (this broker's clock)
}

func (t *leaderTable) init() {
	t.m = map[uint64]leaderTerm{}
	t.changed = make(chan struct{})
}

func (t *leaderTable) set(shard, leader, term uint64) {
	t.mu.Lock()
	lt := leaderTerm{leader, term, time.Now()}
	if old, ok := t.m[shard]; ok && old.leader == leader {
		lt.since = old.since
	}
	t.m[shard] = lt
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// watch returns a channel closed at the next set of any shard.
func (t *leaderTable) watch() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

func (t *leaderTable) get(shard uint64) (leader, term uint64) {
	t.mu.RLock()
	lt := t.m[shard]
	t.mu.RUnlock()
	return lt.leader, lt.term
}

// ledFor reports how long replica has led shard without a break (0 when it
// does not lead it).
func (t *leaderTable) ledFor(shard, replica uint64) time.Duration {
	t.mu.RLock()
	lt := t.m[shard]
	t.mu.RUnlock()
	if lt.leader != replica || replica == 0 {
		return 0
	}
	return time.Since(lt.since)
}

func (t *leaderTable) remove(shard uint64) {
	t.mu.Lock()
	delete(t.m, shard)
	t.mu.Unlock()
}

// notifier wakes long polls when a partition's high watermark moves past
// the value each waiter saw. Waiters on the same value share a channel.
type notifier struct {
	mu      sync.Mutex
	hw      int64
	waiters map[int64]chan struct{} // closed once hw > key
	closed  bool
}

func newNotifier() *notifier { return &notifier{hw: -1, waiters: map[int64]chan struct{}{}} }

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// update records a new high watermark and wakes the waiters it passed.
func (n *notifier) update(hw int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.hw = hw
	for at, ch := range n.waiters {
		if hw > at {
			close(ch)
			delete(n.waiters, at)
		}
	}
}

// watch returns a channel closed once the high watermark is past hw (or the
// partition stops here).
func (n *notifier) watch(hw int64) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hw > hw || n.closed {
		return closedCh
	}
	ch, ok := n.waiters[hw]
	if !ok {
		ch = make(chan struct{})
		n.waiters[hw] = ch
	}
	return ch
}

func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	for at, ch := range n.waiters {
		close(ch)
		delete(n.waiters, at)
	}
}
