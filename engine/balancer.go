package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// maxTransfersPerRound bounds the leadership moves one balancer round
// makes, and balanceParallel how many hand-overs run at once: each pauses
// its partition's proposals for a few heartbeats, so a returning broker
// takes its leaderships back in waves.
const (
	maxTransfersPerRound = 64
	balanceParallel      = 8
)

// balancer is the state of the leader balancer: when it last moved each
// partition's leadership.
type balancer struct {
	mu      sync.Mutex
	lastTry map[uint64]time.Time // shard -> last hand-over
	moves   uint64               // hand-overs made
}

// balanceLoop hands leadership back to the preferred replica of the
// partitions this broker leads in its place (after a failure), once the
// preferred broker's Raft port has answered, and this broker has led the
// partition, for Config.LeaderBalanceCooldown. It runs on the leader, which
// quiesces the partition before the transfer (handOverQuiesced): a transfer
// asked for by the target found it, under continuous produce, with
// committed entries not yet applied, and Raft then skips the campaign and
// the leader drops proposals until the transfer times out (an election
// timeout). A partition moves at most once per cool-down.
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

// balanceOnce hands over up to maxTransfersPerRound partitions this broker
// leads to their preferred replicas, and returns how many it handed over.
func (e *Engine) balanceOnce(now time.Time) int {
	st := e.meta.State()
	type move struct {
		p      *partition
		target uint64
	}
	var moves []move
	e.balance.mu.Lock()
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
		if e.leaders.ledFor(shard, p.replica) < e.cfg.LeaderBalanceCooldown {
			// Not the leader, or only since a recent election: the
			// preferred broker failed lately. A broker that was stopped
			// (SIGSTOP, a long GC or I/O stall) keeps its Raft port open,
			// so reachability alone does not show it; handing leadership
			// to it before it has caught up stalls the partition's writes.
			continue
		}
		a := findPartition(st, p)
		if a == nil || a.Preferred == 0 || a.Preferred == p.replica || a.Reassign != nil {
			continue // a reassignment moves leadership itself (reassign.go)
		}
		b := shards.BrokerOf(a.Preferred)
		if _, ok := st.Brokers[b]; !ok || !e.links.upFor(b, e.cfg.LeaderBalanceCooldown) {
			continue // not registered, or not back for long enough to have caught up
		}
		if lacking, ok := e.followersLack(a, p, true); !ok || lacking > raftLogMinRetain {
			// A follower is still catching up (or has not answered this
			// term). Raft hands leadership over once the target has, but
			// the others would then catch up from the new leader's log,
			// which as a follower's kept less than this one: a streamed
			// snapshot of the whole partition instead.
			continue
		}
		moves = append(moves, move{p, a.Preferred})
	}
	e.mu.Unlock()
	for shard, at := range e.balance.lastTry {
		if now.Sub(at) > 10*e.cfg.LeaderBalanceCooldown {
			delete(e.balance.lastTry, shard)
		}
	}
	for _, m := range moves {
		e.balance.lastTry[m.p.shard] = now
	}
	e.balance.moves += uint64(len(moves))
	e.balance.mu.Unlock()
	if len(moves) == 0 {
		return 0
	}
	e.log.Info("leader balancer: handing partitions back to their preferred replicas", "partitions", len(moves))
	sem := make(chan struct{}, balanceParallel)
	var wg sync.WaitGroup
	for _, m := range moves {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := e.handOverQuiesced(m.p, m.target); err != nil {
				e.log.Debug("leader balancer: hand-over", "topic", m.p.topic, "partition", m.p.index, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(moves)
}

// handOverQuiesced transfers the leadership of partition p, which this
// broker leads, to replica to, and waits (at most two election timeouts)
// for it to move. It first quiesces the partition: it holds every in-flight
// slot, so that no new produce is proposed here, and gives the target two
// ticks to learn the last commit index (the leader sends it as soon as it
// commits) and apply up to it. dragonboat's target skips
// the campaign a transfer asks for while it has committed entries it has
// not applied, and the leader then drops proposals until the transfer
// times out (an election timeout, 1 s by default): under continuous
// produce that is what happened to most transfers. Produce calls wait for
// a slot meanwhile (within their deadline), then find the new leader.
func (e *Engine) handOverQuiesced(p *partition, to uint64) error {
	held := 0
	defer func() {
		for range held {
			<-p.inflight
		}
	}()
	quiesce := time.After(time.Duration(e.cfg.ElectionTicks) * e.cfg.RTT / 2)
fill:
	for held < cap(p.inflight) {
		select {
		case p.inflight <- struct{}{}:
			held++
		case <-quiesce:
			break fill // a proposal is stuck: hand over anyway
		case <-e.closing:
			return ErrClosed
		}
	}
	time.Sleep(2 * e.cfg.RTT)
	if err := e.nh.RequestLeaderTransfer(p.shard, to); err != nil {
		return fmt.Errorf("hand the leadership of shard %d to replica %d: %w", p.shard, to, err)
	}
	deadline := time.Now().Add(2 * time.Duration(e.cfg.ElectionTicks) * e.cfg.RTT)
	for time.Now().Before(deadline) {
		if l, _ := e.leaders.get(p.shard); l != p.replica {
			return nil
		}
		select {
		case <-e.closing:
			return ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
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
