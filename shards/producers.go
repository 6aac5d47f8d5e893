package shards

import (
	"cmp"
	"slices"

	"github.com/chronik-io/chronik/segment"
)

// Idempotent producer de-duplication, as Kafka does it: per producer id the
// partition remembers the epoch and the last maxCachedBatches batches
// (first sequence, last sequence, base offset). A batch equal to a cached
// one is a duplicate and answers with its original offset; a batch whose
// first sequence does not follow the last one is out of order; an older
// epoch is fenced.
//
// The state is not persisted separately: Open and RecoverFromSnapshot
// rebuild it by scanning the tail of the log (see PartitionSM.rebuild), so
// it survives restarts for every producer that wrote recently. The last
// timestamp of a producer (DescribeProducers) is the max timestamp of its
// last batch or marker as stored, so the scan derives it too.
//
// The Update goroutine writes the table under PartitionSM.prodMu and reads
// it without; other goroutines read it under prodMu (Producers).

const maxCachedBatches = 5

type seqBatch struct {
	first, last int32
	base        int64
}

type producerState struct {
	epoch   int16
	batches []seqBatch // oldest first, at most maxCachedBatches
	// lastTimestamp is the max timestamp (Unix ms) of the producer's last
	// batch or marker as written: LogAppendTime batches carry the append
	// time there.
	lastTimestamp int64
}

// Outcome of checking one batch against the producer table.
const (
	seqAccept = iota
	seqDuplicate
	seqOutOfOrder
	seqFenced
)

type producerTable map[int64]*producerState

// check decides what to do with a batch. For seqDuplicate it returns the
// original base offset.
func (t producerTable) check(h *segment.BatchHeader) (int, int64) {
	if h.ProducerID < 0 {
		return seqAccept, 0
	}
	st, ok := t[h.ProducerID]
	if h.BaseSequence < 0 {
		// A producer's batch without sequences is written by a
		// coordinator (transactional offset commits): not
		// de-duplicated, but an older epoch is fenced all the same.
		if ok && h.ProducerEpoch < st.epoch {
			return seqFenced, 0
		}
		return seqAccept, 0
	}
	if !ok {
		return seqAccept, 0
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return seqFenced, 0
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return seqOutOfOrder, 0
		}
		return seqAccept, 0
	}
	last := h.LastSequence()
	for _, b := range st.batches {
		if b.first == h.BaseSequence && b.last == last {
			return seqDuplicate, b.base
		}
	}
	if n := len(st.batches); n > 0 {
		want := int32((int64(st.batches[n-1].last) + 1) % (1 << 31))
		if h.BaseSequence != want {
			return seqOutOfOrder, 0
		}
	}
	return seqAccept, 0
}

// record notes an accepted batch written at base with max timestamp ts.
func (t producerTable) record(h *segment.BatchHeader, base, ts int64) {
	if h.ProducerID < 0 || h.BaseSequence < 0 {
		return
	}
	st, ok := t[h.ProducerID]
	if !ok || h.ProducerEpoch != st.epoch {
		st = &producerState{epoch: h.ProducerEpoch}
		t[h.ProducerID] = st
	}
	if len(st.batches) == maxCachedBatches {
		copy(st.batches, st.batches[1:])
		st.batches = st.batches[:maxCachedBatches-1]
	}
	st.batches = append(st.batches, seqBatch{first: h.BaseSequence, last: h.LastSequence(), base: base})
	st.lastTimestamp = ts
}

// ProducerState is one producer's state on a partition, as Kafka's
// DescribeProducers shows it.
type ProducerState struct {
	ProducerID int64
	Epoch      int16
	// LastSequence is the sequence of the last record of its last batch
	// in the current epoch, -1 if none (a marker bumped the epoch).
	LastSequence int32
	// LastTimestamp is the max timestamp (Unix ms) of its last batch or
	// transaction marker; -1 if unknown (only a transaction is known).
	LastTimestamp int64
	// CoordinatorEpoch is the transaction coordinator epoch of the last
	// marker written for it, -1 if none.
	CoordinatorEpoch int32
	// TxnStartOffset is the first offset of its ongoing transaction on the
	// partition, -1 if none.
	TxnStartOffset int64
}

// Producers lists the producers the partition knows, by producer id: those
// of the idempotent producer table (rebuilt from the log tail on open) and
// any with a transaction ongoing. Safe for concurrent use.
func (p *PartitionSM) Producers() (out []ProducerState, err error) {
	err = p.reader(func(*segment.Log) error {
		byID := map[int64]*ProducerState{}
		p.prodMu.Lock()
		for pid, st := range p.producers {
			ps := &ProducerState{ProducerID: pid, Epoch: st.epoch, LastSequence: -1, LastTimestamp: st.lastTimestamp,
				CoordinatorEpoch: -1, TxnStartOffset: -1}
			if n := len(st.batches); n > 0 {
				ps.LastSequence = st.batches[n-1].last
			}
			byID[pid] = ps
		}
		p.prodMu.Unlock()
		t := p.txns
		t.mu.Lock()
		for pid, o := range t.ongoing {
			ps := byID[pid]
			if ps == nil {
				// Its batches lie before the scanned tail.
				ps = &ProducerState{ProducerID: pid, Epoch: o.epoch, LastSequence: -1, LastTimestamp: -1,
					CoordinatorEpoch: -1}
				byID[pid] = ps
			}
			ps.TxnStartOffset = o.first
		}
		for pid, ps := range byID {
			if e, ok := t.coord[pid]; ok {
				ps.CoordinatorEpoch = e
			}
		}
		t.mu.Unlock()
		out = make([]ProducerState, 0, len(byID))
		for _, ps := range byID {
			out = append(out, *ps)
		}
		slices.SortFunc(out, func(a, b ProducerState) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
		return nil
	})
	return out, err
}
