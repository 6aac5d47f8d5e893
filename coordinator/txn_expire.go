package coordinator

// Keeping __transaction_state bounded: transactional ids unused for
// TxnConfig.IDExpiration are deleted (a tombstone, as Kafka's
// transactional.id.expiration.ms), and each partition is compacted like
// __consumer_offsets (compact.go) so that a new leader replays only the
// live ids.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// expireIDs deletes the ids with no transaction open whose last update is
// older than IDExpiration.
func (tc *TxnCoordinator) expireIDs() {
	now := tc.now()
	for _, tp := range tc.set.loaded() {
		for _, t := range tp.all() {
			t.mu.Lock()
			if !t.dead && t.expired(now.Sub(t.lastUpdate), tc.cfg.IDExpiration) {
				k := kmsg.TxnMetadataKey{Version: recTxnKey, TransactionalID: t.id}
				if err := tp.write(engine.Record{Key: k.AppendTo(nil)}); err != nil {
					tc.log.Warn("expiring transactional id failed", "transactional_id", t.id, "err", err)
				} else {
					tc.log.Info("expired transactional id", "transactional_id", t.id, "producer_id", t.producerID)
					t.dead = true
					tp.mu.Lock()
					if tp.txns[t.id] == t {
						delete(tp.txns, t.id)
					}
					tp.mu.Unlock()
				}
			}
			t.mu.Unlock()
		}
	}
}

// expired reports whether t, idle for idle, is past its expiration: only
// an id with no transaction open or being completed expires.
func (t *txnMeta) expired(idle, expiration time.Duration) bool {
	switch t.state {
	case kmsg.TransactionStateEmpty, kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		return t.producerID >= 0 && idle >= expiration
	}
	return false
}

// compact compacts every loaded __transaction_state partition that needs
// it.
func (tc *TxnCoordinator) compact() {
	for _, tp := range tc.set.loaded() {
		before, after, err := tp.compactIfNeeded(tp.ctx, tc.be, TxnTopic, tp.p, func() bool { return false })
		switch {
		case err != nil && tp.ctx.Err() == nil:
			tc.log.Warn("compacting partition failed", "partition", tp.p, "err", err)
		case err == nil && before > 0:
			tc.log.Info("compacted partition", "partition", tp.p, "records", before, "live", after)
		}
	}
}
