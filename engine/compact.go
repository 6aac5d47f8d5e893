package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// Log compaction (cleanup.policy=compact, or compact,delete) of user topics.
//
// Every replica compacts its own copy, leader and followers alike, each on
// its own schedule: compaction is not a replicated command, it only removes
// records that a later record with the same key supersedes, so every
// replica serves the same latest value per key, though the files (and the
// per-replica log CRC in /v1/partitions) may differ between replicas.
//
// A pass over a partition:
//
//  1. builds a key map, key -> offset of its latest record, from the records
//     of the dirty part of the log: from the first offset not yet mapped by
//     an earlier pass (the active segment's base at that pass; the log
//     start after a restart or a snapshot recovery) up to the high watermark,
//     the active segment included, so its keys count as later;
//  2. rewrites each sealed segment (segment.Log.RewriteSealed, one at a
//     time, crash-safe) through a filter that drops a keyed record when the
//     map holds a later offset for its key, and a tombstone (null value)
//     when delete.retention.ms has passed since its batch's max timestamp.
//     Keyless records are kept. Offsets never change: a batch keeps its base
//     offset, last offset delta, producer fields and timestamps; one that
//     lost every record is kept empty (Kafka's compacted-empty batch, which
//     consumers read through: KAFKA-5443), because the frames and segments
//     must cover their offset ranges without holes. A segment in which
//     nothing is removed is not rewritten.
//
// Keys are held as 128-bit hashes (two maphash seeds drawn per pass): a
// record is removed only if its key's hash maps to a later offset, so a
// collision could remove a live record only if two distinct keys of the
// pass share both 64-bit hashes; for n keys the chance is below
// n^2 / 2^129 (about 1e-27 for a million keys). The map is bounded by
// compactMaxKeys entries (about 80 bytes each with Go's map overhead); a
// pass that reaches it stops mapping there, compacts the segments before
// that point and continues from there at the next pass.
//
// A pass runs when a segment was sealed since the last one, when the last
// one stopped at the key bound, or when a tombstone kept by the last one
// has since passed delete.retention.ms. The loop shares
// Config.RetentionCheckInterval with retention. Internal topics
// (__consumer_offsets) are compacted by the group coordinator, not here.

// compactMaxKeys bounds the key map of one pass.
const compactMaxKeys = 1 << 20

// compactReadBytes is how much one read of the key-map scan asks for.
const compactReadBytes = 1 << 20

// compactState is what the compaction loop remembers of one partition
// replica between passes.
type compactState struct {
	sealedEnd    int64  // end offset of the last sealed segment at the last pass
	dirtyFrom    int64  // first offset the next key map must start from
	partial      bool   // the last pass stopped at compactMaxKeys
	tombstoneDue int64  // Unix ms when the first kept tombstone expires; 0 none
	recovered    uint64 // snapshots recovered when the state was set
}

// compactionLoop compacts, every RetentionCheckInterval, the local replicas
// of partitions whose topic's cleanup.policy contains compact.
func (e *Engine) compactionLoop() {
	t := time.NewTicker(e.cfg.RetentionCheckInterval)
	defer t.Stop()
	states := map[*partition]*compactState{}
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		e.mu.Lock()
		parts := make(map[*partition]bool, len(e.parts))
		for _, p := range e.parts {
			parts[p] = true
		}
		e.mu.Unlock()
		for p := range states {
			if !parts[p] {
				delete(states, p)
			}
		}
		for p := range parts {
			select {
			case <-e.closing:
				return
			default:
			}
			st := states[p]
			if st == nil {
				st = &compactState{sealedEnd: -1, dirtyFrom: -1}
				states[p] = st
			}
			if err := e.compactPartition(p, st, time.Now()); err != nil && !errors.Is(err, ErrClosed) {
				e.log.Warn("compaction", "topic", p.topic, "partition", p.index, "err", err)
			}
		}
	}
}

// compactPartition runs one compaction pass over p's local replica if its
// topic is compacted and something changed since the last pass.
func (e *Engine) compactPartition(p *partition, st *compactState, now time.Time) error {
	t, ok := e.meta.State().Topics[p.topic]
	if !ok || t.Internal {
		return nil
	}
	tc, _ := ParseTopicConfigs(t.Configs)
	tc = tc.withDefaults()
	if !strings.Contains(tc.CleanupPolicy, "compact") {
		return nil
	}
	if rec := p.sm.SnapshotsRecovered(); rec != st.recovered {
		// The files were replaced by a streamed snapshot: map them all.
		*st = compactState{sealedEnd: -1, dirtyFrom: -1, recovered: rec}
	}
	segs, err := p.sm.Segments()
	if err != nil {
		return err
	}
	if len(segs) < 2 || !segs[len(segs)-2].Sealed {
		return nil
	}
	sealedEnd := segs[len(segs)-2].EndOffset
	activeBase := segs[len(segs)-1].BaseOffset
	due := st.tombstoneDue > 0 && now.UnixMilli() >= st.tombstoneDue
	if sealedEnd <= st.sealedEnd && !st.partial && !due {
		return nil
	}
	start, end, err := p.sm.Offsets()
	if err != nil {
		return err
	}
	from := max(st.dirtyFrom, start)
	km, stop, skipped, err := buildKeyMap(p.sm, from, end, compactMaxKeys)
	if err != nil {
		return fmt.Errorf("build key map from %d: %w", from, err)
	}
	c := &compactor{keys: km, now: now.UnixMilli(), deleteRetentionMs: max(tc.DeleteRetentionMs, 0)}
	stats, err := p.sm.Compact(stop, c.filterFrame)
	if err != nil {
		return err
	}
	st.sealedEnd, st.tombstoneDue = sealedEnd, c.tombstoneDue
	st.partial = stop < end
	if st.partial {
		// Map again from the segment the bound was hit in: its records
		// before stop were filtered only against this pass's map.
		st.dirtyFrom = stop
		for _, s := range segs {
			if s.BaseOffset < stop && stop < s.EndOffset && s.BaseOffset > from {
				st.dirtyFrom = s.BaseOffset
			}
		}
	} else {
		st.dirtyFrom = activeBase
	}
	if skipped > 0 || c.undecodable > 0 {
		e.log.Warn("compaction kept batches whose records do not decode", "topic", p.topic, "partition", p.index,
			"batches", max(skipped, c.undecodable))
	}
	if stats.Rewritten > 0 {
		e.log.Info("compacted partition", "topic", p.topic, "partition", p.index, "keys", km.len(),
			"segments", stats.Segments, "rewritten", stats.Rewritten,
			"bytes_before", stats.BytesBefore, "bytes_after", stats.BytesAfter)
	}
	return nil
}

// keyMap maps a key's 128-bit hash to the offset of its latest record.
type keyMap struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int64
}

func newKeyMap() *keyMap {
	return &keyMap{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: map[[2]uint64]int64{}}
}

func (k *keyMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(k.s1, key), maphash.Bytes(k.s2, key)}
}

func (k *keyMap) put(key []byte, off int64) { k.m[k.hash(key)] = off }

// latest returns the offset of key's latest mapped record.
func (k *keyMap) latest(key []byte) (int64, bool) {
	off, ok := k.m[k.hash(key)]
	return off, ok
}

func (k *keyMap) len() int { return len(k.m) }

// buildKeyMap maps the keys of every record in [from, end) of the log, and
// returns the offset it stopped at: end, or the end of the first batch after
// which the map holds maxKeys keys or more. The records of a batch that do
// not decode are not mapped (skipped counts those batches): compaction keeps
// such a batch as it is, and an unmapped record only keeps older ones alive.
func buildKeyMap(sm *shards.PartitionSM, from, end int64, maxKeys int) (km *keyMap, stop int64, skipped int, err error) {
	km = newKeyMap()
	for off := from; off < end; {
		b, _, _, err := sm.Read(off, compactReadBytes)
		if err != nil {
			return nil, 0, 0, err
		}
		if len(b) == 0 {
			break
		}
		for len(b) > 0 && off < end {
			h, err := segment.ParseBatchHeader(b)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("offset %d: %w", off, err)
			}
			batch := b[:h.Size()]
			b = b[h.Size():]
			next := h.LastOffset() + 1
			if h.IsControl() {
				off = next
				continue
			}
			var recs []rawRecord
			err = eachRecord(&h, batch, segment.MaxDecompressedRecords, func(r rawRecord) error {
				if r.offset >= off && r.offset < end && r.key != nil {
					recs = append(recs, r)
				}
				return nil
			})
			if err != nil {
				skipped++
			}
			for _, r := range recs {
				if err == nil {
					km.put(r.key, r.offset)
				}
			}
			off = next
			if km.len() >= maxKeys {
				return km, min(off, end), skipped, nil
			}
		}
	}
	return km, end, skipped, nil
}

// compactor is one pass's frame filter.
type compactor struct {
	keys              *keyMap
	now               int64 // Unix ms
	deleteRetentionMs int64
	tombstoneDue      int64 // earliest expiry of a kept tombstone, 0 none
	undecodable       int   // batches kept because their records do not decode
}

// filterFrame is the segment.FrameFilter of a pass: it filters every batch
// of a frame's payload and returns the payload itself if nothing changed.
func (c *compactor) filterFrame(batches []byte) ([]byte, error) {
	var out []byte
	changed := false
	for pos := 0; pos < len(batches); {
		h, err := segment.ParseBatchHeader(batches[pos:])
		if err != nil {
			return nil, err
		}
		b := batches[pos : pos+h.Size()]
		nb, err := compactBatch(&h, b, c.keep)
		if err != nil {
			// A batch whose records do not decode is kept as it is: its
			// records were not mapped either, so nothing relies on it.
			c.undecodable++
			nb = b
		}
		if !changed && !(len(nb) == len(b) && &nb[0] == &b[0]) {
			changed = true
			out = append(make([]byte, 0, len(batches)), batches[:pos]...)
		}
		if changed {
			out = append(out, nb...)
		}
		pos += h.Size()
	}
	if !changed {
		return batches, nil
	}
	return out, nil
}

// keep decides one record's fate.
func (c *compactor) keep(r rawRecord, maxTs int64) bool {
	if r.key == nil {
		return true
	}
	if latest, ok := c.keys.latest(r.key); ok && latest > r.offset {
		return false
	}
	if r.tombstone {
		expires := maxTs + c.deleteRetentionMs
		if c.now >= expires {
			return false
		}
		if c.tombstoneDue == 0 || expires < c.tombstoneDue {
			c.tombstoneDue = expires
		}
	}
	return true
}

// rawRecord is one record of a batch, as compaction sees it.
type rawRecord struct {
	offset    int64
	key       []byte // nil for a null key
	tombstone bool   // null value
	raw       []byte // the record's bytes, length prefix included
}

// errBadRecord: a record that does not decode.
var errBadRecord = errors.New("malformed record")

// eachRecord calls fn for every record of the v2 batch b, whose parsed
// header is h, decompressing the records of a batch the producer compressed
// to at most limit bytes (more is ErrRecordTooLarge, and never allocated).
// Keys alias b or the decompressed buffer.
func eachRecord(h *segment.BatchHeader, b []byte, limit int, fn func(r rawRecord) error) error {
	if h.Size() != len(b) {
		return fmt.Errorf("%w: batch of %d bytes in %d", ErrCorruptBatch, h.Size(), len(b))
	}
	raw, err := decompressRecords(h, b, limit)
	if err != nil {
		return err
	}
	prev := int64(-1)
	for i := int32(0); i < h.RecordCount; i++ {
		r, n, err := parseRecord(raw)
		if err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrCorruptBatch, i, err)
		}
		if r.offset <= prev || r.offset > int64(h.LastOffsetDelta) {
			return fmt.Errorf("%w: record %d: offset delta %d after %d, last %d", ErrCorruptBatch, i, r.offset, prev, h.LastOffsetDelta)
		}
		prev = r.offset
		r.offset += h.BaseOffset
		raw = raw[n:]
		if err := fn(r); err != nil {
			return err
		}
	}
	if len(raw) != 0 {
		return fmt.Errorf("%w: %d bytes after %d records", ErrCorruptBatch, len(raw), h.RecordCount)
	}
	return nil
}

// requireKeys returns ErrInvalidRecord if a record of the v2 batch b, whose
// header h produce validation has parsed and checked, has a null key: a
// compacted topic cannot accept one, as in Kafka, since compaction keeps
// records by key. It runs as shards.ValidateBatches' per-batch hook for
// compacted topics, so the headers are parsed once. The records of a
// compressed batch may decompress to at most limit bytes (the topic's
// max.message.bytes): past it the batch is refused with ErrRecordTooLarge
// after about twice limit allocated, so a compression bomb cannot exhaust
// the leader's memory (a Kafka producer splits such a batch and retries).
func requireKeys(h segment.BatchHeader, b []byte, limit int) error {
	if h.IsControl() {
		return nil // validation refuses them from producers anyway
	}
	return eachRecord(&h, b, limit, func(r rawRecord) error {
		if r.key == nil {
			return fmt.Errorf("%w: a compacted topic cannot accept a record without a key (offset %d of the batch)", ErrInvalidRecord, r.offset-h.BaseOffset)
		}
		return nil
	})
}

// parseRecord decodes the start of one v2 record of b: its offset delta
// (in offset), key and whether its value is null. n is its size in b.
func parseRecord(b []byte) (r rawRecord, n int, err error) {
	size, used := binary.Varint(b)
	if used <= 0 || size < 0 || size > int64(len(b)-used) {
		return r, 0, errBadRecord
	}
	n = used + int(size)
	r.raw = b[:n]
	rec := b[used:n]
	if len(rec) < 1 {
		return r, 0, errBadRecord
	}
	rec = rec[1:] // attributes
	next := func() (int64, bool) {
		v, u := binary.Varint(rec)
		if u <= 0 {
			return 0, false
		}
		rec = rec[u:]
		return v, true
	}
	if _, ok := next(); !ok { // timestamp delta
		return r, 0, errBadRecord
	}
	od, ok := next()
	if !ok || od < 0 || od > 1<<31-1 {
		return r, 0, errBadRecord
	}
	r.offset = od
	kl, ok := next()
	if !ok || kl < -1 || kl > int64(len(rec)) {
		return r, 0, errBadRecord
	}
	if kl >= 0 {
		r.key = rec[:kl:kl]
		rec = rec[kl:]
	}
	vl, ok := next()
	if !ok || vl < -1 || vl > int64(len(rec)) {
		return r, 0, errBadRecord
	}
	r.tombstone = vl < 0
	return r, n, nil
}

// compactBatch filters the records of the v2 batch b, whose parsed header is
// h, through keep (which gets each record and the batch's max timestamp).
// It returns b itself if every record is kept or b is a control batch;
// otherwise a new uncompressed batch (segment.AppendBatch) with the kept
// records' bytes unchanged (offset and timestamp deltas intact), the same
// base offset, last offset delta, timestamps, producer id, epoch and base
// sequence, the attributes less the compression bits, and a new length,
// record count and CRC-32C. A batch that loses every record stays as an
// empty batch covering its offsets.
func compactBatch(h *segment.BatchHeader, b []byte, keep func(r rawRecord, maxTs int64) bool) ([]byte, error) {
	if h.IsControl() {
		return b, nil
	}
	var kept [][]byte
	total, dropped := 0, 0
	err := eachRecord(h, b, segment.MaxDecompressedRecords, func(r rawRecord) error {
		if keep(r, h.MaxTimestamp) {
			kept = append(kept, r.raw)
			total += len(r.raw)
		} else {
			dropped++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if dropped == 0 {
		return b, nil
	}
	nh := *h
	nh.Attributes &^= int16(h.Compression()) // the kept records are stored uncompressed
	nh.RecordCount = int32(len(kept))
	return segment.AppendBatch(make([]byte, 0, segment.BatchHeaderSize+total), nh, kept...), nil
}
