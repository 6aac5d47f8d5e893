package coordinator

// Records of KIP-848 consumer groups in __consumer_offsets, with Kafka's
// key versions and value layouts (Kafka 4.0's group coordinator JSON
// schemas; keys are not flexible, values are flexible version 0 and
// chronik writes no tagged fields):
//
//	key v3 ConsumerGroupMetadata (group)               value: Epoch int32
//	key v4 ConsumerGroupPartitionMetadata (group)      value: Topics [TopicId uuid, TopicName string,
//	                                                          NumPartitions int32, PartitionMetadata []]
//	key v5 ConsumerGroupMemberMetadata (group, member) value: InstanceId, RackId nullable strings,
//	                                                          ClientId, ClientHost strings,
//	                                                          SubscribedTopicNames []string,
//	                                                          SubscribedTopicRegex nullable string,
//	                                                          RebalanceTimeoutMs int32,
//	                                                          ServerAssignor nullable string
//	key v6 ConsumerGroupTargetAssignmentMetadata (group) value: AssignmentEpoch int32
//	key v7 ConsumerGroupTargetAssignmentMember (group, member) value: TopicPartitions [TopicId, Partitions []int32]
//	key v8 ConsumerGroupCurrentMemberAssignment (group, member) value: MemberEpoch, PreviousMemberEpoch int32,
//	                                                          State int8, AssignedPartitions [...],
//	                                                          PartitionsPendingRevocation [...]
//
// Topic partition lists of the current assignment carry Kafka's tagged
// field AssignmentEpochs (tag 0, KIP-1251): the member epoch at which each
// partition was given. A nil value is a tombstone. The coordinator keeps the last value it
// wrote of every key of a group (consumerGroup.written) and, after each
// change, writes only the keys whose value changed (consumer_persist.go).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

const (
	recCGMetadata       = 3
	recCGPartitionMeta  = 4
	recCGMemberMeta     = 5
	recCGTargetMeta     = 6
	recCGTargetMember   = 7
	recCGCurrentAssign  = 8
	cgValueVersion      = 0
	errShortRecordValue = "short value"
)

// cgKey is a decoded consumer group record key.
type cgKey struct {
	version int16
	group   string
	member  string // versions 5, 7 and 8
}

func (k cgKey) hasMember() bool {
	return k.version == recCGMemberMeta || k.version == recCGTargetMember || k.version == recCGCurrentAssign
}

func (k cgKey) encode() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(k.version))
	b = appendKeyString(b, k.group)
	if k.hasMember() {
		b = appendKeyString(b, k.member)
	}
	return b
}

func appendKeyString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func decodeCGKey(b []byte) (cgKey, error) {
	r := &reader{b: b}
	k := cgKey{version: r.int16()}
	k.group = r.keyString()
	if k.hasMember() {
		k.member = r.keyString()
	}
	if r.err != nil {
		return k, r.err
	}
	if len(r.b) != 0 {
		return k, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return k, nil
}

// assignment maps topic ids to sorted partitions.
type assignment map[[16]byte][]int32

// topicMeta is one subscribed topic as the target assignment saw it.
type topicMeta struct {
	id         [16]byte
	name       string
	partitions int32
}

// cgMemberMeta is a member's ConsumerGroupMemberMetadataValue.
type cgMemberMeta struct {
	instanceID, rackID *string
	clientID           string
	clientHost         string
	topics             []string
	regex              *string
	rebalanceTimeout   int32
	assignor           *string
}

// cgCurrent is a member's ConsumerGroupCurrentMemberAssignmentValue.
type cgCurrent struct {
	epoch, prevEpoch int32
	state            int8
	assigned         assignment
	pending          assignment
	// assignedAt is the member epoch at which each owned partition was
	// given to the member: commits from an older epoch are accepted for
	// partitions held since then (KIP-1251). Stored as the tagged field
	// AssignmentEpochs (tag 0) of each topic, aligned with Partitions.
	assignedAt map[topicPartitionID]int32
}

// value encoders: version 0, flexible, no tagged fields but
// AssignmentEpochs.

func newValue() *writer {
	w := &writer{}
	w.b = binary.BigEndian.AppendUint16(w.b, cgValueVersion)
	return w
}

func encodeEpochValue(epoch int32) []byte {
	w := newValue()
	w.int32(epoch)
	w.tags()
	return w.b
}

func encodePartitionMeta(topics []topicMeta) []byte {
	w := newValue()
	w.arrayLen(len(topics))
	for _, t := range topics {
		w.b = append(w.b, t.id[:]...)
		w.str(t.name)
		w.int32(t.partitions)
		w.arrayLen(0) // PartitionMetadata (racks): none
		w.tags()
	}
	w.tags()
	return w.b
}

func encodeMemberMeta(m cgMemberMeta) []byte {
	w := newValue()
	w.nstr(m.instanceID)
	w.nstr(m.rackID)
	w.str(m.clientID)
	w.str(m.clientHost)
	w.arrayLen(len(m.topics))
	for _, t := range m.topics {
		w.str(t)
	}
	w.nstr(m.regex)
	w.int32(m.rebalanceTimeout)
	w.nstr(m.assignor)
	w.tags()
	return w.b
}

func (w *writer) assignment(a assignment) { w.assignmentAt(a, nil) }

// assignmentAt writes a, each topic with the tagged field
// AssignmentEpochs (tag 0) when at knows the epoch of all its partitions.
func (w *writer) assignmentAt(a assignment, at map[topicPartitionID]int32) {
	ids := a.sortedIDs()
	w.arrayLen(len(ids))
	for _, id := range ids {
		w.b = append(w.b, id[:]...)
		ps := a[id]
		w.arrayLen(len(ps))
		for _, p := range ps {
			w.int32(p)
		}
		var epochs writer
		epochs.arrayLen(len(ps))
		known := at != nil
		for _, p := range ps {
			e, ok := at[topicPartitionID{id, p}]
			known = known && ok
			epochs.int32(e)
		}
		if !known {
			w.tags()
			continue
		}
		w.uvarint(1) // one tagged field
		w.uvarint(0) // tag 0: AssignmentEpochs
		w.uvarint(uint64(len(epochs.b)))
		w.b = append(w.b, epochs.b...)
	}
}

func encodeTargetMember(a assignment) []byte {
	w := newValue()
	w.assignment(a)
	w.tags()
	return w.b
}

func encodeCurrent(c cgCurrent) []byte {
	w := newValue()
	w.int32(c.epoch)
	w.int32(c.prevEpoch)
	w.b = append(w.b, byte(c.state))
	w.assignmentAt(c.assigned, c.assignedAt)
	w.assignmentAt(c.pending, c.assignedAt)
	w.tags()
	return w.b
}

// value decoders.

func openValue(b []byte) (*reader, error) {
	r := &reader{b: b}
	if v := r.int16(); r.err == nil && v != cgValueVersion {
		return nil, fmt.Errorf("value version %d", v)
	}
	return r, r.err
}

func decodeEpochValue(b []byte) (int32, error) {
	r, err := openValue(b)
	if err != nil {
		return 0, err
	}
	e := r.int32()
	r.skipTags()
	return e, r.err
}

func decodePartitionMeta(b []byte) ([]topicMeta, error) {
	r, err := openValue(b)
	if err != nil {
		return nil, err
	}
	n := r.arrayLen()
	var out []topicMeta
	for i := 0; i < n && r.err == nil; i++ {
		var t topicMeta
		t.id = r.uuid()
		t.name = r.str()
		t.partitions = r.int32()
		racks := r.arrayLen()
		for j := 0; j < racks && r.err == nil; j++ {
			r.int32()
			nr := r.arrayLen()
			for k := 0; k < nr && r.err == nil; k++ {
				r.str()
			}
			r.skipTags()
		}
		r.skipTags()
		out = append(out, t)
	}
	r.skipTags()
	return out, r.err
}

func decodeMemberMeta(b []byte) (cgMemberMeta, error) {
	var m cgMemberMeta
	r, err := openValue(b)
	if err != nil {
		return m, err
	}
	m.instanceID = r.nstr()
	m.rackID = r.nstr()
	m.clientID = r.str()
	m.clientHost = r.str()
	n := r.arrayLen()
	for i := 0; i < n && r.err == nil; i++ {
		m.topics = append(m.topics, r.str())
	}
	m.regex = r.nstr()
	m.rebalanceTimeout = r.int32()
	m.assignor = r.nstr()
	r.skipTags()
	return m, r.err
}

func (r *reader) assignment() assignment { return r.assignmentAt(nil) }

// assignmentAt reads an assignment; at (if not nil) gets the epochs of
// the partitions whose topic carries AssignmentEpochs.
func (r *reader) assignmentAt(at map[topicPartitionID]int32) assignment {
	a := assignment{}
	n := r.arrayLen()
	for i := 0; i < n && r.err == nil; i++ {
		id := r.uuid()
		np := r.arrayLen()
		ps := make([]int32, 0, max(np, 0))
		for j := 0; j < np && r.err == nil; j++ {
			ps = append(ps, r.int32())
		}
		tags := r.uvarint()
		for k := uint64(0); k < tags && r.err == nil; k++ {
			tag := r.uvarint()
			data := r.take(int(r.uvarint()))
			if tag != 0 || at == nil || r.err != nil {
				continue
			}
			er := &reader{b: data}
			if ne := er.arrayLen(); ne == len(ps) {
				for _, p := range ps {
					at[topicPartitionID{id, p}] = er.int32()
				}
			}
			if er.err != nil {
				r.err = er.err
			}
		}
		if len(ps) > 0 {
			a[id] = ps
		}
	}
	return a
}

func decodeTargetMember(b []byte) (assignment, error) {
	r, err := openValue(b)
	if err != nil {
		return nil, err
	}
	a := r.assignment()
	r.skipTags()
	return a, r.err
}

func decodeCurrent(b []byte) (cgCurrent, error) {
	var c cgCurrent
	r, err := openValue(b)
	if err != nil {
		return c, err
	}
	c.epoch = r.int32()
	c.prevEpoch = r.int32()
	c.state = int8(r.byte())
	c.assignedAt = map[topicPartitionID]int32{}
	c.assigned = r.assignmentAt(c.assignedAt)
	c.pending = r.assignmentAt(c.assignedAt)
	r.skipTags()
	return c, r.err
}

// writer and reader: the primitives of Kafka's flexible encoding.

type writer struct{ b []byte }

func (w *writer) int32(v int32)    { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) arrayLen(n int)   { w.uvarint(uint64(n) + 1) }
func (w *writer) tags()            { w.uvarint(0) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s)) + 1); w.b = append(w.b, s...) }
func (w *writer) nstr(s *string) {
	if s == nil {
		w.uvarint(0)
		return
	}
	w.str(*s)
}

type reader struct {
	b   []byte
	err error
}

var errShort = errors.New(errShortRecordValue)

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = errShort
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) uuid() (id [16]byte) {
	copy(id[:], r.take(16))
	return id
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) keyString() string {
	n := r.int16()
	return string(r.take(int(n)))
}

// arrayLen is a compact array's length, -1 for null.
func (r *reader) arrayLen() int {
	n := r.uvarint()
	if n > uint64(len(r.b))+1 {
		r.err = errShort
		return 0
	}
	return int(n) - 1
}

func (r *reader) str() string {
	n := r.uvarint()
	if n == 0 {
		return ""
	}
	return string(r.take(int(n - 1)))
}

func (r *reader) nstr() *string {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	s := string(r.take(int(n - 1)))
	return &s
}

func (r *reader) skipTags() {
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.uvarint()
		r.take(int(r.uvarint()))
	}
}

// sortedIDs returns the topic ids of a in byte order.
func (a assignment) sortedIDs() [][16]byte {
	ids := make([][16]byte, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}
