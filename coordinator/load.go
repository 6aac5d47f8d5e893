package coordinator

// Loading a __consumer_offsets partition on becoming its leader, and offset
// retention.
//
// A new leader's applied log may lag entries committed in the previous
// term, so the coordinator first writes a load marker: once the marker is
// committed and applied in the new term, every earlier record is applied
// too. The log is then replayed from its start up to the marker (last
// record of a key wins, tombstones delete), groups are rebuilt (a group
// stored as Stable resumes its generation, members' sessions start anew) and
// only then does the partition answer requests: COORDINATOR_LOAD_IN_PROGRESS
// meanwhile. Records that cannot be decoded are skipped and counted
// (Coordinator.RecordsSkipped, one WARN per load); only transient failures
// make a load retry.

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// load replays the partition, retrying until it succeeds or leadership is
// lost. Only transient failures (writing the load marker, reading the log:
// not leader, timeouts) fail a replay; records it cannot decode are skipped,
// so one bad record cannot keep the partition's groups unavailable. Retries
// back off up to loadMaxBackoff, as each one writes a load marker.
func (cp *coordPartition) load() {
	st, ok := replayRetrying(cp.ctx, cp.c.log, OffsetsTopic, cp.p, cp.epoch, cp.replay)
	if !ok {
		return
	}
	cp.c.skipped.Add(int64(st.skipped))
	close(cp.loaded)
}

// replayRetrying runs replay until it succeeds (ok) or ctx ends (leadership
// lost), backing off between failures from loadMinBackoff up to
// loadMaxBackoff, and logs the outcome: the records skipped, once, and the
// load's duration.
func replayRetrying(ctx context.Context, log *slog.Logger, topic string, p, epoch int32, replay func() (replayStats, error)) (replayStats, bool) {
	start := time.Now()
	backoff := loadMinBackoff
	for {
		st, err := replay()
		if err == nil {
			if st.skipped > 0 {
				log.Warn("skipped undecodable records", "topic", topic, "partition", p,
					"skipped", st.skipped, "first_offset", st.firstSkipped, "err", st.firstErr)
			}
			log.Info("partition loaded", "partition", p, "epoch", epoch, "records", st.records, "took", time.Since(start))
			return st, true
		}
		if ctx.Err() != nil {
			return st, false
		}
		log.Warn("loading partition failed; retrying", "partition", p, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return st, false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, loadMaxBackoff)
	}
}

// Backoff between failed loads of a partition.
const (
	loadMinBackoff = 200 * time.Millisecond
	loadMaxBackoff = 5 * time.Second
)

// replayStats describes one replay.
type replayStats struct {
	records      int    // records applied
	skipped      int    // records that could not be decoded
	firstSkipped int64  // offset of the first skipped record (-1: none)
	firstErr     string // why it was skipped
}

func (st *replayStats) skip(n int, offset int64, err error) {
	if st.skipped == 0 {
		st.firstSkipped, st.firstErr = offset, err.Error()
	}
	st.skipped += n
}

// replay reads the partition up to a fresh load marker and installs the
// groups. Its error is always transient (see load).
func (cp *coordPartition) replay() (replayStats, error) {
	be := cp.c.be
	ctx := cp.ctx
	st := replayStats{firstSkipped: -1}
	mctx, cancel := newTimeout(ctx, 10*time.Second)
	res, err := be.Produce(mctx, OffsetsTopic, cp.p, []engine.Record{loadMarkerRecord()})
	cancel()
	if err != nil {
		return st, fmt.Errorf("write load marker: %w", err)
	}
	end := res.BaseOffset
	lo, err := be.ListOffsets(ctx, OffsetsTopic, cp.p, engine.Earliest)
	if err != nil {
		return st, fmt.Errorf("log start: %w", err)
	}
	ls := newLoadState()
	live := map[string][]byte{}
	setLive := func(key, value []byte) {
		if value == nil {
			delete(live, string(key))
		} else {
			live[string(key)] = value
		}
	}
	apply := func(rec engine.Record, owner batchOwner) {
		if rec.Offset >= end {
			return
		}
		sr, err := decodeStoredRecord(rec.Key, rec.Value)
		if err != nil {
			st.skip(1, rec.Offset, err)
			return
		}
		sr.at = rec.Offset
		st.records++
		if owner.pid >= 0 {
			ls.pend(sr, owner, rec.Key, rec.Value)
			return
		}
		if sr.kind == recShareConfig || sr.kind == recShareState {
			if err := ls.applyShare(sr.kind, rec.Key, rec.Value); err != nil {
				st.skip(1, rec.Offset, err)
				return
			}
		} else {
			ls.apply(sr)
		}
		if sr.kind != recLoadMarker {
			setLive(rec.Key, rec.Value)
		}
	}
	marker := func(m txnMarker) {
		if m.offset < end {
			ls.complete(m, setLive)
		}
	}
	for off := lo.Offset; off < end; {
		fr, err := be.Fetch(ctx, OffsetsTopic, cp.p, off, engine.FetchOptions{MaxBytes: 4 << 20})
		if err != nil {
			return st, fmt.Errorf("read at offset %d: %w", off, err)
		}
		next := eachStoredBatch(fr.Batches, off, end, apply, marker, st.skip)
		if next <= off {
			return st, fmt.Errorf("no records at offset %d below the load marker at %d", off, end)
		}
		off = next
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.ctx.Err() != nil {
		return st, cp.ctx.Err()
	}
	cp.reset(live, st.records)
	cp.restoreShares(ls.shares)
	for name, lg := range ls.groups {
		g := newGroup(cp, name)
		g.offsets, g.txnOffsets = lg.offsets, lg.txn
		isConsumer := lg.consumer != nil && lg.consumer.hasGroup
		switch {
		case isConsumer:
			g.restoreConsumer(lg.consumer)
		case lg.meta != nil:
			g.restore(lg.meta)
		}
		if lg.meta == nil && !isConsumer && len(g.offsets) == 0 && len(g.txnOffsets) == 0 {
			continue
		}
		cp.groups[name] = g
		for pid := range g.txnOffsets {
			// Every marker below end is applied: read those after.
			cp.watchTxn(pid, name, end)
		}
	}
	return st, nil
}

// batchOwner is the transactional producer of a batch (pid -1: none).
type batchOwner struct {
	pid   int64
	epoch int16
}

// eachStoredBatch walks the record batches of a fetch one at a time and
// passes the records at offsets from from on to apply (which ignores those
// at end or later), with the transactional producer of their batch, and
// the transaction markers to marker (nil: ignored). A batch whose records
// cannot be decoded passes those before the damage and reports the rest to
// skip (count, first offset, cause). It returns the offset after the last
// whole batch (from if there is none).
func eachStoredBatch(b []byte, from, end int64, apply func(engine.Record, batchOwner), marker func(txnMarker), skip func(n int, offset int64, err error)) int64 {
	next := from
	for len(b) >= batchHeaderLen && next < end {
		size := batchHeaderPrefix + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < batchHeaderLen || size > len(b) {
			break // a partial batch at the end of the fetch: read again from next
		}
		batch := b[:size]
		b = b[size:]
		var h kmsg.RecordBatch
		if err := h.ReadFrom(batch); err != nil {
			break
		}
		last := h.FirstOffset + int64(h.LastOffsetDelta)
		if last < next {
			continue
		}
		if h.Attributes&batchControl != 0 {
			// A transaction marker (AddOffsetsToTxn puts the partition in
			// a transaction): not a coordinator record.
			if m, ok := parseMarker(&h); ok && marker != nil {
				marker(m)
			}
			next = last + 1
			continue
		}
		owner := batchOwner{pid: -1}
		if h.Attributes&batchTransactional != 0 && h.ProducerID >= 0 {
			owner = batchOwner{pid: h.ProducerID, epoch: h.ProducerEpoch}
		}
		recs, err := engine.DecodeBatches(batch)
		for _, rec := range recs {
			if rec.Offset >= next {
				apply(rec, owner)
			}
		}
		if err != nil {
			first := h.FirstOffset
			if len(recs) > 0 {
				first = recs[len(recs)-1].Offset + 1
			}
			skip(max(int(h.NumRecords)-len(recs), 1), first, err)
		}
		next = last + 1
	}
	return next
}

// Kafka v2 record batch framing: base offset and length (12 bytes) precede
// the rest of the 61-byte header.
const (
	batchHeaderPrefix = 12
	batchHeaderLen    = 61
	batchControl      = 0x20 // attributes bit of control batches
)

type loadedGroup struct {
	meta     *kmsg.GroupMetadataValue
	consumer *loadedConsumer // KIP-848 records, if any
	offsets  map[topicPartition]offsetCommit
	txn      txnCommitState
}

type loadState struct {
	shares map[string]*loadedShare // share groups (share_state.go)
	groups map[string]*loadedGroup
	pids   map[int64]map[string]struct{} // producer id -> groups with offsets pending
}

func newLoadState() *loadState {
	return &loadState{groups: map[string]*loadedGroup{}, pids: map[int64]map[string]struct{}{}}
}

func (s *loadState) get(name string) *loadedGroup {
	g := s.groups[name]
	if g == nil {
		g = &loadedGroup{offsets: map[topicPartition]offsetCommit{}, txn: txnCommitState{}}
		s.groups[name] = g
	}
	return g
}

// pend folds a record of a transactional batch: an offset pending until
// its producer's marker. Other kinds are not written in transactions and
// are ignored.
func (s *loadState) pend(r storedRecord, owner batchOwner, key, value []byte) {
	if r.kind != recOffsetKeyV1 || r.tombstone {
		return
	}
	g := s.get(r.group)
	pend := g.txn[owner.pid]
	if pend == nil {
		pend = map[topicPartition]pendingOffset{}
		g.txn[owner.pid] = pend
	}
	pend[topicPartition{r.topic, r.partition}] = pendingOffset{oc: r.offsetCommit(), epoch: owner.epoch, key: key, value: value}
	if s.pids[owner.pid] == nil {
		s.pids[owner.pid] = map[string]struct{}{}
	}
	s.pids[owner.pid][r.group] = struct{}{}
}

// complete applies a transaction marker to the offsets pending.
func (s *loadState) complete(m txnMarker, live func(key, value []byte)) {
	for name := range s.pids[m.pid] {
		if g := s.groups[name]; g == nil || g.txn.complete(g.offsets, m.pid, m.commit, m.offset, live) {
			delete(s.pids[m.pid], name)
		}
	}
	if len(s.pids[m.pid]) == 0 {
		delete(s.pids, m.pid)
	}
}

// apply folds one record into the state: the last record of a key wins.
func (s *loadState) apply(r storedRecord) {
	switch r.kind {
	case recOffsetKeyV1:
		g := s.get(r.group)
		tp := topicPartition{r.topic, r.partition}
		if r.tombstone {
			delete(g.offsets, tp)
			return
		}
		g.offsets[tp] = r.offsetCommit()
	case recGroupKey:
		// A tombstone deletes the classic metadata; the group's offsets
		// have their own tombstones (a classic group that became a
		// consumer group keeps them).
		s.get(r.group).meta = r.meta
	case recCGMetadata, recCGPartitionMeta, recCGMemberMeta, recCGTargetMeta, recCGTargetMember, recCGCurrentAssign:
		g := s.get(r.group)
		if g.consumer == nil {
			g.consumer = newLoadedConsumer()
		}
		_ = g.consumer.apply(r.cg, r.key, r.value) // decoded once already
	}
}

// restore rebuilds a group from its stored metadata: with members it is
// Stable at the stored generation (members keep their assignments and must
// heartbeat within their session timeout), else Empty.
func (g *group) restore(v *kmsg.GroupMetadataValue) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	if len(v.Members) == 0 || g.protocol == "" {
		g.state = groupEmpty
		g.leader = ""
		return
	}
	g.state = groupStable
	for _, vm := range v.Members {
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.MemberID, join.InstanceID, join.ProtocolType = g.name, vm.MemberID, vm.InstanceID, v.ProtocolType
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = vm.SessionTimeoutMillis, vm.RebalanceTimeoutMillis
		if join.RebalanceTimeoutMillis <= 0 {
			join.RebalanceTimeoutMillis = vm.SessionTimeoutMillis
		}
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: vm.Subscription}}
		m := &member{id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			join: join, assignment: vm.Assignment}
		g.members[m.id] = m
		g.protocols[g.protocol]++
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
		g.heartbeat(m)
	}
}

// expireOffsets deletes the offsets of groups that have been empty for
// longer than OffsetsRetention (measured from the later of the group
// becoming empty and the offset's commit), and then the groups left with
// nothing.
func (c *Coordinator) expireOffsets(now time.Time) {
	for _, cp := range c.set.loaded() {
		for _, g := range cp.groupList() {
			g.mu.Lock()
			if !g.dead {
				g.expire(now, c.cfg.OffsetsRetention)
			}
			g.mu.Unlock()
		}
	}
}

func (g *group) expire(now time.Time, retention time.Duration) {
	if g.state != groupEmpty || len(g.members) > 0 || len(g.pending) > 0 || len(g.txnOffsets) > 0 ||
		(g.consumer != nil && len(g.consumer.members) > 0) {
		return
	}
	var recs []engine.Record
	var del []topicPartition
	for tp, oc := range g.offsets {
		from := oc.committed
		if (g.protocolType != "" || g.consumer != nil) && g.stateTime.After(from) {
			from = g.stateTime
		}
		if now.Sub(from) >= retention {
			recs = append(recs, offsetRecord(g.name, tp.topic, tp.partition, nil))
			del = append(del, tp)
		}
	}
	if len(del) == len(g.offsets) {
		if g.tombstone() != nil {
			return
		}
		g.cp.c.log.Info("expired group", "group", g.name, "offsets", len(del))
		return
	}
	if len(recs) == 0 {
		return
	}
	if err := g.cp.write(recs...); err != nil {
		g.cp.c.log.Warn("expire offsets failed", "group", g.name, "err", err)
		return
	}
	for _, tp := range del {
		delete(g.offsets, tp)
	}
	g.cp.c.log.Info("expired offsets", "group", g.name, "offsets", len(del))
}
