package kafka

// Share partitions (KIP-932) on the broker leading a data partition: which
// records of (share group, topic, partition) are acquired by which member,
// until when, how often each was delivered, and which are acknowledged or
// archived. ShareFetch acquires records, ShareAcknowledge (or acknowledgements
// piggybacked on ShareFetch) settles them. The share-partition start offset
// (SPSO) moves past every settled record at its front.
//
// The state is kept in memory here and written to the group's share
// coordinator (coordinator.WriteShareState, through Raft on
// __consumer_offsets) before an acknowledgement is answered, so a new leader
// of the partition (or a new coordinator) reads it back and never delivers an
// acknowledged record again. Acquisitions are not written: after a failover
// records that were acquired but not acknowledged are delivered again, with
// the delivery count they had at the last write.
//
// Acquisition locks expire lazily: every acquire and acknowledge first
// releases the records whose lock ran out (share.record.lock.duration.ms);
// a record delivered share.delivery.count.limit times is archived instead.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// Record states in memory (ShareAvailable, ShareAcknowledged and
// ShareArchived are also the persisted ones).
const (
	srAvailable = coordinator.ShareAvailable
	srAcquired  = int8(1)
	srAcked     = coordinator.ShareAcknowledged
	srArchived  = coordinator.ShareArchived
)

// Acknowledge types of ShareFetch and ShareAcknowledge.
const (
	ackGap     = 0
	ackAccept  = 1
	ackRelease = 2
	ackReject  = 3
	ackRenew   = 4
)

const (
	// shareMaxInFlight bounds the in-flight window past the SPSO
	// (group.share.partition.max.record.locks).
	shareMaxInFlight = 2000
	// shareDefMaxRecords is what a fetch acquires when it asks 0.
	shareDefMaxRecords = 500
	// shareConfigTTL is how long a share partition uses its group's
	// configs before it reads them again.
	shareConfigTTL = time.Second
	// shareConfigTag is the tagged field of a ReadShareGroupState
	// response partition in which the coordinator passes the group's
	// configs (JSON) to the leader.
	shareConfigTag = 0x7C00
)

type spKey struct {
	group     string
	topic     [16]byte
	partition int32
}

type srec struct {
	state    int8
	count    int16
	member   string
	deadline time.Time
}

// sharePart is one share partition. mu guards it and is held across the
// writes of its state, so writes reach the coordinator in order.
type sharePart struct {
	mu          sync.Mutex
	key         spKey
	name        string // topic name
	loaded      bool
	leaderEpoch int32
	stateEpoch  int32
	spso        int64
	scan        int64 // offsets in [spso, scan) are tracked or settled
	end         int64 // one past the highest tracked offset
	recs        map[int64]*srec

	cfgAt       time.Time
	lockDur     time.Duration
	maxDelivery int16
	reset       string
	committed   bool // share.isolation.level=read_committed
}

// shareSession is a member's share session on this broker: the partitions
// it fetches, and the connection it last fetched on (its records are
// released when that connection closes, as Kafka does).
type shareSession struct {
	parts map[spKey]bool
	conn  *conn
}

// shareManager holds this broker's share partitions and sessions.
type shareManager struct {
	mu       sync.Mutex
	parts    map[spKey]*sharePart
	sessions map[[2]string]*shareSession
	// released is closed (and replaced) when records become available
	// again, waking long-polling share fetches.
	released chan struct{}
}

func newShareManager() *shareManager {
	return &shareManager{parts: map[spKey]*sharePart{}, sessions: map[[2]string]*shareSession{}, released: make(chan struct{})}
}

func (m *shareManager) part(k spKey, name string) *sharePart {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.parts[k]
	if sp == nil {
		sp = &sharePart{key: k, name: name}
		m.parts[k] = sp
	}
	return sp
}

// wake wakes long-polling share fetches.
func (m *shareManager) wake() {
	m.mu.Lock()
	close(m.released)
	m.released = make(chan struct{})
	m.mu.Unlock()
}

// connClosed ends the share sessions last used on c and releases what
// their members hold on their partitions.
func (s *Server) shareConnClosed(c *conn) {
	type ended struct {
		member string
		keys   []spKey
	}
	var all []ended
	s.shares.mu.Lock()
	for k, sess := range s.shares.sessions {
		if sess.conn != c {
			continue
		}
		delete(s.shares.sessions, k)
		e := ended{member: k[1]}
		for pk := range sess.parts {
			e.keys = append(e.keys, pk)
		}
		all = append(all, e)
	}
	s.shares.mu.Unlock()
	for _, e := range all {
		s.releaseShareSession(e.keys, e.member)
	}
}

func (m *shareManager) releasedCh() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.released
}

// open makes sure sp is loaded for the current leader epoch of its data
// partition on this broker; sp.mu is held. Errors: a *engine.NotLeaderError
// when this broker does not lead the partition, coordinator failures.
func (s *Server) openShare(ctx context.Context, sp *sharePart) error {
	// The local replica's view, not __meta's: a leadership lost and won
	// back between two reports to __meta shows there as one epoch, and
	// the state written meanwhile by the other leader would be missed.
	st0, err := s.be.PartitionStats(sp.name, sp.key.partition)
	if err != nil {
		return err
	}
	if !st0.IsLeader {
		return &engine.NotLeaderError{Leader: st0.Leader, Epoch: uint64(max(st0.LeaderEpoch, 0))}
	}
	pi := &engine.PartitionInfo{Partition: sp.key.partition, Leader: s.be.NodeID(), LeaderEpoch: st0.LeaderEpoch}
	if sp.loaded && sp.leaderEpoch == pi.LeaderEpoch && time.Since(sp.cfgAt) < shareConfigTTL {
		return nil
	}
	st, cfg, err := s.readShareState(ctx, sp.key, pi.LeaderEpoch)
	if err != nil {
		return err
	}
	sp.setConfig(cfg, s.groups.ShareDefaults())
	if sp.loaded && sp.leaderEpoch == pi.LeaderEpoch && st.StateEpoch == sp.stateEpoch {
		return nil // only the configs were due
	}
	s.log.Debug("loading share partition", "group", sp.key.group, "topic", sp.name, "partition", sp.key.partition,
		"leader_epoch", pi.LeaderEpoch, "was_loaded", sp.loaded, "old_leader_epoch", sp.leaderEpoch, "state_epoch", st.StateEpoch,
		"old_state_epoch", sp.stateEpoch, "start_offset", st.StartOffset, "batches", len(st.Batches))
	sp.loaded = false
	sp.leaderEpoch, sp.stateEpoch = pi.LeaderEpoch, st.StateEpoch
	sp.recs = map[int64]*srec{}
	if st.StartOffset < 0 {
		spec := engine.Latest
		if sp.reset == "earliest" {
			spec = engine.Earliest
		}
		lo, err := s.be.ListOffsets(ctx, sp.name, sp.key.partition, spec)
		if err != nil {
			return err
		}
		sp.spso, sp.scan, sp.end = lo.Offset, lo.Offset, lo.Offset
		if err := s.persistShare(ctx, sp); err != nil {
			return err
		}
	} else {
		sp.spso, sp.scan, sp.end = st.StartOffset, st.StartOffset, st.StartOffset
		for _, b := range st.Batches {
			for o := max(b.First, sp.spso); o <= b.Last; o++ {
				sp.recs[o] = &srec{state: b.State, count: b.DeliveryCount}
			}
			sp.end = max(sp.end, b.Last+1)
		}
		sp.scan = sp.end
		for o := sp.spso; o < sp.end; o++ {
			if sp.recs[o] == nil {
				sp.recs[o] = &srec{state: srAvailable}
			}
		}
		sp.advance()
	}
	sp.loaded = true
	return nil
}

// setConfig takes the group's configs, defaults where they are not set.
func (sp *sharePart) setConfig(cfg, defaults map[string]string) {
	sp.cfgAt = time.Now()
	num := func(name string) int64 {
		for _, m := range []map[string]string{cfg, defaults} {
			if n, err := strconv.ParseInt(m[name], 10, 64); err == nil && n > 0 {
				return n
			}
		}
		return 1
	}
	sp.lockDur = time.Duration(num(coordinator.ShareRecordLockDuration)) * time.Millisecond
	sp.maxDelivery = int16(min(num(coordinator.ShareDeliveryCountLimit), 1<<15-1))
	sp.reset = cfg[coordinator.ShareAutoOffsetReset]
	sp.committed = cfg[coordinator.ShareIsolationLevel] == "read_committed"
}

// snapshot is the state to persist: every tracked record past the SPSO
// that is settled or was delivered, acquired ones as available.
func (sp *sharePart) snapshot() coordinator.ShareState {
	st := coordinator.ShareState{StateEpoch: sp.stateEpoch, LeaderEpoch: sp.leaderEpoch, StartOffset: sp.spso}
	for o := sp.spso; o < sp.end; o++ {
		r := sp.recs[o]
		if r == nil || (r.state == srAvailable && r.count == 0) {
			continue
		}
		state := r.state
		if state == srAcquired {
			state = srAvailable
		}
		if n := len(st.Batches); n > 0 {
			b := &st.Batches[n-1]
			if b.Last == o-1 && b.State == state && b.DeliveryCount == r.count {
				b.Last = o
				continue
			}
		}
		st.Batches = append(st.Batches, coordinator.ShareStateBatch{First: o, Last: o, State: state, DeliveryCount: r.count})
	}
	return st
}

// persistShare writes sp's state to the coordinator; sp.mu is held. A
// fenced write unloads sp (it is read again next time); after another
// failure memory keeps the change, and the caller may roll it back.
func (s *Server) persistShare(ctx context.Context, sp *sharePart) error {
	err := s.writeShareState(ctx, sp.key, sp.snapshot())
	if errors.Is(err, kerr.FencedStateEpoch) || errors.Is(err, kerr.FencedLeaderEpoch) {
		sp.loaded = false // read the coordinator's state again
	}
	return err
}

// advance moves the SPSO past settled records; sp.mu is held.
func (sp *sharePart) advance() {
	for sp.spso < sp.scan {
		r := sp.recs[sp.spso]
		if r != nil && r.state != srAcked && r.state != srArchived {
			break
		}
		delete(sp.recs, sp.spso)
		sp.spso++
	}
	sp.end = max(sp.end, sp.spso)
}

// release makes an acquired record available again, or archives it at the
// delivery limit; it reports whether the record became available.
func (sp *sharePart) release(r *srec) bool {
	r.member, r.deadline = "", time.Time{}
	if r.count >= sp.maxDelivery {
		r.state = srArchived
		return false
	}
	r.state = srAvailable
	return true
}

// sweep releases records whose acquisition lock expired; sp.mu is held.
func (sp *sharePart) sweep(now time.Time) (released bool) {
	for _, r := range sp.recs {
		if r.state == srAcquired && now.After(r.deadline) {
			released = sp.release(r) || released
		}
	}
	sp.advance()
	return released
}

// releaseMember releases every record member holds; sp.mu is held.
func (sp *sharePart) releaseMember(member string) (released bool) {
	for _, r := range sp.recs {
		if r.state == srAcquired && r.member == member {
			released = sp.release(r) || released
		}
	}
	sp.advance()
	return released
}

// firstAvailable is the lowest offset that may be acquired.
func (sp *sharePart) firstAvailable() int64 {
	first := sp.scan
	for o, r := range sp.recs {
		if r.state == srAvailable && o < first {
			first = o
		}
	}
	return first
}

// batchesEnd returns the offset after the last whole record batch in b
// (from if none).
func batchesEnd(b []byte, from int64) int64 {
	end := from
	for len(b) >= 61 {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < 61 || size > len(b) {
			break
		}
		base := int64(binary.BigEndian.Uint64(b))
		end = max(end, base+int64(int32(binary.BigEndian.Uint32(b[23:27])))+1)
		b = b[size:]
	}
	return end
}

// acquire acquires up to maxRecords available records for member and
// returns them with the record batches holding them. sp.mu is held and sp
// is open.
func (s *Server) acquire(ctx context.Context, sp *sharePart, member string, maxRecords int32, maxBytes int) ([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, []byte, int64, error) {
	now := time.Now()
	if sp.sweep(now) {
		defer s.shares.wake()
	}
	from := sp.firstAvailable()
	if from >= sp.scan && sp.end-sp.spso >= shareMaxInFlight {
		return nil, nil, -1, nil
	}
	res, err := s.be.Fetch(ctx, sp.name, sp.key.partition, from, engine.FetchOptions{MaxBytes: maxBytes, ReadCommitted: sp.committed})
	if errors.Is(err, engine.ErrOffsetOutOfRange) {
		// Retention removed records below the log start: they are gone.
		lo, lerr := s.be.ListOffsets(ctx, sp.name, sp.key.partition, engine.Earliest)
		if lerr != nil {
			return nil, nil, -1, lerr
		}
		for o := range sp.recs {
			if o < lo.Offset {
				delete(sp.recs, o)
			}
		}
		sp.spso, sp.scan, sp.end = max(sp.spso, lo.Offset), max(sp.scan, lo.Offset), max(sp.end, lo.Offset)
		return nil, nil, -1, nil
	}
	if err != nil {
		return nil, nil, -1, err
	}
	cover := min(batchesEnd(res.Batches, from), res.HighWatermark)
	var skip []offsetRange // read_committed: aborted and control records
	if sp.committed {
		cover = min(cover, res.LastStableOffset)
		skip = abortedRanges(res.Batches, res.AbortedTxns)
	}
	var out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord
	var n int32
	for o := from; o < cover && n < maxRecords; o++ {
		r := sp.recs[o]
		if r == nil {
			if o < sp.scan {
				continue // settled below the SPSO
			}
			if sp.end-sp.spso >= shareMaxInFlight && o >= sp.end {
				break
			}
			r = &srec{state: srAvailable}
			sp.recs[o] = r
			sp.scan, sp.end = max(sp.scan, o+1), max(sp.end, o+1)
		}
		if r.state != srAvailable {
			continue
		}
		if inRanges(skip, o) {
			r.state = srArchived // never delivered: not a committed record
			continue
		}
		if r.count >= sp.maxDelivery {
			r.state = srArchived
			continue
		}
		r.state, r.member, r.deadline = srAcquired, member, now.Add(sp.lockDur)
		r.count++
		n++
		if k := len(out); k > 0 && out[k-1].LastOffset == o-1 && out[k-1].DeliveryCount == r.count {
			out[k-1].LastOffset = o
			continue
		}
		ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
		ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = o, o, r.count
		out = append(out, ar)
	}
	sp.advance()
	if len(out) == 0 {
		return nil, nil, res.HighWatermark, nil
	}
	return out, res.Batches, res.HighWatermark, nil
}

// offsetRange is an inclusive range of offsets.
type offsetRange struct{ first, last int64 }

func inRanges(rs []offsetRange, o int64) bool {
	for _, r := range rs {
		if o >= r.first && o <= r.last {
			return true
		}
	}
	return false
}

// abortedRanges returns the offsets of a read_committed fetch that hold no
// committed record: control batches (transaction markers), and the batches
// of aborted transactions, those of an aborted transaction's producer from
// its first offset up to the producer's next control batch (its abort
// marker), as Kafka's consumers filter them.
func abortedRanges(b []byte, aborted []engine.AbortedTxn) []offsetRange {
	type batch struct {
		base, last int64
		pid        int64
		txn, ctrl  bool
	}
	var bs []batch
	for len(b) >= 61 {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < 61 || size > len(b) {
			break
		}
		attrs := binary.BigEndian.Uint16(b[21:23])
		base := int64(binary.BigEndian.Uint64(b))
		bs = append(bs, batch{base: base, last: base + int64(int32(binary.BigEndian.Uint32(b[23:27]))),
			pid: int64(binary.BigEndian.Uint64(b[43:51])), txn: attrs&0x10 != 0, ctrl: attrs&0x20 != 0})
		b = b[size:]
	}
	var out []offsetRange
	for _, x := range bs {
		if x.ctrl {
			out = append(out, offsetRange{x.base, x.last})
		}
	}
	for _, a := range aborted {
		for _, x := range bs {
			if x.pid != a.ProducerID || x.last < a.FirstOffset {
				continue
			}
			if x.ctrl {
				break // the abort marker ends the transaction
			}
			if x.txn {
				out = append(out, offsetRange{x.base, x.last})
			}
		}
	}
	return out
}

// ackBatch is one acknowledgement batch of a request.
type ackBatch struct {
	first, last int64
	types       []int8
}

// ack applies acknowledgement batches of member, validated all first:
// INVALID_REQUEST for malformed batches or offsets never acquired,
// INVALID_RECORD_STATE for records member does not hold. sp.mu is held and
// sp is open. It reports whether records became available.
func (sp *sharePart) ack(member string, batches []ackBatch, maxType int8) (released bool, e *kerr.Error) {
	sp.sweep(time.Now())
	prev := int64(-1)
	for _, b := range batches {
		if b.first > b.last || b.first <= prev || len(b.types) == 0 ||
			(len(b.types) > 1 && int64(len(b.types)) != b.last-b.first+1) || b.last >= sp.end {
			return false, kerr.InvalidRequest
		}
		for _, t := range b.types {
			if t < 0 || t > maxType {
				return false, kerr.InvalidRequest
			}
		}
		prev = b.last
		for o := b.first; o <= b.last; o++ {
			if i := o - b.first; len(b.types) > 1 && b.types[i] == ackGap {
				continue
			}
			// Below the SPSO a record is settled: acknowledged by
			// another member after this one's lock expired.
			r := sp.recs[o]
			if r == nil || r.state != srAcquired || r.member != member {
				return false, kerr.InvalidRecordState
			}
		}
	}
	now := time.Now()
	for _, b := range batches {
		for o := max(b.first, sp.spso); o <= b.last; o++ {
			r := sp.recs[o]
			if r == nil || r.state != srAcquired || r.member != member {
				continue
			}
			t := b.types[0]
			if len(b.types) > 1 {
				t = b.types[o-b.first]
			}
			switch t {
			case ackAccept:
				r.state, r.member = srAcked, ""
			case ackGap, ackReject:
				r.state, r.member = srArchived, ""
			case ackRelease:
				released = sp.release(r) || released
			case ackRenew:
				r.deadline = now.Add(sp.lockDur)
			}
		}
	}
	sp.advance()
	return released, nil
}

// readShareState reads a share partition's state from its group's
// coordinator: this broker's, or another broker's through
// ReadShareGroupState.
func (s *Server) readShareState(ctx context.Context, k spKey, leaderEpoch int32) (coordinator.ShareState, map[string]string, error) {
	st, cfg, e := s.groups.ReadShareState(k.group, k.topic, k.partition, leaderEpoch)
	if e != kerr.NotCoordinator {
		if e != nil {
			return st, nil, e
		}
		return st, cfg, nil
	}
	req := kmsg.NewPtrReadShareGroupStateRequest()
	req.GroupID = k.group
	rt := kmsg.NewReadShareGroupStateRequestTopic()
	rt.TopicID = k.topic
	rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch = k.partition, leaderEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := s.toShareCoordinator(ctx, k.group, req)
	if err != nil {
		return st, nil, err
	}
	resp := kresp.(*kmsg.ReadShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return st, nil, errors.New("kafka: ReadShareGroupState answered no partition")
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return st, nil, kerr.ErrorForCode(p.ErrorCode)
	}
	st = coordinator.ShareState{StateEpoch: p.StateEpoch, LeaderEpoch: leaderEpoch, StartOffset: p.StartOffset}
	for _, b := range p.StateBatches {
		st.Batches = append(st.Batches, coordinator.ShareStateBatch{First: b.FirstOffset, Last: b.LastOffset, State: b.DeliveryState, DeliveryCount: b.DeliveryCount})
	}
	cfg = map[string]string{}
	p.UnknownTags.Each(func(tag uint32, v []byte) {
		if tag == shareConfigTag {
			_ = json.Unmarshal(v, &cfg)
		}
	})
	return st, cfg, nil
}

// writeShareState writes a share partition's state to its group's
// coordinator (WriteShareGroupState to another broker).
func (s *Server) writeShareState(ctx context.Context, k spKey, st coordinator.ShareState) error {
	e := s.groups.WriteShareState(k.group, k.topic, k.partition, st)
	if e != kerr.NotCoordinator {
		if e != nil {
			return e
		}
		return nil
	}
	req := kmsg.NewPtrWriteShareGroupStateRequest()
	req.GroupID = k.group
	rt := kmsg.NewWriteShareGroupStateRequestTopic()
	rt.TopicID = k.topic
	rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
	rp.Partition, rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = k.partition, st.StateEpoch, st.LeaderEpoch, st.StartOffset
	for _, b := range st.Batches {
		wb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
		wb.FirstOffset, wb.LastOffset, wb.DeliveryState, wb.DeliveryCount = b.First, b.Last, b.State, b.DeliveryCount
		rp.StateBatches = append(rp.StateBatches, wb)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := s.toShareCoordinator(ctx, k.group, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.WriteShareGroupStateResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return errors.New("kafka: WriteShareGroupState answered no partition")
	}
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
		return kerr.ErrorForCode(c)
	}
	return nil
}

// toShareCoordinator sends req to the broker coordinating group.
func (s *Server) toShareCoordinator(ctx context.Context, group string, req kmsg.Request) (kmsg.Response, error) {
	v := s.view(OffsetsTopic)
	id, e := s.groups.Locate(v.byName[OffsetsTopic], group)
	if e != nil {
		return nil, e
	}
	if id == s.be.NodeID() {
		return nil, kerr.CoordinatorLoadInProgress
	}
	b, ok := v.brokers[id]
	if !ok || b.KafkaAddr == "" {
		return nil, kerr.CoordinatorNotAvailable
	}
	resp, err := s.peers.request(ctx, id, b.KafkaAddr, req, handlers[req.Key()].max)
	if err != nil {
		// The coordinator's broker did not answer (restarting, or a
		// connection to its previous process): COORDINATOR_NOT_AVAILABLE,
		// which the admin paths retry (retryLoading) and clients too.
		return nil, fmt.Errorf("share coordinator broker %d: %w (%v)", id, kerr.CoordinatorNotAvailable, err)
	}
	return resp, nil
}

// shareLockMs is the broker's default acquisition lock duration, in
// milliseconds, for responses that concern no share partition.
func (s *Server) shareLockMs() int32 {
	return int32(s.cfg.Groups.WithDefaults().ShareRecordLockDuration.Milliseconds())
}

// shareErrorCode maps a share partition failure to a partition error
// code. The coordinator's errors are not the client's to act on for a
// data partition: they read as LEADER_NOT_AVAILABLE, which clients retry
// (a fetch) or COORDINATOR_NOT_AVAILABLE (an acknowledgement, which they
// send again).
func shareErrorCode(err error, forAck bool) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotCoordinator, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress, kerr.FencedStateEpoch, kerr.FencedLeaderEpoch, kerr.UnknownServerError:
			if forAck {
				return kerr.CoordinatorNotAvailable.Code
			}
			return kerr.LeaderNotAvailable.Code
		}
		return ke.Code
	}
	var nl *engine.NotLeaderError
	if errors.As(err, &nl) {
		return kerr.NotLeaderForPartition.Code
	}
	if c := errorCode(err); c != kerr.UnknownServerError.Code {
		return c
	}
	if forAck {
		return kerr.CoordinatorNotAvailable.Code
	}
	return kerr.LeaderNotAvailable.Code
}

// shareSaved is a copy of a share partition's state, to roll an
// acknowledgement back when its write fails.
type shareSaved struct {
	spso, scan, end int64
	recs            map[int64]srec
}

func (sp *sharePart) save() shareSaved {
	sv := shareSaved{spso: sp.spso, scan: sp.scan, end: sp.end, recs: make(map[int64]srec, len(sp.recs))}
	for o, r := range sp.recs {
		sv.recs[o] = *r
	}
	return sv
}

func (sp *sharePart) restore(sv shareSaved) {
	sp.spso, sp.scan, sp.end = sv.spso, sv.scan, sv.end
	sp.recs = make(map[int64]*srec, len(sv.recs))
	for o, r := range sv.recs {
		sp.recs[o] = &r
	}
}
