package engine

import (
	"sync"
)

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

// notifier wakes long polls when a partition's high watermark moves.
type notifier struct {
	mu     sync.Mutex
	hw     int64
	ch     chan struct{}
	closed bool
}

func newNotifier() *notifier { return &notifier{hw: -1, ch: make(chan struct{})} }

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// update records a new high watermark and wakes the waiters.
func (n *notifier) update(hw int64) {
	n.mu.Lock()
	if hw != n.hw && !n.closed {
		n.hw = hw
		close(n.ch)
		n.ch = make(chan struct{})
	}
	n.mu.Unlock()
}

// watch returns a channel closed once the high watermark is past hw (or the
// partition stops here).
func (n *notifier) watch(hw int64) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hw > hw || n.closed {
		return closedCh
	}
	return n.ch
}

func (n *notifier) close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.ch)
	}
	n.mu.Unlock()
}
