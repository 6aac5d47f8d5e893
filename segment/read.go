package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// maxReadSegments bounds how many segments one Read pins; a read that would
// cross more returns what it has (it always has at least one batch by then).
const maxReadSegments = 4

// segView is a reader's consistent view of one segment: the file (pinned by
// a reference) and how much of it, with which index, was published.
type segView struct {
	s     *segment
	limit int64
	idx   []indexEntry
	meta  segMeta
}

// view pins the segments from the one holding offset (at most n of them) and
// returns them with the log's start and end offsets. The caller must release
// them (releaseViews).
func (l *Log) view(offset int64, n int) (vs []segView, start, end int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, 0, 0, ErrClosed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].meta.Base > offset }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(l.segs) && len(vs) < n; i++ {
		s := l.segs[i]
		s.acquire()
		vs = append(vs, segView{s: s, limit: s.meta.Size, idx: s.idx, meta: s.meta})
	}
	return vs, l.start, l.end, nil
}

func releaseViews(vs []segView) {
	for _, v := range vs {
		v.s.release()
	}
}

// frameAt returns the decoded frame at pos of v: from the cache, or read,
// verified, decompressed and cached. A frame that fails verification is a
// *CorruptError.
func (l *Log) frameAt(v *segView, pos int64) (*cachedFrame, error) {
	key := frameKey{v.s.id, pos}
	if f := l.cache.get(key); f != nil {
		return f, nil
	}
	h, stored, err := readFrame(v.s.f, pos, v.limit)
	if err != nil {
		var fe *frameReadError
		if errors.As(err, &fe) && !fe.io {
			return nil, l.corrupt(&CorruptError{Segment: v.s.path(logSuffix), Pos: pos, Reason: fe.Error()})
		}
		return nil, fmt.Errorf("read %s at %d: %w", v.s.path(logSuffix), pos, err)
	}
	data, err := decodeFramePayload(&h, stored)
	if err != nil {
		return nil, l.corrupt(&CorruptError{Segment: v.s.path(logSuffix), Pos: pos, Reason: err.Error()})
	}
	f := &cachedFrame{hdr: h, data: data}
	l.cache.put(key, f)
	return f, nil
}

// Read returns whole record batches starting with the one that contains
// offset, up to maxBytes in total but always at least one batch. It returns
// (nil, nil) when offset == EndOffset. The returned bytes must not be
// modified; they stay valid however the log changes afterwards.
//
// Errors: ErrOffsetOutOfRange when offset < StartOffset or > EndOffset;
// ErrClosed; a *CorruptError (ErrCorrupt) when the first frame to serve fails
// its CRC or does not decode (a later frame that fails ends the read early;
// the next Read starting there reports it).
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	parts, total, err := l.read(offset, maxBytes)
	if err != nil {
		return nil, err
	}
	return join(parts, total), nil
}

// ReadV is Read without the final concatenation: the batches come as one
// slice per frame they were found in (each aliasing immutable cached data),
// for a caller that writes them with net.Buffers. Same semantics and errors
// as Read; nil when offset == EndOffset.
func (l *Log) ReadV(offset int64, maxBytes int) ([][]byte, error) {
	parts, _, err := l.read(offset, maxBytes)
	if err != nil {
		return nil, err
	}
	for i, p := range parts {
		parts[i] = p[:len(p):len(p)]
	}
	return parts, nil
}

func (l *Log) read(offset int64, maxBytes int) ([][]byte, int, error) {
	vs, start, end, err := l.view(offset, maxReadSegments)
	if err != nil {
		return nil, 0, err
	}
	defer releaseViews(vs)
	if offset == end {
		return nil, 0, nil
	}
	if offset < start || offset > end {
		return nil, 0, fmt.Errorf("read offset %d, log is [%d,%d): %w", offset, start, end, ErrOffsetOutOfRange)
	}
	var parts [][]byte
	total := 0
	full := false
	for i := range vs {
		v := &vs[i]
		pos := int64(0)
		if i == 0 {
			pos = lookupOffset(v.idx, offset)
		}
		for pos < v.limit && !full {
			f, err := l.frameAt(v, pos)
			if err != nil {
				if total > 0 {
					return parts, total, nil
				}
				return nil, 0, err
			}
			pos += f.hdr.size()
			if f.hdr.empty() || f.hdr.LastOffset < offset {
				continue
			}
			// Walk the frame's batches: skip those before offset, take whole
			// batches while they fit.
			from, to := -1, 0
			for p := 0; p < len(f.data); {
				bh, err := ParseBatchHeader(f.data[p:])
				if err != nil { // checked when decoded; defensive
					return nil, 0, l.corrupt(&CorruptError{Segment: v.s.path(logSuffix), Pos: pos - f.hdr.size(), Reason: err.Error()})
				}
				n := bh.Size()
				if bh.LastOffset() >= offset {
					if total+(to-max(from, 0))+n > maxBytes && (total > 0 || from >= 0) {
						full = true
						break
					}
					if from < 0 {
						from = p
					}
					to = p + n
				}
				p += n
			}
			if from >= 0 {
				parts = append(parts, f.data[from:to])
				total += to - from
			}
		}
		if full {
			break
		}
	}
	return parts, total, nil
}

// join returns the parts as one slice: the part itself if there is one (no
// copy; cached frame data is immutable), otherwise a fresh concatenation.
func join(parts [][]byte, total int) []byte {
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0][:len(parts[0]):len(parts[0])]
	}
	return bytes.Join(parts, nil) // allocates without zeroing
}

// OffsetForTimestamp finds the earliest record whose timestamp is >= ts
// (Kafka ListOffsets), at or after StartOffset, and returns its offset and
// timestamp; ok is false if no record qualifies. Within a batch that the
// client compressed, records are not decoded: the batch's first offset (at
// or after StartOffset) and its max timestamp are returned, which a consumer
// seeking there handles correctly (it receives the batch and skips nothing
// it wanted). For uncompressed batches the answer is exact to the record;
// with LogAppendTime every record carries the batch's max timestamp.
//
// Errors: ErrClosed; a *CorruptError for a frame that fails verification.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error) {
	// Segments' max timestamps are not ordered (producers choose their
	// timestamps), so every segment is considered, oldest first, each
	// skipped on its summary alone. The walk goes by offset, so retention or
	// a rewrite changing the list meanwhile makes it skip nothing.
	for from := int64(0); ; {
		v, start, err := l.viewFrom(from)
		if err != nil || v == nil {
			return 0, 0, false, err
		}
		from = v.meta.End
		off, t, found, err := l.timeInSegment(v, ts, start)
		v.s.release()
		if err != nil || found {
			return off, t, found, err
		}
	}
}

// viewFrom pins the first segment that holds offsets at or after from; nil
// if there is none. It also returns the log start offset.
func (l *Log) viewFrom(from int64) (*segView, int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, 0, ErrClosed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].meta.End > from })
	if i >= len(l.segs) {
		return nil, l.start, nil
	}
	s := l.segs[i]
	s.acquire()
	return &segView{s: s, limit: s.meta.Size, idx: s.idx, meta: s.meta}, l.start, nil
}

func (l *Log) timeInSegment(v *segView, ts, start int64) (int64, int64, bool, error) {
	if v.meta.MaxTs < ts || v.meta.End <= start {
		return 0, 0, false, nil
	}
	for pos := lookupTime(v.idx, ts); pos < v.limit; {
		f, err := l.frameAt(v, pos)
		if err != nil {
			return 0, 0, false, err
		}
		pos += f.hdr.size()
		if f.hdr.empty() || f.hdr.MaxTs < ts || f.hdr.LastOffset < start {
			continue
		}
		for p := 0; p < len(f.data); {
			bh, err := ParseBatchHeader(f.data[p:])
			if err != nil {
				return 0, 0, false, l.corrupt(&CorruptError{Segment: v.s.path(logSuffix), Pos: pos - f.hdr.size(), Reason: err.Error()})
			}
			b := f.data[p : p+bh.Size()]
			p += bh.Size()
			if bh.MaxTimestamp < ts || bh.LastOffset() < start {
				continue
			}
			if off, t, ok := recordAtOrAfter(&bh, b, ts, start); ok {
				return off, t, true, nil
			}
		}
	}
	return 0, 0, false, nil
}

// recordAtOrAfter finds, in one batch whose max timestamp is >= ts, the first
// record with timestamp >= ts and offset >= start. Records are decoded (and
// a client-compressed batch decompressed) only here, on the ListOffsets
// path. With LogAppendTime every record carries the batch's max timestamp.
// A batch whose records do not decode yields its first offset (at or after
// start) and its max timestamp.
func recordAtOrAfter(bh *BatchHeader, b []byte, ts, start int64) (int64, int64, bool) {
	fallback := max(bh.BaseOffset, start)
	if bh.LogAppendTime() {
		return fallback, bh.MaxTimestamp, true
	}
	recs := b[BatchHeaderSize:]
	if c := bh.Compression(); c != 0 {
		var err error
		if recs, err = DecompressRecords(c, recs, MaxDecompressedRecords); err != nil {
			return fallback, bh.MaxTimestamp, true
		}
	}
	p := 0
	for range bh.RecordCount {
		length, n := binary.Varint(recs[p:])
		if n <= 0 || length < 0 || int64(p+n)+length > int64(len(recs)) {
			break
		}
		rec := recs[p+n : p+n+int(length)]
		p += n + int(length)
		if len(rec) < 1 {
			break
		}
		tsDelta, n1 := binary.Varint(rec[1:])
		if n1 <= 0 {
			break
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 || offDelta < 0 || offDelta > int64(bh.LastOffsetDelta) {
			break
		}
		off, t := bh.BaseOffset+offDelta, bh.BaseTimestamp+tsDelta
		if t >= ts && off >= start {
			return off, t, true
		}
	}
	return fallback, bh.MaxTimestamp, true
}
