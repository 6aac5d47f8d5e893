package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-io/chronik/internal/errs"
	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// ErrCoordinatorFenced: a transaction marker from a transaction coordinator
// epoch older than the last one the partition saw (Kafka's
// TRANSACTION_COORDINATOR_FENCED).
var ErrCoordinatorFenced = errs.ErrCoordinatorFenced

// ErrInvalidTxnState: a non-transactional batch from a producer with a
// transaction ongoing on the partition (Kafka's INVALID_TXN_STATE).
var ErrInvalidTxnState = errs.ErrInvalidTxnState

// AbortedTxn is an aborted transaction of one producer on a partition: its
// records lie in [FirstOffset, LastOffset), LastOffset being the offset of
// its abort marker. A read_committed reader drops the producer's
// transactional batches from FirstOffset up to the marker.
type AbortedTxn = shards.AbortedTxn

// WriteTxnMarker ends the producer's transaction on a partition, on its
// leader: it appends a Kafka transaction control batch (commit or abort,
// with the coordinator epoch) through Raft, like a produce, and returns
// once it is applied. The transaction's records become stable (the last
// stable offset moves past them); an abort also enters them in the
// partition's aborted-transaction index, which read_committed fetches
// return. As in Kafka, a marker for a producer without an ongoing
// transaction on the partition is written all the same, and a marker of a
// newer producer epoch makes that epoch the producer's (its older batches
// are fenced from then on).
//
// This is the partition side of Kafka's WriteTxnMarkers. The transaction
// coordinator (package coordinator) calls it for every partition of a
// transaction; where this broker holds no replica of the partition, the
// kafka package sends the marker to the leader's broker as a
// WriteTxnMarkers request, whose handler calls this method there.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError (only when
// this broker runs no replica of the partition: a follower replica
// forwards the marker to the leader through Raft; Leader is then the
// leader __meta last recorded), ErrNotReady, ErrInvalidRecord (a negative producer id or epoch),
// ErrInvalidProducerEpoch (older than the producer's epoch on the
// partition), ErrCoordinatorFenced, ErrTimeout (the marker may still be
// written), ErrStorage, ErrClosed.
func (e *Engine) WriteTxnMarker(ctx context.Context, topic string, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error {
	if producerID < 0 || producerEpoch < 0 {
		return fmt.Errorf("topic %q partition %d: txn marker for producer %d epoch %d: %w", topic, partition, producerID, producerEpoch, ErrInvalidRecord)
	}
	p, _, epoch, err := e.awaitLeaderOf(ctx, topic, partition, e.leaderWait())
	forwarded := false
	var nl *NotLeaderError
	if errors.As(err, &nl) && nl.Leader != 0 {
		// The transaction coordinator writes markers to every partition of
		// a transaction from wherever it runs: a broker holding a follower
		// replica proposes through it, and Raft forwards the proposal to
		// the leader.
		_, part, rerr := e.resolve(topic, partition)
		if rerr == nil {
			if lp := e.local(part.Shard); lp != nil {
				p, epoch, err, forwarded = lp, int32(nl.Epoch), nil, true
			}
		}
	}
	if err != nil {
		return err
	}
	if err := e.disk.admit(); err != nil {
		return fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	wait := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, e.cfg.ProduceTimeout)
		defer cancel()
	}
	select {
	case p.inflight <- struct{}{}:
	case <-wait.Done():
		return fmt.Errorf("topic %q partition %d: waiting for an in-flight slot: %w", topic, partition, ErrTimeout)
	case <-e.closing:
		return ErrClosed
	}
	pr := &pendingProposal{topic: topic, partition: partition, p: p, epoch: epoch, marker: true, forwarded: forwarded,
		now: time.Now().UnixMilli()}
	pr.cmd = shards.TxnMarkerCommand(shards.TxnMarker{ProducerID: producerID, ProducerEpoch: producerEpoch,
		Commit: commit, CoordinatorEpoch: coordinatorEpoch}, epoch, pr.now)
	pp, err := e.proposeAsync(ctx, pr)
	if err != nil {
		return err
	}
	_, err = pp.Wait(ctx)
	return err
}

// committedView cuts batches read from offset at the last stable offset and
// lists the aborted transactions overlapping what is left.
func (p *partition) committedView(b []byte, offset, lso int64) ([]byte, []AbortedTxn, error) {
	n := 0
	last := int64(-1)
	for n < len(b) {
		h, err := segment.ParseBatchHeader(b[n:])
		if err != nil || h.BaseOffset >= lso {
			break
		}
		last = h.LastOffset()
		n += h.Size()
	}
	if n == 0 {
		return nil, nil, nil
	}
	ab, err := p.sm.AbortedTxns(offset, last+1)
	return b[:n], ab, err
}

// ProducerState is one producer's state on a partition (Kafka's
// DescribeProducers): epoch, last sequence and timestamp, coordinator epoch
// of its last marker, first offset of its ongoing transaction (-1 if none).
type ProducerState = shards.ProducerState

// Producers lists the producers a partition knows, by producer id, on its
// leader: those that wrote idempotent or transactional batches recently
// (the partition rebuilds its producer table from the log tail when a
// replica opens) and any with a transaction ongoing.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError, ErrNotReady,
// ErrStorage (a quarantined replica), ErrClosed.
func (e *Engine) Producers(topic string, partition int32) ([]ProducerState, error) {
	p, _, _, err := e.leaderOf(topic, partition)
	if err != nil {
		return nil, err
	}
	ps, err := p.sm.Producers()
	if err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	return ps, nil
}
