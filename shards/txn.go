package shards

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/chronik-io/chronik/segment"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// The partition side of Kafka transactions.
//
// A produce batch with the transactional attribute from producer P starts
// a transaction of P on the partition (its first offset is recorded) unless
// one is ongoing, which it continues. A transaction marker (a control batch
// written by WriteTxnMarker through a txn marker command) ends it: a commit
// just closes it, an abort also enters (P, first offset, marker offset) in
// the aborted-transactions index. The last stable offset (LSO) is the
// smallest first offset of the ongoing transactions, else the high
// watermark; read_committed fetches stop there.
//
// Open and RecoverFromSnapshot rebuild it with one scan of the log from
// the last transaction checkpoint (txncheckpoint.go), written every
// txnCheckpointBytes of applied commands, or from the log start when there
// is none (see rebuildState); moving the log start drops aborted entries
// that end below it.

// AbortedTxn is an aborted transaction of one producer on a partition:
// its data lies in [FirstOffset, LastOffset), LastOffset being its abort
// marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

type ongoingTxn struct {
	first int64
	epoch int16
}

// txnTable is a partition's transaction state. The Update goroutine writes
// it; readers (fetches) read it under mu.
type txnTable struct {
	mu      sync.Mutex
	ongoing map[int64]ongoingTxn // producer id -> its open transaction
	aborted []AbortedTxn         // by LastOffset
	coord   map[int64]int32      // producer id -> last coordinator epoch of a marker
}

func newTxnTable() *txnTable {
	return &txnTable{ongoing: map[int64]ongoingTxn{}, coord: map[int64]int32{}}
}

// begin notes a transactional batch of pid at offset; it reports whether
// that started a transaction.
func (t *txnTable) begin(pid int64, epoch int16, offset int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.ongoing[pid]; ok {
		return false
	}
	t.ongoing[pid] = ongoingTxn{first: offset, epoch: epoch}
	return true
}

// isOngoing reports whether pid has a transaction ongoing.
func (t *txnTable) isOngoing(pid int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.ongoing[pid]
	return ok
}

// forget undoes a begin (a command that failed after it).
func (t *txnTable) forget(pid int64) {
	t.mu.Lock()
	delete(t.ongoing, pid)
	t.mu.Unlock()
}

// end applies a marker of pid written at offset.
func (t *txnTable) end(pid int64, commit bool, coordEpoch int32, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.ongoing[pid]
	delete(t.ongoing, pid)
	t.coord[pid] = coordEpoch
	if ok && !commit {
		t.aborted = append(t.aborted, AbortedTxn{ProducerID: pid, FirstOffset: o.first, LastOffset: offset})
	}
}

// fencedCoordinator reports a marker from a coordinator epoch older than
// the last one seen for pid (Kafka: TRANSACTION_COORDINATOR_FENCED).
func (t *txnTable) fencedCoordinator(pid int64, coordEpoch int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.coord[pid]
	return ok && coordEpoch < last
}

// stable returns the LSO of a log [start, end).
func (t *txnTable) stable(start, end int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	lso := end
	for _, o := range t.ongoing {
		lso = min(lso, o.first)
	}
	return max(lso, start)
}

// abortedIn lists the aborted transactions overlapping [from, upTo).
func (t *txnTable) abortedIn(from, upTo int64) []AbortedTxn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []AbortedTxn
	i, _ := slices.BinarySearchFunc(t.aborted, from, func(a AbortedTxn, off int64) int {
		switch {
		case a.LastOffset < off:
			return -1
		case a.LastOffset > off:
			return 1
		}
		return 0
	})
	for _, a := range t.aborted[i:] {
		if a.FirstOffset < upTo {
			out = append(out, a)
		}
	}
	return out
}

// truncateFront drops aborted transactions that end below start.
func (t *txnTable) truncateFront(start int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.aborted) && t.aborted[i].LastOffset < start {
		i++
	}
	t.aborted = slices.Delete(t.aborted, 0, i)
}

// Txn marker command:
//
//	[3][flags u8: 1 commit][leader epoch i32][append time ms i64]
//	[producer id i64][producer epoch i16][coordinator epoch i32]
const (
	cmdTxnMarker     byte = 3
	txnMarkerCmdSize      = 28
	flagMarkerCommit byte = 1
)

// TxnMarkerCommand builds a command that appends a transaction marker
// (commit or abort) for the producer, stamped with appendTimeMs.
func TxnMarkerCommand(m TxnMarker, leaderEpoch int32, appendTimeMs int64) []byte {
	var flags byte
	if m.Commit {
		flags = flagMarkerCommit
	}
	b := make([]byte, 0, txnMarkerCmdSize)
	b = append(b, cmdTxnMarker, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(leaderEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(appendTimeMs))
	b = binary.BigEndian.AppendUint64(b, uint64(m.ProducerID))
	b = binary.BigEndian.AppendUint16(b, uint16(m.ProducerEpoch))
	return binary.BigEndian.AppendUint32(b, uint32(m.CoordinatorEpoch))
}

// applyMarker appends the control batch of a txn marker command at next.
// As in Kafka (ProducerAppendInfo.appendEndTxnMarker), a marker of an older
// producer epoch is refused, and so is one from an older coordinator epoch;
// a marker for a producer without an ongoing transaction here is written
// all the same (it is harmless). A newer epoch becomes the producer's.
func (p *PartitionSM) applyMarker(frame []byte, next int64, cmd []byte) ([]byte, int64, sm.Result) {
	if len(cmd) != txnMarkerCmdSize {
		return frame, next, sm.Result{Data: []byte{ResultBadCommand}}
	}
	be := binary.BigEndian
	leaderEpoch := int32(be.Uint32(cmd[2:]))
	ts := int64(be.Uint64(cmd[6:]))
	m := TxnMarker{
		Commit:           cmd[1]&flagMarkerCommit != 0,
		ProducerID:       int64(be.Uint64(cmd[14:])),
		ProducerEpoch:    int16(be.Uint16(cmd[22:])),
		CoordinatorEpoch: int32(be.Uint32(cmd[24:])),
	}
	if m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return frame, next, sm.Result{Data: []byte{ResultBadCommand}}
	}
	if st, ok := p.producers[m.ProducerID]; ok && m.ProducerEpoch < st.epoch {
		return frame, next, sm.Result{Data: []byte{ResultInvalidProducerEpoch}}
	}
	if p.txns.fencedCoordinator(m.ProducerID, m.CoordinatorEpoch) {
		return frame, next, sm.Result{Data: []byte{ResultCoordinatorFenced}}
	}
	frame = AppendTxnMarker(frame, m, next, leaderEpoch, ts)
	p.noteMarker(m, next, ts)
	if p.epochs.assign(leaderEpoch, next) {
		p.epochsDirty = true
	}
	return frame, next + 1, sm.Result{Value: uint64(next)}
}

// noteMarker applies a marker written at offset with timestamp ts to the
// producer and transaction tables (from Update and from the rebuild scan).
func (p *PartitionSM) noteMarker(m TxnMarker, offset, ts int64) {
	p.prodMu.Lock()
	p.producers.bump(m.ProducerID, m.ProducerEpoch, ts)
	p.prodMu.Unlock()
	p.txns.end(m.ProducerID, m.Commit, m.CoordinatorEpoch, offset)
}

// bump applies a marker of the producer's epoch written at ts: a newer
// epoch becomes its current one (clearing the cached batches, whose
// sequences restart); the current one only takes the timestamp, as in
// Kafka; an older one changes nothing.
func (t producerTable) bump(pid int64, epoch int16, ts int64) {
	if st, ok := t[pid]; ok && st.epoch >= epoch {
		if st.epoch == epoch {
			st.lastTimestamp = ts
		}
		return
	}
	t[pid] = &producerState{epoch: epoch, lastTimestamp: ts}
}

// StableOffset returns the log start, the last stable offset and the high
// watermark, read together.
func (p *PartitionSM) StableOffset() (start, lso, end int64, err error) {
	err = p.reader(func(l *segment.Log) error {
		start, end = l.StartOffset(), l.EndOffset()
		lso = min(p.txns.stable(start, end), end)
		return nil
	})
	return start, lso, end, err
}

// AbortedTxns lists the aborted transactions overlapping the offsets
// [from, upTo), oldest marker first.
func (p *PartitionSM) AbortedTxns(from, upTo int64) (out []AbortedTxn, err error) {
	err = p.reader(func(*segment.Log) error {
		out = p.txns.abortedIn(from, upTo)
		return nil
	})
	return out, err
}

// scanBatch applies one stored batch during a rebuild: to the transaction
// state if txn, to the producer table if tail.
func (p *PartitionSM) scanBatch(h *segment.BatchHeader, b []byte, txn, tail bool) {
	if h.IsControl() {
		m, err := ParseTxnMarker(h, b)
		switch {
		case err != nil:
			p.log.Error("rebuild transaction state: unreadable control batch", "offset", h.BaseOffset, "err", err)
		case txn:
			p.noteMarker(m, h.BaseOffset, h.MaxTimestamp)
		case tail:
			p.prodMu.Lock()
			p.producers.bump(m.ProducerID, m.ProducerEpoch, h.MaxTimestamp)
			p.prodMu.Unlock()
		}
		return
	}
	if txn && IsTransactional(h) && h.ProducerID >= 0 {
		p.txns.begin(h.ProducerID, h.ProducerEpoch, h.BaseOffset)
	}
	if tail {
		p.prodMu.Lock()
		p.producers.record(h, h.BaseOffset, h.MaxTimestamp)
		p.prodMu.Unlock()
	}
}
