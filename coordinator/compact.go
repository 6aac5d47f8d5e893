package coordinator

// Compaction of __consumer_offsets partitions. The engine does not compact
// topics, so the coordinator keeps its partitions short itself: it tracks
// the live records (the last value of every key that is not deleted) and,
// when the log holds many more records than are live, rewrites the live
// records at the end of the log and moves the log start to the first of
// them (DeleteRecords, through Raft). A new coordinator then replays only
// the live state plus what came after it. Writes are held off while a
// compaction runs, so the copy is exactly the state the log describes.

import (
	"context"
	"sort"
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

// track records written records in the live set. wmu is held shared.
func (cp *coordPartition) track(recs []engine.Record) {
	cp.liveMu.Lock()
	defer cp.liveMu.Unlock()
	for _, r := range recs {
		if r.Value == nil {
			delete(cp.live, string(r.Key))
		} else {
			cp.live[string(r.Key)] = r.Value
		}
	}
	cp.written += len(recs)
}

// trackLive records one record that became live without being written
// now (a transactional offset, at its commit marker).
func (cp *coordPartition) trackLive(key, value []byte) {
	cp.liveMu.Lock()
	cp.live[string(key)] = value
	cp.liveMu.Unlock()
}

// compact compacts every loaded partition that needs it.
func (c *Coordinator) compact() {
	for _, cp := range c.set.loaded() {
		if err := cp.compactIfNeeded(); err != nil && cp.ctx.Err() == nil {
			c.log.Warn("compacting partition failed", "partition", cp.p, "err", err)
		}
	}
}

// compactIfNeeded rewrites the live records when the log holds more than
// twice as many records as are live (and at least compactMinRecords).
func (cp *coordPartition) compactIfNeeded() error {
	cp.liveMu.Lock()
	need := cp.written >= compactMinRecords && cp.written > 2*len(cp.live)
	cp.liveMu.Unlock()
	if !need || cp.txnPending() {
		return nil
	}
	cp.wmu.Lock()
	defer cp.wmu.Unlock()
	if cp.txnPending() {
		return nil // a transactional commit got in first
	}
	cp.liveMu.Lock()
	keys := make([]string, 0, len(cp.live))
	for k := range cp.live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	recs := make([]engine.Record, 0, len(keys))
	for _, k := range keys {
		recs = append(recs, engine.Record{Key: []byte(k), Value: cp.live[k]})
	}
	before := cp.written
	cp.liveMu.Unlock()

	ctx, cancel := context.WithTimeout(cp.ctx, time.Minute)
	defer cancel()
	start := int64(-1)
	var chunk []engine.Record
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		res, err := cp.c.be.Produce(ctx, OffsetsTopic, cp.p, chunk)
		if err != nil {
			return err
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
				return err
			}
		}
		chunk = append(chunk, r)
		size += len(r.Key) + len(r.Value) + 32
	}
	if err := flush(); err != nil {
		return err
	}
	// start is -1 (the high watermark) when nothing is live.
	if _, err := cp.c.be.DeleteRecords(ctx, OffsetsTopic, cp.p, start); err != nil {
		return err
	}
	cp.liveMu.Lock()
	cp.written = len(recs)
	cp.liveMu.Unlock()
	cp.c.log.Info("compacted partition", "partition", cp.p, "records", before, "live", len(recs))
	return nil
}
