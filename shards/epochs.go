package shards

// The leader-epoch history of a partition (Kafka's leader epoch cache,
// KIP-101/KIP-320): for each leader epoch stamped into the log's batches,
// the offset where its first batch begins. OffsetForLeaderEpoch answers
// from it, so consumers detect log truncation after a failover.
//
// How it is kept:
//   - Update records an epoch when a batch stamped with an epoch above the
//     latest one is applied, and writes the whole list to the log
//     directory's checkpoint file (segment.Log.WriteEpochs: tmp, fsync,
//     rename) before the frame holding that batch is appended, so the file
//     never misses an epoch of the durable log. An epoch at or below the
//     latest is part of the latest epoch: the stamps come from the
//     proposer's view of the term, which can lag a leadership change, and
//     the history stays monotonic as Kafka's does.
//   - A log start moved by retention or DeleteRecords drops the epochs that
//     began before it, except the last of them, which now starts at the log
//     start (Kafka's truncateFromStart). The file is not rewritten for this:
//     Open applies the log start again.
//   - Open reads the file, drops entries at or past the log end (a torn tail
//     that Raft re-applies) and before the log start, and checks the last
//     batch of the log: if its epoch is above the latest entry (the file
//     missing, damaged, or a write of it failed) the history is rebuilt from
//     the batch headers (scanEpochs) and written back.
//   - A snapshot carries the history ahead of the segment image; a
//     snapshot without one (an older sender) is rebuilt by scanning.
//   - Compaction does not change the history: it empties batches but keeps
//     their headers (engine/compact.go), so even a rebuild sees every stamp.
//
// Known gap: a rebuild from the batches is exact except after a stale stamp
// (an epoch below the latest, see above) at the very log start, where it
// names the stale epoch first; the history kept by Update, the file and
// snapshots do not.

import (
	"errors"
	"sort"
	"sync"

	"github.com/chronik-io/chronik/segment"
)

// epochHistory is the in-memory history. The Update goroutine (and Open,
// RecoverFromSnapshot) change it; readers take copies.
type epochHistory struct {
	mu sync.RWMutex
	es []segment.EpochEntry
}

// assign records that epoch starts at start, if epoch is above the latest;
// it reports whether the history changed.
func (h *epochHistory) assign(epoch int32, start int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	var changed bool
	h.es, changed = assignEpoch(h.es, epoch, start)
	return changed
}

func (h *epochHistory) truncateFront(start int64) {
	h.mu.Lock()
	h.es = truncateEpochsFront(h.es, start)
	h.mu.Unlock()
}

func (h *epochHistory) set(es []segment.EpochEntry) {
	h.mu.Lock()
	h.es = es
	h.mu.Unlock()
}

func (h *epochHistory) list() []segment.EpochEntry {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]segment.EpochEntry(nil), h.es...)
}

// assignEpoch appends (epoch, start) to es when epoch is above every epoch
// in it. Entries starting at or after start are dropped first (they cannot
// exist in an ordered apply; Kafka does the same).
func assignEpoch(es []segment.EpochEntry, epoch int32, start int64) ([]segment.EpochEntry, bool) {
	if epoch < 0 || start < 0 {
		return es, false
	}
	if n := len(es); n > 0 && epoch <= es[n-1].Epoch {
		return es, false
	}
	es = truncateEpochsBack(es, start)
	return append(es, segment.EpochEntry{Epoch: epoch, StartOffset: start}), true
}

// truncateEpochsBack drops the entries starting at or after end.
func truncateEpochsBack(es []segment.EpochEntry, end int64) []segment.EpochEntry {
	i := sort.Search(len(es), func(i int) bool { return es[i].StartOffset >= end })
	return es[:i]
}

// truncateEpochsFront drops the entries starting at or before start and
// puts the last of them back starting at start (Kafka's truncateFromStart).
func truncateEpochsFront(es []segment.EpochEntry, start int64) []segment.EpochEntry {
	i := sort.Search(len(es), func(i int) bool { return es[i].StartOffset > start })
	if i == 0 {
		return es
	}
	out := make([]segment.EpochEntry, 0, len(es)-i+1)
	out = append(out, segment.EpochEntry{Epoch: es[i-1].Epoch, StartOffset: start})
	return append(out, es[i:]...)
}

// EndOffsetForEpoch is Kafka's LeaderEpochFileCache.endOffsetFor over the
// history es (oldest first) of a log ending at logEnd:
//
//   - requested is the latest epoch: (requested, logEnd);
//   - requested is below the first epoch: (requested, the first epoch's
//     start offset), as Kafka answers (the data before was removed);
//   - otherwise the largest epoch <= requested and the start offset of the
//     next epoch after it, that is where requested's data ends;
//   - -1, -1 (UNDEFINED) for a negative requested epoch, one above every
//     epoch, or an empty history.
func EndOffsetForEpoch(es []segment.EpochEntry, requested int32, logEnd int64) (epoch int32, endOffset int64) {
	if requested < 0 || len(es) == 0 {
		return -1, -1
	}
	if requested == es[len(es)-1].Epoch {
		return requested, logEnd
	}
	i := sort.Search(len(es), func(i int) bool { return es[i].Epoch > requested })
	switch i {
	case len(es):
		return -1, -1
	case 0:
		return requested, es[0].StartOffset
	}
	return es[i-1].Epoch, es[i].StartOffset
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from this replica's history
// (see the package function). current is the leader epoch this replica leads
// in, or -1: a Kafka leader records its epoch at the log end when elected,
// so an epoch above the history's latest is taken to start at the log end
// until a batch of it is written.
//
// Errors: errs.ErrClosed, errs.ErrNotReady.
func (p *PartitionSM) EndOffsetForEpoch(requested, current int32) (epoch int32, endOffset int64, err error) {
	err = p.reader(func(l *segment.Log) error {
		end := l.EndOffset()
		es := truncateEpochsBack(p.epochs.list(), end)
		if n := len(es); current >= 0 && (n == 0 || current > es[n-1].Epoch) {
			es = append(es, segment.EpochEntry{Epoch: current, StartOffset: end})
		}
		epoch, endOffset = EndOffsetForEpoch(es, requested, end)
		return nil
	})
	return epoch, endOffset, err
}

// Epochs returns the replica's leader-epoch history as far as its log holds
// batches: (epoch, start offset) pairs, oldest first.
//
// Errors: errs.ErrClosed, errs.ErrNotReady.
func (p *PartitionSM) Epochs() (es []segment.EpochEntry, err error) {
	err = p.reader(func(l *segment.Log) error {
		es = truncateEpochsBack(p.epochs.list(), l.EndOffset())
		return nil
	})
	return es, err
}

// persistEpochs writes the history to the checkpoint file. A failure is
// logged, not returned: the history in memory stays right, and Open finds
// the file behind the log and rebuilds it.
func (p *PartitionSM) persistEpochs(l *segment.Log) {
	if err := l.WriteEpochs(p.epochs.list()); err != nil && !errors.Is(err, segment.ErrClosed) {
		p.log.Error("write leader epoch checkpoint", "err", err)
	}
}

// loadEpochs installs the history of a freshly opened log: es from its
// checkpoint file or a snapshot (have), fitted to the log's offsets, or
// rebuilt from the batches when missing or behind the log. write forces the
// result into the checkpoint file (after a snapshot, whose directory has
// none).
func (p *PartitionSM) loadEpochs(l *segment.Log, es []segment.EpochEntry, have, write bool) {
	start, end := l.StartOffset(), l.EndOffset()
	if have {
		es = truncateEpochsFront(truncateEpochsBack(es, end), start)
		if p.epochsCoverTail(l, es) {
			p.epochs.set(es)
			if write {
				p.persistEpochs(l)
			}
			return
		}
		p.log.Warn("leader epoch history is behind the log; rebuilding it from the batches", "entries", len(es), "end_offset", end)
	} else if end > start {
		p.log.Info("no leader epoch history; rebuilding it from the batches", "start_offset", start, "end_offset", end)
	}
	p.epochs.set(p.scanEpochs(l))
	p.persistEpochs(l)
}

// epochsCoverTail reports whether the log's last batch has an epoch es
// knows (at or below its latest). A log that cannot be read there counts as
// covered: a rebuild would fail the same way.
func (p *PartitionSM) epochsCoverTail(l *segment.Log, es []segment.EpochEntry) bool {
	if l.EndOffset() <= l.StartOffset() {
		return true
	}
	h, ok := batchAt(l, l.EndOffset()-1)
	if !ok || h.PartitionLeaderEpoch < 0 {
		return true
	}
	return len(es) > 0 && h.PartitionLeaderEpoch <= es[len(es)-1].Epoch
}

// batchAt returns the header of the batch holding offset (or the first one
// after it, in a gap left by compaction).
func batchAt(l *segment.Log, offset int64) (segment.BatchHeader, bool) {
	b, err := l.Read(offset, 1)
	if err != nil || len(b) == 0 {
		return segment.BatchHeader{}, false
	}
	h, err := segment.ParseBatchHeader(b)
	return h, err == nil
}

// scanEpochs derives the history from the batches' PartitionLeaderEpoch. A
// segment whose first and last batches carry the same epoch is taken whole
// for that epoch (two header reads); only segments where the epoch changes
// are walked batch by batch. An unreadable segment is skipped (and logged):
// its reads fail anyway.
func (p *PartitionSM) scanEpochs(l *segment.Log) []segment.EpochEntry {
	var es []segment.EpochEntry
	start := l.StartOffset()
	for _, sg := range l.Segments() {
		lo, hi := max(sg.BaseOffset, start), sg.EndOffset
		if lo >= hi {
			continue
		}
		f, fok := batchAt(l, lo)
		g, gok := batchAt(l, hi-1)
		if fok && gok && g.BaseOffset < hi && f.PartitionLeaderEpoch == g.PartitionLeaderEpoch {
			es, _ = assignEpoch(es, f.PartitionLeaderEpoch, max(f.BaseOffset, start))
			continue
		}
	walk:
		for off := lo; off < hi; {
			b, err := l.Read(off, 1<<20)
			if err != nil {
				p.log.Error("rebuild leader epochs: skipping an unreadable segment", "offset", off, "segment", sg.BaseOffset, "err", err)
				break
			}
			if len(b) == 0 {
				break
			}
			for len(b) > 0 {
				h, err := segment.ParseBatchHeader(b)
				if err != nil || h.BaseOffset >= hi {
					break walk
				}
				es, _ = assignEpoch(es, h.PartitionLeaderEpoch, max(h.BaseOffset, start))
				off = h.LastOffset() + 1
				b = b[h.Size():]
			}
		}
	}
	return es
}
