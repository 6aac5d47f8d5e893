package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

type segmentInfo = segment.SegmentInfo

// retentionLoop applies retention.ms and retention.bytes on the partitions
// this broker leads, by proposing a new log start offset: every replica
// then deletes the same whole sealed segments.
func (e *Engine) retentionLoop() {
	t := time.NewTicker(e.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		e.mu.Lock()
		parts := make([]*partition, 0, len(e.parts))
		for _, p := range e.parts {
			parts = append(parts, p)
		}
		e.mu.Unlock()
		for _, p := range parts {
			if err := e.applyRetention(p, time.Now()); err != nil {
				e.log.Warn("retention", "topic", p.topic, "partition", p.index, "err", err)
			}
		}
	}
}

// applyRetention proposes the log start offset that retention allows for p,
// if p is led here and the start moves.
func (e *Engine) applyRetention(p *partition, now time.Time) error {
	if l, _ := e.leaders.get(p.shard); l != p.replica {
		return nil
	}
	t, ok := e.meta.State().Topics[p.topic]
	if !ok {
		return nil
	}
	tc, _ := ParseTopicConfigs(t.Configs)
	tc = tc.withDefaults()
	if !strings.Contains(tc.CleanupPolicy, "delete") {
		// cleanup.policy=compact: a key's latest record is kept whatever
		// its age, as Kafka keeps it; retention.ms and retention.bytes do
		// not delete segments.
		return nil
	}
	segs, err := p.sm.Segments()
	if err != nil {
		return err
	}
	start, _, err := p.sm.Offsets()
	if err != nil {
		return err
	}
	newStart := retentionStart(segs, tc.RetentionMs, tc.RetentionBytes, now)
	if newStart <= start {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.propose(ctx, p.shard, shards.SetLogStartCommand(newStart)); err != nil {
		return fmt.Errorf("propose log start %d: %w", newStart, err)
	}
	return nil
}

// DeleteRecords moves the partition's log start offset to offset (Kafka
// DeleteRecords) on its leader; -1 means the high watermark. It returns the
// new log start offset.
//
// Errors: as ProduceBatch, and ErrOffsetOutOfRange for an offset past the
// high watermark.
func (e *Engine) DeleteRecords(ctx context.Context, topic string, partition int32, offset int64) (int64, error) {
	p, _, _, err := e.leaderOf(topic, partition)
	if err != nil {
		return 0, err
	}
	_, end, err := p.sm.Offsets()
	if err != nil {
		return 0, err
	}
	if offset == -1 {
		offset = end
	}
	if offset < 0 || offset > end {
		return 0, fmt.Errorf("topic %q partition %d: delete records to %d, high watermark %d: %w", topic, partition, offset, end, ErrOffsetOutOfRange)
	}
	res, err := e.propose(ctx, p.shard, shards.SetLogStartCommand(offset))
	if err != nil {
		return 0, fmt.Errorf("topic %q partition %d: %w", topic, partition, err)
	}
	return int64(res.Value), nil
}

// retentionStart returns the log start offset that retention allows: sealed
// segments whose newest record is older than retentionMs (>= 0) go, and the
// oldest sealed segments go while the log exceeds retentionBytes (>= 0).
func retentionStart(segs []segmentInfo, retentionMs, retentionBytes int64, now time.Time) int64 {
	var start int64 = -1
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	for _, s := range segs {
		if !s.Sealed {
			break
		}
		byTime := retentionMs >= 0 && s.MaxTimestamp >= 0 && now.UnixMilli()-s.MaxTimestamp > retentionMs
		bySize := retentionBytes >= 0 && total > retentionBytes
		if !byTime && !bySize {
			break
		}
		start = s.EndOffset
		total -= s.Size
	}
	return start
}
