package bench

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The transactional load (VerifyConfig.Transactional). Each producer runs
// one transaction at a time: begin, send up to TxnRecords records, wait for
// their answers (Flush), then end it. What the producer learns is the
// transaction's outcome, which decides what the checker may read:
//
//   - aborted on purpose (every AbortEvery-th transaction, decided before
//     its records are sent, which carry flagAbort), or because a record of
//     it was not acknowledged, or because the commit was refused before it
//     was sent (kerr.OperationNotAttempted): none of its records may be read;
//   - committed (EndTransaction(TryCommit) returned nil): every record of it
//     must be read, exactly once;
//   - unknown (the commit returned any other error): all of its records or
//     none.
//
// The deliberately aborted records are flushed before the abort, so they
// are in the log and read_committed has to hide them.

// verifyTxnBackoff is the pause after a transaction could not begin, so a
// producer in a failed state does not spin until the load ends.
const verifyTxnBackoff = 250 * time.Millisecond

// verifyTxnTimeout is the transaction timeout the producers ask for: time
// to send a transaction's records at the configured rate, wait for their
// answers (DeliveryTimeout) and commit, so the broker never aborts a healthy
// transaction, capped at 15 minutes, Kafka's default
// transaction.max.timeout.ms. With the defaults it is 40s, below the read
// timeout, so a transaction a failure left open is aborted by the broker
// before the read-back gives up waiting for it.
func verifyTxnTimeout(cfg VerifyConfig) time.Duration {
	var fill time.Duration
	if cfg.Rate > 0 {
		fill = time.Duration(float64(cfg.TxnRecords*cfg.Producers) / cfg.Rate * float64(time.Second))
	}
	return min(cfg.DeliveryTimeout+fill+10*time.Second, 15*time.Minute)
}

// txnLoop sends records on p in transactions until the load ends or ctx
// does; the transaction under way then ends early, as it would have.
func (l *verifyLoad) txnLoop(ctx, pctx context.Context, p *verifyProducer) {
	pace := l.newPacer(p)
	for n := 1; ; n++ {
		deliberate := l.cfg.AbortEvery > 0 && n%l.cfg.AbortEvery == 0
		if err := p.cl.BeginTransaction(); err != nil {
			l.produceError("begin transaction: " + err.Error())
			// A failed abort can leave the last transaction open in
			// the client: try again to end it.
			l.abortTxn(pctx, p, "abort transaction before beginning one")
			select {
			case <-ctx.Done():
				return
			case <-time.After(verifyTxnBackoff):
			}
			if !time.Now().Before(l.end) {
				return
			}
			continue
		}
		flags := flagTxn
		if deliberate {
			flags |= flagAbort
		}
		t := sentTxn{deliberate: deliberate}
		more := true
		for t.n < uint64(l.cfg.TxnRecords) {
			slot, now, ok := pace.next(ctx)
			if !ok {
				more = false
				break
			}
			seq := l.send(pctx, p, pace.rng, slot, now, flags)
			if t.n == 0 {
				t.first = seq
			}
			t.n++
		}
		if t.n == 0 {
			// Nothing was sent: kgo ends the transaction without a
			// request.
			_ = p.cl.EndTransaction(pctx, kgo.TryAbort)
			return
		}
		t.outcome = l.endTxn(pctx, p, t)
		p.mu.Lock()
		p.txns = append(p.txns, t)
		p.mu.Unlock()
		if !more {
			return
		}
	}
}

// endTxn waits for the answers to t's records and ends t, and returns its
// outcome.
func (l *verifyLoad) endTxn(pctx context.Context, p *verifyProducer, t sentTxn) txnOutcome {
	// Bounded like the final flush of produce: kgo fails a record once it
	// has waited DeliveryTimeout.
	bound := l.cfg.DeliveryTimeout + 10*time.Second
	fctx, cancel := context.WithTimeout(pctx, bound)
	flushErr := p.cl.Flush(fctx)
	cancel()
	if flushErr != nil {
		// Fail what is still buffered, so it cannot join the next
		// transaction.
		actx, cancel := context.WithTimeout(pctx, bound)
		_ = p.cl.AbortBufferedRecords(actx)
		cancel()
	}
	if t.deliberate || !p.allAcked(t) {
		l.abortTxn(pctx, p, "abort transaction")
		return txnAborted
	}
	ectx, cancel := context.WithTimeout(pctx, bound)
	err := p.cl.EndTransaction(ectx, kgo.TryCommit)
	cancel()
	if err == nil {
		return txnCommitted
	}
	l.produceError("commit transaction: " + err.Error())
	outcome := txnUnknown
	if errors.Is(err, kerr.OperationNotAttempted) {
		// kgo did not send the commit: the producer id had failed.
		outcome = txnAborted
	}
	// kgo's documented recovery from a failed commit: abort, which bumps
	// the epoch and fences whatever is left of the transaction.
	l.abortTxn(pctx, p, "abort transaction after a failed commit")
	return outcome
}

// abortTxn aborts p's transaction; a failure is counted, not returned: the
// transaction was never committed either way.
func (l *verifyLoad) abortTxn(pctx context.Context, p *verifyProducer, what string) {
	ctx, cancel := context.WithTimeout(pctx, l.cfg.DeliveryTimeout+10*time.Second)
	defer cancel()
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		l.produceError(what + ": " + err.Error())
	}
}

// allAcked reports whether every record of t was acknowledged.
func (p *verifyProducer) allAcked(t sentTxn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.recs[t.first : t.first+t.n] {
		if s.outcome != outcomeAcked {
			return false
		}
	}
	return true
}

// produceError counts an error of the produce phase by message.
func (l *verifyLoad) produceError(msg string) {
	l.mu.Lock()
	l.errs[msg]++
	l.mu.Unlock()
}
