package shards

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-io/chronik/acl"
)

// MetaState is the replicated content of __meta. A value returned by
// (*MetaSM).State is immutable: the state machine replaces it on every
// update (copy on write), so readers need no lock.
type MetaState struct {
	ClusterID      string                // generated once by the first controller
	Brokers        map[uint64]BrokerInfo // by broker id
	Topics         map[string]*Topic     // by name
	Leaders        map[uint64]LeaderInfo // last reported leader per partition shard
	DiskLow        map[uint64]int64      // broker -> when (Unix ms) it last reported free disk below its minimum
	NextShardID    uint64                // next partition shard id; never reused
	NextProducerID int64                 // next idempotent producer id
	Cursor         uint64                // round-robin placement cursor
	Index          uint64                // Raft index of the last applied entry
	// ACLs are the access control bindings, in creation order, without
	// duplicates. The slice is replaced, never changed in place.
	ACLs []acl.Binding `json:",omitempty"`
	// ACLVersion is the Raft index of the last change to ACLs (0: never
	// changed), so readers rebuild their index only when it moves.
	ACLVersion uint64 `json:",omitempty"`

	// ScramUsers holds SCRAM credentials by user and mechanism
	// (meta_scram.go); absent in states from before users existed.
	ScramUsers map[string]map[string]ScramCredential `json:",omitempty"`
	// ScramSecret keys the fake credentials answered for unknown users, so
	// every broker answers an unknown user alike (scramcred.Fake).
	ScramSecret []byte `json:",omitempty"`

	// RaftAddrs is every broker's Raft address as __meta knows it (a
	// broker registers its own; OpAddBroker records a new one before it is
	// added to __meta's Raft group); every broker's registry follows it
	// (meta_brokers.go). The map is replaced, never changed in place.
	RaftAddrs map[uint64]string `json:",omitempty"`
	// RemovedBrokers are the ids of brokers removed from the cluster, in
	// order; an id is never taken back (dragonboat refuses a removed
	// replica of __meta forever).
	RemovedBrokers []uint64 `json:",omitempty"`
}

// BrokerInfo is one registered broker.
type BrokerInfo struct {
	ID        uint64
	KafkaAddr string
	// Listeners maps each Kafka listener name ("PLAINTEXT", "SSL", ...) to
	// the host:port the broker advertises on it. Empty in state written
	// before listeners existed: KafkaAddr is then the only (PLAINTEXT)
	// listener.
	Listeners map[string]string `json:",omitempty"`
	Rack      string
	Fenced    bool
}

// Equal reports whether b and o register the same broker the same way.
func (b BrokerInfo) Equal(o BrokerInfo) bool {
	return b.ID == o.ID && b.KafkaAddr == o.KafkaAddr && b.Rack == o.Rack && b.Fenced == o.Fenced &&
		maps.Equal(b.Listeners, o.Listeners)
}

// Topic is one topic and its partition layout.
type Topic struct {
	Name       string
	ID         [16]byte
	Internal   bool
	Configs    map[string]string // Kafka config names -> values, as given
	Partitions []Partition
}

// Partition is one partition's replica placement.
type Partition struct {
	Shard     uint64
	Replicas  []uint64 // replica ids (generation*1000 + broker id)
	Initial   []uint64 // the replicas the shard was created with
	Preferred uint64   // preferred leader replica id
	// Replaced lists replica ids taken out of Replicas by OpReplaceReplica
	// (a damaged replica rebuilt under a new id) that the partition's
	// leader has yet to remove from the Raft group.
	Replaced []uint64 `json:",omitempty"`
	// Reassign is the replica move in progress (meta_reassign.go), nil
	// when none is.
	Reassign *Reassignment `json:",omitempty"`
	// Generation is the highest replica generation a reassignment or a
	// rebuild gave out in this partition (0 for states from before), so
	// that a replica added later never reuses an id dragonboat removed.
	Generation uint64 `json:",omitempty"`
}

// LeaderInfo is a partition leader as last reported to __meta.
type LeaderInfo struct {
	Leader uint64 // replica id
	Epoch  uint64 // Raft term
}

// MaxPartitions bounds the partitions of one topic.
const MaxPartitions = 10000

// Meta command ops.
const (
	OpInitCluster = "init"
	OpRegister    = "register"
	OpCreateTopic = "create"
	OpDeleteTopic = "delete"
	OpLeader      = "leader"
	OpProducerID  = "pid"
	OpAddReplica  = "add-replica"
	// OpAddPartitions raises topic Name to Partitions partitions.
	OpAddPartitions = "add-partitions"
	// OpDiskState records whether broker Broker.ID's free disk space is
	// below its minimum (DiskLow), reported at At (Unix ms; a low broker
	// repeats the report, so readers can ignore a stale one).
	OpDiskState = "disk"
	// OpAlterConfigs changes topic Name's configs: with Replace all are
	// dropped first, then Unset names are removed and Configs set.
	OpAlterConfigs = "alter-configs"
	// OpReplaceReplica replaces replica Replica of partition shard Shard by
	// NewReplica (the same broker, the next generation): the broker found
	// its copy damaged and rebuilds it from the leader. Replica goes to the
	// partition's Replaced list, for the leader to remove from the Raft
	// group before it adds NewReplica.
	OpReplaceReplica = "replace-replica"
	// OpReplaceDone removes Replica from shard Shard's Replaced list: the
	// leader changed the Raft membership.
	OpReplaceDone = "replace-done"
	// OpCreateACLs adds the bindings ACLs (each valid, see acl.Binding.Validate;
	// one already stored is not added twice).
	OpCreateACLs = "create-acls"
	// OpDeleteACLs removes the bindings ACLs, those stored; the proposer
	// resolved its filters against the state it read.
	OpDeleteACLs = "delete-acls"
	// OpReassign starts (or retargets, or with Cancel cancels) the move of
	// partition shard Shard onto brokers Brokers (meta_reassign.go).
	OpReassign = "reassign"
	// OpReassignAdded records that Replica of an in-progress reassignment
	// joined shard Shard's Raft group: it goes into Replicas.
	OpReassignAdded = "reassign-added"
	// OpReassignCaughtUp records that the added Replica caught up with the
	// leader (a linearizable read on it succeeded).
	OpReassignCaughtUp = "reassign-caught-up"
	// OpReassignRemoved records that Replica left shard Shard's Raft group:
	// it leaves Replicas.
	OpReassignRemoved = "reassign-removed"
	// OpAddBroker records RaftAddr as the Raft address of new broker
	// Broker.ID, before it is added to __meta's Raft group
	// (meta_brokers.go).
	OpAddBroker = "add-broker"
	// OpRemoveBroker takes broker Broker.ID, which holds no replica, out
	// of the broker table and marks its id removed.
	OpRemoveBroker = "remove-broker"
	// OpBrokerLeft drops removed broker Broker.ID's Raft address once it
	// left __meta's Raft group.
	OpBrokerLeft = "broker-left"
)

// Meta result codes. A rejected command returns one of these in
// sm.Result.Value with a non-empty Data; on success Value is 0, or the new
// producer id (OpProducerID), or the first shard id (OpCreateTopic).
const (
	MetaOK uint64 = iota
	MetaTopicExists
	MetaUnknownTopic
	MetaNotEnoughBrokers
	MetaBadCommand
	// MetaInvalidPartitions: OpAddPartitions to no more partitions than the
	// topic has, past MaxPartitions, or of an internal topic.
	MetaInvalidPartitions
	// MetaTooManyACLs: OpCreateACLs past MaxACLs.
	MetaTooManyACLs
	// MetaInvalidReplicas: OpReassign to no broker, a broker named twice,
	// or one that is not registered.
	MetaInvalidReplicas
	// MetaNoReassignment: OpReassign with Cancel where none is in progress.
	MetaNoReassignment
	// MetaBrokerRemoved: OpRegister or OpAddBroker of a removed broker id.
	MetaBrokerRemoved
	// MetaBrokerHasReplicas: OpRemoveBroker of a broker that still holds
	// (or is the target of) a partition replica.
	MetaBrokerHasReplicas
	// MetaAddrInUse: OpAddBroker with another broker's Raft address.
	MetaAddrInUse
)

// MetaCommand is one proposal to __meta, JSON encoded.
type MetaCommand struct {
	Op         string            `json:"op"`
	ClusterID  string            `json:"cluster_id,omitempty"`
	Broker     *BrokerInfo       `json:"broker,omitempty"`
	Name       string            `json:"name,omitempty"`
	TopicID    [16]byte          `json:"topic_id,omitzero"`
	Internal   bool              `json:"internal,omitempty"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions int32             `json:"partitions,omitempty"`
	RF         int16             `json:"rf,omitempty"`
	Shard      uint64            `json:"shard,omitempty"`
	Leader     uint64            `json:"leader,omitempty"`
	Epoch      uint64            `json:"epoch,omitempty"`
	Replica    uint64            `json:"replica,omitempty"`
	NewReplica uint64            `json:"new_replica,omitempty"`
	Unset      []string          `json:"unset,omitempty"`
	Replace    bool              `json:"replace,omitempty"`
	DiskLow    bool              `json:"disk_low,omitempty"`
	At         int64             `json:"at,omitempty"`
	ACLs       []acl.Binding     `json:"acls,omitempty"`
	Scram      *ScramAlteration  `json:"scram,omitempty"`
	Brokers    []uint64          `json:"brokers,omitempty"`
	Cancel     bool              `json:"cancel,omitempty"`
	RaftAddr   string            `json:"raft_addr,omitempty"`
}

// Encode returns the command's wire form.
func (c MetaCommand) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encode meta command: %v", err)) // only plain types: cannot fail
	}
	return b
}

// MetaSM is the __meta state machine: deterministic, in memory, snapshotted
// as JSON. Update runs on dragonboat's apply goroutine; State may be called
// from any goroutine.
type MetaSM struct {
	state    atomic.Pointer[MetaState]
	onChange func(*MetaState)
}

var _ sm.IStateMachine = (*MetaSM)(nil)

// NewMetaSM returns an empty __meta state machine. onChange, if not nil, is
// called (on the apply goroutine) with the new state after every update; it
// must not block.
func NewMetaSM(onChange func(*MetaState)) *MetaSM {
	m := &MetaSM{onChange: onChange}
	m.state.Store(newMetaState())
	return m
}

func newMetaState() *MetaState {
	return &MetaState{
		Brokers:        map[uint64]BrokerInfo{},
		Topics:         map[string]*Topic{},
		Leaders:        map[uint64]LeaderInfo{},
		DiskLow:        map[uint64]int64{},
		NextShardID:    FirstPartitionShardID,
		NextProducerID: 1000,
	}
}

// State returns the current, immutable state.
func (m *MetaSM) State() *MetaState { return m.state.Load() }

func (s *MetaState) clone() *MetaState {
	c := *s
	c.Brokers = maps.Clone(s.Brokers)
	c.Topics = maps.Clone(s.Topics) // *Topic values are never mutated in place
	c.Leaders = maps.Clone(s.Leaders)
	c.DiskLow = maps.Clone(s.DiskLow)
	if c.DiskLow == nil { // a snapshot from before the field
		c.DiskLow = map[uint64]int64{}
	}
	return &c
}

// placementOrder is the broker order replicas are placed in: broker ids in
// order, or, once any broker has a rack, alternating between racks (racks
// by name, brokers of a rack by id: a1 b1 c1 a2 b2 c2 ...), so that the
// consecutive brokers a partition's replicas take are in different racks
// whenever there are enough racks, as Kafka's rack-aware assignment does.
func (s *MetaState) placementOrder() []uint64 {
	ids := s.SortedBrokers()
	byRack := map[string][]uint64{}
	for _, id := range ids {
		r := s.Brokers[id].Rack
		byRack[r] = append(byRack[r], id)
	}
	if len(byRack) < 2 {
		return ids
	}
	racks := slices.Sorted(maps.Keys(byRack))
	out := make([]uint64, 0, len(ids))
	for i := 0; len(out) < len(ids); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}

// SortedBrokers returns the registered, unfenced broker ids in order.
func (s *MetaState) SortedBrokers() []uint64 {
	ids := make([]uint64, 0, len(s.Brokers))
	for id, b := range s.Brokers {
		if !b.Fenced {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Update implements sm.IStateMachine.
func (m *MetaSM) Update(e sm.Entry) (sm.Result, error) {
	var c MetaCommand
	s := m.state.Load().clone()
	s.Index = e.Index
	var res sm.Result
	if err := json.Unmarshal(e.Cmd, &c); err != nil {
		res = sm.Result{Value: MetaBadCommand, Data: []byte{1}}
	} else {
		res = s.apply(c)
	}
	m.state.Store(s)
	if m.onChange != nil {
		m.onChange(s)
	}
	return res, nil
}

func (s *MetaState) apply(c MetaCommand) sm.Result {
	switch c.Op {
	case OpInitCluster:
		if s.ClusterID == "" {
			s.ClusterID = c.ClusterID
		}
	case OpRegister:
		if c.Broker == nil || c.Broker.ID == 0 {
			return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
		}
		if slices.Contains(s.RemovedBrokers, c.Broker.ID) {
			return bad(MetaBrokerRemoved)
		}
		s.Brokers[c.Broker.ID] = *c.Broker
		if c.RaftAddr != "" && s.RaftAddrs[c.Broker.ID] != c.RaftAddr {
			s.RaftAddrs = maps.Clone(s.RaftAddrs)
			if s.RaftAddrs == nil {
				s.RaftAddrs = map[uint64]string{}
			}
			s.RaftAddrs[c.Broker.ID] = c.RaftAddr
		}
	case OpAddBroker, OpRemoveBroker, OpBrokerLeft:
		return s.changeBrokers(c)
	case OpLeader:
		if cur, ok := s.Leaders[c.Shard]; !ok || c.Epoch >= cur.Epoch {
			s.Leaders[c.Shard] = LeaderInfo{Leader: c.Leader, Epoch: c.Epoch}
		}
	case OpProducerID:
		id := s.NextProducerID
		s.NextProducerID++
		return sm.Result{Value: uint64(id)}
	case OpDeleteTopic:
		t, ok := s.Topics[c.Name]
		if !ok {
			return sm.Result{Value: MetaUnknownTopic, Data: []byte{1}}
		}
		delete(s.Topics, c.Name)
		for _, p := range t.Partitions {
			delete(s.Leaders, p.Shard)
		}
	case OpCreateTopic:
		return s.createTopic(c)
	case OpAddReplica:
		return s.addReplica(c)
	case OpReplaceReplica, OpReplaceDone:
		return s.replaceReplica(c)
	case OpAddPartitions:
		return s.addPartitions(c)
	case OpDiskState:
		if c.Broker == nil || c.Broker.ID == 0 {
			return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
		}
		if c.DiskLow {
			s.DiskLow[c.Broker.ID] = c.At
		} else {
			delete(s.DiskLow, c.Broker.ID)
		}
	case OpAlterScram:
		return s.alterScram(c.Scram)
	case OpAlterConfigs:
		t, ok := s.Topics[c.Name]
		if !ok {
			return sm.Result{Value: MetaUnknownTopic, Data: []byte{1}}
		}
		nt := *t
		nt.Configs = map[string]string{}
		if !c.Replace {
			maps.Copy(nt.Configs, t.Configs)
		}
		for _, k := range c.Unset {
			delete(nt.Configs, k)
		}
		maps.Copy(nt.Configs, c.Configs)
		s.Topics[c.Name] = &nt
	case OpCreateACLs, OpDeleteACLs:
		return s.changeACLs(c)
	case OpReassign, OpReassignAdded, OpReassignCaughtUp, OpReassignRemoved:
		return s.reassign(c)
	default:
		return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
	}
	return sm.Result{Value: MetaOK}
}

// createTopic places the partitions round robin over the registered brokers,
// starting each partition one broker further so that preferred leaders
// (the first replica) spread evenly. Returns the first shard id.
func (s *MetaState) createTopic(c MetaCommand) sm.Result {
	if t, ok := s.Topics[c.Name]; ok {
		if t.ID == c.TopicID && c.TopicID != ([16]byte{}) && len(t.Partitions) > 0 {
			// The same create, proposed again after a timed-out attempt.
			return sm.Result{Value: t.Partitions[0].Shard}
		}
		return sm.Result{Value: MetaTopicExists, Data: []byte{1}}
	}
	brokers := s.placementOrder()
	if c.Partitions < 1 || c.Partitions > MaxPartitions || c.Name == "" {
		return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
	}
	if c.RF < 1 || int(c.RF) > len(brokers) {
		return sm.Result{Value: MetaNotEnoughBrokers, Data: []byte{1}}
	}
	t := &Topic{Name: c.Name, ID: c.TopicID, Internal: c.Internal, Configs: c.Configs}
	first := s.NextShardID
	t.Partitions = s.place(nil, int(c.Partitions), int(c.RF), brokers)
	s.Topics[c.Name] = t
	return sm.Result{Value: first}
}

// place appends n new partitions with rf replicas each to parts: a new
// shard id per partition, replicas round robin over brokers from the
// placement cursor, preferred leader the first replica.
func (s *MetaState) place(parts []Partition, n, rf int, brokers []uint64) []Partition {
	for range n {
		start := int(s.Cursor % uint64(len(brokers)))
		s.Cursor++
		reps := s.pickReplicas(brokers, start, rf)
		parts = append(parts, Partition{Shard: s.NextShardID, Replicas: reps, Initial: slices.Clone(reps), Preferred: reps[0]})
		s.NextShardID++
	}
	return parts
}

// pickReplicas returns rf brokers: brokers[start] (the preferred leader),
// then walking on from it, each next broker in a rack not yet used while
// there is one, else the next broker not yet picked. Without racks that is
// brokers[start], brokers[start+1], ...
func (s *MetaState) pickReplicas(brokers []uint64, start, rf int) []uint64 {
	reps := make([]uint64, 0, rf)
	racks := map[string]bool{}
	for len(reps) < rf {
		pick := -1
		for _, newRack := range []bool{true, false} {
			for k := range len(brokers) {
				b := brokers[(start+k)%len(brokers)]
				if slices.Contains(reps, b) || (newRack && racks[s.Brokers[b].Rack]) {
					continue
				}
				pick = (start + k) % len(brokers)
				break
			}
			if pick >= 0 {
				break
			}
		}
		b := brokers[pick]
		reps = append(reps, b)
		racks[s.Brokers[b].Rack] = true
	}
	return reps
}

// addPartitions raises topic c.Name to c.Partitions partitions, placed as
// createTopic places them, with the replication factor of its first
// partition. Existing partitions do not change. Returns the first new
// shard id.
func (s *MetaState) addPartitions(c MetaCommand) sm.Result {
	t, ok := s.Topics[c.Name]
	if !ok {
		return sm.Result{Value: MetaUnknownTopic, Data: []byte{1}}
	}
	have := len(t.Partitions)
	if t.Internal || have == 0 || int(c.Partitions) <= have || c.Partitions > MaxPartitions {
		return sm.Result{Value: MetaInvalidPartitions, Data: []byte{1}}
	}
	brokers := s.placementOrder()
	rf := t.Partitions[0].ReplicationFactor()
	if rf > len(brokers) {
		return sm.Result{Value: MetaNotEnoughBrokers, Data: []byte{1}}
	}
	first := s.NextShardID
	nt := *t
	nt.Partitions = s.place(slices.Clone(t.Partitions), int(c.Partitions)-have, rf, brokers)
	s.Topics[c.Name] = &nt
	return sm.Result{Value: first}
}

// addReplica records that replica c.Replica was added to the Raft group of
// partition shard c.Shard (the caller ran the membership change first).
func (s *MetaState) addReplica(c MetaCommand) sm.Result {
	for name, t := range s.Topics {
		for i, p := range t.Partitions {
			if p.Shard != c.Shard {
				continue
			}
			if slices.Contains(p.Replicas, c.Replica) {
				return sm.Result{Value: MetaOK}
			}
			nt := *t
			nt.Partitions = slices.Clone(t.Partitions)
			nt.Partitions[i].Replicas = append(slices.Clone(p.Replicas), c.Replica)
			s.Topics[name] = &nt
			return sm.Result{Value: MetaOK}
		}
	}
	return sm.Result{Value: MetaUnknownTopic, Data: []byte{1}}
}

// replaceReplica applies OpReplaceReplica and OpReplaceDone. Both are
// idempotent: a retried proposal changes nothing more.
func (s *MetaState) replaceReplica(c MetaCommand) sm.Result {
	for name, t := range s.Topics {
		for i, p := range t.Partitions {
			if p.Shard != c.Shard {
				continue
			}
			np := p
			if c.Op == OpReplaceDone {
				np.Replaced = slices.DeleteFunc(slices.Clone(p.Replaced), func(r uint64) bool { return r == c.Replica })
			} else {
				if slices.Contains(p.Replicas, c.NewReplica) {
					return sm.Result{Value: MetaOK}
				}
				j := slices.Index(p.Replicas, c.Replica)
				if j < 0 || c.NewReplica == 0 || BrokerOf(c.NewReplica) != BrokerOf(c.Replica) || c.NewReplica <= c.Replica {
					return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
				}
				np.Replicas = slices.Clone(p.Replicas)
				np.Replicas[j] = c.NewReplica
				if np.Preferred == c.Replica {
					np.Preferred = c.NewReplica
				}
				np.Replaced = append(slices.Clone(p.Replaced), c.Replica)
				np.Generation = max(np.Generation, c.NewReplica/ReplicaGenerationBase)
				np.Reassign = np.Reassign.replaced(c.Replica, c.NewReplica)
				if s.Leaders[c.Shard].Leader == c.Replica {
					delete(s.Leaders, c.Shard)
				}
			}
			nt := *t
			nt.Partitions = slices.Clone(t.Partitions)
			nt.Partitions[i] = np
			s.Topics[name] = &nt
			return sm.Result{Value: MetaOK}
		}
	}
	return sm.Result{Value: MetaUnknownTopic, Data: []byte{1}}
}

// MaxACLs bounds the bindings __meta stores, so the state (and each
// broker's index of it) stays small.
const MaxACLs = 100000

// changeACLs applies OpCreateACLs and OpDeleteACLs. Both are idempotent: a
// retried proposal changes nothing more. A create with an invalid binding,
// or past MaxACLs, changes nothing.
func (s *MetaState) changeACLs(c MetaCommand) sm.Result {
	have := make(map[acl.Binding]bool, len(s.ACLs))
	for _, b := range s.ACLs {
		have[b] = true
	}
	var next []acl.Binding
	if c.Op == OpCreateACLs {
		next = slices.Clone(s.ACLs)
		for _, b := range c.ACLs {
			if b.Validate() != nil {
				return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
			}
			if !have[b] {
				have[b] = true
				next = append(next, b)
			}
		}
		if len(next) > MaxACLs {
			return sm.Result{Value: MetaTooManyACLs, Data: []byte{1}}
		}
	} else {
		drop := map[acl.Binding]bool{}
		for _, b := range c.ACLs {
			drop[b] = true
		}
		next = slices.DeleteFunc(slices.Clone(s.ACLs), func(b acl.Binding) bool { return drop[b] })
	}
	if len(next) != len(s.ACLs) {
		s.ACLs = next
		s.ACLVersion = s.Index
	}
	return sm.Result{Value: MetaOK}
}

// Lookup implements sm.IStateMachine; it returns the current *MetaState.
func (m *MetaSM) Lookup(any) (any, error) { return m.state.Load(), nil }

// SaveSnapshot implements sm.IStateMachine.
func (m *MetaSM) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	if err := json.NewEncoder(w).Encode(m.state.Load()); err != nil {
		return fmt.Errorf("save __meta snapshot: %w", err)
	}
	return nil
}

// RecoverFromSnapshot implements sm.IStateMachine.
func (m *MetaSM) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	s := newMetaState()
	if err := json.NewDecoder(r).Decode(s); err != nil {
		return fmt.Errorf("recover __meta snapshot: %w", err)
	}
	m.state.Store(s)
	if m.onChange != nil {
		m.onChange(s)
	}
	return nil
}

// Close implements sm.IStateMachine.
func (m *MetaSM) Close() error { return nil }
