package coordinator

// Offsets committed in a transaction (TxnOffsetCommit, KIP-98 and KIP-447).
//
// A transactional producer commits the offsets it consumed with
// TxnOffsetCommit after AddOffsetsToTxn put the group's __consumer_offsets
// partition in its transaction. The coordinator writes them as a
// transactional record batch of that producer (its id and epoch) to the
// partition, and keeps them pending: OffsetFetch does not answer them, and
// answers UNSTABLE_OFFSET_COMMIT for their partitions when asked for stable
// offsets. The transaction coordinator ends the transaction by writing a
// commit or abort marker to the partition like to any other; the group
// coordinator sees it by reading the partition's log past its own writes
// (tailMarkers) and then makes the offsets committed, or drops them. An
// offset committed outside the transaction after the transactional one
// was written wins over it, as in Kafka: the later record in the log wins.
//
// A new leader replays pending offsets and markers from the log like every
// other record (load.go), so a transaction that ends during a coordinator
// failover loses nothing. Compaction waits while offsets are pending: it
// must not copy them as committed nor move the log start past them.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// pendingOffset is an offset committed in a transaction that has not ended.
type pendingOffset struct {
	oc    offsetCommit
	epoch int16  // producer epoch of the commit
	key   []byte // its record, for the live set once committed
	value []byte
}

// txnCommitState is a group's pending transactional offsets by producer id.
type txnCommitState map[int64]map[topicPartition]pendingOffset

// complete ends producer pid's transaction at marker offset at: its pending
// offsets written before the marker become committed (commit) unless
// offsets holds one written later, or are dropped (abort). live is told of
// each offset that becomes committed. It reports whether pid has nothing
// pending left.
func (s txnCommitState) complete(offsets map[topicPartition]offsetCommit, pid int64, commit bool, at int64, live func(key, value []byte)) bool {
	pend := s[pid]
	for tp, po := range pend {
		if po.oc.logOffset >= at {
			continue // a later transaction of the producer
		}
		if commit {
			if cur, ok := offsets[tp]; !ok || cur.logOffset < po.oc.logOffset {
				offsets[tp] = po.oc
				live(po.key, po.value)
			}
		}
		delete(pend, tp)
	}
	if len(pend) == 0 {
		delete(s, pid)
		return true
	}
	return false
}

// pendingFor reports whether any producer has an offset pending for tp.
func (s txnCommitState) pendingFor(tp topicPartition) bool {
	for _, pend := range s {
		if _, ok := pend[tp]; ok {
			return true
		}
	}
	return false
}

// TxnCommitOffsets runs a TxnOffsetCommit request of any version and
// returns its response, once the offsets are written through Raft as a
// transactional batch of the producer; they are pending until the
// producer's transaction ends. known reports whether a topic partition
// exists. Errors are per partition: UNKNOWN_TOPIC_OR_PARTITION,
// OFFSET_METADATA_TOO_LARGE, ILLEGAL_GENERATION (a generation >= 0 for a
// group that does not exist or is at another generation),
// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, INVALID_PRODUCER_EPOCH (an epoch
// older than the producer's), NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE (a write that timed out).
func (c *Coordinator) TxnCommitOffsets(req *kmsg.TxnOffsetCommitRequest, known func(topic string, partition int32) bool) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.Version = req.Version
	var parts []commitPart
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			cp := commitPart{tp: topicPartition{t.Topic, p.Partition}, offset: p.Offset, leaderEpoch: p.LeaderEpoch, metadata: p.Metadata}
			if req.Version < 2 {
				cp.leaderEpoch = -1
			}
			parts = append(parts, cp)
		}
	}
	b := c.newCommitBatch(req.Group, parts, known)
	defer func() {
		for _, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = b.codes[topicPartition{t.Topic, p.Partition}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	all := b.fail
	switch {
	case req.Group == "":
		all(kerr.InvalidGroupID)
		return resp
	case req.ProducerID < 0 || req.ProducerEpoch < 0:
		all(kerr.InvalidProducerIDMapping)
		return resp
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		all(e)
		return resp
	}
	generation, memberID, instanceID := req.Generation, req.MemberID, req.InstanceID
	if req.Version < 3 {
		generation, memberID, instanceID = -1, "", nil
	}
	commits, tps, recs := b.commits, b.tps, b.recs
	// As Kafka: a commit without group membership (generation -1) may
	// create the group; one naming a generation needs the group.
	g := cp.lookup(req.Group, generation < 0)
	if g == nil {
		if generation < 0 {
			all(kerr.NotCoordinator)
		} else {
			all(kerr.IllegalGeneration)
		}
		return resp
	}
	defer g.mu.Unlock()
	if e := g.checkTxnCommit(memberID, instanceID, generation, tps); e != nil {
		all(e)
		return resp
	}
	for _, po := range g.txnOffsets[req.ProducerID] {
		if po.epoch > req.ProducerEpoch {
			all(kerr.InvalidProducerEpoch)
			return resp
		}
	}
	if len(recs) == 0 {
		return resp
	}
	err := cp.writeTxn(req.ProducerID, req.ProducerEpoch, recs, func(base int64) {
		pend := g.txnOffsets[req.ProducerID]
		if pend == nil {
			pend = map[topicPartition]pendingOffset{}
			g.txnOffsets[req.ProducerID] = pend
		}
		for i, r := range recs {
			oc := commits[i]
			oc.logOffset = base + int64(i)
			pend[tps[i]] = pendingOffset{oc: oc, epoch: req.ProducerEpoch, key: r.Key, value: r.Value}
		}
		cp.watchTxn(req.ProducerID, g.name, base)
	})
	if err != nil {
		c.log.Warn("transactional offset commit failed", "group", req.Group,
			"transactional_id", req.TransactionalID, "err", err)
		if errors.Is(err, engine.ErrInvalidProducerEpoch) {
			all(kerr.InvalidProducerEpoch)
		} else {
			all(writeError(err))
		}
		return resp
	}
	return resp
}

// checkTxnCommit validates the committer of a TxnOffsetCommit as Kafka's
// classic coordinator: without membership (empty member id) any commit
// goes; a member must be known and, with a generation, at the group's.
func (g *group) checkTxnCommit(memberID string, instanceID *string, generation int32, tps []topicPartition) *kerr.Error {
	if g.consumer != nil {
		if memberID == "" && generation < 0 {
			return nil // a producer outside the group: no check, as Kafka
		}
		return g.checkConsumerCommit(memberID, generation, tps)
	}
	if e := g.checkInstance(instanceID, memberID); e != nil {
		return e
	}
	if memberID != "" {
		if _, ok := g.members[memberID]; !ok {
			return kerr.UnknownMemberID
		}
	}
	if generation >= 0 && generation != g.generation {
		return kerr.IllegalGeneration
	}
	return nil
}

// writeTxn appends recs as one transactional batch of producer pid at
// epoch and then calls written with the offset of the first, before a
// compaction may start (which must see the offsets pending). It fails once
// leadership is lost.
func (cp *coordPartition) writeTxn(pid int64, epoch int16, recs []engine.Record, written func(base int64)) error {
	ctx, cancel := newTimeout(cp.ctx, 15*time.Second)
	defer cancel()
	cp.wmu.RLock()
	defer cp.wmu.RUnlock()
	res, err := cp.c.be.ProduceBatch(ctx, OffsetsTopic, cp.p, transactionalBatch(engine.EncodeBatch(recs, time.Now()), pid, epoch))
	if err != nil {
		return fmt.Errorf("write %d transactional records to %s partition %d: %w", len(recs), OffsetsTopic, cp.p, err)
	}
	cp.trackWritten(len(recs))
	written(res.BaseOffset)
	return nil
}

// Kafka v2 record batch fields that make a batch transactional.
const (
	batchCRCAt         = 17
	batchAttrsAt       = 21
	batchProducerAt    = 43
	batchEpochAt       = 51
	batchTransactional = 0x10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// transactionalBatch makes an encoded batch (no producer) a transactional
// batch of producer pid at epoch (base sequence -1, as Kafka's coordinator
// writes) and recomputes its CRC.
func transactionalBatch(b []byte, pid int64, epoch int16) []byte {
	attrs := binary.BigEndian.Uint16(b[batchAttrsAt:])
	binary.BigEndian.PutUint16(b[batchAttrsAt:], attrs|batchTransactional)
	binary.BigEndian.PutUint64(b[batchProducerAt:], uint64(pid))
	binary.BigEndian.PutUint16(b[batchEpochAt:], uint16(epoch))
	binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchAttrsAt:], castagnoli))
	return b
}

// watchTxn notes that group has offsets of producer pid pending, written
// at offset at, and makes sure a tail reads the markers from there on.
// It is called with the group locked.
func (cp *coordPartition) watchTxn(pid int64, group string, at int64) {
	cp.txnMu.Lock()
	defer cp.txnMu.Unlock()
	groups := cp.txnPids[pid]
	if groups == nil {
		groups = map[string]struct{}{}
		cp.txnPids[pid] = groups
	}
	groups[group] = struct{}{}
	if cp.tailing {
		// A marker the tail read before this call may be this
		// producer's: read again from the write on.
		cp.tailRewind = min(cp.tailRewind, at)
		return
	}
	cp.tailing, cp.tailFrom, cp.tailRewind = true, at, math.MaxInt64
	go cp.tailMarkers()
}

// tailMarkers reads the partition from tailFrom on while offsets are
// pending and completes the transactions whose markers it finds. It stops
// when nothing is pending or leadership is lost.
func (cp *coordPartition) tailMarkers() {
	be := cp.c.be
	for {
		cp.txnMu.Lock()
		if len(cp.txnPids) == 0 || cp.ctx.Err() != nil {
			cp.tailing = false
			cp.txnMu.Unlock()
			return
		}
		from := min(cp.tailFrom, cp.tailRewind)
		cp.tailRewind = math.MaxInt64
		cp.txnMu.Unlock()

		fr, err := be.Fetch(cp.ctx, OffsetsTopic, cp.p, from, engine.FetchOptions{MaxBytes: 1 << 20})
		if err != nil {
			if cp.ctx.Err() == nil {
				cp.c.log.Debug("reading transaction markers failed; retrying", "partition", cp.p, "offset", from, "err", err)
			}
			sleepCtx(cp.ctx, 100*time.Millisecond)
			continue
		}
		next := eachMarker(fr.Batches, from, func(m txnMarker) { cp.completeTxn(m) })
		cp.txnMu.Lock()
		cp.tailFrom = min(next, cp.tailRewind)
		cp.tailRewind = math.MaxInt64
		caughtUp := cp.tailFrom >= fr.HighWatermark
		wait := cp.tailFrom
		cp.txnMu.Unlock()
		if !caughtUp {
			continue
		}
		ch, err := be.Watch(OffsetsTopic, cp.p, wait)
		if err != nil {
			sleepCtx(cp.ctx, 100*time.Millisecond)
			continue
		}
		t := time.NewTimer(time.Second) // also notices that nothing is pending
		select {
		case <-ch:
		case <-t.C:
		case <-cp.ctx.Done():
		}
		t.Stop()
	}
}

// completeTxn applies a marker to the groups with offsets of its producer
// pending.
func (cp *coordPartition) completeTxn(m txnMarker) {
	cp.txnMu.Lock()
	names := make([]string, 0, len(cp.txnPids[m.pid]))
	for n := range cp.txnPids[m.pid] {
		names = append(names, n)
	}
	cp.txnMu.Unlock()
	for _, name := range names {
		g := cp.lookup(name, false)
		done := true
		if g != nil {
			done = g.txnOffsets.complete(g.offsets, m.pid, m.commit, m.offset, cp.trackLive)
		}
		if done {
			cp.txnMu.Lock()
			if groups := cp.txnPids[m.pid]; groups != nil {
				delete(groups, name)
				if len(groups) == 0 {
					delete(cp.txnPids, m.pid)
				}
			}
			cp.txnMu.Unlock()
		}
		if g != nil {
			g.mu.Unlock()
		}
	}
}

// txnPending reports whether any transactional offsets are pending on the
// partition.
func (cp *coordPartition) txnPending() bool {
	cp.txnMu.Lock()
	defer cp.txnMu.Unlock()
	return len(cp.txnPids) > 0
}

// txnMarker is a transaction marker read from the log.
type txnMarker struct {
	pid    int64
	commit bool
	offset int64
}

// Control record key types (Kafka's ControlRecordType).
const (
	controlAbort  = 0
	controlCommit = 1
)

// parseMarker reads the marker of a control batch; ok is false for a
// control batch that is not a transaction marker.
func parseMarker(h *kmsg.RecordBatch) (txnMarker, bool) {
	var r kmsg.Record
	if h.Attributes&0x07 != 0 || r.ReadFrom(h.Records) != nil || len(r.Key) < 4 {
		return txnMarker{}, false
	}
	switch binary.BigEndian.Uint16(r.Key[2:]) {
	case controlAbort:
		return txnMarker{pid: h.ProducerID, offset: h.FirstOffset}, true
	case controlCommit:
		return txnMarker{pid: h.ProducerID, commit: true, offset: h.FirstOffset}, true
	}
	return txnMarker{}, false
}

// eachMarker passes the transaction markers among batches read from offset
// from on to fn and returns the offset after the last whole batch.
func eachMarker(b []byte, from int64, fn func(txnMarker)) int64 {
	next := from
	for len(b) >= batchHeaderLen {
		size := batchHeaderPrefix + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < batchHeaderLen || size > len(b) {
			break
		}
		var h kmsg.RecordBatch
		err := h.ReadFrom(b[:size])
		b = b[size:]
		if err != nil {
			break
		}
		last := h.FirstOffset + int64(h.LastOffsetDelta)
		if last < next {
			continue
		}
		if h.Attributes&batchControl != 0 {
			if m, ok := parseMarker(&h); ok {
				fn(m)
			}
		}
		next = last + 1
	}
	return next
}
