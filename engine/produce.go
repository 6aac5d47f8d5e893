package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// resolve finds a topic partition in __meta.
func (e *Engine) resolve(topic string, index int32) (*shards.Topic, shards.Partition, error) {
	t, ok := e.meta.State().Topics[topic]
	if !ok {
		return nil, shards.Partition{}, fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
	}
	if index < 0 || int(index) >= len(t.Partitions) {
		return nil, shards.Partition{}, fmt.Errorf("topic %q partition %d of %d: %w", topic, index, len(t.Partitions), ErrUnknownPartition)
	}
	return t, t.Partitions[index], nil
}

// leaderOf returns the local replica of a partition this broker leads, with
// the leader epoch, or a *NotLeaderError naming the leader, or ErrNotReady
// while the partition has no leader.
func (e *Engine) leaderOf(topic string, index int32) (*partition, *shards.Topic, int32, error) {
	return e.awaitLeaderOf(context.Background(), topic, index, 0)
}

// awaitLeaderOf is leaderOf, but where this broker hosts a replica of a
// partition that has no leader just now (an election or a leadership
// transfer under way) it waits for one, within ctx and at most maxWait.
func (e *Engine) awaitLeaderOf(ctx context.Context, topic string, index int32, maxWait time.Duration) (*partition, *shards.Topic, int32, error) {
	t, part, err := e.resolve(topic, index)
	if err != nil {
		return nil, nil, 0, err
	}
	p := e.local(part.Shard)
	if p == nil {
		if q := e.quarantined(part.Shard); q != nil && q.State == QuarantineHeld {
			return nil, nil, 0, fmt.Errorf("topic %q partition %d: replica quarantined (%s: %s): %w", topic, index, q.File, q.Reason, ErrStorage)
		}
		rec := e.meta.State().Leaders[part.Shard]
		if rec.Leader == 0 {
			return nil, nil, 0, fmt.Errorf("topic %q partition %d: %w", topic, index, ErrNotReady)
		}
		return nil, nil, 0, &NotLeaderError{Leader: shards.BrokerOf(rec.Leader), Epoch: rec.Epoch}
	}
	leader, term := e.leaderHint(part.Shard, p.replica)
	if leader == 0 && maxWait > 0 && !e.quorumUnreachable(part.Replicas) {
		leader, term = e.awaitLeader(ctx, part.Shard, p.replica, 0, maxWait)
	}
	if leader == 0 {
		return nil, nil, 0, fmt.Errorf("topic %q partition %d: %w", topic, index, ErrNotReady)
	}
	if leader != p.replica {
		return nil, nil, 0, &NotLeaderError{Leader: shards.BrokerOf(leader), Epoch: term}
	}
	return p, t, int32(term), nil
}

// Produce encodes recs as one record batch (no compression, no producer id)
// and appends it like ProduceBatch. A zero Record.Timestamp means now.
func (e *Engine) Produce(ctx context.Context, topic string, partition int32, recs []Record) (ProduceResult, error) {
	if len(recs) == 0 {
		return ProduceResult{}, fmt.Errorf("produce with no records: %w", ErrInvalidRecord)
	}
	return e.ProduceBatch(ctx, topic, partition, EncodeBatch(recs, time.Now()))
}

// ProduceBatch appends one or more concatenated Kafka v2 record batches (a
// Produce request partition's Records field, as is) on the partition leader.
// It validates the batches (magic 2, CRC-32C, record count, size against the
// topic's max.message.bytes, no control batch) in one walk over their
// headers, without decoding records except on a compacted topic, where
// every record needs a key: there the records of a compressed batch are
// decompressed to at most max.message.bytes, and a batch expanding further
// is refused with ErrRecordTooLarge. It proposes the batches as one Raft
// entry and returns once the entry is committed on a quorum and applied:
// offsets are assigned then. Idempotent batches (producer id >= 0) are
// de-duplicated: a retry of one of the producer's last 5 batches returns the
// original base offset.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError (matches
// ErrNotLeader), ErrNotReady, ErrCorruptBatch, ErrRecordTooLarge,
// ErrInvalidRecord, ErrOutOfOrderSequence, ErrInvalidProducerEpoch,
// ErrInvalidTxnState (a plain batch from a producer in a transaction),
// ErrTimeout (the batch may still be committed), ErrStorage, ErrClosed.
func (e *Engine) ProduceBatch(ctx context.Context, topic string, partition int32, batches []byte) (ProduceResult, error) {
	pp, err := e.ProduceBatchAsync(ctx, topic, partition, batches)
	if err != nil {
		return ProduceResult{}, err
	}
	return pp.Wait(ctx)
}

// pendingProposal is a validated produce holding an in-flight slot.
type pendingProposal struct {
	topic     string
	partition int32
	p         *partition
	cmd       []byte
	sum       shards.BatchSummary // from validation, for the hooks
	epoch     int32               // leader epoch (Raft term) the produce was proposed in
	logAppend bool
	// forwarded: proposed on a follower replica, which Raft forwards to
	// the leader (transaction markers, txn.go).
	forwarded bool
	now       int64
	marker    bool // a transaction marker, not a produce (no hooks)
	once      sync.Once
}

func (pr *pendingProposal) release() { pr.once.Do(func() { <-pr.p.inflight }) }

// prepareProduce checks leadership, validates the batches (parsing each
// header once; for a compacted topic the same walk checks the records'
// keys), takes an in-flight slot (waiting within ctx) and builds the Raft
// command.
func (e *Engine) prepareProduce(ctx context.Context, topic string, partition int32, batches []byte) (*pendingProposal, error) {
	p, t, epoch, err := e.awaitLeaderOf(ctx, topic, partition, e.leaderWait())
	if err != nil {
		return nil, err
	}
	if err := e.disk.admit(); err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	if err := e.admitReplicas(t.Partitions[partition].Replicas); err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	tc, _ := ParseTopicConfigs(t.Configs)
	tc = tc.withDefaults()
	var each func(segment.BatchHeader, []byte) error
	if strings.Contains(tc.CleanupPolicy, "compact") {
		limit := int(tc.MaxMessageBytes) // the bound on decompressed records too
		if limit <= 0 {
			limit = segment.MaxDecompressedRecords
		}
		each = func(h segment.BatchHeader, b []byte) error { return requireKeys(h, b, limit) }
	}
	sum, err := shards.ValidateBatches(batches, int(tc.MaxMessageBytes), each)
	if err != nil {
		return nil, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
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
		return nil, fmt.Errorf("topic %q partition %d: waiting for an in-flight slot: %w", topic, partition, ErrTimeout)
	case <-e.closing:
		return nil, ErrClosed
	}
	pr := &pendingProposal{topic: topic, partition: partition, p: p, epoch: epoch, sum: sum,
		logAppend: tc.MessageTimestampType == "LogAppendTime", now: time.Now().UnixMilli()}
	pr.cmd = shards.AppendCommand(make([]byte, 0, len(batches)+16), batches, epoch, pr.now, pr.logAppend)
	return pr, nil
}

// result converts a partition entry's result.
func (pr *pendingProposal) result(res sm.Result) (ProduceResult, error) {
	if len(res.Data) > 0 {
		var perr error
		switch res.Data[0] {
		case shards.ResultOutOfOrderSequence:
			perr = ErrOutOfOrderSequence
		case shards.ResultInvalidProducerEpoch:
			perr = ErrInvalidProducerEpoch
		case shards.ResultCoordinatorFenced:
			perr = ErrCoordinatorFenced
		case shards.ResultInvalidTxnState:
			perr = ErrInvalidTxnState
		case shards.ResultCorrupt, shards.ResultBadCommand:
			perr = ErrCorruptBatch
		default:
			perr = ErrStorage
		}
		return ProduceResult{}, fmt.Errorf("topic %q partition %d: %w", pr.topic, pr.partition, perr)
	}
	out := ProduceResult{BaseOffset: int64(res.Value), LogAppendTime: -1}
	if pr.logAppend {
		out.LogAppendTime = pr.now
	}
	out.LogStartOffset, _, _ = pr.p.sm.Offsets()
	return out, nil
}

// PendingProduce is a produce that ProduceBatchAsync has handed to Raft.
type PendingProduce struct {
	done chan struct{}
	res  ProduceResult
	err  error
}

// Done is closed once the outcome is known.
func (pp *PendingProduce) Done() <-chan struct{} { return pp.done }

// Wait returns the outcome (as ProduceBatch would), or ErrTimeout if ctx
// ends first (the produce may still complete).
func (pp *PendingProduce) Wait(ctx context.Context) (ProduceResult, error) {
	select {
	case <-pp.done:
		return pp.res, pp.err
	case <-ctx.Done():
		return ProduceResult{}, fmt.Errorf("waiting for a produce: %w", ErrTimeout)
	}
}

// ProduceBatchAsync validates batches and proposes them like ProduceBatch,
// but returns as soon as the proposal is queued in Raft; the result comes
// through the PendingProduce. Successive calls for one partition from one
// goroutine are committed in call order (a frontend can pipeline the
// Produce requests of one connection), unless one of them fails, as with a
// Kafka producer with several requests in flight. ctx bounds the whole
// produce, including the wait for the result; without a deadline
// Config.ProduceTimeout applies.
//
// Errors (returned directly or by Wait): as ProduceBatch.
func (e *Engine) ProduceBatchAsync(ctx context.Context, topic string, partition int32, batches []byte) (*PendingProduce, error) {
	pr, err := e.prepareProduce(ctx, topic, partition, batches)
	if err != nil {
		return nil, err
	}
	return e.proposeAsync(ctx, pr)
}

// proposeAsync hands a prepared proposal (holding an in-flight slot) to
// Raft and completes the PendingProduce with its applied result.
func (e *Engine) proposeAsync(ctx context.Context, pr *pendingProposal) (*PendingProduce, error) {
	topic, partition := pr.topic, pr.partition
	var err error
	timeout := e.cfg.ProduceTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	deadline := time.Now().Add(timeout)
	sess := e.nh.GetNoOPSession(pr.p.shard)
	var rs *dragonboat.RequestState
	backoff := time.Millisecond
	proposed := time.Now()
	for {
		rs, err = e.nh.Propose(sess, pr.cmd, time.Until(deadline))
		if err == nil {
			break
		}
		if !errors.Is(err, dragonboat.ErrSystemBusy) || time.Now().Add(backoff).After(deadline) {
			pr.release()
			if errors.Is(err, dragonboat.ErrTimeoutTooSmall) {
				// Less than one Raft tick left of the caller's deadline.
				return nil, fmt.Errorf("topic %q partition %d: %w (%v)", topic, partition, ErrTimeout, err)
			}
			if dragonboat.IsTempError(err) {
				return nil, fmt.Errorf("topic %q partition %d: %w (%v)", topic, partition, ErrNotReady, err)
			}
			return nil, fmt.Errorf("topic %q partition %d: propose: %w", topic, partition, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
	pp := &PendingProduce{done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(pp.done)
		defer pr.release()
		if !pr.marker {
			defer func() { e.hooks.onProduce(topic, partition, pr.sum, start, pp.err) }()
		}
		defer func() { e.hooks.onCommit(topic, proposed, pp.err) }()
		r, lost := e.awaitApplied(rs, pr)
		switch {
		case lost:
			pp.err = e.droppedProposal(ctx, pr)
		case r.Completed():
			pp.res, pp.err = pr.result(r.GetResult())
		case r.Timeout():
			pp.err = fmt.Errorf("topic %q partition %d: %w", topic, partition, ErrTimeout)
		case r.Terminated():
			pp.err = fmt.Errorf("topic %q partition %d: %w", topic, partition, ErrClosed)
		default: // dropped, aborted, rejected: not committed, retriable
			pp.err = e.droppedProposal(ctx, pr)
		}
	}()
	return pp, nil
}

// awaitApplied waits for a proposal's outcome. It gives up early, with lost
// set, once this replica stops leading (it stepped down, or sees another
// leader): Raft
// completes a proposal whose entry the new leader overwrote only when the
// proposal times out, and a client would wait that long (its whole request
// timeout) for an answer it can have now. Giving up is safe because the
// answer is retriable: if the entry commits after all, an idempotent
// producer's retry is recognised as a duplicate and answered with the
// entry's offset, and a plain producer's retry may duplicate it, as with
// any leader change in Kafka.
func (e *Engine) awaitApplied(rs *dragonboat.RequestState, pr *pendingProposal) (r dragonboat.RequestResult, lost bool) {
	replicas := e.replicasOf(pr.p)
	for {
		changed, linksChanged := e.leaders.watch(), e.links.watch()
		if leader, _ := e.leaders.get(pr.p.shard); leader != pr.p.replica && !pr.forwarded {
			// rs is not released: Raft still holds it and will time it out.
			return r, true
		}
		if !pr.forwarded && e.quorumUnreachable(replicas) {
			// Cut off from a majority, this leader cannot commit: it will
			// step down at its next quorum check, and the partition is led
			// elsewhere meanwhile. The client is better off asking again.
			return r, true
		}
		select {
		case r = <-rs.AppliedC():
			rs.Release()
			return r, false
		case <-changed:
		case <-linksChanged:
		}
	}
}

// replicasOf returns the replica ids __meta records for local partition p.
func (e *Engine) replicasOf(p *partition) []uint64 {
	if a := findPartition(e.meta.State(), p); a != nil {
		return a.Replicas
	}
	return nil
}

// droppedProposal is the error for a produce whose proposal Raft dropped
// uncommitted, which happens when leadership moves while it waits: a
// *NotLeaderError naming the new leader once there is one (clients follow
// that hint at once), else ErrNotReady. Both are retriable.
func (e *Engine) droppedProposal(ctx context.Context, pr *pendingProposal) error {
	wait := e.leaderWait()
	if e.quorumUnreachable(e.replicasOf(pr.p)) {
		wait = 0 // no new leader can be heard of here
	}
	leader, term := e.awaitLeader(ctx, pr.p.shard, pr.p.replica, uint64(pr.epoch)+1, wait)
	if leader != 0 && leader != pr.p.replica {
		return fmt.Errorf("topic %q partition %d: proposal dropped: %w", pr.topic, pr.partition,
			&NotLeaderError{Leader: shards.BrokerOf(leader), Epoch: term})
	}
	return fmt.Errorf("topic %q partition %d: proposal dropped: %w", pr.topic, pr.partition, ErrNotReady)
}

// leaderWait bounds how long a produce waits for a partition without a
// leader to elect one: two election timeouts, the longest a healthy
// election takes.
func (e *Engine) leaderWait() time.Duration {
	return 2 * time.Duration(e.cfg.ElectionTicks) * e.cfg.RTT
}

// AllocateProducerID returns a cluster-unique idempotent producer id (from a
// counter in __meta) and its epoch 0, as Kafka's InitProducerID does.
func (e *Engine) AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error) {
	v, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpProducerID})
	if err != nil {
		return 0, 0, err
	}
	return int64(v), 0, nil
}
