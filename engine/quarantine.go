package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// Quarantine of damaged partition replicas.
//
// A local replica whose segment directory fails segment.Check before it
// starts, or whose segments a read finds damaged while it runs, is never
// allowed to take the broker down (dragonboat treats a failed state machine
// Open as fatal for the whole process). It is quarantined instead:
//
//   - with other replicas (RF > 1) it is rebuilt: the damaged replica is
//     stopped, its Raft data removed (it can never restart and claim a state
//     it no longer has), its directory moved aside to
//     <dir>.quarantined-<unix seconds>, and __meta replaces it by the next
//     generation of this broker's replica (OpReplaceReplica). The
//     partition's leader removes the old replica from the Raft group and
//     adds the new one, which starts empty as a joiner and catches up from
//     the leader's log or a streamed snapshot. The quarantine ends once a
//     linearizable read on the new replica succeeds (it has applied what
//     the leader had committed);
//   - alone (RF = 1) there is no copy to rebuild from: found before it
//     starts, the replica is not started, its directory is left as it is
//     and the partition answers ErrStorage; found by a read while it runs,
//     it keeps serving the intact offsets and the damaged ones answer
//     ErrStorage. Either way it stays quarantined until an operator acts.
//
// Quarantined replicas are reported by QuarantinedReplicas, LocalReplicas
// and Ready.

// QuarantineState says what is being done about a quarantined replica.
type QuarantineState string

const (
	// QuarantineRebuilding: the damaged replica is being replaced by a
	// fresh replica on this broker that catches up from the leader.
	QuarantineRebuilding QuarantineState = "rebuilding"
	// QuarantineHeld: the partition's only replica (RF = 1) was found
	// damaged before it started; it is not started and the partition
	// answers ErrStorage until an operator acts.
	QuarantineHeld QuarantineState = "quarantined"
	// QuarantineDamaged: the partition's only replica (RF = 1) was found
	// damaged by a read while it ran; it keeps serving the intact offsets,
	// the damaged ones answer ErrStorage.
	QuarantineDamaged QuarantineState = "damaged"
)

// QuarantinedReplica describes a local partition replica found damaged.
type QuarantinedReplica struct {
	Topic     string
	Partition int32
	Shard     uint64 // Raft group id
	// Replica is the damaged replica's id; NewReplica the one rebuilt in
	// its place (0 until __meta has recorded it, or if none is).
	Replica, NewReplica uint64
	State               QuarantineState
	// File is the damaged or missing file, when known; Reason says what
	// is wrong with it.
	File, Reason string
	// Since is when the damage was found.
	Since time.Time
	// MovedTo is where the damaged directory was moved ("" if in place).
	MovedTo string
}

// damageReport is a damaged frame a running replica's reads found.
type damageReport struct {
	shard, replica uint64
	err            *segment.CorruptError
}

// QuarantinedReplicas returns the local partition replicas found damaged
// and not (yet) rebuilt, sorted by topic and partition.
func (e *Engine) QuarantinedReplicas() []QuarantinedReplica {
	e.qmu.Lock()
	out := make([]QuarantinedReplica, 0, len(e.quarantine))
	for _, q := range e.quarantine {
		out = append(out, *q)
	}
	e.qmu.Unlock()
	slices.SortFunc(out, func(a, b QuarantinedReplica) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// ReplicasQuarantined counts the local replicas quarantined since the
// engine opened.
func (e *Engine) ReplicasQuarantined() uint64 { return e.quarantinedTotal.Load() }

// ReplicasRebuilt counts the local replicas rebuilt from their leader since
// the engine opened.
func (e *Engine) ReplicasRebuilt() uint64 { return e.rebuiltTotal.Load() }

// quarantined returns a copy of shard's quarantine record, or nil.
func (e *Engine) quarantined(shard uint64) *QuarantinedReplica {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if q, ok := e.quarantine[shard]; ok {
		c := *q
		return &c
	}
	return nil
}

// forgetQuarantine drops the records of shards no longer assigned here
// (the topic was deleted or the replica moved).
func (e *Engine) forgetQuarantine(want map[uint64]assignment) {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	for shard := range e.quarantine {
		if _, ok := want[shard]; !ok {
			delete(e.quarantine, shard)
		}
	}
}

// damageOf names the file and the reason of a Check or read failure.
func damageOf(err error) (file, reason string) {
	var ce *segment.CorruptError
	if errors.As(err, &ce) {
		return ce.Segment, ce.Reason
	}
	return "", err.Error()
}

// quarantineReplica quarantines replica a, which is running (p not nil,
// damage found by a read) or was refused before it started (p nil). It
// logs the damage once and, with other replicas, starts the rebuild.
func (e *Engine) quarantineReplica(a assignment, p *partition, cause error) {
	file, reason := damageOf(cause)
	q := &QuarantinedReplica{Topic: a.topic.Name, Partition: a.index, Shard: a.part.Shard, Replica: a.replica,
		File: file, Reason: reason, Since: time.Now()}
	switch {
	case len(a.part.Replicas) > 1:
		q.State = QuarantineRebuilding
	case p != nil:
		q.State = QuarantineDamaged
	default:
		q.State = QuarantineHeld
	}
	e.qmu.Lock()
	if _, ok := e.quarantine[q.Shard]; ok {
		e.qmu.Unlock()
		return // already being dealt with
	}
	e.quarantine[q.Shard] = q
	e.qmu.Unlock()
	e.quarantinedTotal.Add(1)
	attrs := []any{"topic", q.Topic, "partition", q.Partition, "shard", q.Shard, "replica", q.Replica,
		"file", q.File, "reason", q.Reason, "state", q.State}
	switch q.State {
	case QuarantineRebuilding:
		e.log.Error("partition replica damaged: quarantined, rebuilding it from the leader", attrs...)
		e.goFunc(func() { e.rebuild(q.Shard, q.Replica, p, e.partitionDir(q.Topic, q.Partition, q.Shard)) })
	case QuarantineHeld:
		e.log.Error("partition replica damaged and it is the only one: quarantined, not started; "+
			"the partition answers storage errors. Restore its directory from a backup and restart the broker, "+
			"or delete and re-create the topic (its data is lost); the directory is left as it is",
			append(attrs, "dir", e.partitionDir(q.Topic, q.Partition, q.Shard))...)
	case QuarantineDamaged:
		e.log.Error("partition replica damaged and it is the only one: the damaged offsets answer storage errors, "+
			"the others are served. Restore its directory from a backup while the broker is stopped, "+
			"or delete and re-create the topic (its data is lost)",
			append(attrs, "dir", e.partitionDir(q.Topic, q.Partition, q.Shard))...)
	}
}

// damageLoop handles the damaged frames reads report (Options.OnCorrupt):
// a running replica with other replicas is rebuilt, a lone one is marked
// damaged.
func (e *Engine) damageLoop() {
	for {
		var d damageReport
		select {
		case <-e.closing:
			return
		case d = <-e.damaged:
		}
		p := e.local(d.shard)
		if p == nil || p.replica != d.replica {
			continue // stopped meanwhile
		}
		if e.quarantined(d.shard) != nil {
			continue // already being dealt with
		}
		st := e.meta.State()
		part := findPartition(st, p)
		if part == nil {
			continue
		}
		e.quarantineReplica(assignment{topic: st.Topics[p.topic], index: p.index, part: *part, replica: p.replica}, p, d.err)
	}
}

// rebuild replaces damaged replica old of shard (running as p, or never
// started if p is nil) by the next generation of this broker's replica:
// stop it, remove its Raft data, move its directory aside, and have __meta
// record the new replica, which the reconciler then starts as a joiner.
func (e *Engine) rebuild(shard, old uint64, p *partition, dir string) {
	lg := e.log.With("shard", shard, "replica", old)
	if p != nil {
		e.handOver(shard, old)
		e.mu.Lock()
		if e.parts[shard] == p {
			delete(e.parts, shard)
		}
		e.mu.Unlock()
		if err := e.nh.StopReplica(shard, old); err != nil {
			lg.Warn("stop a damaged replica", "err", err)
		}
		p.notify.close()
		e.leaders.remove(shard)
	}
	if e.nh.HasNodeInfo(shard, old) {
		var err error
		for i := 0; i < 600; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = e.nh.SyncRemoveData(ctx, shard, old)
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
		if err != nil {
			lg.Error("remove the Raft data of a damaged replica; it stays quarantined", "err", err)
			return
		}
	}
	moved := fmt.Sprintf("%s.quarantined-%d", dir, time.Now().Unix())
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, moved); err != nil {
			lg.Error("move a damaged replica's directory aside; it stays quarantined", "dir", dir, "err", err)
			return
		}
		lg.Info("moved a damaged replica's directory aside", "dir", dir, "moved_to", moved)
	} else {
		moved = ""
	}
	next := old + shards.ReplicaGenerationBase
	e.qmu.Lock()
	if q, ok := e.quarantine[shard]; ok && q.Replica == old {
		q.NewReplica, q.MovedTo = next, moved
	}
	e.qmu.Unlock()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := e.proposeMetaRetried(ctx, shards.MetaCommand{Op: shards.OpReplaceReplica, Shard: shard, Replica: old, NewReplica: next})
		cancel()
		if err == nil {
			break
		}
		var me *metaError
		if errors.As(err, &me) {
			lg.Error("__meta refused to replace a damaged replica; it stays quarantined", "new_replica", next, "err", err)
			return
		}
		select {
		case <-e.closing:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	lg.Info("replacing a damaged replica", "new_replica", next)
	select {
	case e.metaChanged <- struct{}{}:
	default:
	}
}

// handOver asks another replica to lead shard if replica self leads it, and
// waits (bounded) for the move, so the partition keeps serving while this
// broker rebuilds its copy.
func (e *Engine) handOver(shard, self uint64) {
	if l, _ := e.leaders.get(shard); l != self {
		return
	}
	p := e.local(shard)
	if p == nil {
		return
	}
	part := findPartition(e.meta.State(), p)
	if part == nil {
		return
	}
	if r := e.transferTarget(part.Replicas, self); r != 0 {
		e.nh.RequestLeaderTransfer(shard, r)
	}
	deadline := time.Now().Add(2 * time.Duration(e.cfg.ElectionTicks) * e.cfg.RTT)
	for time.Now().Before(deadline) {
		if l, _ := e.leaders.get(shard); l != self {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchRebuild ends the quarantine of shard once the rebuilt replica p has
// caught up: a linearizable read on it succeeds only once it has applied
// what the leader had committed when the read started.
func (e *Engine) watchRebuild(shard uint64, p *partition, since time.Time) {
	for {
		select {
		case <-e.closing:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if e.local(shard) != p {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := e.nh.SyncRead(ctx, shard, nil)
		cancel()
		if err != nil {
			continue
		}
		e.qmu.Lock()
		q, ok := e.quarantine[shard]
		if ok && q.NewReplica == p.replica {
			delete(e.quarantine, shard)
		}
		e.qmu.Unlock()
		if ok {
			e.rebuiltTotal.Add(1)
			_, hw, _ := p.sm.Offsets()
			e.log.Info("partition replica rebuilt from the leader", "topic", p.topic, "partition", p.index, "shard", shard,
				"replica", p.replica, "replaced", q.Replica, "high_watermark", hw, "took", time.Since(since).Round(time.Millisecond))
		}
		return
	}
}

// repairMembership runs on the leader of each partition whose __meta entry
// lists replaced replicas: it removes them from the Raft group, adds their
// successors, and tells __meta it is done.
func (e *Engine) repairMembership(st *shards.MetaState) {
	for _, t := range st.Topics {
		for _, part := range t.Partitions {
			if len(part.Replaced) == 0 {
				continue
			}
			p := e.local(part.Shard)
			if p == nil {
				continue
			}
			if l, _ := e.leaders.get(part.Shard); l != p.replica {
				continue
			}
			e.mu.Lock()
			busy := e.repairing[part.Shard]
			e.repairing[part.Shard] = true
			e.mu.Unlock()
			if busy {
				continue
			}
			e.goFunc(func() {
				defer func() {
					e.mu.Lock()
					delete(e.repairing, part.Shard)
					e.mu.Unlock()
				}()
				if err := e.replaceMembers(part); err != nil {
					e.log.Warn("replace a damaged replica in the Raft group", "topic", t.Name, "shard", part.Shard, "err", err)
				}
			})
		}
	}
}

// replaceMembers changes shard part.Shard's Raft membership to match
// part.Replicas: the replaced replicas out first (the group keeps its
// quorum among the healthy ones), then their successors in.
func (e *Engine) replaceMembers(part shards.Partition) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := e.nh.SyncGetShardMembership(ctx, part.Shard)
	if err != nil {
		return fmt.Errorf("membership of shard %d: %w", part.Shard, err)
	}
	for _, old := range part.Replaced {
		if _, ok := m.Nodes[old]; !ok {
			if _, ok := m.NonVotings[old]; !ok {
				continue
			}
		}
		if err := e.nh.SyncRequestDeleteReplica(ctx, part.Shard, old, 0); err != nil {
			return fmt.Errorf("delete replica %d of shard %d: %w", old, part.Shard, err)
		}
	}
	for _, r := range part.Replicas {
		_, voting := m.Nodes[r]
		_, nonVoting := m.NonVotings[r]
		if _, removed := m.Removed[r]; voting || nonVoting || removed {
			continue
		}
		if err := e.nh.SyncRequestAddReplica(ctx, part.Shard, r, shards.NodeHostID(shards.BrokerOf(r)), 0); err != nil {
			return fmt.Errorf("add replica %d to shard %d: %w", r, part.Shard, err)
		}
		e.log.Info("added a rebuilt replica to the Raft group", "shard", part.Shard, "replica", r)
	}
	for _, old := range part.Replaced {
		if _, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpReplaceDone, Shard: part.Shard, Replica: old}); err != nil {
			return fmt.Errorf("record the replacement of replica %d of shard %d: %w", old, part.Shard, err)
		}
	}
	return nil
}
