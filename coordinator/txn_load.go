package coordinator

// Loading a __transaction_state partition on becoming its leader, as the
// group coordinator loads __consumer_offsets (load.go): write a load marker,
// replay the log up to it (the last record of an id wins, tombstones
// delete), and only then answer (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
// Transactions found in PrepareCommit or PrepareAbort get their markers
// written again and are completed; markers are idempotent at the
// partitions, so rewriting one already written is harmless.

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// load replays the partition, retrying until it succeeds or leadership is
// lost.
func (tp *txnPartition) load() {
	if _, ok := replayRetrying(tp.ctx, tp.tc.log, TxnTopic, tp.p, tp.epoch, tp.replay); !ok {
		return
	}
	close(tp.loaded)
	tp.resumePrepared()
}

// replay reads the partition up to a fresh load marker and installs the
// transactions. Its error is always transient.
func (tp *txnPartition) replay() (replayStats, error) {
	be := tp.tc.be
	ctx := tp.ctx
	st := replayStats{firstSkipped: -1}
	mctx, cancel := newTimeout(ctx, 10*time.Second)
	res, err := be.Produce(mctx, TxnTopic, tp.p, []engine.Record{loadMarkerRecord()})
	cancel()
	if err != nil {
		return st, fmt.Errorf("write load marker: %w", err)
	}
	end := res.BaseOffset
	lo, err := be.ListOffsets(ctx, TxnTopic, tp.p, engine.Earliest)
	if err != nil {
		return st, fmt.Errorf("log start: %w", err)
	}
	values := map[string]*kmsg.TxnMetadataValue{}
	live := map[string][]byte{}
	apply := func(rec engine.Record, _ batchOwner) {
		if rec.Offset >= end {
			return
		}
		r, err := decodeTxnRecord(rec.Key, rec.Value)
		if err != nil {
			st.skip(1, rec.Offset, err)
			return
		}
		st.records++
		switch {
		case r.marker:
		case r.value == nil:
			delete(values, r.id)
			delete(live, string(rec.Key))
		default:
			values[r.id] = r.value
			live[string(rec.Key)] = rec.Value
		}
	}
	for off := lo.Offset; off < end; {
		fr, err := be.Fetch(ctx, TxnTopic, tp.p, off, engine.FetchOptions{MaxBytes: 4 << 20})
		if err != nil {
			return st, fmt.Errorf("read at offset %d: %w", off, err)
		}
		next := eachStoredBatch(fr.Batches, off, end, apply, nil, st.skip)
		if next <= off {
			return st, fmt.Errorf("no records at offset %d below the load marker at %d", off, end)
		}
		off = next
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.ctx.Err() != nil {
		return st, tp.ctx.Err()
	}
	for id, v := range values {
		t := &txnMeta{id: id}
		t.restore(v)
		tp.txns[id] = t
	}
	tp.reset(live, st.records)
	return st, nil
}

// resumePrepared finishes the transactions the previous leader prepared
// but did not complete.
func (tp *txnPartition) resumePrepared() {
	for _, t := range tp.all() {
		t.mu.Lock()
		if !t.dead && (t.state == kmsg.TransactionStatePrepareCommit || t.state == kmsg.TransactionStatePrepareAbort) {
			tp.complete(t)
		}
		t.mu.Unlock()
	}
}
