package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// Partition reassignment: moving a partition's replicas onto other brokers
// as Raft membership changes (see shards/meta_reassign.go for the steps
// recorded in __meta).
//
// Who drives it: the partition's leader. It is the one replica that can
// change the group's membership without a forwarding hop, it knows at once
// when it stops leading (and so stops driving), and whoever leads next sees
// the same __meta record and resumes. The __meta leader would have to
// reach into every partition group from outside, and would need the
// partition leader's cooperation anyway to hand leadership away.
//
// The driver, on each reconcile pass (every ReconcileInterval or __meta
// change), does the next step only: remove a leaving replica whose broker
// is unreachable; add a new replica to the Raft group and record it, one
// at a time (the next once the last caught up: its own broker reports
// that, after a linearizable read on it succeeds, i.e. it applied what the
// leader had committed); then remove the leaving replicas one at a time,
// handing its own leadership to a staying replica first if it is one of
// them. __meta ends the reassignment when the replicas are exactly
// the target; the leader balancer then moves leadership to the target's
// first broker, the new preferred leader. Brokers whose replica left stop
// it and delete its Raft data and segment files (reconcile.go).
//
// Throttling: a new replica is added only while fewer than
// Config.MaxMovingPerBroker partitions have a replica catching up on its
// broker or are led (so sending their log or a snapshot) from this one.
// The copy itself is dragonboat's: a joiner behind the leader's Raft log
// (bounded by RaftLogRetainBytes) gets one streamed snapshot of the
// partition's segments, sent chunk by chunk, else the log entries, both
// over the shared Raft transport. Produce keeps going: at most one voter
// is catching up at a time, and one is added only while the reachable
// voters form a quorum of the bigger group, so commits never wait for it;
// the live leaving replicas leave only after every new one caught up.

// movingTask is one reassignment task running on this broker: driving a
// shard's reassignment (on its leader) or reporting a new local replica
// caught up.
type movingTask struct {
	shard  uint64
	report bool
}

// Reassignment is one partition reassignment in progress, as Kafka's
// ListPartitionReassignments reports it.
type Reassignment struct {
	Topic     string
	Partition int32
	// Replicas are the brokers of the partition's current replicas
	// followed by the target's brokers that are not among them yet.
	Replicas []uint64
	// Target is the brokers the partition moves to, in order (the first
	// becomes the preferred leader).
	Target []uint64
	// Adding are the target's brokers with a new replica still catching
	// up (or not added yet); Removing the brokers whose replica leaves.
	Adding, Removing []uint64
}

// ReassignPartition moves a partition's replicas onto brokers (their ids,
// in order: the first becomes the preferred leader), or with nil brokers
// cancels the reassignment in progress, moving the partition back onto
// the brokers it had before. It returns once __meta has recorded the
// request; the move itself runs in the background (ListReassignments shows
// it until it is done). A new request for a partition being moved
// replaces the target.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, ErrInvalidReplicaAssignment
// (no broker, a broker twice, or one not registered),
// ErrNoReassignmentInProgress (a cancel of nothing), ErrTimeout, ErrClosed.
func (e *Engine) ReassignPartition(ctx context.Context, topic string, partition int32, brokers []uint64) error {
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return err
	}
	if err := checkReassign(brokers); err != nil {
		return fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	c := shards.MetaCommand{Op: shards.OpReassign, Shard: part.Shard, Brokers: brokers, Cancel: brokers == nil}
	_, err = e.proposeMeta(ctx, c)
	var me *metaError
	if errors.As(err, &me) {
		switch me.code {
		case shards.MetaInvalidReplicas:
			err = ErrInvalidReplicaAssignment
			for _, b := range brokers {
				if _, ok := e.meta.State().Brokers[b]; !ok {
					err = fmt.Errorf("broker %d is not registered: %w", b, ErrInvalidReplicaAssignment)
				}
			}
		case shards.MetaNoReassignment:
			err = ErrNoReassignmentInProgress
		case shards.MetaUnknownTopic:
			err = ErrUnknownTopic
		}
	}
	if err != nil {
		return fmt.Errorf("reassign topic %q partition %d: %w", topic, partition, err)
	}
	e.log.Info("partition reassignment requested", "topic", topic, "partition", partition, "shard", part.Shard, "brokers", brokers)
	return nil
}

// checkReassign rejects what is wrong whatever __meta holds: no brokers, a
// broker named twice, a broker id out of range. Whether the brokers are
// registered and whether a cancel has something to cancel is decided by
// the state machine: this broker's view of __meta may be behind.
func checkReassign(brokers []uint64) error {
	if brokers == nil {
		return nil
	}
	if len(brokers) == 0 {
		return fmt.Errorf("no replicas: %w", ErrInvalidReplicaAssignment)
	}
	for i, b := range brokers {
		if slices.Contains(brokers[:i], b) {
			return fmt.Errorf("broker %d named twice: %w", b, ErrInvalidReplicaAssignment)
		}
		if b == 0 || b >= shards.ReplicaGenerationBase {
			return fmt.Errorf("broker id %d out of range: %w", b, ErrInvalidReplicaAssignment)
		}
	}
	return nil
}

// ListReassignments returns the partition reassignments in progress,
// sorted by topic and partition; with topic names, only theirs.
func (e *Engine) ListReassignments(topics ...string) []Reassignment {
	st := e.meta.State()
	var out []Reassignment
	for name, t := range st.Topics {
		if len(topics) > 0 && !slices.Contains(topics, name) {
			continue
		}
		for i, p := range t.Partitions {
			r := p.Reassign
			if r == nil {
				continue
			}
			ra := Reassignment{Topic: name, Partition: int32(i), Target: r.TargetBrokers()}
			for _, id := range p.Replicas {
				ra.Replicas = append(ra.Replicas, shards.BrokerOf(id))
			}
			for _, b := range ra.Target {
				if !slices.Contains(ra.Replicas, b) {
					ra.Replicas = append(ra.Replicas, b)
				}
			}
			for _, id := range r.Pending() {
				ra.Adding = append(ra.Adding, shards.BrokerOf(id))
			}
			for _, id := range r.Removing {
				ra.Removing = append(ra.Removing, shards.BrokerOf(id))
			}
			out = append(out, ra)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// driveReassignments starts, for each partition being reassigned, the next
// step on its leader, and the catch-up report of a new replica on its
// broker. Runs on the reconcile goroutine; each task runs at most once at a
// time per shard.
func (e *Engine) driveReassignments(st *shards.MetaState) {
	for _, t := range st.Topics {
		for i, part := range t.Partitions {
			r := part.Reassign
			if r == nil {
				continue
			}
			p := e.local(part.Shard)
			if p == nil {
				continue
			}
			if slices.Contains(r.Pending(), p.replica) && slices.Contains(part.Replicas, p.replica) {
				e.startMovingTask(movingTask{part.Shard, true}, func() bool { e.reportCaughtUp(p); return false })
			}
			if l, _ := e.leaders.get(part.Shard); l != p.replica || len(part.Replaced) > 0 {
				continue // not the leader, or a damaged replica's rebuild goes first
			}
			topic, index := t.Name, int32(i)
			e.startMovingTask(movingTask{part.Shard, false}, func() bool {
				progress, err := e.stepReassignment(p)
				if err != nil {
					e.log.Warn("partition reassignment step", "topic", topic, "partition", index, "shard", part.Shard, "err", err)
				}
				return progress
			})
		}
	}
}

// taskContext is a context for one step of a background task: it ends
// after d or when the engine closes, whichever comes first, so that Close
// never waits for a membership change or a read to time out.
func (e *Engine) taskContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-e.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// startMovingTask runs f in a goroutine unless task is running already.
// When f reports progress the reconciler runs again at once, so that the
// next step does not wait for ReconcileInterval (the __meta change the step
// made found the task still running).
func (e *Engine) startMovingTask(task movingTask, f func() (progress bool)) {
	e.mu.Lock()
	busy := e.moving[task]
	e.moving[task] = true
	e.mu.Unlock()
	if busy {
		return
	}
	e.goFunc(func() {
		progress := f()
		e.mu.Lock()
		delete(e.moving, task)
		e.mu.Unlock()
		if progress {
			select {
			case e.metaChanged <- struct{}{}:
			default:
			}
		}
	})
}

// stepReassignment does the next step of part's reassignment on its leader
// p (see the package comment above): remove stray members, add a new
// replica, or, once every new one caught up, remove one leaving replica.
// progress reports whether it changed anything.
//
// It reads the membership first and __meta after it: every replica added
// to the group is in __meta's target (reassignments) or replicas
// (rebuilds, repairMembership) before it is added, so a member that the
// later state names in neither is a stray, never one added meanwhile.
func (e *Engine) stepReassignment(p *partition) (progress bool, err error) {
	ctx, cancel := e.taskContext(10 * time.Second)
	defer cancel()
	m, err := e.nh.SyncGetShardMembership(ctx, p.shard)
	if err != nil {
		return false, fmt.Errorf("membership of shard %d: %w", p.shard, err)
	}
	st := e.meta.State()
	pp := findPartition(st, p)
	if pp == nil || pp.Reassign == nil || len(pp.Replaced) > 0 {
		return false, nil // gone, done, or a rebuild goes first
	}
	if l, _ := e.leaders.get(p.shard); l != p.replica {
		return false, nil // no longer the leader: the next one drives
	}
	part, r := *pp, pp.Reassign
	member := func(id uint64) bool {
		_, voting := m.Nodes[id]
		_, nonVoting := m.NonVotings[id]
		return voting || nonVoting
	}
	// A member neither recorded nor in the target: added by an earlier
	// driver whose record a new target overtook. It counts in the quorum
	// but no broker runs it.
	for id := range m.Nodes {
		if id != p.replica && !slices.Contains(part.Replicas, id) && !slices.Contains(r.Target, id) {
			if err := e.nh.SyncRequestDeleteReplica(ctx, part.Shard, id, 0); err != nil {
				return false, fmt.Errorf("delete stray replica %d of shard %d: %w", id, part.Shard, err)
			}
			e.log.Info("reassignment: removed a stray replica", "topic", p.topic, "partition", p.index, "replica", id)
		}
	}
	// A leaving replica whose broker is unreachable leaves first: it acks
	// nothing now, and as a voter it would make the group with a new,
	// still empty voter need that new one for every commit.
	for _, id := range r.Removing {
		if id == p.replica || !slices.Contains(part.Replicas, id) || e.links.reachable(shards.BrokerOf(id)) {
			continue
		}
		return e.removeForReassign(ctx, p, id, member(id))
	}
	// New replicas join as voters one at a time: the next one only once
	// the last one caught up, and only while the reachable voters form a
	// quorum of the bigger group, so that commits never wait for a replica
	// still catching up (dragonboat's non-voting members would avoid the
	// wait altogether, but a replica restarted with the wrong IsNonVoting
	// setting panics the broker).
	waiting := slices.ContainsFunc(r.Pending(), func(id uint64) bool { return slices.Contains(part.Replicas, id) })
	for _, id := range r.Target {
		if slices.Contains(part.Replicas, id) {
			continue
		}
		if !member(id) {
			if waiting {
				break
			}
			live := 0
			for v := range m.Nodes {
				if v == p.replica || e.links.reachable(shards.BrokerOf(v)) {
					live++
				}
			}
			// A one-replica group cannot keep that bound (both voters
			// of the bigger group are a quorum): it adds anyway, and its
			// commits wait for the new replica while it catches up.
			if quorum := (len(m.Nodes)+1)/2 + 1; live < quorum && len(m.Nodes) > 1 {
				e.log.Debug("reassignment: waiting for unreachable replicas before adding one", "topic", p.topic, "partition", p.index,
					"reachable_voters", live, "quorum_after_add", quorum)
				break
			}
			if busy := e.movingOn(st, part.Shard, shards.BrokerOf(id)); busy != 0 {
				e.log.Debug("reassignment: throttled", "topic", p.topic, "partition", p.index, "replica", id, "busy_broker", busy)
				continue
			}
			if err := e.nh.SyncRequestAddReplica(ctx, part.Shard, id, shards.NodeHostID(shards.BrokerOf(id)), 0); err != nil {
				return false, fmt.Errorf("add replica %d to shard %d: %w", id, part.Shard, err)
			}
		}
		if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpReassignAdded, Shard: part.Shard, Replica: id}); err != nil {
			return false, fmt.Errorf("record replica %d added to shard %d: %w", id, part.Shard, err)
		}
		e.log.Info("reassignment: added a replica", "topic", p.topic, "partition", p.index, "replica", id)
		return true, nil // one step per pass: the next one sees the new state
	}
	if len(r.Pending()) > 0 {
		return false, nil // wait for the new replicas to catch up
	}
	for _, id := range r.Removing {
		if !slices.Contains(part.Replicas, id) {
			continue
		}
		if id == p.replica {
			err := e.handOverForRemoval(p, part)
			return err == nil, err
		}
		return e.removeForReassign(ctx, p, id, member(id))
	}
	return false, nil
}

// removeForReassign takes replica id out of p's Raft group (if it is still
// a member) and records that in __meta.
func (e *Engine) removeForReassign(ctx context.Context, p *partition, id uint64, isMember bool) (bool, error) {
	if isMember {
		if err := e.nh.SyncRequestDeleteReplica(ctx, p.shard, id, 0); err != nil {
			return false, fmt.Errorf("delete replica %d of shard %d: %w", id, p.shard, err)
		}
	}
	if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpReassignRemoved, Shard: p.shard, Replica: id}); err != nil {
		return false, fmt.Errorf("record replica %d removed from shard %d: %w", id, p.shard, err)
	}
	e.log.Info("reassignment: removed a replica", "topic", p.topic, "partition", p.index, "replica", id)
	return true, nil
}

// handOverForRemoval asks a staying replica to take over the leadership of
// a partition whose leader p leaves in a reassignment; the next leader goes
// on with the reassignment.
func (e *Engine) handOverForRemoval(p *partition, part shards.Partition) error {
	var staying []uint64
	for _, id := range part.Reassign.Target {
		if slices.Contains(part.Replicas, id) {
			staying = append(staying, id)
		}
	}
	to := e.transferTarget(staying, p.replica)
	if to == 0 {
		return fmt.Errorf("shard %d: no staying replica to hand the leadership to", part.Shard)
	}
	e.log.Info("reassignment: handing leadership over before leaving", "topic", p.topic, "partition", p.index, "to", to)
	return e.handOverQuiesced(p, to)
}

// movingOn returns a broker that already has Config.MaxMovingPerBroker
// partitions (other than shard) copying data to or from it, either the
// destination broker dest or this one (the leader, sending); 0 if neither.
// A partition copies while one of its added replicas has not caught up.
func (e *Engine) movingOn(st *shards.MetaState, shard, dest uint64) uint64 {
	count := map[uint64]int{}
	for _, t := range st.Topics {
		for _, part := range t.Partitions {
			if part.Reassign == nil || part.Shard == shard {
				continue
			}
			involved := map[uint64]bool{}
			for _, id := range part.Reassign.Pending() {
				if slices.Contains(part.Replicas, id) {
					involved[shards.BrokerOf(id)] = true
				}
			}
			if len(involved) == 0 {
				continue
			}
			if l, ok := st.Leaders[part.Shard]; ok {
				involved[shards.BrokerOf(l.Leader)] = true
			}
			for b := range involved {
				count[b]++
			}
		}
	}
	for _, b := range []uint64{dest, e.cfg.NodeID} {
		if count[b] >= e.cfg.MaxMovingPerBroker {
			return b
		}
	}
	return 0
}

// reportCaughtUp tells __meta once the new local replica p of a partition
// being reassigned has caught up: a linearizable read on it succeeds only
// once it has applied what the leader had committed when the read started.
func (e *Engine) reportCaughtUp(p *partition) {
	for {
		select {
		case <-e.closing:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if e.local(p.shard) != p {
			return
		}
		ctx, cancel := e.taskContext(2 * time.Second)
		_, err := e.nh.SyncRead(ctx, p.shard, nil)
		if err == nil {
			_, err = e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpReassignCaughtUp, Shard: p.shard, Replica: p.replica})
		}
		cancel()
		var me *metaError
		if errors.As(err, &me) {
			return // the target changed: this replica no longer catches up for it
		}
		if err != nil {
			continue
		}
		_, hw, _ := p.sm.Offsets()
		e.log.Info("reassignment: new replica caught up", "topic", p.topic, "partition", p.index, "replica", p.replica,
			"high_watermark", hw, "since_start", time.Since(p.startedAt).Round(time.Millisecond))
		return
	}
}

// removeMovedAway deletes the Raft data and files of local replicas of
// partitions that still exist but no longer have a replica on this broker:
// a reassignment removed it while this broker was down, so the reconciler
// never ran it to stop it. It judges by a linearizable read of __meta, never
// by this broker's own replica of it, which right after a restart may not
// yet know that this broker was added back. It reports whether it ran (a
// failed read is tried again on the next pass).
//
// Safe against a replica being added here meanwhile: a new replica is
// recorded in __meta before its broker starts it (creating its directory
// and Raft data), the reconciler that starts it is the goroutine running
// this sweep, and the generations removed here are those with Raft data,
// which a not yet started replica has none of.
func (e *Engine) removeMovedAway() bool {
	root := filepath.Join(e.cfg.DataDir, "partitions")
	ents, err := os.ReadDir(root)
	if err != nil {
		return true // no partitions directory: nothing to sweep
	}
	ctx, cancel := e.taskContext(2 * time.Second)
	v, err := e.nh.SyncRead(ctx, shards.MetaShardID, nil)
	cancel()
	st, ok := v.(*shards.MetaState)
	if err != nil || !ok {
		return false
	}
	hosted := map[uint64]bool{} // live shards: whether this broker has a replica
	for _, t := range st.Topics {
		for _, p := range t.Partitions {
			hosted[p.Shard] = slices.ContainsFunc(p.Replicas, func(r uint64) bool { return shards.BrokerOf(r) == e.cfg.NodeID })
		}
	}
	for _, de := range ents {
		shard, err := strconv.ParseUint(strings.TrimPrefix(filepath.Ext(de.Name()), "."), 10, 64)
		if err != nil {
			continue // not a replica directory (quarantined, temporary)
		}
		dir := filepath.Join(root, de.Name())
		e.mu.Lock()
		skip := e.removing[dir] || e.parts[shard] != nil
		e.mu.Unlock()
		if here, live := hosted[shard]; !live || here || skip || e.quarantined(shard) != nil {
			continue // deleted topics are removeOrphans' business
		}
		for gen := uint64(0); gen < 64; gen++ {
			r := gen*shards.ReplicaGenerationBase + e.cfg.NodeID
			if e.nh.HasNodeInfo(shard, r) {
				if err := e.nh.RemoveData(shard, r); err != nil {
					e.log.Warn("remove raft data of a replica moved away", "shard", shard, "replica", r, "err", err)
				}
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			e.log.Warn("remove files of a replica moved away", "dir", dir, "err", err)
			continue
		}
		e.log.Info("removed a replica that was moved away while this broker was down", "dir", dir, "shard", shard)
	}
	return true
}
