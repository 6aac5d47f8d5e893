package shards

import "sync"

// raftLogWindow follows how many bytes of Raft entries a partition replica
// has applied, by index, so that the engine can keep the replica's Raft log
// bounded in bytes rather than in entries: dragonboat compacts the log only
// on snapshots, which it counts in entries, and a partition's entries range
// from a few hundred bytes to megabytes. Keeping thousands of megabyte
// entries per partition filled the page cache and cost more than the writes
// themselves (docs/PERFORMANCE.md); a byte bound keeps what followers catch
// up from the log small and predictable.
//
// A sample is taken every grain bytes; observe runs on the Update
// goroutine, trim and compacted on any other.
type raftLogWindow struct {
	mu        sync.Mutex
	total     int64  // bytes applied since the replica opened
	lastIndex uint64 // last applied index
	samples   []logSample
	// inLog is how many of the applied bytes the Raft log still holds, as
	// far as this replica compacted it since it opened; compactedAt is the
	// index of its last compaction.
	inLog       int64
	compactedAt uint64
}

// logSample: after the entries up to index, total bytes were applied.
type logSample struct {
	index uint64
	total int64
}

// observe records that the entries up to index brought n more bytes.
func (w *raftLogWindow) observe(index uint64, n int64, grain int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += n
	w.inLog += n
	w.lastIndex = index
	if k := len(w.samples); k == 0 || w.total-w.samples[k-1].total >= grain {
		w.samples = append(w.samples, logSample{index: index, total: w.total})
	}
}

// trim reports, once the log holds more than 2*retain bytes and at least
// minEntries entries arrived since the last compaction, up to which index
// to compact the log: it keeps the newest applied entries holding the last
// retain bytes (to within a grain), and at least minEntries of them. The
// index is fixed now, however far the log has grown by the time the
// compaction runs. The caller compacts and then calls compacted.
func (w *raftLogWindow) trim(retain int64, minEntries uint64) (upTo uint64, due bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inLog <= 2*retain || w.lastIndex < w.compactedAt+max(minEntries, 1) {
		return 0, false
	}
	// The oldest sample whose later bytes fit in retain.
	from := w.lastIndex
	for i := len(w.samples) - 1; i >= 0; i-- {
		if w.total-w.samples[i].total > retain {
			break
		}
		from = w.samples[i].index
	}
	keep := max(w.lastIndex-from, minEntries)
	if keep >= w.lastIndex {
		return 0, false
	}
	return w.lastIndex - keep, true
}

// after returns how many applied bytes the entries after index hold, to
// within a grain above, counted from the newest sample at or below index;
// known is false when index is older than every sample (before the
// replica opened, or forgotten).
func (w *raftLogWindow) after(index uint64) (n int64, known bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if index >= w.lastIndex {
		return 0, true
	}
	for i := len(w.samples) - 1; i >= 0; i-- {
		if w.samples[i].index <= index {
			return w.total - w.samples[i].total, true
		}
	}
	return 0, false
}

// compacted records that a snapshot at index compacted the log up to
// upTo, and forgets the samples a later trim cannot need.
func (w *raftLogWindow) compacted(index, upTo uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.compactedAt = max(w.compactedAt, index)
	cut := 0
	for cut < len(w.samples) && w.samples[cut].index <= upTo {
		cut++
	}
	if cut == 0 {
		return // nothing known below the kept part
	}
	// What the log still holds: the bytes applied after the newest sample
	// at or below upTo.
	w.inLog = w.total - w.samples[cut-1].total
	w.samples = append(w.samples[:0], w.samples[cut-1:]...)
}
