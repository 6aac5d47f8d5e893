package shards

import (
	"maps"
	"slices"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Brokers joining and leaving a running cluster, in __meta.
//
// Adding broker N (driven by engine.AddBroker on any current broker):
//
//  1. OpAddBroker records N's Raft address in RaftAddrs. Every broker's
//     registry takes it when the entry is applied, before N is a member
//     of any Raft group, so no message to N ever lacks an address.
//  2. N is added to __meta's Raft group; N starts its __meta replica as a
//     joiner, catches up, and registers itself (OpRegister) with its Kafka
//     listeners: only then is it in Brokers and gets partition replicas.
//
// Removing broker N (engine.RemoveBroker):
//
//  1. Its replicas are moved off (partition reassignments); OpRemoveBroker
//     is refused while any partition still has, or is moving, a replica
//     on N. It takes N out of Brokers (Metadata, placement) and records
//     its id in RemovedBrokers, never to be taken back.
//  2. N is removed from __meta's Raft group, then OpBrokerLeft drops its
//     address from RaftAddrs, and so from every broker's registry.
//
// Every step is idempotent; the __meta leader finishes a removal whose
// driver stopped between the steps.

// Removed reports whether broker id was removed from the cluster.
func (s *MetaState) Removed(id uint64) bool { return slices.Contains(s.RemovedBrokers, id) }

// HostsReplicas returns the partitions (topic and index) that have, or are
// moving, a replica on broker id.
func (s *MetaState) HostsReplicas(id uint64) []TopicPartition {
	var out []TopicPartition
	on := func(ids []uint64) bool {
		return slices.ContainsFunc(ids, func(r uint64) bool { return BrokerOf(r) == id })
	}
	for name, t := range s.Topics {
		for i, p := range t.Partitions {
			if on(p.Replicas) || on(p.Replaced) || p.Reassign != nil && on(p.Reassign.Target) {
				out = append(out, TopicPartition{Topic: name, Partition: int32(i)})
			}
		}
	}
	slices.SortFunc(out, func(a, b TopicPartition) int {
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

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// changeBrokers applies OpAddBroker, OpRemoveBroker and OpBrokerLeft.
func (s *MetaState) changeBrokers(c MetaCommand) sm.Result {
	if c.Broker == nil || c.Broker.ID == 0 || c.Broker.ID >= ReplicaGenerationBase {
		return bad(MetaBadCommand)
	}
	id := c.Broker.ID
	switch c.Op {
	case OpAddBroker:
		if s.Removed(id) {
			return bad(MetaBrokerRemoved)
		}
		if c.RaftAddr == "" {
			return bad(MetaBadCommand)
		}
		for other, a := range s.RaftAddrs {
			if other != id && a == c.RaftAddr {
				return bad(MetaAddrInUse)
			}
		}
		if s.RaftAddrs[id] != c.RaftAddr {
			s.RaftAddrs = maps.Clone(s.RaftAddrs)
			if s.RaftAddrs == nil {
				s.RaftAddrs = map[uint64]string{}
			}
			s.RaftAddrs[id] = c.RaftAddr
		}
	case OpRemoveBroker:
		if len(s.HostsReplicas(id)) > 0 {
			return bad(MetaBrokerHasReplicas)
		}
		delete(s.Brokers, id)
		delete(s.DiskLow, id)
		if !s.Removed(id) {
			s.RemovedBrokers = append(slices.Clone(s.RemovedBrokers), id)
			slices.Sort(s.RemovedBrokers)
		}
	case OpBrokerLeft:
		if !s.Removed(id) {
			return bad(MetaBadCommand)
		}
		if _, ok := s.RaftAddrs[id]; ok {
			s.RaftAddrs = maps.Clone(s.RaftAddrs)
			delete(s.RaftAddrs, id)
		}
	}
	return sm.Result{Value: MetaOK}
}
