package shards

import (
	"slices"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Partition reassignment in __meta.
//
// A reassignment moves a partition's replicas onto another set of brokers
// through Raft membership changes, one step at a time, each step recorded
// here so that whoever drives it next (the partition's leader, which may
// change) resumes where the last one stopped:
//
//  1. OpReassign records the target: brokers that already hold a replica
//     keep its id, every other broker gets a new replica id of the next
//     generation (Partition.Generation), never one dragonboat removed.
//  2. The leader adds each new replica to the Raft group, then
//     OpReassignAdded puts it into Replicas, so its broker's reconciler
//     starts it as a joiner.
//  3. That broker reports OpReassignCaughtUp once a linearizable read on
//     the new replica succeeds (it applied what the leader had committed).
//  4. Once every new replica caught up, the leader removes the replicas
//     that leave, one at a time (handing its own leadership away first),
//     each followed by OpReassignRemoved; their brokers' reconcilers stop
//     them and delete their data.
//  5. When Replicas holds exactly the target and every new replica caught
//     up, the state machine ends the reassignment itself: Replicas becomes
//     the target in the requested order and its first replica the
//     preferred leader.
//
// Every step is idempotent, so a retried proposal changes nothing more.

// Reassignment is one partition's replica move in progress.
type Reassignment struct {
	// Target is the replica ids the partition ends with, in the order the
	// brokers were asked for; Target[0] becomes the preferred leader.
	Target []uint64
	// Adding is the ids of Target that were not caught-up members when the
	// reassignment (or its latest retarget) started.
	Adding []uint64
	// Removing is the replica ids that leave; each one leaves Replicas and
	// this list once it is out of the Raft group.
	Removing []uint64
	// CaughtUp is the ids of Adding whose broker reported them caught up.
	CaughtUp []uint64 `json:",omitempty"`
	// Original is the brokers (not replica ids) of the partition before
	// the first of its reassignments in a row: a cancel moves it back there.
	Original []uint64
}

// TargetBrokers returns the brokers of Target, in order.
func (r *Reassignment) TargetBrokers() []uint64 { return brokersOf(r.Target) }

// Pending returns the ids of Adding that have not caught up yet.
func (r *Reassignment) Pending() []uint64 {
	var out []uint64
	for _, id := range r.Adding {
		if !slices.Contains(r.CaughtUp, id) {
			out = append(out, id)
		}
	}
	return out
}

// replaced returns r with replica old renamed to new (OpReplaceReplica: a
// damaged replica rebuilt under a new id), which must catch up again.
func (r *Reassignment) replaced(old, new uint64) *Reassignment {
	if r == nil {
		return nil
	}
	n := *r
	sub := func(ids []uint64) []uint64 {
		out := slices.Clone(ids)
		for i := range out {
			if out[i] == old {
				out[i] = new
			}
		}
		return out
	}
	n.Target, n.Adding, n.Removing = sub(r.Target), sub(r.Adding), sub(r.Removing)
	n.CaughtUp = slices.DeleteFunc(slices.Clone(r.CaughtUp), func(id uint64) bool { return id == old })
	return &n
}

// ReplicationFactor is the partition's number of replicas: its
// reassignment target's while one is in progress (Replicas then also holds
// the replicas that come and go).
func (p Partition) ReplicationFactor() int {
	if p.Reassign != nil {
		return len(p.Reassign.Target)
	}
	return len(p.Replicas)
}

func brokersOf(ids []uint64) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = BrokerOf(id)
	}
	return out
}

func bad(code uint64) sm.Result { return sm.Result{Value: code, Data: []byte{1}} }

// reassign applies OpReassign and its step ops to the partition of shard
// c.Shard.
func (s *MetaState) reassign(c MetaCommand) sm.Result {
	for name, t := range s.Topics {
		for i, p := range t.Partitions {
			if p.Shard != c.Shard {
				continue
			}
			np, code := s.reassignStep(p, c)
			if code != MetaOK {
				return bad(code)
			}
			np = finishReassign(np)
			nt := *t
			nt.Partitions = slices.Clone(t.Partitions)
			nt.Partitions[i] = np
			s.Topics[name] = &nt
			return sm.Result{Value: MetaOK}
		}
	}
	return bad(MetaUnknownTopic)
}

func (s *MetaState) reassignStep(p Partition, c MetaCommand) (Partition, uint64) {
	r := p.Reassign
	switch c.Op {
	case OpReassign:
		return s.startReassign(p, c)
	case OpReassignAdded:
		if r == nil || !slices.Contains(r.Target, c.Replica) {
			return p, MetaNoReassignment
		}
		if !slices.Contains(p.Replicas, c.Replica) {
			p.Replicas = append(slices.Clone(p.Replicas), c.Replica)
		}
	case OpReassignCaughtUp:
		if r == nil || !slices.Contains(r.Adding, c.Replica) {
			return p, MetaNoReassignment
		}
		if !slices.Contains(p.Replicas, c.Replica) {
			return p, MetaBadCommand // not a member yet: cannot have caught up
		}
		if !slices.Contains(r.CaughtUp, c.Replica) {
			nr := *r
			nr.CaughtUp = append(slices.Clone(r.CaughtUp), c.Replica)
			p.Reassign = &nr
		}
	case OpReassignRemoved:
		if r == nil || slices.Contains(r.Target, c.Replica) {
			return p, MetaNoReassignment
		}
		nr := *r
		drop := func(id uint64) bool { return id == c.Replica }
		nr.Removing = slices.DeleteFunc(slices.Clone(r.Removing), drop)
		p.Replicas = slices.DeleteFunc(slices.Clone(p.Replicas), drop)
		p.Reassign = &nr
		if s.Leaders[c.Shard].Leader == c.Replica {
			delete(s.Leaders, c.Shard)
		}
	}
	return p, MetaOK
}

// startReassign records the target of OpReassign (or, with Cancel, the
// partition's original brokers). A retarget while one is in progress keeps
// the ids of the current target's brokers: an id in a target may already be
// in the Raft group and is never removed while it stays in one.
func (s *MetaState) startReassign(p Partition, c MetaCommand) (Partition, uint64) {
	cur := p.Reassign
	brokers := c.Brokers
	if c.Cancel {
		if cur == nil {
			return p, MetaNoReassignment
		}
		brokers = cur.Original
	}
	if len(brokers) == 0 {
		return p, MetaInvalidReplicas
	}
	for i, b := range brokers {
		if _, ok := s.Brokers[b]; !ok || b == 0 || b >= ReplicaGenerationBase || slices.Contains(brokers[:i], b) {
			return p, MetaInvalidReplicas
		}
	}
	if cur != nil && slices.Equal(cur.TargetBrokers(), brokers) {
		return p, MetaOK // the same request again
	}
	original := brokersOf(p.Replicas)
	gen := p.Generation
	for _, id := range slices.Concat(p.Replicas, p.Replaced) {
		gen = max(gen, id/ReplicaGenerationBase)
	}
	if cur != nil {
		original = cur.Original
		for _, id := range cur.Target {
			gen = max(gen, id/ReplicaGenerationBase)
		}
	}
	gen++
	var prev []uint64 // ids that may be in the Raft group: members, the current target
	prev = append(prev, p.Replicas...)
	if cur != nil {
		prev = append(prev, cur.Target...)
	}
	target := make([]uint64, 0, len(brokers))
	newGen := false
	for _, b := range brokers {
		i := slices.IndexFunc(prev, func(id uint64) bool { return BrokerOf(id) == b })
		if i >= 0 {
			target = append(target, prev[i])
			continue
		}
		target = append(target, gen*ReplicaGenerationBase+b)
		newGen = true
	}
	if newGen {
		p.Generation = gen
	}
	nr := &Reassignment{Target: target, Original: original}
	for _, id := range target {
		pending := cur != nil && slices.Contains(cur.Adding, id)
		if !slices.Contains(p.Replicas, id) || pending {
			nr.Adding = append(nr.Adding, id)
			if pending && slices.Contains(cur.CaughtUp, id) {
				nr.CaughtUp = append(nr.CaughtUp, id)
			}
		}
	}
	for _, id := range p.Replicas {
		if !slices.Contains(target, id) {
			nr.Removing = append(nr.Removing, id)
		}
	}
	p.Reassign = nr
	return p, MetaOK
}

// finishReassign ends p's reassignment once its replicas are exactly the
// target and every added one caught up.
func finishReassign(p Partition) Partition {
	r := p.Reassign
	if r == nil || len(r.Pending()) > 0 || len(p.Replicas) != len(r.Target) {
		return p
	}
	for _, id := range r.Target {
		if !slices.Contains(p.Replicas, id) {
			return p
		}
	}
	p.Replicas = slices.Clone(r.Target)
	p.Preferred = r.Target[0]
	p.Reassign = nil
	return p
}
