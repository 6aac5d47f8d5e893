package engine

import (
	"sync"

	"github.com/chronik-io/chronik/shards"
)

// leaderHint is the leader (replica id) and term a broker hosting shard as
// replica self names to clients.
func (e *Engine) leaderHint(shard, self uint64) (leader, term uint64) {
	leader, term = e.leaders.get(shard)
	return pickLeader(leader, term, e.meta.State().Leaders[shard], self)
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
}

type leaderTerm struct {
	leader uint64 // replica id; 0 = none
	term   uint64
}

func (t *leaderTable) init() { t.m = map[uint64]leaderTerm{} }

func (t *leaderTable) set(shard, leader, term uint64) {
	t.mu.Lock()
	t.m[shard] = leaderTerm{leader, term}
	t.mu.Unlock()
}

func (t *leaderTable) get(shard uint64) (leader, term uint64) {
	t.mu.RLock()
	lt := t.m[shard]
	t.mu.RUnlock()
	return lt.leader, lt.term
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
