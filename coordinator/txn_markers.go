package coordinator

// Completing transactions and aborting those open past their timeout.
//
// A transaction in PrepareCommit or PrepareAbort has a goroutine (one per
// transaction, tracked by TxnCoordinator.wg) that writes its marker to every
// partition through the MarkerWriter, in parallel, each retried with backoff
// until it is written or the partition no longer exists, and then writes the
// CompleteCommit/CompleteAbort record. It stops when leadership of the
// __transaction_state partition is lost: the next leader finds the
// transaction prepared and starts again (txn_load.go).

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

const maxMarkerBackoff = 5 * time.Second

// complete starts finishing t, which is locked and prepared.
func (tp *txnPartition) complete(t *txnMeta) {
	prepared := t.state
	commit := prepared == kmsg.TransactionStatePrepareCommit
	pid, epoch := t.producerID, t.epoch
	parts := make([]topicPartition, 0, len(t.parts))
	for p := range t.parts {
		parts = append(parts, p)
	}
	tc := tp.tc
	tc.wg.Add(1)
	go func() {
		defer tc.wg.Done()
		if !tp.writeMarkers(t.id, pid, epoch, commit, parts) {
			return
		}
		done := kmsg.TransactionStateCompleteAbort
		if commit {
			done = kmsg.TransactionStateCompleteCommit
		}
		backoff := tc.cfg.MarkerRetryBackoff
		for {
			t.mu.Lock()
			if t.dead || t.producerID != pid || t.epoch != epoch || t.state != prepared {
				t.mu.Unlock()
				return
			}
			now := tc.now()
			err := tp.write(t.record(done, epoch, nil, time.Time{}, now))
			if err == nil {
				t.state, t.parts, t.start, t.lastUpdate = done, map[topicPartition]struct{}{}, time.Time{}, now
				t.mu.Unlock()
				return
			}
			t.mu.Unlock()
			tc.log.Warn("write transaction completion failed; retrying", "transactional_id", t.id, "err", err)
			if !sleepCtx(tp.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxMarkerBackoff)
		}
	}()
}

// writeMarkers writes the marker to every partition, and reports false if
// leadership was lost first.
func (tp *txnPartition) writeMarkers(id string, pid int64, epoch int16, commit bool, parts []topicPartition) bool {
	tc := tp.tc
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := tc.cfg.MarkerRetryBackoff
			for tp.ctx.Err() == nil {
				ctx, cancel := context.WithTimeout(tp.ctx, 15*time.Second)
				err := tc.mw.WriteTxnMarker(ctx, p.topic, p.partition, pid, epoch, commit, tp.epoch)
				cancel()
				if err == nil {
					return
				}
				if errors.Is(err, engine.ErrUnknownTopic) || errors.Is(err, engine.ErrUnknownPartition) {
					tc.log.Warn("transaction marker not written: partition gone", "transactional_id", id,
						"topic", p.topic, "partition", p.partition)
					return
				}
				tc.log.Debug("write transaction marker failed; retrying", "transactional_id", id,
					"topic", p.topic, "partition", p.partition, "err", err)
				if !sleepCtx(tp.ctx, backoff) {
					return
				}
				backoff = min(2*backoff, maxMarkerBackoff)
			}
		}()
	}
	wg.Wait()
	return tp.ctx.Err() == nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// bumpedEpoch is the epoch that fences the current one, or the current one
// when it cannot grow (the producer then gets a new id at its next init).
func bumpedEpoch(e int16) int16 {
	if e >= math.MaxInt16-1 {
		return e
	}
	return e + 1
}

// abortTimedOut aborts every Ongoing transaction open past its timeout,
// bumping its epoch so that the producer is fenced.
func (tc *TxnCoordinator) abortTimedOut() {
	now := tc.now()
	for _, tp := range tc.set.loaded() {
		for _, t := range tp.all() {
			t.mu.Lock()
			if !t.dead && t.state == kmsg.TransactionStateOngoing &&
				now.Sub(t.start) > time.Duration(t.timeoutMs)*time.Millisecond {
				if err := tp.prepareAbort(t, bumpedEpoch(t.epoch), now); err != nil {
					tc.log.Warn("abort of timed out transaction failed", "transactional_id", t.id, "err", err)
				} else {
					tc.log.Info("aborting timed out transaction", "transactional_id", t.id,
						"producer_id", t.producerID, "epoch", t.epoch)
				}
			}
			t.mu.Unlock()
		}
	}
}

// prepareAbort writes t's PrepareAbort record at epoch, applies it and
// starts the markers. t is locked and Ongoing.
func (tp *txnPartition) prepareAbort(t *txnMeta, epoch int16, now time.Time) error {
	s := kmsg.TransactionStatePrepareAbort
	if err := tp.write(t.record(s, epoch, t.parts, t.start, now)); err != nil {
		return err
	}
	t.state, t.epoch, t.lastUpdate = s, epoch, now
	tp.complete(t)
	return nil
}
