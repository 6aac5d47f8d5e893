package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// partition is one local replica of a partition shard.
type partition struct {
	topic    string
	index    int32
	shard    uint64
	replica  uint64
	dir      string
	sm       *shards.PartitionSM
	notify   *notifier
	inflight chan struct{} // semaphore bounding proposals in flight
	// balanceDone: no more transfers to the preferred leader at creation;
	// lastTransfer: when one was last asked for (balanceLeaders).
	balanceDone  bool
	lastTransfer time.Time
	startedAt    time.Time
	// followed: this replica has seen another replica lead (set from
	// dragonboat's leader events), so its own leadership is a failover.
	followed atomic.Bool
	// roll is the segment roll limits in force (segment.bytes, segment.ms);
	// the reconciler passes a changed topic config on to the log.
	roll rollLimits
	// trimming: a snapshot that compacts the Raft log is under way
	// (raftlog.go).
	trimming atomic.Bool
}

// rollLimits are a partition's segment roll limits.
type rollLimits struct {
	bytes int64
	age   time.Duration
}

// reconcileLoop keeps the local partition replicas equal to what __meta
// assigns to this broker.
func (e *Engine) reconcileLoop() {
	e.awaitMetaReplay()
	t := time.NewTicker(e.cfg.ReconcileInterval)
	defer t.Stop()
	var lastSweep, lastMovedSweep time.Time
	for {
		e.reconcile()
		if time.Since(lastSweep) > 30*time.Second {
			e.removeOrphans(e.meta.State())
			lastSweep = time.Now()
		}
		if time.Since(lastMovedSweep) > 30*time.Second && e.removeMovedAway() {
			lastMovedSweep = time.Now()
		}
		select {
		case <-e.closing:
			return
		case <-e.metaChanged:
		case <-t.C:
		}
	}
}

// metaReplayWait bounds how long the first reconcile pass waits for the
// local __meta replica to replay its log.
const metaReplayWait = 10 * time.Second

// awaitMetaReplay waits, at most metaReplayWait, until the local __meta
// replica has applied the last command its log had committed when the
// broker started. Until then its state is a past one of the cluster: a
// replica started, quarantined or rebuilt from it may be of a generation
// __meta has since replaced, and __meta then refuses what the broker asks
// for it.
func (e *Engine) awaitMetaReplay() {
	target := e.metaReplayTarget()
	deadline := time.Now().Add(metaReplayWait)
	for e.meta.State().Index < target {
		if time.Now().After(deadline) {
			e.log.Warn("__meta has not replayed its log; reconciling partitions from its state so far",
				"applied", e.meta.State().Index, "want", target)
			return
		}
		select {
		case <-e.closing:
			return
		case <-e.metaChanged:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// metaReplayTarget is the index of the last command (an entry the state
// machine applies: not a configuration change, not a leader's empty entry)
// in the committed part of the local __meta log; 0 when there is none or
// no local __meta yet (a joining broker).
func (e *Engine) metaReplayTarget() uint64 {
	lr, err := e.nh.GetLogReader(shards.MetaShardID)
	if err != nil {
		return 0
	}
	st, _ := lr.NodeState()
	first, last := lr.GetRange()
	hi := min(st.Commit, last)
	if first == 0 || hi < first {
		return 0
	}
	ents, err := lr.Entries(first, hi+1, math.MaxUint64)
	if err != nil {
		e.log.Warn("read the local __meta log", "err", err)
		return 0
	}
	var target uint64
	for _, ent := range ents {
		if !ent.IsConfigChange() && len(ent.Cmd) > 0 {
			target = ent.Index
		}
	}
	return target
}

// assignment is one partition replica __meta places on this broker.
type assignment struct {
	topic   *shards.Topic
	index   int32
	part    shards.Partition
	replica uint64
}

func (e *Engine) assignments(st *shards.MetaState) map[uint64]assignment {
	out := map[uint64]assignment{}
	for _, t := range st.Topics {
		for i, p := range t.Partitions {
			for _, r := range p.Replicas {
				if shards.BrokerOf(r) == e.cfg.NodeID {
					out[p.Shard] = assignment{topic: t, index: int32(i), part: p, replica: r}
				}
			}
		}
	}
	return out
}

func (e *Engine) reconcile() {
	st := e.meta.State()
	want := e.assignments(st)
	e.forgetQuarantine(want)
	e.mu.Lock()
	var stop []*partition
	for shard, p := range e.parts {
		if _, ok := want[shard]; !ok {
			stop = append(stop, p)
			delete(e.parts, shard)
		}
	}
	var start []assignment
	type reroll struct {
		p    *partition
		roll rollLimits
	}
	var rerolls []reroll
	for shard, a := range want {
		p, ok := e.parts[shard]
		if !ok {
			start = append(start, a)
		} else if r := e.rollOf(a.topic); r != p.roll {
			p.roll = r
			rerolls = append(rerolls, reroll{p, r})
		}
	}
	e.mu.Unlock()
	for _, r := range rerolls {
		r.p.sm.SetRoll(r.roll.bytes, r.roll.age)
		e.log.Info("segment roll limits changed", "topic", r.p.topic, "partition", r.p.index, "segment_bytes", r.roll.bytes, "segment_age", r.roll.age)
	}
	for _, p := range stop {
		e.stopPartition(p, true)
	}
	slices.SortFunc(start, func(a, b assignment) int { return int(a.part.Shard) - int(b.part.Shard) })
	// Replicas start side by side: each start writes and fsyncs its Raft
	// bootstrap record, and together they share the LogDB's fsyncs.
	var wg sync.WaitGroup
	sem := make(chan struct{}, startConcurrency)
	for _, a := range start {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := e.startPartition(a); err != nil {
				e.log.Warn("start partition replica", "topic", a.topic.Name, "partition", a.index, "shard", a.part.Shard, "err", err)
			}
		}()
	}
	wg.Wait()
	e.balanceLeaders(st)
	e.repairMembership(st)
	e.driveReassignments(st)
	e.finishRemovals(st)
}

// startConcurrency bounds the replicas one reconcile pass starts at once.
const startConcurrency = 8

// partitionDir is where a partition replica's segments live; the shard id
// makes a re-created topic's directory distinct.
func (e *Engine) partitionDir(topic string, index int32, shard uint64) string {
	return filepath.Join(e.cfg.DataDir, "partitions", fmt.Sprintf("%s-%d.%d", topic, index, shard))
}

// rollOf returns the segment roll limits a topic's config asks for.
func (e *Engine) rollOf(t *shards.Topic) rollLimits {
	tc, _ := ParseTopicConfigs(t.Configs)
	r := rollLimits{bytes: tc.SegmentBytes, age: time.Duration(tc.SegmentMs) * time.Millisecond}
	if r.bytes == 0 {
		r.bytes = e.cfg.SegmentBytes
	}
	return r
}

// segmentOptions maps a topic's config to the partition's segment options.
func (e *Engine) segmentOptions(t *shards.Topic) *segment.Options {
	tc, err := ParseTopicConfigs(t.Configs)
	if err != nil {
		e.log.Warn("topic configs", "topic", t.Name, "err", err)
	}
	roll := e.rollOf(t)
	o := &segment.Options{
		SegmentBytes: roll.bytes,
		SegmentAge:   roll.age,
		Logger:       e.log.With("topic", t.Name),
	}
	if e.cfg.ActiveSegmentCodec != "s2" {
		o.ActiveCodec, o.ActiveCodecSet = segment.CodecNone, true
	}
	o.Cache = e.segCache
	switch tc.Compression {
	case "", "producer", "gzip", "snappy":
	case "none", "uncompressed":
		o.SealedCodec, o.SealedCodecSet = segment.CodecNone, true
	default:
		if c, err := segment.ParseCodec(tc.Compression); err == nil {
			o.SealedCodec, o.SealedCodecSet = c, true
		}
	}
	return o
}

// startPartition starts a local replica: with its member map on the first
// start of an initial member, with none on a restart (HasNodeInfo), and as
// a joiner when the replica was added after the shard was created. A
// replica whose segment directory fails segment.Check is quarantined
// instead of started (quarantine.go): dragonboat would treat its failed
// Open as fatal for the whole broker.
func (e *Engine) startPartition(a assignment) error {
	q := e.quarantined(a.part.Shard)
	if q != nil && q.Replica == a.replica {
		return nil // held, or its rebuild has not reached __meta yet
	}
	p := &partition{
		topic: a.topic.Name, index: a.index, shard: a.part.Shard, replica: a.replica,
		dir:       e.partitionDir(a.topic.Name, a.index, a.part.Shard),
		notify:    newNotifier(),
		inflight:  make(chan struct{}, e.cfg.MaxInFlightPerPartition),
		startedAt: time.Now(),
		roll:      e.rollOf(a.topic),
	}
	e.mu.Lock()
	busy := e.removing[p.dir]
	e.mu.Unlock()
	if busy {
		// A replica of an earlier generation that left this broker (a
		// reassignment, then its cancel) is still being deleted from the
		// same directory; the next pass starts this one.
		return fmt.Errorf("%s: the files of a removed replica are still being deleted", p.dir)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", p.dir, err)
	}
	opts := e.segmentOptions(a.topic)
	if err := segment.Check(p.dir, opts); err != nil {
		e.corruptFrames.Add(1) // a detection like a read's: counted once per start
		e.quarantineReplica(a, nil, err)
		return nil
	}
	shard, replica := p.shard, p.replica
	opts.OnCorrupt = func(ce *segment.CorruptError) {
		e.corruptFrames.Add(1)
		select {
		case e.damaged <- damageReport{shard: shard, replica: replica, err: ce}:
		default: // the loop is busy with earlier reports of the same damage
		}
	}
	p.sm = shards.NewPartitionSM(p.shard, p.replica, shards.PartitionConfig{
		Dir: p.dir, Segment: opts, Logger: e.log.With("topic", p.topic, "partition", p.index),
		OnApply: p.notify.update, Observer: e.hooks.observer(p.topic),
	})
	var members map[uint64]string
	join := false
	if !e.nh.HasNodeInfo(p.shard, p.replica) {
		if slices.Contains(a.part.Initial, p.replica) || len(a.part.Initial) == 0 {
			members = shards.Members(a.part.Replicas)
			if len(a.part.Initial) > 0 {
				members = shards.Members(a.part.Initial)
			}
		} else {
			join = true
		}
	}
	create := func(uint64, uint64) sm.IOnDiskStateMachine { return p.sm }
	e.mu.Lock()
	e.parts[p.shard] = p
	e.mu.Unlock()
	if err := e.nh.StartOnDiskReplica(members, join, create, e.raftConfig(p.shard, p.replica)); err != nil {
		e.mu.Lock()
		delete(e.parts, p.shard)
		e.mu.Unlock()
		if errors.Is(err, dragonboat.ErrReplicaRemoved) {
			// A rebuild that removed the replica's Raft data was cut short
			// (the broker stopped) before __meta recorded its successor.
			e.quarantineReplica(a, nil, fmt.Errorf("the replica's Raft data was removed: %w", err))
			return nil
		}
		return fmt.Errorf("start shard %d replica %d: %w", p.shard, p.replica, err)
	}
	if q != nil && q.NewReplica == p.replica {
		e.goFunc(func() { e.watchRebuild(p.shard, p, q.Since) })
	}
	e.log.Debug("started partition replica", "topic", p.topic, "partition", p.index, "shard", p.shard, "replica", p.replica, "join", join)
	return nil
}

// stopPartition stops a local replica; with remove it also deletes its Raft
// state and segment files (the topic was deleted or the replica moved).
func (e *Engine) stopPartition(p *partition, remove bool) {
	if err := e.nh.StopReplica(p.shard, p.replica); err != nil {
		e.log.Warn("stop partition replica", "shard", p.shard, "err", err)
	}
	p.notify.close()
	e.leaders.remove(p.shard)
	if !remove {
		return
	}
	e.mu.Lock()
	e.removing[p.dir] = true
	e.mu.Unlock()
	e.goFunc(func() {
		defer func() {
			e.mu.Lock()
			delete(e.removing, p.dir)
			e.mu.Unlock()
		}()
		for i := 0; i < 100; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := e.nh.SyncRemoveData(ctx, p.shard, p.replica)
			cancel()
			if err == nil {
				break
			}
			select {
			case <-e.closing:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := os.RemoveAll(p.dir); err != nil {
			e.log.Warn("remove partition files", "dir", p.dir, "err", err)
		}
	})
}

// removeOrphans deletes local replicas of partitions that were deleted
// while this broker was down. A shard below NextShardID that is in no topic
// was deleted for good (shard ids are never reused), so this is safe even
// on a __meta state that is not yet up to date.
func (e *Engine) removeOrphans(st *shards.MetaState) {
	root := filepath.Join(e.cfg.DataDir, "partitions")
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	live := map[uint64]bool{}
	for _, t := range st.Topics {
		for _, p := range t.Partitions {
			live[p.Shard] = true
		}
	}
	for _, de := range ents {
		ext := filepath.Ext(de.Name())
		shard, err := strconv.ParseUint(strings.TrimPrefix(ext, "."), 10, 64)
		if err != nil || shard < shards.FirstPartitionShardID || shard >= st.NextShardID || live[shard] || e.local(shard) != nil {
			continue
		}
		for gen := uint64(0); gen < 64; gen++ { // generations: AddReplica, reassignments, rebuilds of damaged replicas
			r := gen*shards.ReplicaGenerationBase + e.cfg.NodeID
			if e.nh.HasNodeInfo(shard, r) {
				if err := e.nh.RemoveData(shard, r); err != nil {
					e.log.Warn("remove raft data of a deleted partition", "shard", shard, "err", err)
					continue
				}
			}
		}
		dir := filepath.Join(root, de.Name())
		if err := os.RemoveAll(dir); err != nil {
			e.log.Warn("remove files of a deleted partition", "dir", dir, "err", err)
		} else {
			e.log.Info("removed a partition deleted while this broker was down", "dir", dir, "shard", shard)
		}
	}
}

// local returns the running local replica of shard, or nil.
func (e *Engine) local(shard uint64) *partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parts[shard]
}

// reportLoop tells __meta about partitions whose leadership moved to this
// broker, so that every broker can answer Metadata for them.
func (e *Engine) reportLoop() {
	pending := map[uint64]bool{}
	t := time.NewTicker(e.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case s := <-e.reports:
			pending[s] = true
			for drained := false; !drained; {
				select {
				case s := <-e.reports:
					pending[s] = true
				default:
					drained = true
				}
			}
		case <-t.C:
			// Re-check every led partition against __meta (lost reports).
			st := e.meta.State()
			e.mu.Lock()
			for shard, p := range e.parts {
				l, term := e.leaders.get(shard)
				if l == p.replica {
					if rec, ok := st.Leaders[shard]; !ok || rec.Leader != l || rec.Epoch != term {
						pending[shard] = true
					}
				}
			}
			e.mu.Unlock()
		}
		e.recordLeaders(pending)
	}
}

// leaderRecordConcurrency bounds the leader records recordLeaders proposes
// at once. dragonboat appends proposals that arrive together as one Raft
// entry batch (one fsync), so a burst of elections (a topic of hundreds of
// partitions, a broker's restart) is recorded in a few round trips, not
// one per partition: one at a time, 2,000 new partitions took minutes.
const leaderRecordConcurrency = 64

// recordLeaders records in __meta this broker's leadership of each pending
// shard it still leads, and removes from pending those recorded (or no
// longer led here); the others stay for the next pass.
func (e *Engine) recordLeaders(pending map[uint64]bool) {
	type record struct{ shard, leader, term uint64 }
	var todo []record
	for shard := range pending {
		l, term := e.leaders.get(shard)
		if p := e.local(shard); p == nil || l != p.replica {
			delete(pending, shard)
			continue
		}
		todo = append(todo, record{shard, l, term})
	}
	done := make([]bool, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, leaderRecordConcurrency)
	for i, r := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpLeader, Shard: r.shard, Leader: r.leader, Epoch: r.term})
			done[i] = err == nil
		}()
	}
	wg.Wait()
	for i, r := range todo {
		if done[i] {
			delete(pending, r.shard)
		}
	}
}

// balanceWindow is how long after a replica starts its engine tries to hand
// a newly created partition's leadership to the preferred replica.
const balanceWindow = 10 * time.Second

// balanceLeaders hands a new partition's leadership to its preferred leader
// right after the partition's first election, so that the leaders of a
// topic spread over the brokers as placed by the controller. A transfer can
// fail while the target catches up, so it is asked for again (every few
// hundred ms) for balanceWindow after the replica started. Later leader
// moves are the leader balancer's business (balancer.go).
func (e *Engine) balanceLeaders(st *shards.MetaState) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for shard, p := range e.parts {
		if p.balanceDone || now.Sub(p.startedAt) > balanceWindow || now.Sub(p.lastTransfer) < 300*time.Millisecond {
			continue
		}
		l, _ := e.leaders.get(shard)
		if l == 0 || l != p.replica {
			continue
		}
		a := findPartition(st, p)
		if a == nil || a.Preferred == 0 || a.Preferred == p.replica {
			p.balanceDone = true
			continue
		}
		// Only a leader that no other replica preceded (as far as this
		// replica or __meta knows): a partition's first election, not a
		// failover away from a preferred leader that may be down. A
		// transfer to a dead replica stops the partition's writes until
		// it times out, and this loop would ask again.
		if rec, ok := st.Leaders[shard]; p.followed.Load() || ok && rec.Leader != p.replica {
			p.balanceDone = true
			continue
		}
		if _, ok := st.Brokers[shards.BrokerOf(a.Preferred)]; !ok || !e.links.reachable(shards.BrokerOf(a.Preferred)) {
			continue
		}
		p.lastTransfer = now
		err := e.nh.RequestLeaderTransfer(shard, a.Preferred)
		e.log.Debug("leader transfer to the preferred replica", "shard", shard, "to", a.Preferred, "err", err)
	}
}

// findPartition returns the __meta entry of local replica p's partition,
// or nil if its topic is gone or the entry names another shard (the topic
// was deleted and created again). O(1): it never scans the topics.
func findPartition(st *shards.MetaState, p *partition) *shards.Partition {
	t, ok := st.Topics[p.topic]
	if !ok || p.index < 0 || int(p.index) >= len(t.Partitions) || t.Partitions[p.index].Shard != p.shard {
		return nil
	}
	return &t.Partitions[p.index]
}

// transferLeadership asks, for every partition this broker leads, another
// replica to take over, and waits (bounded) for the moves.
func (e *Engine) transferLeadership() {
	st := e.meta.State()
	type move struct {
		p      *partition
		target uint64
	}
	var moves []move
	e.mu.Lock()
	for shard, p := range e.parts {
		if l, _ := e.leaders.get(shard); l != p.replica {
			continue
		}
		a := findPartition(st, p)
		if a == nil {
			continue
		}
		if r := e.transferTarget(a.Replicas, p.replica); r != 0 {
			moves = append(moves, move{p, r})
		}
	}
	e.mu.Unlock()
	// All at once: each hand-over quiesces only its own partition, and
	// the whole wait stays within about two election timeouts.
	var wg sync.WaitGroup
	for _, m := range moves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.handOverQuiesced(m.p, m.target); err != nil {
				e.log.Debug("shutdown: leadership hand-over", "topic", m.p.topic, "partition", m.p.index, "err", err)
			}
		}()
	}
	wg.Wait()
}
