package shards

import "github.com/chronik-io/chronik/segment"

// Idempotent producer de-duplication, as Kafka does it: per producer id the
// partition remembers the epoch and the last maxCachedBatches batches
// (first sequence, last sequence, base offset). A batch equal to a cached
// one is a duplicate and answers with its original offset; a batch whose
// first sequence does not follow the last one is out of order; an older
// epoch is fenced.
//
// The state is not persisted separately: Open and RecoverFromSnapshot
// rebuild it by scanning the tail of the log (see PartitionSM.rebuild), so
// it survives restarts for every producer that wrote recently.

const maxCachedBatches = 5

type seqBatch struct {
	first, last int32
	base        int64
}

type producerState struct {
	epoch   int16
	batches []seqBatch // oldest first, at most maxCachedBatches
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

// record notes an accepted batch written at base.
func (t producerTable) record(h *segment.BatchHeader, base int64) {
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
}
