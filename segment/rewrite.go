package segment

import (
	"fmt"
	"slices"
)

// Rewriting a sealed segment, shared by the background codec rewrite (the
// sealer) and RewriteSealed (compaction). A rewrite reads the old file
// through its own reference, writes "<base>.log.<kind>.tmp", fsyncs it, and
// then, holding Log.fileMu (so TruncateFront cannot delete the segment
// meanwhile), renames it over the old file, writes the new index files and
// swaps the segment in the list. Readers that pinned the old file keep
// reading it; new readers get the new one. A crash leaves either the old file
// (and a .tmp that Open deletes) or the new file, whose index Open rebuilds
// if the crash came before the index files were replaced.
//
// Rewrites of one Log are serialised by Log.rewriteMu, so the sealer and a
// compaction never work on the same segment at once; each checks, under
// that lock, that the segment is still in the list before it starts.

// FrameFilter rewrites the decoded payload of one frame: concatenated Kafka
// v2 record batches. It returns the new payload, whose batches must cover
// exactly the same offsets in the same order (a batch may lose records but
// not its offset range: the frame's offset range, the segment's and the
// Raft index ranges never change). Returning batches itself (the same
// slice) means "unchanged". The filter must not keep or modify batches.
type FrameFilter func(batches []byte) ([]byte, error)

// sameSlice reports whether out is in itself (a filter's "unchanged").
func sameSlice(out, in []byte) bool {
	return len(out) == len(in) && (len(in) == 0 || &out[0] == &in[0])
}

// rewriteKind names a rewrite in its tmp file and log lines.
type rewriteKind string

const (
	rewriteCodec   rewriteKind = "rewrite" // sealer: to Options.SealedCodec
	rewriteCompact rewriteKind = "compact" // RewriteSealed
)

// rewriteSegment rewrites the sealed segment old into target's codec,
// passing every frame that holds batches through filter (nil: copy the
// payloads, as the sealer does), merging consecutive frames into frames of
// about sealedFrameBytes, and swaps the result in. stopping is polled
// between frames. It reports whether the segment was replaced: not if it
// left the list meanwhile (TruncateFront), if stopping, or if the filter
// changed no frame. Callers hold Log.rewriteMu and a reference to old.
func (l *Log) rewriteSegment(old *segment, kind rewriteKind, target Codec, stopping func() bool, filter FrameFilter) (bool, error) {
	l.mu.RLock()
	listed := slices.Contains(l.segs, old)
	l.mu.RUnlock()
	if !listed {
		return false, nil // deleted, or replaced by another rewrite
	}
	if filter != nil {
		changed, err := l.filterChanges(old, stopping, filter)
		if err != nil || !changed {
			return false, err
		}
	}
	tmp := old.path(logSuffix + "." + string(kind) + tmpSuffix)
	f, err := l.fs.Create(tmp)
	if err != nil {
		return false, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			l.fs.Remove(tmp)
		}
	}()
	meta := newSegMeta(old.meta.Base)
	ib := newIndexBuilder(l.opts.IndexIntervalBytes)
	var idx []indexEntry
	var buf, out []byte
	// write appends one frame (header h, stored payload) to the new file.
	write := func(h frameHeader, payload []byte) error {
		h.StoredLen = uint32(len(payload))
		out = append(append(out[:0], make([]byte, frameHeaderSize)...), payload...)
		putFrameHeader(out, &h)
		h.CRC = sealFrame(out)
		if _, err := f.WriteAt(out, meta.Size); err != nil {
			return err
		}
		if e, ok := ib.add(&h, meta.Size); ok {
			idx = append(idx, e)
		}
		meta.add(&h, meta.Size)
		return nil
	}
	// Consecutive frames are merged into frames of about sealedFrameBytes:
	// zstd compresses larger inputs better, and a sealed segment is read
	// sequentially by catching-up consumers.
	var pend frameHeader
	var pdata []byte
	have := false
	flush := func() error {
		if !have {
			return nil
		}
		have = false
		h, payload := pend, pdata
		h.Codec, h.Flags = CodecNone, 0
		if len(pdata) > 0 && target != CodecNone {
			var ok bool
			if buf, ok = compress(target, buf[:0], pdata); ok {
				h.Codec, payload = target, buf
			}
		}
		return write(h, payload)
	}
	for pos := int64(0); pos < old.meta.Size; {
		if stopping() {
			return false, errStopping
		}
		h, stored, err := readFrame(old.f, pos, old.meta.Size)
		if err != nil {
			return false, l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: pos, Reason: err.Error()})
		}
		fpos := pos
		pos += h.size()
		if h.Flags&flagPrecompressed != 0 && filter == nil {
			if err := flush(); err != nil {
				return false, err
			}
			if err := write(h, stored); err != nil {
				return false, err
			}
			continue
		}
		data, err := decodeFramePayload(&h, stored)
		if err != nil {
			return false, l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: fpos, Reason: err.Error()})
		}
		if filter != nil && !h.empty() {
			fdata, err := filter(data)
			if err != nil {
				return false, fmt.Errorf("filter frame at %d of %s: %w", fpos, old.path(logSuffix), err)
			}
			if sameSlice(fdata, data) && h.Flags&flagPrecompressed != 0 {
				// The client's compressed batches, untouched: copy as stored.
				if err := flush(); err != nil {
					return false, err
				}
				if err := write(h, stored); err != nil {
					return false, err
				}
				continue
			}
			if !sameSlice(fdata, data) {
				if err := refilterHeader(&h, fdata); err != nil {
					return false, fmt.Errorf("filter frame at %d of %s: %w", fpos, old.path(logSuffix), err)
				}
				data = fdata
			}
		}
		if have && len(pdata)+len(data) > sealedFrameBytes {
			if err := flush(); err != nil {
				return false, err
			}
		}
		if !have {
			pend, pdata, have = h, append(pdata[:0], data...), true
			continue
		}
		pend.LastIndex = h.LastIndex
		if !h.empty() {
			pend.LastOffset = h.LastOffset
			pend.Records += h.Records
			if h.MaxTs > pend.MaxTs {
				pend.MaxTs, pend.MaxTsOff = h.MaxTs, h.MaxTsOff
			}
		}
		pdata = append(pdata, data...)
		pend.OrigLen = uint32(len(pdata))
	}
	if err := flush(); err != nil {
		return false, err
	}
	if meta.End != old.meta.End || meta.LastIndex != old.meta.LastIndex || meta.FirstIndex != old.meta.FirstIndex {
		return false, fmt.Errorf("rewrite of %s ended at offset %d index %d, want %d %d", old.path(logSuffix), meta.End, meta.LastIndex, old.meta.End, old.meta.LastIndex)
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	meta.Rewritten = target

	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.RLock()
	i := slices.Index(l.segs, old)
	l.mu.RUnlock()
	if i < 0 || stopping() {
		return false, nil // deleted by TruncateFront meanwhile, or closing
	}
	if l.testHookBeforeRename != nil {
		if err := l.testHookBeforeRename(tmp); err != nil {
			return false, err
		}
	}
	if err := l.fs.Rename(tmp, old.path(logSuffix)); err != nil {
		return false, err
	}
	keep = true
	if err := writeIndexes(l.fs, l.dir, &meta, idx); err != nil {
		l.log.Warn("write index of rewritten segment (Open rebuilds it)", "segment", old.path(logSuffix), "err", err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.log.Warn("sync dir after rewrite", "dir", l.dir, "err", err)
	}
	ns := newSegment(l.dir, f, meta, slices.Clip(idx), indexBuilder{})
	ns.sealed = true
	l.mu.Lock()
	l.segs[i] = ns
	l.mu.Unlock()
	l.cache.dropSegment(old.id)
	old.release() // the list's reference
	l.log.Debug("rewrote sealed segment", "segment", old.path(logSuffix), "kind", string(kind), "codec", target,
		"old_size", old.meta.Size, "new_size", meta.Size)
	return true, nil
}

// filterChanges runs filter over old's frames until one changes: a segment
// the filter leaves alone is not rewritten at all.
func (l *Log) filterChanges(old *segment, stopping func() bool, filter FrameFilter) (bool, error) {
	for pos := int64(0); pos < old.meta.Size; {
		if stopping() {
			return false, errStopping
		}
		h, stored, err := readFrame(old.f, pos, old.meta.Size)
		if err != nil {
			return false, l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: pos, Reason: err.Error()})
		}
		fpos := pos
		pos += h.size()
		if h.empty() {
			continue
		}
		data, err := decodeFramePayload(&h, stored)
		if err != nil {
			return false, l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: fpos, Reason: err.Error()})
		}
		out, err := filter(data)
		if err != nil {
			return false, fmt.Errorf("filter frame at %d of %s: %w", fpos, old.path(logSuffix), err)
		}
		if !sameSlice(out, data) {
			return true, nil
		}
	}
	return false, nil
}

// refilterHeader checks a filter's output against the frame header h (the
// batches still cover [BaseOffset, LastOffset] contiguously) and recounts
// h's records, max timestamp and length from it. The Raft index range, the
// offsets and the append time stay as they were.
func refilterHeader(h *frameHeader, data []byte) error {
	if err := checkFrameBatches(h, data); err != nil {
		return fmt.Errorf("filter output: %w", err)
	}
	h.Records, h.MaxTs, h.MaxTsOff = 0, -1, -1
	_ = EachBatch(data, func(bh BatchHeader, _ []byte) error {
		h.Records += uint32(bh.RecordCount)
		if bh.MaxTimestamp > h.MaxTs {
			h.MaxTs, h.MaxTsOff = bh.MaxTimestamp, bh.BaseOffset
		}
		return nil
	})
	h.OrigLen = uint32(len(data))
	h.Flags = 0
	return nil
}

// RewriteStats is what one RewriteSealed pass did.
type RewriteStats struct {
	Segments    int   // sealed segments the filter saw
	Rewritten   int   // segments replaced (the filter changed a frame)
	BytesBefore int64 // the replaced segments' sizes before the pass
	BytesAfter  int64 // and after it
}

// RewriteSealed passes every frame of each sealed segment that ends at or
// before upTo through filter (see FrameFilter) and replaces each segment in
// which the filter changed a frame, written in Options.SealedCodec. The
// active segment is never touched. The log start and end offsets, every
// segment's base and end offsets and every frame's Raft index range stay
// as they were; the frames' record counts and max timestamps are
// recomputed from the filtered batches. Segments are rewritten one at a
// time, crash-safe as the background codec rewrite is (tmp file, fsync,
// rename, index files; Open removes a leftover tmp or rebuilds a stale
// index), and concurrent Appends and Reads go on meanwhile.
//
// It may be called from any goroutine, one call at a time per Log; Close
// waits for a call in progress, which then stops early with ErrClosed.
//
// Errors: ErrClosed; a *CorruptError for a damaged frame; the filter's
// errors and an output that does not cover the frame's offsets, wrapped
// with the file and position; I/O errors. Segments replaced before the
// error stay replaced.
func (l *Log) RewriteSealed(upTo int64, filter FrameFilter) (RewriteStats, error) {
	var st RewriteStats
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return st, ErrClosed
	}
	l.rewriters.Add(1)
	l.mu.Unlock()
	defer l.rewriters.Done()
	stopping := func() bool {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return l.closed
	}
	next := int64(-1) // segments with a base above this are left to do
	for {
		l.rewriteMu.Lock()
		l.mu.RLock()
		var seg *segment
		for _, s := range l.segs {
			if s.sealed && s.meta.Base > next && s.meta.End <= upTo {
				seg = s
				seg.acquire()
				break
			}
		}
		l.mu.RUnlock()
		if seg == nil {
			l.rewriteMu.Unlock()
			return st, nil
		}
		next = seg.meta.Base
		before := seg.meta.Size
		done, err := l.rewriteSegment(seg, rewriteCompact, l.opts.SealedCodec, stopping, filter)
		after := int64(0)
		if done {
			l.mu.RLock()
			for _, s := range l.segs {
				if s.meta.Base == seg.meta.Base {
					after = s.meta.Size
				}
			}
			l.mu.RUnlock()
		}
		seg.release()
		l.rewriteMu.Unlock()
		if err == errStopping {
			return st, ErrClosed
		}
		if err != nil {
			return st, fmt.Errorf("rewrite sealed segment %s: %w", segmentName(next), err)
		}
		st.Segments++
		if done {
			st.Rewritten++
			st.BytesBefore += before
			st.BytesAfter += after
		}
	}
}
