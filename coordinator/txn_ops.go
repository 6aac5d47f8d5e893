package coordinator

// The operations of the transaction coordinator, with Kafka's error codes:
//
//   - InitProducerID gives a transactional id a producer id (allocated on
//     first use) and a new epoch on every call, fencing older epochs. An
//     Ongoing transaction of the previous epoch is aborted first: the call
//     answers CONCURRENT_TRANSACTIONS and the client retries.
//   - AddPartitions and AddOffsets put partitions in the transaction (state
//     Ongoing); VerifyPartitions (KIP-890) only checks.
//   - EndTxn writes PrepareCommit or PrepareAbort and answers; the markers
//     and the Complete record follow (txn_markers.go).
//
// A producer id that does not match the id's is INVALID_PRODUCER_ID_MAPPING,
// an epoch that does not match is PRODUCER_FENCED (handlers of old versions
// turn it into INVALID_PRODUCER_EPOCH), a transaction being completed is
// CONCURRENT_TRANSACTIONS.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnPartitions lists partitions by topic.
type TxnPartitions map[string][]int32

// InitProducerID returns the producer id and the new epoch of txnID.
// producerID and producerEpoch are the producer's current ones (-1 if none,
// KIP-360): a retry of the last call gets its answer again, any other pair
// but the current one is PRODUCER_FENCED. A timeout outside (0,
// MaxTimeout] is INVALID_TRANSACTION_TIMEOUT.
func (tc *TxnCoordinator) InitProducerID(ctx context.Context, txnID string, timeoutMs int32, producerID int64, producerEpoch int16) (int64, int16, *kerr.Error) {
	if txnID == "" {
		return -1, -1, kerr.InvalidRequest
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > tc.cfg.MaxTimeout {
		return -1, -1, kerr.InvalidTransactionTimeout
	}
	tp, e := tc.partitionOf(txnID)
	if e != nil {
		return -1, -1, e
	}
	t := tp.lookup(txnID, true)
	if t == nil {
		return -1, -1, kerr.NotCoordinator
	}
	defer t.mu.Unlock()
	now := tc.now()
	if t.producerID < 0 {
		id, _, err := tc.be.AllocateProducerID(ctx)
		if err != nil {
			tp.forget(t)
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		t.timeoutMs = timeoutMs
		t.producerID = id
		if err := tp.write(t.record(kmsg.TransactionStateEmpty, 0, nil, time.Time{}, now)); err != nil {
			t.producerID = -1
			tp.forget(t)
			return -1, -1, writeError(err)
		}
		t.epoch, t.state, t.lastUpdate = 0, kmsg.TransactionStateEmpty, now
		return t.producerID, t.epoch, nil
	}
	switch t.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return -1, -1, kerr.ConcurrentTransactions
	}
	if producerID >= 0 {
		switch {
		case producerID == t.producerID && producerEpoch == t.epoch:
		case producerID == t.prevProducerID && producerEpoch == t.prevEpoch && t.state == kmsg.TransactionStateEmpty:
			return t.producerID, t.epoch, nil // a retry of the last call
		default:
			return -1, -1, kerr.ProducerFenced
		}
	}
	if t.state == kmsg.TransactionStateOngoing {
		// Fence the old producer and abort its transaction; the client
		// retries once the abort is complete.
		if err := tp.prepareAbort(t, bumpedEpoch(t.epoch), now); err != nil {
			return -1, -1, writeError(err)
		}
		t.prevProducerID, t.prevEpoch = -1, -1
		return -1, -1, kerr.ConcurrentTransactions
	}
	prevID, prevEpoch := t.producerID, t.epoch
	oldTimeout := t.timeoutMs
	epoch := t.epoch + 1
	if bumpedEpoch(t.epoch) == t.epoch {
		id, _, err := tc.be.AllocateProducerID(ctx)
		if err != nil {
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		t.producerID, epoch = id, 0
	}
	t.timeoutMs = timeoutMs
	if err := tp.write(t.record(kmsg.TransactionStateEmpty, epoch, nil, time.Time{}, now)); err != nil {
		t.producerID, t.timeoutMs = prevID, oldTimeout
		return -1, -1, writeError(err)
	}
	t.prevProducerID, t.prevEpoch = prevID, prevEpoch
	t.epoch, t.state, t.lastUpdate = epoch, kmsg.TransactionStateEmpty, now
	t.parts, t.start = map[topicPartition]struct{}{}, time.Time{}
	return t.producerID, t.epoch, nil
}

// producer returns txnID's state, locked, if producerID and epoch are its
// current producer.
func (tc *TxnCoordinator) producer(txnID string, producerID int64, epoch int16) (*txnPartition, *txnMeta, *kerr.Error) {
	tp, e := tc.partitionOf(txnID)
	if e != nil {
		return nil, nil, e
	}
	t := tp.lookup(txnID, false)
	if t == nil {
		return nil, nil, kerr.InvalidProducerIDMapping
	}
	switch {
	case t.producerID != producerID:
		e = kerr.InvalidProducerIDMapping
	case t.epoch != epoch:
		e = kerr.ProducerFenced
	}
	if e != nil {
		t.mu.Unlock()
		return nil, nil, e
	}
	return tp, t, nil
}

// AddPartitions adds partitions to txnID's transaction, starting one if none
// is open. The answer is the same for every partition.
func (tc *TxnCoordinator) AddPartitions(txnID string, producerID int64, epoch int16, parts TxnPartitions) *kerr.Error {
	tp, t, e := tc.producer(txnID, producerID, epoch)
	if e != nil {
		return e
	}
	defer t.mu.Unlock()
	switch t.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return kerr.ConcurrentTransactions
	case kmsg.TransactionStateDead:
		return kerr.InvalidTxnState
	}
	ongoing := t.state == kmsg.TransactionStateOngoing
	all := map[topicPartition]struct{}{}
	if ongoing {
		for p := range t.parts {
			all[p] = struct{}{}
		}
	}
	grew := false
	for topic, ps := range parts {
		for _, p := range ps {
			k := topicPartition{topic, p}
			if _, ok := all[k]; !ok {
				all[k] = struct{}{}
				grew = true
			}
		}
	}
	if ongoing && !grew {
		return nil
	}
	now := tc.now()
	start := t.start
	if !ongoing {
		start = now
	}
	if err := tp.write(t.record(kmsg.TransactionStateOngoing, t.epoch, all, start, now)); err != nil {
		return writeError(err)
	}
	t.state, t.parts, t.start, t.lastUpdate = kmsg.TransactionStateOngoing, all, start, now
	return nil
}

// VerifyPartitions checks, without changing anything (KIP-890), that the
// partitions are in txnID's Ongoing transaction, and returns those that are
// not.
func (tc *TxnCoordinator) VerifyPartitions(txnID string, producerID int64, epoch int16, parts TxnPartitions) (TxnPartitions, *kerr.Error) {
	_, t, e := tc.producer(txnID, producerID, epoch)
	if e != nil {
		return nil, e
	}
	defer t.mu.Unlock()
	missing := TxnPartitions{}
	for topic, ps := range parts {
		for _, p := range ps {
			if _, ok := t.parts[topicPartition{topic, p}]; !ok || t.state != kmsg.TransactionStateOngoing {
				missing[topic] = append(missing[topic], p)
			}
		}
	}
	return missing, nil
}

// AddOffsets adds partition offsetsPartition of __consumer_offsets (the
// group's, Coordinator.OffsetsPartition) to txnID's transaction, so that
// offsets committed in it (TxnOffsetCommit) get its marker.
func (tc *TxnCoordinator) AddOffsets(txnID string, producerID int64, epoch int16, offsetsPartition int32) *kerr.Error {
	if tc.be == nil {
		return kerr.CoordinatorNotAvailable
	}
	return tc.AddPartitions(txnID, producerID, epoch, TxnPartitions{OffsetsTopic: {offsetsPartition}})
}

// EndTxn commits or aborts txnID's transaction: it answers once the
// PrepareCommit or PrepareAbort record is written; the markers follow. A
// retry of a completed EndTxn succeeds; ending with the other outcome, or
// with no transaction open, is INVALID_TXN_STATE.
func (tc *TxnCoordinator) EndTxn(txnID string, producerID int64, epoch int16, commit bool) *kerr.Error {
	tp, t, e := tc.producer(txnID, producerID, epoch)
	if e != nil {
		return e
	}
	defer t.mu.Unlock()
	switch t.state {
	case kmsg.TransactionStateOngoing:
		s := kmsg.TransactionStatePrepareAbort
		if commit {
			s = kmsg.TransactionStatePrepareCommit
		}
		now := tc.now()
		if err := tp.write(t.record(s, t.epoch, t.parts, t.start, now)); err != nil {
			return writeError(err)
		}
		t.state, t.lastUpdate = s, now
		tp.complete(t)
		return nil
	case kmsg.TransactionStatePrepareCommit:
		if commit {
			return kerr.ConcurrentTransactions
		}
	case kmsg.TransactionStatePrepareAbort:
		if !commit {
			return kerr.ConcurrentTransactions
		}
	case kmsg.TransactionStateCompleteCommit:
		if commit {
			return nil
		}
	case kmsg.TransactionStateCompleteAbort:
		if !commit {
			return nil
		}
	}
	return kerr.InvalidTxnState
}
