package coordinator

// Compaction of the coordinators' internal partitions (__consumer_offsets,
// __transaction_state). The engine does not compact topics, so each
// coordinator keeps the partitions it leads short itself: a liveLog tracks
// the live records (the last value of every key that is not deleted) and,
// when the log holds many more records than are live, rewrites the live
// records at the end of the log and moves the log start to the first of
// them (DeleteRecords, through Raft). A new coordinator then replays only
// the live state plus what came after it. Writes are held off while a
// compaction runs, so the copy is exactly the state the log describes.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/chronik-io/chronik/engine"
)

const (
	// compactMinRecords: smaller logs are not compacted.
	compactMinRecords = 1000
	// compactChunkBytes bounds one rewritten batch, under the topic's
	// default max.message.bytes.
	compactChunkBytes = 512 << 10
	// compactCheckInterval is how often partitions are checked.
	compactCheckInterval = 30 * time.Second
)

// liveLog is the live record set of one internal partition. wmu is held
// shared by every write and exclusively by a compaction.
type liveLog struct {
	wmu     sync.RWMutex
	liveMu  sync.Mutex
	live    map[string][]byte // record key -> value of the last record
	written int               // records in the log since its start
}

// track records written records in the live set. wmu is held shared.
func (l *liveLog) track(recs []engine.Record) {
	l.liveMu.Lock()
	defer l.liveMu.Unlock()
	if l.live == nil {
		l.live = map[string][]byte{}
	}
	for _, r := range recs {
		if r.Value == nil {
			delete(l.live, string(r.Key))
		} else {
			l.live[string(r.Key)] = r.Value
		}
	}
	l.written += len(recs)
}

// trackWritten counts n records written that are not live (yet).
func (l *liveLog) trackWritten(n int) {
	l.liveMu.Lock()
	l.written += n
	l.liveMu.Unlock()
}

// trackLive records one record that became live without being written
// now (a transactional offset, at its commit marker).
func (l *liveLog) trackLive(key, value []byte) {
	l.liveMu.Lock()
	if l.live == nil {
		l.live = map[string][]byte{}
	}
	l.live[string(key)] = value
	l.liveMu.Unlock()
}

// reset installs the live set a replay found.
func (l *liveLog) reset(live map[string][]byte, written int) {
	l.liveMu.Lock()
	l.live, l.written = live, written
	l.liveMu.Unlock()
}

// compactIfNeeded rewrites the live records of partition p of topic when
// the log holds more than twice as many records as are live (and at least
// compactMinRecords), unless busy reports a reason not to (checked again
// once writes are held off). It returns how many records the log held and
// how many were live, both 0 when it did nothing.
func (l *liveLog) compactIfNeeded(ctx context.Context, be Backend, topic string, p int32, busy func() bool) (before, after int, err error) {
	l.liveMu.Lock()
	need := l.written >= compactMinRecords && l.written > 2*len(l.live)
	l.liveMu.Unlock()
	if !need || busy() {
		return 0, 0, nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if busy() {
		return 0, 0, nil
	}
	l.liveMu.Lock()
	keys := make([]string, 0, len(l.live))
	for k := range l.live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]engine.Record, 0, len(keys))
	for _, k := range keys {
		recs = append(recs, engine.Record{Key: []byte(k), Value: l.live[k]})
	}
	before = l.written
	l.liveMu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := int64(-1)
	var chunk []engine.Record
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		res, err := be.Produce(ctx, topic, p, chunk)
		if err != nil {
			return fmt.Errorf("rewrite %d live records: %w", len(chunk), err)
		}
		if start < 0 {
			start = res.BaseOffset
		}
		chunk, size = nil, 0
		return nil
	}
	for _, r := range recs {
		if size+len(r.Key)+len(r.Value)+32 > compactChunkBytes {
			if err := flush(); err != nil {
				return 0, 0, err
			}
		}
		chunk = append(chunk, r)
		size += len(r.Key) + len(r.Value) + 32
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	// start is -1 (the high watermark) when nothing is live.
	if _, err := be.DeleteRecords(ctx, topic, p, start); err != nil {
		return 0, 0, fmt.Errorf("move the log start to %d: %w", start, err)
	}
	l.liveMu.Lock()
	l.written = len(recs)
	l.liveMu.Unlock()
	return before, len(recs), nil
}

// compact compacts every loaded __consumer_offsets partition that needs
// it; offsets pending in transactions hold a partition's compaction off
// (they must be neither copied as committed nor cut off).
func (c *Coordinator) compact() {
	for _, cp := range c.set.loaded() {
		before, after, err := cp.compactIfNeeded(cp.ctx, c.be, OffsetsTopic, cp.p, cp.txnPending)
		switch {
		case err != nil && cp.ctx.Err() == nil:
			c.log.Warn("compacting partition failed", "partition", cp.p, "err", err)
		case err == nil && before > 0:
			c.log.Info("compacted partition", "partition", cp.p, "records", before, "live", after)
		}
	}
}
