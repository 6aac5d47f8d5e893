package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// Fetch reads whole record batches from offset on the partition leader, up
// to opts.MaxBytes (at least one batch), from the local segment files; only
// committed data is ever there, so the high watermark is the log end. With
// opts.AllowFollower an in-sync follower replica serves it too, up to its
// own applied end (readreplica.go), and the leader answers a consumer in
// another rack (opts.ClientRack) with only the offsets and
// PreferredReadReplica when a follower is in that rack. When
// fewer than opts.MinBytes are available it long-polls until they are or
// opts.MaxWait passes (or ctx is done), then returns what there is.
// With opts.ReadCommitted only batches below the last stable offset are
// returned, with the aborted transactions that have data among them.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError,
// ErrNotReady, ErrOffsetOutOfRange (offset below the log start or above the
// high watermark; on a follower, above the leader's commit too), ErrStorage,
// ErrClosed.
func (e *Engine) Fetch(ctx context.Context, topic string, partition int32, offset int64, opts FetchOptions) (FetchResult, error) {
	res, err := e.fetch(ctx, topic, partition, offset, opts)
	e.hooks.onFetch(topic, partition, res.Batches, err)
	return res, err
}

func (e *Engine) fetch(ctx context.Context, topic string, partition int32, offset int64, opts FetchOptions) (FetchResult, error) {
	p, part, leading, err := e.readerOf(topic, partition, opts)
	if err != nil {
		return FetchResult{}, err
	}
	if leading {
		if rr := e.readReplicaFor(part, opts.ClientRack); rr != 0 {
			// As in Kafka, the leader sends no records with a preferred
			// read replica, only the partition's offsets.
			start, lso, end, err := p.sm.StableOffset()
			if err != nil {
				return FetchResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
			}
			return FetchResult{HighWatermark: end, LogStartOffset: start, LastStableOffset: lso, PreferredReadReplica: rr}, nil
		}
	} else if err := e.followerCatchUp(ctx, p, offset); err != nil {
		return FetchResult{}, err
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	var deadline <-chan time.Time
	if opts.MinBytes > 0 && opts.MaxWait > 0 {
		t := time.NewTimer(opts.MaxWait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		// The LSO first: it never passes the end read after it.
		_, lso, _, err := p.sm.StableOffset()
		if err != nil {
			return FetchResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
		}
		b, start, end, err := p.sm.Read(offset, opts.MaxBytes)
		if err != nil {
			return FetchResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
		}
		lso = min(lso, end)
		res := FetchResult{Batches: b, HighWatermark: end, LogStartOffset: start, LastStableOffset: lso}
		if opts.ReadCommitted {
			if res.Batches, res.AbortedTxns, err = p.committedView(b, offset, lso); err != nil {
				return FetchResult{}, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
			}
			b = res.Batches
		}
		if len(b) >= opts.MinBytes || deadline == nil {
			return res, nil
		}
		// Wait for the high watermark to move past what we have read.
		ch := p.notify.watch(end)
		select {
		case <-ch:
		case <-deadline:
			return res, nil
		case <-ctx.Done():
			return res, nil
		case <-e.closing:
			return res, nil
		}
		if _, _, _, err := e.readerOf(topic, partition, opts); err != nil {
			return res, nil
		}
	}
}

// Watch returns a channel closed when the partition's high watermark moves
// past hw (or the local replica stops). Multi-partition long polls wait on
// several of these. The partition must have a replica on this broker.
//
// Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError (no local
// replica).
func (e *Engine) Watch(topic string, partition int32, hw int64) (<-chan struct{}, error) {
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return nil, err
	}
	p := e.local(part.Shard)
	if p == nil {
		rec := e.meta.State().Leaders[part.Shard]
		return nil, &NotLeaderError{Leader: shards.BrokerOf(rec.Leader), Epoch: rec.Epoch}
	}
	return p.notify.watch(hw), nil
}

// ListOffsets resolves spec on the partition leader: Latest (the high
// watermark), Earliest (the log start offset), LastStable (the last stable
// offset, see "Transactions" in doc.go), MaxTimestamp (the record
// with the largest timestamp), or a timestamp in ms (the first record whose
// timestamp is >= it; Offset -1 when none).
//
// Errors: as Fetch.
func (e *Engine) ListOffsets(ctx context.Context, topic string, partition int32, spec int64) (ListOffsetsResult, error) {
	p, _, epoch, err := e.leaderOf(topic, partition)
	if err != nil {
		return ListOffsetsResult{}, err
	}
	wrap := func(err error) error { return fmt.Errorf("topic %q partition %d: %w", topic, partition, err) }
	res := ListOffsetsResult{Offset: -1, Timestamp: -1, LeaderEpoch: epoch}
	switch spec {
	case Latest, Earliest, LastStable:
		start, lso, end, err := p.sm.StableOffset()
		if err != nil {
			return res, wrap(err)
		}
		switch spec {
		case Latest:
			res.Offset = end
		case Earliest:
			res.Offset = start
		default:
			res.Offset = lso
		}
	case MaxTimestamp:
		ts, off, err := p.sm.MaxTimestamp()
		if err != nil {
			return res, wrap(err)
		}
		if off >= 0 && ts >= 0 {
			res.Offset, res.Timestamp = off, ts
		}
	default:
		if spec < 0 {
			return res, wrap(fmt.Errorf("list offsets spec %d: %w", spec, ErrInvalidRecord))
		}
		off, ts, ok, err := p.sm.OffsetForTimestamp(spec)
		if err != nil {
			return res, wrap(err)
		}
		if ok {
			res.Offset, res.Timestamp = off, ts
		}
	}
	return res, nil
}

// PartitionStats describes this broker's replica of a partition (leader or
// follower). Errors: ErrUnknownTopic, ErrUnknownPartition, *NotLeaderError
// when this broker hosts no replica.
func (e *Engine) PartitionStats(topic string, partition int32) (PartitionStats, error) {
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return PartitionStats{}, err
	}
	p := e.local(part.Shard)
	if p == nil {
		rec := e.meta.State().Leaders[part.Shard]
		return PartitionStats{}, &NotLeaderError{Leader: shards.BrokerOf(rec.Leader), Epoch: rec.Epoch}
	}
	l, term := e.leaderHint(p.shard, p.replica)
	st := PartitionStats{Leader: shards.BrokerOf(l), LeaderEpoch: int32(term), IsLeader: l != 0 && l == p.replica,
		SnapshotsRecovered: p.sm.SnapshotsRecovered()}
	if st.LogStartOffset, st.HighWatermark, err = p.sm.Offsets(); err != nil {
		return st, err
	}
	st.LastIndex, _ = p.sm.LastIndex()
	segs, _ := p.sm.Segments()
	st.Segments = len(segs)
	for _, s := range segs {
		st.SizeBytes += s.Size
	}
	return st, nil
}
