package shards

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-io/chronik/internal/errs"
	"github.com/chronik-io/chronik/segment"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// PartitionSM is the state machine of one partition shard: an
// IOnDiskStateMachine over a segment.Log.
//
// Threading: dragonboat calls Open, Update, Sync, PrepareSnapshot,
// RecoverFromSnapshot and Close; SaveSnapshot may run concurrently with
// Update. The read methods (Read, Offsets, ...) may be called from any
// goroutine at any time, also during RecoverFromSnapshot and after Close
// (they then return errs.ErrClosed).
type PartitionSM struct {
	shardID, replicaID uint64
	dir                string
	opts               *segment.Options
	fs                 segment.FS // opts.FS, nil for the OS's
	log                *slog.Logger
	onApply            func(hw int64)
	obs                Observer

	mu     sync.RWMutex // guards seg and closed against concurrent readers
	seg    *segment.Log
	closed bool

	recovered atomic.Uint64 // snapshots recovered from

	// producers is written by the Update goroutine under prodMu (which it
	// need not hold to read it) and read by others under prodMu.
	prodMu    sync.Mutex
	producers producerTable
	// txns is written by Update and read by fetches under its own lock
	// (txn.go); the pointer changes only while readers cannot reach it
	// (in Open before seg is set, in RecoverFromSnapshot under mu).
	txns *txnTable

	sinceTxnCheckpoint int64         // Update goroutine only: command bytes since the last one
	raftLog            raftLogWindow // bytes applied by index, for RaftLogTrim

	epochs      epochHistory // leader epochs and their start offsets (epochs.go)
	epochsDirty bool         // Update goroutine only: a new epoch not yet in the file
}

var _ sm.IOnDiskStateMachine = (*PartitionSM)(nil)

// PartitionConfig configures NewPartitionSM.
type PartitionConfig struct {
	Dir     string           // the partition's segment directory
	Segment *segment.Options // options for segment.Open; nil = defaults
	Logger  *slog.Logger     // nil discards
	// OnApply, if not nil, is called after every applied batch of entries
	// (and after a snapshot is recovered) with the new high watermark. It
	// runs on dragonboat's apply goroutine and must not block.
	OnApply func(hw int64)
	// Observer, if not nil, is told how long the replica's Raft work took.
	Observer Observer
}

// Observer receives the timings of a partition state machine: the Raft
// apply and fsync path of a replica. Its methods run on dragonboat's apply
// goroutines and must not block.
type Observer interface {
	// Applied reports one Update: entries committed Raft entries written
	// to the segment log in d.
	Applied(entries int, d time.Duration)
	// Synced reports one Sync (fsync of the segment log) that took d.
	Synced(d time.Duration)
	// Snapshot reports bytes of this replica streamed into a Raft snapshot
	// (saved) or restored from one (!saved).
	Snapshot(saved bool, bytes int64)
}

// NewPartitionSM returns the state machine of a partition shard; dragonboat
// opens it.
func NewPartitionSM(shardID, replicaID uint64, cfg PartitionConfig) *PartitionSM {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	var fsys segment.FS
	if cfg.Segment != nil {
		fsys = cfg.Segment.FS
	}
	return &PartitionSM{
		shardID: shardID, replicaID: replicaID, dir: cfg.Dir, opts: cfg.Segment, fs: fsys,
		log: lg.With("shard", shardID), onApply: cfg.OnApply, obs: cfg.Observer, producers: producerTable{},
		txns: newTxnTable(),
	}
}

// Open implements sm.IOnDiskStateMachine: it opens the segment files and
// returns the last Raft index stored in them.
func (p *PartitionSM) Open(stopc <-chan struct{}) (uint64, error) {
	p.mu.RLock()
	opts := p.opts
	p.mu.RUnlock()
	l, err := segment.Open(p.dir, opts)
	if err != nil {
		return 0, fmt.Errorf("shard %d: open log %s: %w", p.shardID, p.dir, err)
	}
	es, have, err := l.ReadEpochs()
	if err != nil {
		p.log.Warn("leader epoch checkpoint unreadable; rebuilding it", "err", err)
	}
	p.loadEpochs(l, es, have, false)
	// Readers see the log only with its transaction state rebuilt: until
	// then they get errs.ErrNotReady, never a last stable offset that
	// ignores an ongoing transaction.
	if err := p.rebuildState(l); err != nil {
		l.Close()
		return 0, err
	}
	p.mu.Lock()
	p.seg = l
	p.mu.Unlock()
	if p.onApply != nil {
		p.onApply(l.EndOffset())
	}
	return l.LastIndex(), nil
}

// producerScanBytes bounds how much of the log tail Open scans to rebuild
// the idempotent producer table.
const producerScanBytes = 64 << 20

// rebuildState rebuilds the idempotent producer table and the transaction
// state (txn.go) with one scan of the log: transactions from the
// transaction checkpoint (txncheckpoint.go), else from the log start;
// producers' cached batches from the tail only (the last segments, up to
// about producerScanBytes). So de-duplication and transactions survive
// restarts and snapshot installs.
func (p *PartitionSM) rebuildState(l *segment.Log) error {
	p.prodMu.Lock()
	p.producers = producerTable{}
	p.prodMu.Unlock()
	txnFrom := l.StartOffset()
	if t, off, ok := p.loadTxnCheckpoint(l); ok {
		p.txns, txnFrom = t, off
	} else {
		p.txns = newTxnTable()
	}
	tailFrom := l.StartOffset()
	segs := l.Segments()
	var tail int64
	for i := len(segs) - 1; i >= 0; i-- {
		tail += segs[i].Size
		tailFrom = segs[i].BaseOffset
		if tail >= producerScanBytes {
			break
		}
	}
	tailFrom = max(tailFrom, l.StartOffset())
	var scanned int64 // bytes scanned for the transaction state
	for off := min(txnFrom, tailFrom); off < l.EndOffset(); {
		b, err := l.Read(off, 1<<20)
		if err != nil {
			// A damaged segment must not keep the replica from opening.
			// Reads of it keep failing (and are counted); continue after
			// it. Transactions that began or ended in it are lost here.
			next := int64(-1)
			for _, sg := range segs {
				if sg.BaseOffset > off {
					next = sg.BaseOffset
					break
				}
			}
			p.log.Error("rebuild producer and transaction state: skipping an unreadable segment", "offset", off, "resume", next, "err", err)
			if next < 0 {
				break
			}
			off = next
			continue
		}
		if len(b) == 0 {
			break
		}
		for len(b) > 0 {
			h, err := segment.ParseBatchHeader(b)
			if err != nil {
				return fmt.Errorf("shard %d: rebuild producer state at offset %d: %w", p.shardID, off, err)
			}
			if h.BaseOffset >= txnFrom {
				scanned += int64(h.Size())
			}
			p.scanBatch(&h, b, h.BaseOffset >= txnFrom, h.BaseOffset >= tailFrom)
			off = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	if scanned >= txnCheckpointBytes {
		p.writeTxnCheckpoint(l.EndOffset())
	}
	return nil
}

// Update implements sm.IOnDiskStateMachine. It assigns offsets to the batches
// of every entry, in order, and writes them as one frame; each entry's result
// is its base offset, or an error code in Result.Data.
func (p *PartitionSM) Update(ents []sm.Entry) ([]sm.Entry, error) {
	if p.obs != nil {
		start := time.Now()
		defer func() { p.obs.Applied(len(ents), time.Since(start)) }()
	}
	p.mu.RLock()
	l := p.seg
	p.mu.RUnlock()
	if l == nil {
		return nil, fmt.Errorf("shard %d: update on a closed log: %w", p.shardID, errs.ErrClosed)
	}
	// Each frame is a fresh buffer that the log takes over (AppendOwned):
	// the batches are copied once, from the entries into the frame, where
	// their offsets are rewritten, and the frame cache keeps that copy.
	left := 0 // command bytes not yet in a frame, to size the next one
	for i := range ents {
		left += len(ents[i].Cmd)
	}
	p.raftLog.observe(ents[len(ents)-1].Index, int64(left), raftLogGrain)
	p.sinceTxnCheckpoint += int64(left)
	newFrame := func() []byte {
		return make([]byte, segment.FrameHeadroom, segment.FrameHeadroom+min(left, MaxAppendBytes))
	}
	frame := newFrame()
	next := l.EndOffset()
	first := ents[0].Index
	flush := func(last uint64) error {
		if p.epochsDirty {
			// Before the frame: the file never misses an epoch of the
			// durable log.
			p.persistEpochs(l)
			p.epochsDirty = false
		}
		if err := l.AppendOwned(frame, first, last); err != nil {
			return fmt.Errorf("shard %d: append entries %d-%d: %w", p.shardID, first, last, err)
		}
		frame = newFrame()
		return nil
	}
	for i := range ents {
		e := &ents[i]
		left -= len(e.Cmd)
		if len(e.Cmd) > 0 && e.Cmd[0] == cmdSetLogStart {
			if e.Index > first {
				if err := flush(e.Index - 1); err != nil {
					return nil, err
				}
			}
			res, err := p.setLogStart(l, e)
			if err != nil {
				return nil, err
			}
			e.Result = res
			first = e.Index + 1
			continue
		}
		if len(e.Cmd) > MaxAppendBytes+appendHeaderSize {
			// Never proposed by the engine (ValidateBatches bounds it);
			// refused rather than written as a frame the log rejects.
			e.Result = sm.Result{Data: []byte{ResultBadCommand}}
			continue
		}
		if n := len(frame) - segment.FrameHeadroom; n > 0 && n+len(e.Cmd) > MaxAppendBytes {
			// Keep frames within segment's limit: end this one at the
			// previous entry.
			left += len(e.Cmd)
			if err := flush(e.Index - 1); err != nil {
				return nil, err
			}
			left -= len(e.Cmd)
			first = e.Index
		}
		var res sm.Result
		if len(e.Cmd) > 0 && e.Cmd[0] == cmdTxnMarker {
			frame, next, res = p.applyMarker(frame, next, e.Cmd)
		} else {
			frame, next, res = p.apply(frame, next, e.Cmd)
		}
		e.Result = res
	}
	if last := ents[len(ents)-1].Index; first <= last {
		if err := flush(last); err != nil {
			return nil, err
		}
	}
	if p.sinceTxnCheckpoint >= txnCheckpointBytes {
		p.writeTxnCheckpoint(next)
	}
	if p.onApply != nil {
		p.onApply(next)
	}
	return ents, nil
}

// raftLogGrain is how finely RaftLogTrim knows where bytes lie in the log.
const raftLogGrain = 1 << 20

// RaftLogTrim reports whether this replica's Raft log holds more than
// 2*retain bytes of applied entries since it was last compacted (as far as
// this replica knows since it opened), and if so up to which index to
// compact it: it keeps the newest applied entries holding the last retain
// bytes (to within a MiB), and at least minEntries of them. Followers that
// lag by less catch up from the log; others get a snapshot. Safe for
// concurrent use.
func (p *PartitionSM) RaftLogTrim(retain int64, minEntries uint64) (upTo uint64, due bool) {
	return p.raftLog.trim(retain, minEntries)
}

// RaftLogBytesAfter returns about how many applied bytes lie in the entries
// after index: at least that many, at most a MiB more; known is false when
// this replica cannot tell (index is older than what it applied since it
// opened, or than its last compaction). Safe for concurrent use.
func (p *PartitionSM) RaftLogBytesAfter(index uint64) (n int64, known bool) {
	return p.raftLog.after(index)
}

// RaftLogCompacted records that a snapshot at index compacted the Raft log
// up to upTo (see RaftLogTrim). Safe for concurrent use.
func (p *PartitionSM) RaftLogCompacted(index, upTo uint64) {
	p.raftLog.compacted(index, upTo)
}

func (p *PartitionSM) setLogStart(l *segment.Log, e *sm.Entry) (sm.Result, error) {
	if len(e.Cmd) != 9 {
		if err := l.Append(nil, e.Index, e.Index); err != nil {
			return sm.Result{}, fmt.Errorf("shard %d: record index %d: %w", p.shardID, e.Index, err)
		}
		return sm.Result{Data: []byte{ResultBadCommand}}, nil
	}
	off := int64(uint64(e.Cmd[1])<<56 | uint64(e.Cmd[2])<<48 | uint64(e.Cmd[3])<<40 | uint64(e.Cmd[4])<<32 |
		uint64(e.Cmd[5])<<24 | uint64(e.Cmd[6])<<16 | uint64(e.Cmd[7])<<8 | uint64(e.Cmd[8]))
	if off > l.EndOffset() {
		off = l.EndOffset()
	}
	if off > l.StartOffset() {
		if err := l.TruncateFront(off); err != nil {
			// Deleting whole segments is an optimisation of space only;
			// the log start stays where it was on this replica.
			p.log.Warn("truncate front", "offset", off, "err", err)
		}
		p.epochs.truncateFront(l.StartOffset())
		p.txns.truncateFront(l.StartOffset())
	}
	// An empty frame records the index, so Open reports it as applied.
	if err := l.Append(nil, e.Index, e.Index); err != nil {
		return sm.Result{}, fmt.Errorf("shard %d: record index %d: %w", p.shardID, e.Index, err)
	}
	return sm.Result{Value: uint64(l.StartOffset())}, nil
}

// apply appends one append command's batches to frame with offsets from
// next on. A rejected command leaves frame and next unchanged.
func (p *PartitionSM) apply(frame []byte, next int64, cmd []byte) ([]byte, int64, sm.Result) {
	c, err := decodeAppend(cmd)
	if err != nil {
		return frame, next, sm.Result{Data: []byte{ResultBadCommand}}
	}
	start, startNext := len(frame), next
	var undo map[int64]*producerState
	var begun []int64 // transactions this command started
	fail := func(code byte) ([]byte, int64, sm.Result) {
		for _, id := range begun {
			p.txns.forget(id)
		}
		p.prodMu.Lock()
		for id, st := range undo {
			if st == nil {
				delete(p.producers, id)
			} else {
				p.producers[id] = st
			}
		}
		p.prodMu.Unlock()
		return frame[:start], startNext, sm.Result{Data: []byte{code}}
	}
	b := c.batches
	dups, n := 0, 0
	var dupBase int64
	for len(b) > 0 {
		h, err := segment.ParseBatchHeader(b)
		if err != nil {
			return fail(ResultCorrupt)
		}
		size := h.Size()
		n++
		switch verdict, orig := p.producers.check(&h); verdict {
		case seqDuplicate:
			if dups == 0 {
				dupBase = orig
			}
			dups++
			b = b[size:]
			continue
		case seqOutOfOrder:
			return fail(ResultOutOfOrderSequence)
		case seqFenced:
			return fail(ResultInvalidProducerEpoch)
		}
		if h.ProducerID >= 0 && !IsTransactional(&h) && p.txns.isOngoing(h.ProducerID) {
			// As Kafka: a producer in a transaction writes only
			// transactional batches until a marker ends it.
			return fail(ResultInvalidTxnState)
		}
		if h.ProducerID >= 0 {
			if undo == nil {
				undo = map[int64]*producerState{}
			}
			if _, ok := undo[h.ProducerID]; !ok {
				if st, ok := p.producers[h.ProducerID]; ok {
					cp := *st
					cp.batches = append([]seqBatch(nil), st.batches...)
					undo[h.ProducerID] = &cp
				} else {
					undo[h.ProducerID] = nil
				}
			}
		}
		at := len(frame)
		frame = append(frame, b[:size]...)
		nb := frame[at:]
		segment.SetBaseOffset(nb, next)
		segment.SetPartitionLeaderEpoch(nb, c.leaderEpoch)
		ts := h.MaxTimestamp
		if c.logAppendTime {
			segment.SetLogAppendTime(nb, c.appendTime)
			ts = c.appendTime
		}
		if h.ProducerID >= 0 {
			p.prodMu.Lock()
			p.producers.record(&h, next, ts)
			p.prodMu.Unlock()
		}
		if IsTransactional(&h) && h.ProducerID >= 0 && p.txns.begin(h.ProducerID, h.ProducerEpoch, next) {
			begun = append(begun, h.ProducerID)
		}
		next += int64(h.LastOffsetDelta) + 1
		b = b[size:]
	}
	if dups > 0 {
		if dups != n {
			return fail(ResultOutOfOrderSequence)
		}
		return frame, next, sm.Result{Value: uint64(dupBase)}
	}
	if next > startNext && p.epochs.assign(c.leaderEpoch, startNext) {
		p.epochsDirty = true
	}
	return frame, next, sm.Result{Value: uint64(startNext)}
}

// Lookup implements sm.IOnDiskStateMachine; it returns the Offsets.
func (p *PartitionSM) Lookup(any) (any, error) {
	start, end, err := p.Offsets()
	return [2]int64{start, end}, err
}

// Sync implements sm.IOnDiskStateMachine.
func (p *PartitionSM) Sync() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.seg == nil {
		return nil
	}
	if p.obs == nil {
		return p.seg.Sync()
	}
	start := time.Now()
	err := p.seg.Sync()
	p.obs.Synced(time.Since(start))
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// snapshotCtx is what PrepareSnapshot pins for SaveSnapshot.
type snapshotCtx struct {
	cp     *segment.Checkpoint
	epochs []segment.EpochEntry
}

// PrepareSnapshot implements sm.IOnDiskStateMachine: it pins the current
// segment list and the active segment's length, and copies the leader-epoch
// history up to the same point.
func (p *PartitionSM) PrepareSnapshot() (any, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.seg == nil {
		return nil, fmt.Errorf("shard %d: snapshot of a closed log: %w", p.shardID, errs.ErrClosed)
	}
	cp, err := p.seg.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("shard %d: checkpoint: %w", p.shardID, err)
	}
	return &snapshotCtx{cp: cp, epochs: truncateEpochsBack(p.epochs.list(), p.seg.EndOffset())}, nil
}

// SaveSnapshot implements sm.IOnDiskStateMachine: it streams the
// leader-epoch history (segment.EncodeEpochs) and then the pinned segments
// to w while Update keeps appending.
func (p *PartitionSM) SaveSnapshot(ctx any, w io.Writer, done <-chan struct{}) error {
	sc, ok := ctx.(*snapshotCtx)
	if !ok {
		return fmt.Errorf("shard %d: snapshot context %T", p.shardID, ctx)
	}
	cp := sc.cp
	defer cp.Close()
	if p.obs != nil {
		cw := &countingWriter{w: w}
		w = cw
		defer func() { p.obs.Snapshot(true, cw.n) }()
	}
	if _, err := w.Write(segment.EncodeEpochs(sc.epochs)); err != nil {
		return fmt.Errorf("shard %d: stream snapshot: %w", p.shardID, err)
	}
	if _, err := cp.WriteTo(w); err != nil {
		return fmt.Errorf("shard %d: stream snapshot: %w", p.shardID, err)
	}
	return nil
}

// SetRoll changes the segment roll limits (a topic's segment.bytes and
// segment.ms altered at run time) of the open log and of any later reopen;
// zero means the default.
func (p *PartitionSM) SetRoll(segmentBytes int64, age time.Duration) {
	p.mu.Lock()
	var o segment.Options
	if p.opts != nil {
		o = *p.opts
	}
	o.SegmentBytes, o.SegmentAge = segmentBytes, age
	p.opts = &o
	l := p.seg // a log opened later uses the new options
	p.mu.Unlock()
	if l != nil {
		l.SetRoll(segmentBytes, age) // waits for an Append in progress
	}
}

// RecoverFromSnapshot implements sm.IOnDiskStateMachine: it replaces the
// local segments with the streamed ones, and the leader-epoch history with
// the streamed one (or one scanned from the batches, for a snapshot of a
// version that did not send it).
func (p *PartitionSM) RecoverFromSnapshot(r io.Reader, done <-chan struct{}) error {
	if p.obs != nil {
		cr := &countingReader{r: r}
		r = cr
		defer func() { p.obs.Snapshot(false, cr.n) }()
	}
	es, have, r, err := readSnapshotEpochs(r)
	if err != nil {
		return fmt.Errorf("shard %d: restore snapshot: %w", p.shardID, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var prevIndex uint64
	var prevEnd int64
	if p.seg != nil {
		prevIndex, prevEnd = p.seg.LastIndex(), p.seg.EndOffset()
		if err := p.seg.Close(); err != nil {
			p.log.Warn("close log before restore", "err", err)
		}
		p.seg = nil
	}
	if err := segment.Restore(p.dir, r, p.opts); err != nil {
		return fmt.Errorf("shard %d: restore snapshot into %s: %w", p.shardID, p.dir, err)
	}
	l, err := segment.Open(p.dir, p.opts)
	if err != nil {
		return fmt.Errorf("shard %d: open restored log: %w", p.shardID, err)
	}
	p.seg = l
	p.recovered.Add(1)
	if l.LastIndex() < prevIndex {
		// dragonboat should never install a snapshot older than what was
		// applied; if it does, the replica re-applies the log after it.
		p.log.Error("recovered a snapshot older than the applied state",
			"snapshot_index", l.LastIndex(), "applied_index", prevIndex, "end_offset", l.EndOffset(), "applied_end_offset", prevEnd)
	}
	p.log.Info("recovered from a snapshot", "index", l.LastIndex(), "end_offset", l.EndOffset(), "previous_index", prevIndex)
	p.loadEpochs(l, es, have, true)
	if err := p.rebuildState(l); err != nil {
		return err
	}
	if p.onApply != nil {
		p.onApply(l.EndOffset())
	}
	return nil
}

// Close implements sm.IOnDiskStateMachine.
func (p *PartitionSM) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.seg == nil {
		return nil
	}
	err := p.seg.Close()
	p.seg = nil
	return err
}

// reader runs f with the open log under the read lock.
func (p *PartitionSM) reader(f func(*segment.Log) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.seg == nil {
		if p.closed {
			return fmt.Errorf("shard %d: %w", p.shardID, errs.ErrClosed)
		}
		return fmt.Errorf("shard %d: log not open: %w", p.shardID, errs.ErrNotReady)
	}
	return f(p.seg)
}

// Offsets returns the log start offset and the high watermark (the next
// offset to be written; every applied batch is committed).
func (p *PartitionSM) Offsets() (start, end int64, err error) {
	err = p.reader(func(l *segment.Log) error {
		start, end = l.StartOffset(), l.EndOffset()
		return nil
	})
	return start, end, err
}

// Read returns whole batches from the one holding offset, up to maxBytes
// (at least one batch); nil at the high watermark.
func (p *PartitionSM) Read(offset int64, maxBytes int) (b []byte, start, end int64, err error) {
	err = p.reader(func(l *segment.Log) error {
		start, end = l.StartOffset(), l.EndOffset()
		if offset < start || offset > end {
			return fmt.Errorf("offset %d not in [%d, %d]: %w", offset, start, end, errs.ErrOffsetOutOfRange)
		}
		var rerr error
		b, rerr = l.Read(offset, maxBytes)
		if errors.Is(rerr, segment.ErrOffsetOutOfRange) {
			return fmt.Errorf("offset %d: %w", offset, errs.ErrOffsetOutOfRange)
		}
		if rerr != nil {
			return fmt.Errorf("read offset %d: %w: %w", offset, errs.ErrStorage, rerr)
		}
		return nil
	})
	return b, start, end, err
}

// OffsetForTimestamp returns the first offset whose timestamp is >= ts.
func (p *PartitionSM) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	err = p.reader(func(l *segment.Log) error {
		var rerr error
		offset, timestamp, ok, rerr = l.OffsetForTimestamp(ts)
		if rerr != nil {
			return fmt.Errorf("offset for timestamp %d: %w: %w", ts, errs.ErrStorage, rerr)
		}
		return nil
	})
	return
}

// MaxTimestamp returns the largest timestamp in the log and its offset.
func (p *PartitionSM) MaxTimestamp() (timestamp, offset int64, err error) {
	err = p.reader(func(l *segment.Log) error {
		timestamp, offset = l.MaxTimestamp()
		return nil
	})
	return
}

// Segments returns the log's segments, oldest first.
func (p *PartitionSM) Segments() (segs []segment.SegmentInfo, err error) {
	err = p.reader(func(l *segment.Log) error {
		segs = l.Segments()
		return nil
	})
	return
}

// LastIndex returns the last Raft index stored in the log.
func (p *PartitionSM) LastIndex() (idx uint64, err error) {
	err = p.reader(func(l *segment.Log) error {
		idx = l.LastIndex()
		return nil
	})
	return
}

// SnapshotsRecovered counts the streamed snapshots this replica recovered
// from since it was created.
func (p *PartitionSM) SnapshotsRecovered() uint64 { return p.recovered.Load() }

// Compact rewrites the sealed segments that end at or before upTo through
// filter (segment.Log.RewriteSealed): log compaction of this replica's own
// copy. It runs outside the state machine's lock, so reads and snapshot
// recovery are not held up; a Close or snapshot recovery meanwhile stops it
// with errs.ErrClosed.
func (p *PartitionSM) Compact(upTo int64, filter segment.FrameFilter) (segment.RewriteStats, error) {
	var l *segment.Log
	if err := p.reader(func(sl *segment.Log) error { l = sl; return nil }); err != nil {
		return segment.RewriteStats{}, err
	}
	st, err := l.RewriteSealed(upTo, filter)
	if errors.Is(err, segment.ErrClosed) {
		return st, fmt.Errorf("shard %d: compact: %w", p.shardID, errs.ErrClosed)
	}
	if err != nil {
		return st, fmt.Errorf("shard %d: compact: %w", p.shardID, err)
	}
	return st, nil
}

// readSnapshotEpochs reads the leader-epoch history at the head of a
// snapshot stream and returns the rest of the stream. A stream that starts
// with the segment image instead (from a version that did not send the
// history) yields have == false and the whole stream.
func readSnapshotEpochs(r io.Reader) (es []segment.EpochEntry, have bool, rest io.Reader, err error) {
	hdr := make([]byte, segment.EpochsHeaderSize)
	n, err := io.ReadFull(r, hdr)
	if err != nil || !segment.IsEpochs(hdr) {
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, false, nil, err
		}
		return nil, false, io.MultiReader(bytes.NewReader(hdr[:n]), r), nil
	}
	size, err := segment.EpochsBodySize(hdr)
	if err != nil {
		return nil, false, nil, err
	}
	b := make([]byte, len(hdr)+size)
	copy(b, hdr)
	if _, err := io.ReadFull(r, b[len(hdr):]); err != nil {
		return nil, false, nil, fmt.Errorf("leader epochs: %w", err)
	}
	if es, err = segment.DecodeEpochs(b); err != nil {
		return nil, false, nil, err
	}
	return es, true, r, nil
}
