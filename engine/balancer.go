package engine

import (
	"sync"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// maxTransfersPerRound bounds the leadership moves one balancer round asks
// for: each move pauses the partition's proposals while the target catches
// up, so a returning broker takes its leaderships back in waves.
const maxTransfersPerRound = 64

// balancer is the state of the leader balancer: when it last asked for each
// partition's leadership.
type balancer struct {
	mu      sync.Mutex
	lastTry map[uint64]time.Time // shard -> last transfer request
	moves   uint64               // transfer requests made
}

// balanceLoop moves leadership back to this broker for the partitions whose
// preferred leader it is, once it has been ready for
// Config.LeaderBalanceCooldown. It runs on the preferred broker itself (a
// follower's RequestLeaderTransfer is forwarded to the leader), so a
// transfer never targets a broker that is down. A partition is asked for at
// most once per cool-down.
func (e *Engine) balanceLoop() {
	if e.cfg.LeaderBalanceInterval < 0 {
		return
	}
	select {
	case <-e.ready:
	case <-e.closing:
		return
	}
	readyAt := time.Now()
	t := time.NewTicker(e.cfg.LeaderBalanceInterval)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		if time.Since(readyAt) < e.cfg.LeaderBalanceCooldown {
			continue
		}
		e.balanceOnce(time.Now())
	}
}

// balanceOnce asks for the leadership of up to maxTransfersPerRound
// partitions this broker prefers but does not lead; it returns how many.
func (e *Engine) balanceOnce(now time.Time) int {
	st := e.meta.State()
	type move struct{ shard, replica uint64 }
	var moves []move
	e.balance.mu.Lock()
	defer e.balance.mu.Unlock()
	if e.balance.lastTry == nil {
		e.balance.lastTry = map[uint64]time.Time{}
	}
	e.mu.Lock()
	for shard, p := range e.parts {
		if len(moves) >= maxTransfersPerRound {
			break
		}
		if now.Sub(p.startedAt) < e.cfg.LeaderBalanceCooldown || now.Sub(e.balance.lastTry[shard]) < e.cfg.LeaderBalanceCooldown {
			continue
		}
		l, _ := e.leaders.get(shard)
		if l == 0 || l == p.replica {
			continue
		}
		a := findPartition(st, p)
		if a == nil || a.Preferred != p.replica || a.Reassign != nil {
			continue // a reassignment moves leadership itself (reassign.go)
		}
		moves = append(moves, move{shard, p.replica})
	}
	e.mu.Unlock()
	for shard, at := range e.balance.lastTry {
		if now.Sub(at) > 10*e.cfg.LeaderBalanceCooldown {
			delete(e.balance.lastTry, shard)
		}
	}
	for _, m := range moves {
		e.balance.lastTry[m.shard] = now
		if err := e.nh.RequestLeaderTransfer(m.shard, m.replica); err != nil {
			e.log.Debug("leader balancer: transfer request", "shard", m.shard, "err", err)
			continue
		}
		e.balance.moves++
	}
	if len(moves) > 0 {
		e.log.Info("leader balancer: asked for the leadership of preferred partitions", "partitions", len(moves))
	}
	return len(moves)
}

// LeaderBalanceMoves counts the leadership transfers the leader balancer
// of this broker has asked for.
func (e *Engine) LeaderBalanceMoves() uint64 {
	e.balance.mu.Lock()
	defer e.balance.mu.Unlock()
	return e.balance.moves
}

// onLeaderChange passes a Raft leader event to the HookLeaderChange hooks.
func (e *Engine) onLeaderChange(shard, leader, term uint64) {
	if len(e.hooks.leader) == 0 {
		return
	}
	topic, partition := e.shardTopic(shard), int32(-1)
	if p := e.local(shard); p != nil && shard != shards.MetaShardID {
		partition = p.index
	}
	for _, h := range e.hooks.leader {
		h.OnLeaderChange(topic, partition, shards.BrokerOf(leader), term)
	}
}
