package coordinator

// Persistence of KIP-848 consumer groups: after every change the group's
// records (consumer_records.go) are recomputed from memory and the keys
// whose value differs from the last written one are written through Raft,
// tombstones for keys that disappeared (a member that left). A new
// coordinator replays them (load.go) and rebuilds the group (restoreConsumer).

import (
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// consumerRecords returns the group's consumer records as they should be
// now, record key -> value: the group's, and those of members (nil: every
// member).
func (g *group) consumerRecords(members ...*cmember) map[string][]byte {
	cg := g.consumer
	out := map[string][]byte{}
	put := func(k cgKey, v []byte) { out[string(k.encode())] = v }
	put(cgKey{version: recCGMetadata, group: g.name}, encodeEpochValue(cg.epoch))
	put(cgKey{version: recCGPartitionMeta, group: g.name}, encodePartitionMeta(cg.topics))
	put(cgKey{version: recCGTargetMeta, group: g.name}, encodeEpochValue(cg.assignmentEpoch))
	if members == nil {
		for _, m := range cg.members {
			members = append(members, m)
		}
	}
	for _, m := range members {
		put(cgKey{version: recCGMemberMeta, group: g.name, member: m.id}, encodeMemberMeta(m.meta))
		put(cgKey{version: recCGTargetMember, group: g.name, member: m.id}, encodeTargetMember(m.target))
		put(cgKey{version: recCGCurrentAssign, group: g.name, member: m.id}, encodeCurrent(m.cgCurrent))
	}
	return out
}

// persistConsumer writes what changed in the consumer group since the
// last write. On failure the error is what the member should do (find the
// coordinator again, retry); memory keeps the change, and a new
// coordinator rebuilds from what was written.
func (g *group) persistConsumer() *kerr.Error {
	return g.persistRecords(g.consumerRecords(), true)
}

// persistMember is persistConsumer when only m and the group's own
// records may have changed (no member came or went).
func (g *group) persistMember(m *cmember) *kerr.Error {
	return g.persistRecords(g.consumerRecords(m), false)
}

// persistRecords writes the records of want whose value differs from the
// last written, and, when want is every record of the group (all),
// tombstones for the keys written before that want no longer holds.
func (g *group) persistRecords(want map[string][]byte, all bool) *kerr.Error {
	cg := g.consumer
	var recs []engine.Record
	if cg.dropClassic {
		recs = append(recs, groupRecord(g.name, nil))
	}
	keys := make([]string, 0, len(want)+len(cg.written))
	for k, v := range want {
		if old, ok := cg.written[k]; !ok || string(old) != string(v) {
			keys = append(keys, k)
		}
	}
	for k := range cg.written {
		if _, ok := want[k]; !ok && all {
			keys = append(keys, k)
		}
	}
	if len(recs) == 0 && len(keys) == 0 {
		return nil
	}
	// Members' records before the group's: a reader that sees the group
	// epoch also sees the members at it (the load applies a whole log
	// prefix anyway).
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	for _, k := range keys {
		recs = append(recs, engine.Record{Key: []byte(k), Value: want[k]})
	}
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("persist consumer group failed", "group", g.name, "err", err)
		return writeError(err)
	}
	cg.dropClassic = false
	if all {
		cg.written = want
	} else {
		for k, v := range want {
			cg.written[k] = v
		}
	}
	return nil
}

// consumerTombstones are the records deleting every consumer record of the
// group (the group is deleted, or converted to a classic group).
func (g *group) consumerTombstones() []engine.Record {
	if g.consumer == nil {
		return nil
	}
	keys := make([]string, 0, len(g.consumer.written))
	for k := range g.consumer.written {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]engine.Record, 0, len(keys))
	for _, k := range keys {
		recs = append(recs, engine.Record{Key: []byte(k)})
	}
	return recs
}

// toClassic turns an empty consumer group into a classic group (a classic
// consumer joins it), deleting its consumer records; offsets stay.
func (g *group) toClassic() *kerr.Error {
	if recs := g.consumerTombstones(); len(recs) > 0 {
		if err := g.cp.write(recs...); err != nil {
			g.cp.c.log.Warn("convert consumer group to classic failed", "group", g.name, "err", err)
			return writeError(err)
		}
	}
	g.killConsumer()
	g.consumer = nil
	return nil
}

// loadedConsumer is a consumer group's records found by a replay.
type loadedConsumer struct {
	epoch, assignmentEpoch int32
	topics                 []topicMeta
	meta                   map[string]cgMemberMeta
	target                 map[string]assignment
	current                map[string]cgCurrent
	written                map[string][]byte
	hasGroup               bool // a ConsumerGroupMetadata record is live
}

func newLoadedConsumer() *loadedConsumer {
	return &loadedConsumer{meta: map[string]cgMemberMeta{}, target: map[string]assignment{},
		current: map[string]cgCurrent{}, written: map[string][]byte{}}
}

// check decodes a consumer record's value, for its error only.
func (lc *loadedConsumer) check(k cgKey, value []byte) error {
	scratch := newLoadedConsumer()
	return scratch.apply(k, k.encode(), value)
}

// apply folds one consumer record into lc. A value that cannot be decoded
// is not applied (the error says why).
func (lc *loadedConsumer) apply(k cgKey, rawKey, value []byte) error {
	if value == nil {
		delete(lc.written, string(rawKey))
		switch k.version {
		case recCGMetadata:
			lc.hasGroup = false
		case recCGMemberMeta:
			delete(lc.meta, k.member)
		case recCGTargetMember:
			delete(lc.target, k.member)
		case recCGCurrentAssign:
			delete(lc.current, k.member)
		}
		return nil
	}
	var err error
	switch k.version {
	case recCGMetadata:
		lc.epoch, err = decodeEpochValue(value)
		lc.hasGroup = err == nil
	case recCGPartitionMeta:
		lc.topics, err = decodePartitionMeta(value)
	case recCGTargetMeta:
		lc.assignmentEpoch, err = decodeEpochValue(value)
	case recCGMemberMeta:
		var m cgMemberMeta
		if m, err = decodeMemberMeta(value); err == nil {
			lc.meta[k.member] = m
		}
	case recCGTargetMember:
		var a assignment
		if a, err = decodeTargetMember(value); err == nil {
			lc.target[k.member] = a
		}
	case recCGCurrentAssign:
		var c cgCurrent
		if c, err = decodeCurrent(value); err == nil {
			lc.current[k.member] = c
		}
	}
	if err == nil {
		lc.written[string(rawKey)] = value
	}
	return err
}

// restoreConsumer rebuilds a consumer group from its records: members
// keep their epochs and partitions and must heartbeat within their
// session timeout.
func (g *group) restoreConsumer(lc *loadedConsumer) {
	cg := newConsumerGroup()
	cg.epoch, cg.assignmentEpoch, cg.topics = lc.epoch, lc.assignmentEpoch, lc.topics
	cg.written = lc.written
	g.consumer = cg
	for id, meta := range lc.meta {
		m := &cmember{id: id, meta: meta, target: lc.target[id], cgCurrent: lc.current[id]}
		if m.target == nil {
			m.target = assignment{}
		}
		if m.assigned == nil {
			m.assigned = assignment{}
		}
		if m.pending == nil {
			m.pending = assignment{}
		}
		if meta.regex != nil {
			m.re = compileSubscription(*meta.regex)
		}
		if m.assignedAt == nil {
			m.assignedAt = map[topicPartitionID]int32{}
		}
		for tid, ps := range m.assigned {
			for _, p := range ps {
				if _, ok := m.assignedAt[topicPartitionID{tid, p}]; !ok {
					m.assignedAt[topicPartitionID{tid, p}] = m.epoch // a record without AssignmentEpochs
				}
			}
		}
		cg.members[id] = m
		if meta.instanceID != nil {
			cg.static[*meta.instanceID] = id
		}
		g.claim(m)
		g.sessionTimer(m)
		if m.state == memberUnrevoked {
			g.rebalanceTimer(m)
		}
	}
}

// topicsCache is the cluster's topics as the assignors see them, read
// from the backend's metadata at most every topicsCacheTTL.
type topicsCache struct {
	mu     sync.Mutex
	at     time.Time
	topics []topicMeta
}

const topicsCacheTTL = 200 * time.Millisecond

// topicsView returns every topic of the cluster (name, id, partition
// count), sorted by name.
func (c *Coordinator) topicsView() []topicMeta {
	c.topics.mu.Lock()
	defer c.topics.mu.Unlock()
	if time.Since(c.topics.at) < topicsCacheTTL && c.topics.topics != nil {
		return c.topics.topics
	}
	md := c.be.Metadata()
	out := make([]topicMeta, 0, len(md.Topics))
	for _, t := range md.Topics {
		out = append(out, topicMeta{id: t.ID, name: t.Name, partitions: int32(len(t.Partitions))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	c.topics.at, c.topics.topics = time.Now(), out
	return out
}
