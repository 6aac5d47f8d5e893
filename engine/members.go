package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lni/dragonboat/v4"

	"github.com/chronik-io/chronik/shards"
)

// Growing and shrinking a running cluster (see shards/meta_brokers.go for
// what __meta records).
//
// A broker is added by AddBroker on any current member: __meta records its
// Raft address first (so every broker's registry resolves it before any
// Raft group has it as a member), then it joins __meta's Raft group as a
// voter, but only while the reachable voters (the new broker counting if
// its Raft port answers) form a quorum of the bigger group. The new
// broker, started with Config.Join, calls AddBroker through a member
// (Config.Join) on its first start, then starts its __meta replica as a
// joiner, catches up, registers its Kafka listeners and from then on gets
// partition replicas like any other broker.
//
// A broker is removed by RemoveBroker once no partition has a replica on it
// (the CLI moves them off first with reassignments): __meta takes it out of
// the broker table and marks its id removed, then it leaves __meta's Raft
// group (after handing __meta's leadership away if it had it), only while
// the reachable voters form a quorum before and after, and last every
// broker's registry drops its address. The removed broker sees itself
// removed in __meta, keeps its __meta replica running until it left the
// Raft group (its vote may be needed for that; awaitLeft), and then closes
// Removed: it stops serving.

// AddBroker adds broker id, whose Raft transport listens on raftAddr, to the
// cluster: its address goes into __meta (and so into every broker's
// registry), then it becomes a voting member of __meta. The broker itself
// must then start (Config.Join) and register. Idempotent: adding a member
// again with the same address succeeds.
//
// Errors: ErrInvalidBroker (id out of range, a bad address, the address of
// another broker, or a member with another address), ErrBrokerRemoved (ids
// are never taken back), ErrMetaQuorum (the reachable voters, with the new
// broker if its Raft port answers, would not form a quorum of the bigger
// group), ErrTimeout, ErrNotReady, ErrClosed.
func (e *Engine) AddBroker(ctx context.Context, id uint64, raftAddr string) error {
	ctx, cancel := withDeadline(ctx, memberChangeTimeout)
	defer cancel()
	if id == 0 || id >= shards.ReplicaGenerationBase {
		return fmt.Errorf("broker id %d: must be in [1, %d]: %w", id, shards.ReplicaGenerationBase-1, ErrInvalidBroker)
	}
	addr, err := shards.CanonicalAddr(raftAddr)
	if err != nil {
		return fmt.Errorf("broker %d: %w: %w", id, ErrInvalidBroker, err)
	}
	st := e.meta.State()
	if st.Removed(id) {
		return fmt.Errorf("broker %d: %w (add it under a new id)", id, ErrBrokerRemoved)
	}
	m, err := e.metaMembership(ctx)
	if err != nil {
		return err
	}
	_, voter := m.Nodes[id]
	_, nonVoting := m.NonVotings[id]
	if have, ok := e.reg.Addr(id); ok && have != addr && (voter || nonVoting) {
		return fmt.Errorf("broker %d is a member at %s, not %s: %w", id, have, addr, ErrInvalidBroker)
	}
	if !voter && !nonVoting {
		// The new broker counts when its Raft port answers: a broker
		// started with Config.Join listens before it asks to be added,
		// and catches up __meta's small state at once (this is how a
		// one-broker cluster grows to two).
		live := 0
		for v := range m.Nodes {
			if v == e.cfg.NodeID || e.links.reachable(v) {
				live++
			}
		}
		if e.answers(ctx, addr) {
			live++
		}
		if quorum := (len(m.Nodes)+1)/2 + 1; live < quorum {
			return fmt.Errorf("add broker %d: %d of %d reachable (__meta's %d voters and the new broker), %d needed once it is added "+
				"(start the new broker with --join, or bring the others back): %w", id, live, len(m.Nodes)+1, len(m.Nodes), quorum, ErrMetaQuorum)
		}
	}
	if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpAddBroker, Broker: &shards.BrokerInfo{ID: id}, RaftAddr: addr}); err != nil {
		return fmt.Errorf("add broker %d: %w", id, brokerMetaError(err))
	}
	if voter || nonVoting {
		return nil
	}
	err = e.metaAttempts(ctx, func(actx context.Context) error {
		return e.nh.SyncRequestAddReplica(actx, shards.MetaShardID, id, shards.NodeHostID(id), 0)
	}, func(m *dragonboat.Membership) bool { _, ok := m.Nodes[id]; return ok })
	if err != nil {
		return fmt.Errorf("add broker %d to __meta's raft group: %w", id, err)
	}
	e.log.Info("broker added to the cluster; it joins __meta and registers once it starts", "broker", id, "raft_addr", addr)
	return nil
}

// RemoveBroker removes broker id from the cluster: from __meta's broker
// table (Metadata no longer lists it), from __meta's Raft group, and from
// every broker's registry. The broker must hold no partition replica: move
// them off first (ReassignPartition). A removed broker stops serving
// (Removed) and its id is never taken back. Removing a broker that is
// already removed succeeds (and finishes an interrupted removal).
//
// Errors: ErrUnknownBroker, ErrBrokerHasReplicas, ErrMetaQuorum (the
// voters this broker reaches would not form a quorum of __meta before or
// after the change, or it is the last voter), ErrTimeout, ErrNotReady,
// ErrClosed.
func (e *Engine) RemoveBroker(ctx context.Context, id uint64) error {
	ctx, cancel := withDeadline(ctx, memberChangeTimeout)
	defer cancel()
	if id == 0 || id >= shards.ReplicaGenerationBase {
		return fmt.Errorf("broker id %d: %w", id, ErrUnknownBroker)
	}
	m, err := e.metaMembership(ctx)
	if err != nil {
		return err
	}
	_, voter := m.Nodes[id]
	_, nonVoting := m.NonVotings[id]
	st := e.meta.State()
	if st.Removed(id) {
		return e.finishRemoval(ctx, id)
	}
	_, registered := st.Brokers[id]
	if _, known := st.RaftAddrs[id]; !registered && !known && !voter && !nonVoting {
		return fmt.Errorf("broker %d: %w", id, ErrUnknownBroker)
	}
	if ps := st.HostsReplicas(id); len(ps) > 0 {
		return fmt.Errorf("broker %d: %d partitions have a replica on it (%s-%d first); move them off first: %w",
			id, len(ps), ps[0].Topic, ps[0].Partition, ErrBrokerHasReplicas)
	}
	if voter {
		if err := e.checkMetaQuorumWithout(m, id); err != nil {
			return err
		}
		// A leader never removes itself.
		e.moveMetaLeadershipOff(ctx, id, m)
	}
	if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpRemoveBroker, Broker: &shards.BrokerInfo{ID: id}}); err != nil {
		return fmt.Errorf("remove broker %d: %w", id, brokerMetaError(err))
	}
	e.log.Info("broker removed from the broker table; it leaves __meta next", "broker", id)
	return e.finishRemoval(ctx, id)
}

// checkMetaQuorumWithout refuses the removal of voter id from __meta
// (membership m) unless both the change itself (under the current voters,
// id's vote included: a removed broker keeps its replica running until it
// left, see awaitLeft) and everything after it (under the voters left)
// can commit with the voters this broker reaches.
func (e *Engine) checkMetaQuorumWithout(m *dragonboat.Membership, id uint64) error {
	left, liveLeft, idLive := 0, 0, 0
	for v := range m.Nodes {
		live := v == e.cfg.NodeID || e.links.reachable(v)
		if v == id {
			if live {
				idLive = 1
			}
			continue
		}
		left++
		if live {
			liveLeft++
		}
	}
	if left == 0 {
		return fmt.Errorf("broker %d is __meta's last voter: %w", id, ErrMetaQuorum)
	}
	if need := left/2 + 1; liveLeft < need {
		return fmt.Errorf("remove broker %d: %d of the %d __meta voters left are reachable, %d needed: %w", id, liveLeft, left, need, ErrMetaQuorum)
	}
	if need := len(m.Nodes)/2 + 1; liveLeft+idLive < need {
		return fmt.Errorf("remove broker %d: %d of %d __meta voters reachable, %d needed to commit the change: %w",
			id, liveLeft+idLive, len(m.Nodes), need, ErrMetaQuorum)
	}
	return nil
}

// finishRemoval takes removed broker id out of __meta's Raft group, if it
// is still in it, and then drops its address from __meta (and so from
// every registry). The address goes last: until the membership change is
// committed, __meta's leader must still reach id.
func (e *Engine) finishRemoval(ctx context.Context, id uint64) error {
	m, err := e.metaMembership(ctx)
	if err != nil {
		return err
	}
	_, voter := m.Nodes[id]
	_, nonVoting := m.NonVotings[id]
	if voter || nonVoting {
		if voter {
			if err := e.checkMetaQuorumWithout(m, id); err != nil {
				return err
			}
		}
		e.moveMetaLeadershipOff(ctx, id, m)
		err := e.metaAttempts(ctx, func(actx context.Context) error {
			return e.nh.SyncRequestDeleteReplica(actx, shards.MetaShardID, id, 0)
		}, func(m *dragonboat.Membership) bool {
			_, voter := m.Nodes[id]
			_, nonVoting := m.NonVotings[id]
			return !voter && !nonVoting
		})
		if err != nil {
			return fmt.Errorf("remove broker %d from __meta's raft group: %w", id, err)
		}
		e.log.Info("broker left __meta's raft group", "broker", id)
	}
	if _, ok := e.meta.State().RaftAddrs[id]; !ok {
		return nil
	}
	if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpBrokerLeft, Broker: &shards.BrokerInfo{ID: id}}); err != nil {
		return fmt.Errorf("drop the address of removed broker %d: %w", id, brokerMetaError(err))
	}
	return nil
}

// moveMetaLeadershipOff hands __meta's leadership from broker id, if it
// has it, to another reachable voter and waits (within two election
// timeouts) for the move, so that a leader never removes itself.
func (e *Engine) moveMetaLeadershipOff(ctx context.Context, id uint64, m *dragonboat.Membership) {
	if l, _ := e.leaders.get(shards.MetaShardID); l != id {
		return
	}
	voters := slices.Sorted(maps.Keys(m.Nodes))
	to := e.transferTarget(voters, id)
	if to == 0 {
		return
	}
	if err := e.nh.RequestLeaderTransfer(shards.MetaShardID, to); err != nil {
		e.log.Debug("hand __meta's leadership over before a removal", "from", id, "to", to, "err", err)
		return
	}
	deadline := time.Now().Add(2 * time.Duration(e.cfg.ElectionTicks) * e.cfg.RTT)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l, _ := e.leaders.get(shards.MetaShardID); l != 0 && l != id {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers reports whether a TCP connection to addr opens within
// probeTimeout.
func (e *Engine) answers(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := e.links.dial(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// memberChangeTimeout bounds AddBroker and RemoveBroker called with a
// context without deadline (dragonboat's requests need one).
const memberChangeTimeout = 30 * time.Second

// withDeadline returns ctx, or when it has no deadline, ctx bounded by d.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// metaMembership returns __meta's Raft membership (a linearizable read).
func (e *Engine) metaMembership(ctx context.Context) (*dragonboat.Membership, error) {
	var m *dragonboat.Membership
	err := e.metaAttempts(ctx, func(actx context.Context) error {
		var err error
		m, err = e.nh.SyncGetShardMembership(actx, shards.MetaShardID)
		return err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("membership of __meta: %w", err)
	}
	return m, nil
}

// metaAttempts runs f, a request to __meta, in attempts bounded by two
// election timeouts (at least 1 s) until it succeeds or ctx is done: a
// request that a follower forwarded to a leader that just died is lost
// without an answer, and only a new attempt reaches the next leader.
// Before each retry, done (if not nil) is asked whether an earlier attempt
// took effect after all (a membership change that committed unanswered).
func (e *Engine) metaAttempts(ctx context.Context, f func(context.Context) error, done func(*dragonboat.Membership) bool) error {
	attempt := max(time.Second, 2*time.Duration(e.cfg.ElectionTicks)*e.cfg.RTT)
	for first := true; ; first = false {
		if !first && done != nil {
			actx, cancel := context.WithTimeout(ctx, attempt)
			m, err := e.nh.SyncGetShardMembership(actx, shards.MetaShardID)
			cancel()
			if err == nil && done(m) {
				return nil
			}
		}
		actx, cancel := context.WithTimeout(ctx, attempt)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-e.closing:
			return ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return raftErr(err)
		}
		if !dragonboat.IsTempError(err) && !errors.Is(err, dragonboat.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) &&
			!errors.Is(err, dragonboat.ErrRejected) {
			return raftErr(err)
		}
		select {
		case <-ctx.Done():
			return raftErr(err)
		case <-e.closing:
			return ErrClosed
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// raftErr maps dragonboat's errors of a membership request to the
// engine's sentinels.
func raftErr(err error) error {
	switch {
	case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%v)", ErrTimeout, err)
	case errors.Is(err, dragonboat.ErrShardNotFound), errors.Is(err, dragonboat.ErrShardNotReady), errors.Is(err, dragonboat.ErrClosed),
		errors.Is(err, dragonboat.ErrShardClosed), errors.Is(err, dragonboat.ErrSystemBusy):
		return fmt.Errorf("%w (%v)", ErrNotReady, err)
	}
	return err
}

// brokerMetaError maps __meta's rejection of a broker command to the
// engine's sentinels.
func brokerMetaError(err error) error {
	var me *metaError
	if !errors.As(err, &me) {
		return err
	}
	switch me.code {
	case shards.MetaBrokerRemoved:
		return ErrBrokerRemoved
	case shards.MetaBrokerHasReplicas:
		return ErrBrokerHasReplicas
	case shards.MetaAddrInUse:
		return fmt.Errorf("the raft address is another broker's: %w", ErrInvalidBroker)
	}
	return err
}

// Removed returns a channel closed once this broker sees itself removed
// from the cluster in __meta: it holds no replica and is no longer a
// member, so it should stop (the CLI shuts the process down).
func (e *Engine) Removed() <-chan struct{} { return e.removed }

// syncBrokers brings the registry and the peer links up to date with
// __meta's broker addresses: a broker added at run time is resolvable from
// the moment its OpAddBroker is applied, a removed one is dropped once it
// left __meta's Raft group. The brokers of this broker's own configured
// peers keep their configured address. Runs on __meta's apply goroutine: no
// blocking.
func (e *Engine) syncBrokers(st *shards.MetaState) {
	for id, a := range st.RaftAddrs {
		if _, static := e.cfg.Peers[id]; static {
			// The address this broker was configured with wins: it may
			// differ from the one the peer registered (a proxy, a NAT,
			// another network path to it).
			continue
		}
		if have, ok := e.reg.Addr(id); ok && have == a {
			continue
		}
		changed, err := e.reg.Set(id, a)
		if err != nil {
			e.log.Error("raft registry: bad broker address in __meta", "broker", id, "addr", a, "err", err)
			continue
		}
		if changed {
			e.links.setPeer(id, a)
			e.log.Info("raft registry: broker address from __meta", "broker", id, "raft_addr", a)
		}
	}
	for _, id := range st.RemovedBrokers {
		if id == e.cfg.NodeID {
			continue // the reconciler starts awaitLeft (finishRemovals)
		}
		if _, ok := st.RaftAddrs[id]; ok {
			continue // still in __meta's raft group, or about to leave it
		}
		if e.reg.Delete(id) {
			e.links.dropPeer(id)
			e.log.Info("raft registry: removed broker dropped", "broker", id)
		}
	}
}

// removalGrace bounds how long a broker that applied its own removal from
// the broker table keeps its Raft replicas running for the membership
// change that follows (its vote may be needed to commit it).
const removalGrace = 10 * time.Second

// awaitLeft runs once this broker applied its removal from the broker
// table: it waits until its own view of __meta's membership no longer has
// it (or removalGrace passed: a removed replica need not learn of its
// removal) and then closes Removed.
func (e *Engine) awaitLeft() {
	deadline := time.Now().Add(removalGrace)
	for time.Now().Before(deadline) {
		member := false
		for _, si := range e.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true}).ShardInfoList {
			if si.ShardID == shards.MetaShardID {
				_, member = si.Replicas[e.cfg.NodeID]
			}
		}
		if !member {
			break
		}
		select {
		case <-e.closing:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	e.log.Error("this broker was removed from the cluster (chronik cluster remove-broker); it stops serving", "broker", e.cfg.NodeID)
	close(e.removed)
}

// joinLoop runs on the first start of a broker joining a running cluster
// (Config.Join): it asks a member to add this broker, retrying until one
// has, and then starts the __meta replica as a joiner.
func (e *Engine) joinLoop() {
	e.log.Info("joining a running cluster: asking a member to add this broker")
	backoff := 500 * time.Millisecond
	for {
		ctx, cancel := e.taskContext(15 * time.Second)
		err := e.cfg.Join(ctx)
		cancel()
		if err == nil {
			break
		}
		e.log.Warn("join the cluster: not added yet, retrying", "err", err, "retry_in", backoff)
		select {
		case <-e.closing:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	select {
	case <-e.closing:
		return
	default:
	}
	if err := e.startMeta(true); err != nil {
		e.log.Error("join the cluster: start the __meta replica", "err", err)
		return
	}
	e.log.Info("added to the cluster: __meta replica started as a joiner")
}

// removalResumeDelay is how long a broker removal may stay unfinished
// before __meta's leader finishes it (tests shorten it).
var removalResumeDelay = 10 * time.Second

// finishRemovals, on __meta's leader, finishes removals whose driver
// stopped between the steps: a removed broker still in __meta's Raft group
// or still with an address after 10 s (and then every 10 s). Runs on the
// reconcile goroutine (the only user of Engine.removalSeen).
//
// On the removed broker itself it starts awaitLeft, once.
func (e *Engine) finishRemovals(st *shards.MetaState) {
	if len(st.RemovedBrokers) == 0 {
		return
	}
	if st.Removed(e.cfg.NodeID) {
		e.removedOnce.Do(func() { e.goFunc(e.awaitLeft) })
		return
	}
	if l, _ := e.leaders.get(shards.MetaShardID); l != e.cfg.NodeID {
		return
	}
	// Only removals left unfinished for a while: RemoveBroker finishes its
	// own at once.
	var pending []uint64
	now := time.Now()
	for _, id := range st.RemovedBrokers {
		if _, ok := st.RaftAddrs[id]; !ok {
			delete(e.removalSeen, id)
			continue
		}
		if seen, ok := e.removalSeen[id]; !ok {
			e.removalSeen[id] = now
		} else if now.Sub(seen) > removalResumeDelay {
			pending = append(pending, id)
			e.removalSeen[id] = now // the next attempt, if needed, as late
		}
	}
	if len(pending) == 0 {
		return
	}
	e.startMovingTask(movingTask{shard: shards.MetaShardID}, func() bool {
		progress := false
		for _, id := range pending {
			ctx, cancel := e.taskContext(10 * time.Second)
			err := e.finishRemoval(ctx, id)
			cancel()
			if err != nil {
				e.log.Warn("finish the removal of a broker", "broker", id, "err", err)
				continue
			}
			progress = true
		}
		return progress
	})
}
