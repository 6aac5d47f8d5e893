package coordinator

// The share coordinator's persisted state: per share group its altered
// configs, and per share partition (group, topic id, partition) its start
// offset (SPSO) and the in-flight records past it that are acknowledged,
// archived or were delivered before, with their delivery counts. The broker
// leading a data partition keeps the live state of its share partitions in
// memory (package kafka) and writes it here, through Raft, before it answers
// an acknowledgement; after a failover of either broker the state is read
// back from here.
//
// Records (chronik's own key versions on __consumer_offsets; values are
// JSON, a nil value is a tombstone):
//
//	key 0x7C10 share group configs   (group)                       value: {"name": "value", ...}
//	key 0x7C11 share partition state (group, topic id, partition)  value: ShareState

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

const (
	recShareConfig = 0x7C10
	recShareState  = 0x7C11
)

// Delivery states of a ShareStateBatch, as Kafka's share coordinator
// stores them.
const (
	ShareAvailable    int8 = 0
	ShareAcknowledged int8 = 2
	ShareArchived     int8 = 4
)

// ShareState is the persisted state of one share partition.
type ShareState struct {
	// StateEpoch changes when the state is replaced by an admin (alter or
	// delete offsets): a writer holding an older epoch is fenced.
	StateEpoch int32 `json:"se"`
	// LeaderEpoch is the data partition's leader epoch of the last writer:
	// a write from an older leader is fenced.
	LeaderEpoch int32 `json:"le"`
	// StartOffset is the share-partition start offset; -1 until the
	// partition is initialized (by auto.offset.reset).
	StartOffset int64 `json:"so"`
	// Batches are ranges of records past StartOffset with a state other
	// than available-and-never-delivered.
	Batches []ShareStateBatch `json:"b,omitempty"`
}

// ShareStateBatch is a range of records in one delivery state.
type ShareStateBatch struct {
	First         int64 `json:"f"`
	Last          int64 `json:"l"`
	State         int8  `json:"s"`
	DeliveryCount int16 `json:"d"`
}

type shareKey struct {
	topic     [16]byte
	partition int32
}

// shareState is a share partition's state as last written.
type shareState = ShareState

func shareConfigKey(group string) []byte {
	b := binary.BigEndian.AppendUint16(nil, recShareConfig)
	b = binary.BigEndian.AppendUint16(b, uint16(len(group)))
	return append(b, group...)
}

func shareStateKey(group string, k shareKey) []byte {
	b := shareConfigKey(group)
	binary.BigEndian.PutUint16(b, recShareState)
	b = append(b, k.topic[:]...)
	return binary.BigEndian.AppendUint32(b, uint32(k.partition))
}

// decodeShareKey decodes a share record's key.
func decodeShareKey(key []byte) (group string, k shareKey, err error) {
	if len(key) < 4 {
		return "", k, fmt.Errorf("%w: share key of %d bytes", errBadGroupRecord, len(key))
	}
	n := int(binary.BigEndian.Uint16(key[2:]))
	if len(key) < 4+n {
		return "", k, fmt.Errorf("%w: share key group of %d bytes", errBadGroupRecord, n)
	}
	group, rest := string(key[4:4+n]), key[4+n:]
	if binary.BigEndian.Uint16(key) == recShareConfig {
		return group, k, nil
	}
	if len(rest) != 20 {
		return "", k, fmt.Errorf("%w: share state key of group %q", errBadGroupRecord, group)
	}
	copy(k.topic[:], rest)
	k.partition = int32(binary.BigEndian.Uint32(rest[16:]))
	return group, k, nil
}

// loadedShare is a share group as the load rebuilds it.
type loadedShare struct {
	configs map[string]string
	states  map[shareKey]*shareState
}

// applyShare folds a share record into the load state.
func (s *loadState) applyShare(kind int16, key, value []byte) error {
	group, k, err := decodeShareKey(key)
	if err != nil {
		return err
	}
	if s.shares == nil {
		s.shares = map[string]*loadedShare{}
	}
	ls := s.shares[group]
	if ls == nil {
		ls = &loadedShare{configs: map[string]string{}, states: map[shareKey]*shareState{}}
		s.shares[group] = ls
	}
	if kind == recShareConfig {
		ls.configs = map[string]string{}
		if value != nil {
			if err := json.Unmarshal(value, &ls.configs); err != nil {
				return fmt.Errorf("%w: share configs of %q: %v", errBadGroupRecord, group, err)
			}
		}
		return nil
	}
	if value == nil {
		delete(ls.states, k)
		return nil
	}
	st := new(shareState)
	if err := json.Unmarshal(value, st); err != nil {
		return fmt.Errorf("%w: share state of %q: %v", errBadGroupRecord, group, err)
	}
	ls.states[k] = st
	return nil
}

// restoreShares installs the loaded share groups; cp.mu is held.
func (cp *coordPartition) restoreShares(shares map[string]*loadedShare) {
	for name, ls := range shares {
		if len(ls.configs) == 0 && len(ls.states) == 0 {
			continue
		}
		g := newShareGroup(cp, name)
		g.configs, g.states = ls.configs, ls.states
		cp.shares[name] = g
	}
}

// writeShare writes records of g through Raft; g is locked.
func (g *shareGroup) writeShare(recs ...engine.Record) *kerr.Error {
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("share group write failed", "group", g.name, "err", err)
		return writeError(err)
	}
	return nil
}

func stateRecord(group string, k shareKey, st *shareState) engine.Record {
	r := engine.Record{Key: shareStateKey(group, k)}
	if st != nil {
		r.Value, _ = json.Marshal(st)
	}
	return r
}

func configRecord(group string, cfg map[string]string) engine.Record {
	v, _ := json.Marshal(cfg)
	return engine.Record{Key: shareConfigKey(group), Value: v}
}

// shareGroupFor returns the share group (locked), creating it when create
// is set, or the error a client acts on; GROUP_ID_NOT_FOUND when a
// consumer group has the name or (without create) no share group does.
func (c *Coordinator) shareGroupFor(group string, create bool) (*shareGroup, *kerr.Error) {
	if group == "" {
		return nil, kerr.InvalidGroupID
	}
	cp, e := c.partitionOf(group)
	if e == kerr.CoordinatorNotAvailable && c.be != nil {
		c.set.ensureTopic() // the first group of the cluster
	}
	if e != nil {
		return nil, e
	}
	if cp.isConsumerGroup(group) {
		return nil, kerr.GroupIDNotFound
	}
	g := cp.shareLookup(group, create)
	if g == nil {
		return nil, kerr.GroupIDNotFound
	}
	return g, nil
}

// ReadShareState returns a share partition's persisted state (StartOffset
// -1 when it was never initialized) and the group's configs, for the
// broker leading the data partition at leaderEpoch (-1: not checked). A
// reader with an older leader epoch than the last writer gets
// FENCED_LEADER_EPOCH. Other errors: the coordinator errors,
// GROUP_ID_NOT_FOUND (a consumer group has the name).
func (c *Coordinator) ReadShareState(group string, topic [16]byte, partition, leaderEpoch int32) (ShareState, map[string]string, *kerr.Error) {
	g, e := c.shareGroupFor(group, true)
	if e != nil {
		return ShareState{}, nil, e
	}
	defer g.mu.Unlock()
	cfg := maps.Clone(g.configs)
	st := g.states[shareKey{topic, partition}]
	if st == nil {
		return ShareState{StartOffset: -1}, cfg, nil
	}
	if leaderEpoch >= 0 && leaderEpoch < st.LeaderEpoch {
		return ShareState{}, nil, kerr.FencedLeaderEpoch
	}
	out := *st
	out.Batches = append([]ShareStateBatch(nil), st.Batches...)
	return out, cfg, nil
}

// WriteShareState persists a share partition's state through Raft and
// returns once it is committed. st.StateEpoch must be the current state
// epoch (else FENCED_STATE_EPOCH: an admin replaced the state, read it
// again) and st.LeaderEpoch no older than the last writer's (else
// FENCED_LEADER_EPOCH). Other errors: the coordinator errors,
// GROUP_ID_NOT_FOUND.
func (c *Coordinator) WriteShareState(group string, topic [16]byte, partition int32, st ShareState) *kerr.Error {
	g, e := c.shareGroupFor(group, true)
	if e != nil {
		return e
	}
	defer g.mu.Unlock()
	k := shareKey{topic, partition}
	if old := g.states[k]; old != nil {
		if st.StateEpoch != old.StateEpoch {
			return kerr.FencedStateEpoch
		}
		if st.LeaderEpoch < old.LeaderEpoch {
			return kerr.FencedLeaderEpoch
		}
	}
	nst := st
	if e := g.writeShare(stateRecord(group, k, &nst)); e != nil {
		return e
	}
	g.states[k] = &nst
	return nil
}

// ShareGroupConfigs returns the configs altered on a share group (nil if
// none or no such group) or the coordinator errors.
func (c *Coordinator) ShareGroupConfigs(group string) (map[string]string, *kerr.Error) {
	g, e := c.shareGroupFor(group, false)
	if e == kerr.GroupIDNotFound {
		return nil, nil
	}
	if e != nil {
		return nil, e
	}
	defer g.mu.Unlock()
	return maps.Clone(g.configs), nil
}

// ValidateShareConfig checks a share group config's name and value:
// INVALID_CONFIG for an unknown name or a bad value.
func ValidateShareConfig(name, value string) *kerr.Error {
	switch name {
	case ShareAutoOffsetReset:
		if value == "earliest" || value == "latest" {
			return nil
		}
	case ShareIsolationLevel:
		if value == "read_committed" || value == "read_uncommitted" {
			return nil
		}
	case ShareRecordLockDuration, ShareDeliveryCountLimit, ShareSessionTimeout, ShareHeartbeatInterval:
		if n, err := strconv.ParseInt(value, 10, 32); err == nil && n > 0 {
			return nil
		}
	}
	return kerr.InvalidConfig
}

// AlterShareGroupConfigs sets (value non-nil) or deletes (nil) configs of a
// share group, creating it, and writes them through Raft. Names and values
// must pass ValidateShareConfig. Errors: INVALID_CONFIG, the coordinator
// errors, GROUP_ID_NOT_FOUND (a consumer group has the name).
func (c *Coordinator) AlterShareGroupConfigs(group string, set map[string]*string) *kerr.Error {
	for k, v := range set {
		if v != nil {
			if e := ValidateShareConfig(k, *v); e != nil {
				return e
			}
		} else if !IsShareConfig(k) {
			return kerr.InvalidConfig
		}
	}
	g, e := c.shareGroupFor(group, true)
	if e != nil {
		return e
	}
	defer g.mu.Unlock()
	cfg := maps.Clone(g.configs)
	for k, v := range set {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	if e := g.writeShare(configRecord(group, cfg)); e != nil {
		return e
	}
	g.configs = cfg
	return nil
}

// ShareOffset is a share partition's start offset, for the admin APIs.
type ShareOffset struct {
	Topic       [16]byte
	Partition   int32
	StartOffset int64
	LeaderEpoch int32
}

// ShareGroupOffsets returns the start offsets of a share group's
// initialized share partitions. Errors: GROUP_ID_NOT_FOUND, the
// coordinator errors.
func (c *Coordinator) ShareGroupOffsets(group string) ([]ShareOffset, *kerr.Error) {
	g, e := c.shareGroupFor(group, false)
	if e != nil {
		return nil, e
	}
	defer g.mu.Unlock()
	var out []ShareOffset
	for k, st := range g.states {
		if st.StartOffset >= 0 {
			out = append(out, ShareOffset{Topic: k.topic, Partition: k.partition, StartOffset: st.StartOffset, LeaderEpoch: st.LeaderEpoch})
		}
	}
	return out, nil
}

// AlterShareGroupOffsets sets the start offsets of share partitions of an
// empty share group (creating it): their in-flight state is dropped and
// their state epoch bumped, fencing a leader that still holds the old
// state. Errors: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND (a consumer group),
// the coordinator errors.
func (c *Coordinator) AlterShareGroupOffsets(group string, offsets []ShareOffset) *kerr.Error {
	g, e := c.shareGroupFor(group, true)
	if e != nil {
		return e
	}
	defer g.mu.Unlock()
	if len(g.members) > 0 {
		return kerr.NonEmptyGroup
	}
	next := map[shareKey]*shareState{}
	for _, o := range offsets {
		k := shareKey{o.Topic, o.Partition}
		st := &shareState{StartOffset: o.StartOffset}
		if old := g.states[k]; old != nil {
			st.StateEpoch, st.LeaderEpoch = old.StateEpoch+1, old.LeaderEpoch
		}
		next[k] = st
	}
	return g.replaceStates(group, next)
}

// DeleteShareGroupOffsets deletes the share state of every partition of
// the given topics in an empty share group: each becomes uninitialized
// (start offset -1) under a new state epoch, so a partition leader still
// holding the old state reads it again and starts over from
// share.auto.offset.reset. Errors: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, the
// coordinator errors.
func (c *Coordinator) DeleteShareGroupOffsets(group string, topics [][16]byte) *kerr.Error {
	g, e := c.shareGroupFor(group, false)
	if e != nil {
		return e
	}
	defer g.mu.Unlock()
	if len(g.members) > 0 {
		return kerr.NonEmptyGroup
	}
	next := map[shareKey]*shareState{}
	for k, old := range g.states {
		if slices.Contains(topics, k.topic) {
			next[k] = &shareState{StateEpoch: old.StateEpoch + 1, LeaderEpoch: old.LeaderEpoch, StartOffset: -1}
		}
	}
	return g.replaceStates(group, next)
}

// replaceStates writes the share partition states of next through Raft and
// then takes them into g.states (the admin paths that reset start
// offsets); nothing to write is no error. g.mu is held.
func (g *shareGroup) replaceStates(group string, next map[shareKey]*shareState) *kerr.Error {
	if len(next) == 0 {
		return nil
	}
	recs := make([]engine.Record, 0, len(next))
	for k, st := range next {
		recs = append(recs, stateRecord(group, k, st))
	}
	if e := g.writeShare(recs...); e != nil {
		return e
	}
	maps.Copy(g.states, next)
	return nil
}

// deleteShareGroup deletes an empty share group: tombstones for its
// configs and states. NON_EMPTY_GROUP while it has members.
func (g *shareGroup) delete() *kerr.Error {
	if len(g.members) > 0 {
		return kerr.NonEmptyGroup
	}
	recs := []engine.Record{{Key: shareConfigKey(g.name)}}
	for k := range g.states {
		recs = append(recs, stateRecord(g.name, k, nil))
	}
	if e := g.writeShare(recs...); e != nil {
		return e
	}
	g.kill()
	g.cp.mu.Lock()
	if g.cp.shares[g.name] == g {
		delete(g.cp.shares, g.name)
	}
	g.cp.mu.Unlock()
	return nil
}
