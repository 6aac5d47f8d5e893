package shards

import (
	"slices"
	"testing"
)

// reassignFixture is a __meta state machine with brokers 1-4 and topic "r"
// of one partition on brokers 1, 2, 3 (shard FirstPartitionShardID).
func reassignFixture(t *testing.T) (*MetaSM, func(c MetaCommand) uint64, func() Partition) {
	t.Helper()
	m := NewMetaSM(nil)
	idx := uint64(0)
	apply := func(c MetaCommand) uint64 {
		idx++
		return applyMeta(t, m, idx, c).Value
	}
	for b := uint64(1); b <= 4; b++ {
		apply(MetaCommand{Op: OpRegister, Broker: &BrokerInfo{ID: b}})
	}
	if v := apply(MetaCommand{Op: OpCreateTopic, Name: "r", Partitions: 1, RF: 3}); v != FirstPartitionShardID {
		t.Fatalf("create: %d", v)
	}
	part := func() Partition { return m.State().Topics["r"].Partitions[0] }
	if got := part().Replicas; !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("placed on %v, want [1 2 3]", got)
	}
	return m, apply, part
}

// A move from {1,2,3} to {2,3,4} through every step: the new replica gets
// the next generation, joins Replicas when added, the old one leaves when
// removed, and the state machine ends the reassignment once both happened
// and the new one caught up, with the target's order and preferred leader.
func TestMetaReassignSteps(t *testing.T) {
	m, apply, part := reassignFixture(t)
	shard := FirstPartitionShardID
	if v := apply(MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{2, 3, 4}}); v != MetaOK {
		t.Fatalf("reassign: %d", v)
	}
	r := part().Reassign
	if r == nil || !slices.Equal(r.Target, []uint64{2, 3, 1004}) || !slices.Equal(r.Adding, []uint64{1004}) ||
		!slices.Equal(r.Removing, []uint64{1}) || !slices.Equal(r.Original, []uint64{1, 2, 3}) {
		t.Fatalf("reassignment %+v", r)
	}
	if part().Generation != 1 {
		t.Fatalf("generation %d, want 1", part().Generation)
	}
	// The same request again changes nothing.
	if v := apply(MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{2, 3, 4}}); v != MetaOK || part().Generation != 1 {
		t.Fatalf("repeated reassign: %d, generation %d", v, part().Generation)
	}
	if v := apply(MetaCommand{Op: OpReassignCaughtUp, Shard: shard, Replica: 1004}); v != MetaBadCommand {
		t.Fatalf("caught up before added: %d", v)
	}
	if v := apply(MetaCommand{Op: OpReassignRemoved, Shard: shard, Replica: 2}); v != MetaNoReassignment {
		t.Fatalf("remove a target replica: %d", v)
	}
	apply(MetaCommand{Op: OpReassignAdded, Shard: shard, Replica: 1004})
	if got := part().Replicas; !slices.Equal(got, []uint64{1, 2, 3, 1004}) {
		t.Fatalf("after add: %v", got)
	}
	apply(MetaCommand{Op: OpLeader, Shard: shard, Leader: 1, Epoch: 3})
	apply(MetaCommand{Op: OpReassignRemoved, Shard: shard, Replica: 1})
	if p := part(); p.Reassign == nil || !slices.Equal(p.Replicas, []uint64{2, 3, 1004}) {
		t.Fatalf("after remove, before caught up: %+v", p)
	}
	if _, ok := m.State().Leaders[shard]; ok {
		t.Fatal("leader record naming the removed replica kept")
	}
	apply(MetaCommand{Op: OpReassignCaughtUp, Shard: shard, Replica: 1004})
	p := part()
	if p.Reassign != nil || !slices.Equal(p.Replicas, []uint64{2, 3, 1004}) || p.Preferred != 2 {
		t.Fatalf("finished: %+v", p)
	}
	// Back onto broker 1: a new generation, never the removed id 1.
	apply(MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{1, 3, 4}})
	if r := part().Reassign; r == nil || !slices.Equal(r.Target, []uint64{2001, 3, 1004}) {
		t.Fatalf("back to broker 1: %+v", r)
	}
}

// Validation and cancel: no brokers, a broker twice or unregistered is
// MetaInvalidReplicas; a cancel of nothing MetaNoReassignment; a cancel
// moves back to the original brokers (keeping ids still members), and a
// reorder of the same brokers ends at once with the new preferred leader.
func TestMetaReassignValidateAndCancel(t *testing.T) {
	_, apply, part := reassignFixture(t)
	shard := FirstPartitionShardID
	for _, tc := range []struct {
		name string
		cmd  MetaCommand
		want uint64
	}{
		{"empty", MetaCommand{Op: OpReassign, Shard: shard}, MetaInvalidReplicas},
		{"duplicate", MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{2, 2, 3}}, MetaInvalidReplicas},
		{"unknown broker", MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{2, 3, 9}}, MetaInvalidReplicas},
		{"unknown shard", MetaCommand{Op: OpReassign, Shard: 999, Brokers: []uint64{2}}, MetaUnknownTopic},
		{"cancel of nothing", MetaCommand{Op: OpReassign, Shard: shard, Cancel: true}, MetaNoReassignment},
		{"step of nothing", MetaCommand{Op: OpReassignAdded, Shard: shard, Replica: 1004}, MetaNoReassignment},
	} {
		if v := apply(tc.cmd); v != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, v, tc.want)
		}
	}
	if p := part(); p.Reassign != nil || !slices.Equal(p.Replicas, []uint64{1, 2, 3}) {
		t.Fatalf("after refused commands: %+v", p)
	}
	apply(MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{4, 2, 3}})
	apply(MetaCommand{Op: OpReassignAdded, Shard: shard, Replica: 1004})
	if v := apply(MetaCommand{Op: OpReassign, Shard: shard, Cancel: true}); v != MetaOK {
		t.Fatalf("cancel: %d", v)
	}
	r := part().Reassign
	if r == nil || !slices.Equal(r.Target, []uint64{1, 2, 3}) || len(r.Adding) != 0 || !slices.Equal(r.Removing, []uint64{1004}) {
		t.Fatalf("cancelled: %+v", r)
	}
	apply(MetaCommand{Op: OpReassignRemoved, Shard: shard, Replica: 1004})
	if p := part(); p.Reassign != nil || !slices.Equal(p.Replicas, []uint64{1, 2, 3}) || p.Preferred != 1 {
		t.Fatalf("after the cancel completed: %+v", p)
	}
	apply(MetaCommand{Op: OpReassign, Shard: shard, Brokers: []uint64{3, 1, 2}})
	if p := part(); p.Reassign != nil || !slices.Equal(p.Replicas, []uint64{3, 1, 2}) || p.Preferred != 3 {
		t.Fatalf("reorder: %+v", p)
	}
}
