package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Log is the on-disk log of one partition: a directory of segments.
//
// Threading contract: one writer goroutine calls Append, TruncateFront, Sync
// and Close (they are also serialised by a mutex, so a second writer is safe
// but pointless). Any number of goroutines may call Read, OffsetForTimestamp,
// Checkpoint and the accessors concurrently with the writer and each other.
// A background goroutine rewrites sealed segments; it never blocks Append or
// Read and stops in Close.
type Log struct {
	dir   string
	opts  Options
	fs    FS
	log   *slog.Logger
	cache *frameCache

	// wmu serialises writers (Append, TruncateFront, Sync, Close).
	wmu     sync.Mutex
	failed  error  // a write that could not be undone; Append refuses after it
	scratch []byte // compression buffer, writer only

	// fileMu serialises replacing (background rewrite) and deleting
	// (TruncateFront) sealed segment files.
	fileMu sync.Mutex
	// rewriteMu serialises rewrites of sealed segments (the sealer's codec
	// rewrite and RewriteSealed), one segment at a time.
	rewriteMu sync.Mutex
	// rewriters counts RewriteSealed calls in progress; Close waits for them.
	rewriters sync.WaitGroup
	// testHookBeforeRename, if set (tests), runs before a rewrite renames
	// its tmp file over the segment; an error aborts the rewrite there.
	testHookBeforeRename func(tmp string) error

	// mu guards the fields below, and the active segment's meta and index.
	mu        sync.RWMutex
	segs      []*segment // by base offset; the last one is active
	start     int64
	end       int64
	lastIndex uint64
	maxTs     int64
	maxTsOff  int64
	closed    bool

	sealer *sealer

	reported sync.Map // "file:pos" of damaged frames passed to OnCorrupt
}

// corrupt reports a damaged frame to Options.OnCorrupt, once per frame, and
// returns it.
func (l *Log) corrupt(ce *CorruptError) *CorruptError {
	if l.opts.OnCorrupt != nil {
		if _, seen := l.reported.LoadOrStore(fmt.Sprintf("%s:%d", ce.Segment, ce.Pos), true); !seen {
			l.opts.OnCorrupt(ce)
		}
	}
	return ce
}

// SegmentInfo describes one segment, for retention and tooling.
type SegmentInfo struct {
	// BaseOffset is the segment's first offset (its file name).
	BaseOffset int64
	// EndOffset is the offset after its last record.
	EndOffset int64
	// Size is the .log file's size in bytes.
	Size int64
	// MaxTimestamp is the largest batch max timestamp, -1 if none
	// (retention.ms compares it to the clock, as Kafka does).
	MaxTimestamp int64
	// FirstIndex and LastIndex are the Raft index range stored, 0 if none.
	FirstIndex, LastIndex uint64
	// Created is the wall clock of the first append (zero if empty).
	Created time.Time
	// Sealed is false only for the active (last) segment.
	Sealed bool
	// Rewritten tells whether the background rewrite to Options.SealedCodec
	// has completed for this segment.
	Rewritten bool
}

// Open opens (creating if needed) the partition log in dir. It loads the
// sealed segments from their indexes (rebuilding an index that is missing or
// does not match its log), then scans the active segment, verifies every
// frame's CRC and cuts a torn tail, so LastIndex is exactly the last Raft
// index durable in the files.
//
// Errors: a *CorruptError (ErrCorrupt) when a sealed segment must be scanned
// and fails, or when the segments do not continue each other; I/O errors
// wrapped with the path.
func Open(dir string, opts *Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: o, fs: o.FS, log: o.Logger.With("dir", dir), cache: o.frameCache(), maxTs: -1, maxTsOff: -1}
	if err := recoverRestore(o.FS, dir); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if err := l.load(); err != nil {
		for _, s := range l.segs {
			s.release()
		}
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	l.sealer = startSealer(l)
	for _, s := range l.segs[:len(l.segs)-1] {
		l.sealer.enqueue(s)
	}
	return l, nil
}

func (l *Log) load() error {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			if err := l.fs.Remove(filepath.Join(l.dir, n)); err != nil {
				return err
			}
			continue
		}
		if b, ok := parseSegmentName(n); ok {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	st, haveState, err := readState(l.fs, l.dir)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		s, err := l.createSegment(st.End)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
	}
	for i, b := range bases {
		var s *segment
		if i < len(bases)-1 {
			var rebuilt bool
			s, rebuilt, err = loadSealed(l.fs, l.dir, b, l.opts.IndexIntervalBytes)
			if err != nil {
				return err
			}
			if rebuilt {
				l.log.Warn("segment index rebuilt from the log", "segment", s.path(logSuffix))
				if err := writeIndexes(l.fs, l.dir, &s.meta, s.idx); err != nil {
					l.log.Warn("write rebuilt index", "segment", s.path(logSuffix), "err", err)
				}
			}
		} else if s, err = l.openActive(b); err != nil {
			return err
		}
		if n := len(l.segs); n > 0 && l.segs[n-1].meta.End != s.meta.Base {
			prev := l.segs[n-1]
			s.release()
			return &CorruptError{Segment: prev.path(logSuffix), Pos: prev.meta.Size,
				Reason: fmt.Sprintf("segment ends at offset %d but the next one starts at %d", prev.meta.End, b)}
		}
		l.segs = append(l.segs, s)
	}
	l.start = l.segs[0].meta.Base
	if haveState && st.Start > l.start {
		l.start = st.Start
	}
	act := l.segs[len(l.segs)-1]
	l.end = act.meta.End
	if l.start > l.end {
		l.start = l.end
	}
	// Segments wholly below the start that a failed TruncateFront left
	// behind: finish deleting them (the start was persisted first).
	for len(l.segs) > 1 && l.segs[0].meta.End <= l.start {
		s := l.segs[0]
		l.segs = l.segs[1:]
		l.log.Info("deleting segment below the log start", "segment", s.path(logSuffix), "start", l.start)
		for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			if err := l.fs.Remove(s.path(suf)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				l.log.Warn("delete segment below the log start", "file", s.path(suf), "err", err)
			}
		}
		s.release()
	}
	l.lastIndex = st.LastIndex
	for _, s := range l.segs {
		l.lastIndex = max(l.lastIndex, s.meta.LastIndex)
		if s.meta.MaxTs > l.maxTs {
			l.maxTs, l.maxTsOff = s.meta.MaxTs, s.meta.MaxTsOff
		}
	}
	return nil
}

// openActive opens the last segment for appending: scans it and cuts what
// follows the last good frame.
func (l *Log) openActive(base int64) (*segment, error) {
	path := filepath.Join(l.dir, segmentName(base)+logSuffix)
	f, err := l.fs.OpenReadWrite(path)
	if err != nil {
		return nil, err
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := scanFrames(f, base, size, l.opts.IndexIntervalBytes)
	if err != nil {
		f.Close()
		return nil, err
	}
	if r.stopPos < size {
		// A torn tail (the crash interrupted a write) or a frame that fails
		// its CRC: nothing after it can be trusted, and Raft re-applies
		// everything after LastIndex.
		l.log.Warn("cutting the active segment after its last good frame", "segment", path,
			"pos", r.stopPos, "cut_bytes", size-r.stopPos, "torn", r.stopErr.torn, "reason", r.stopErr.Error())
		if err := f.Truncate(r.stopPos); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	return newSegment(l.dir, f, r.meta, r.idx, r.ib), nil
}

// createSegment creates an empty segment file at base and syncs the directory.
func (l *Log) createSegment(base int64) (*segment, error) {
	path := filepath.Join(l.dir, segmentName(base)+logSuffix)
	f, err := l.fs.Create(path)
	if err != nil {
		return nil, err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		l.fs.Remove(path)
		return nil, err
	}
	return newSegment(l.dir, f, newSegMeta(base), nil, newIndexBuilder(l.opts.IndexIntervalBytes)), nil
}

// Append writes batches as one frame tagged with the Raft index range
// [firstIndex, lastIndex]. batches is zero or more concatenated Kafka v2
// record batches whose base offsets continue exactly at EndOffset; an empty
// batches records only that lastIndex was applied. The range must follow the
// stored ones: LastIndex < firstIndex <= lastIndex. The batches are copied;
// the caller may reuse the slice.
//
// The frame is durable after Sync; a crash before it keeps a prefix of the
// frames, never a hole.
//
// Errors (the log unchanged): ErrClosed; ErrOutOfOrder (offsets or indexes
// do not follow); ErrInvalidBatch (not magic 2, bad lengths);
// ErrFrameTooLarge; an I/O error from the write, after which the partial
// frame is cut again (if even that fails, every later Append fails too).
func (l *Log) Append(batches []byte, firstIndex, lastIndex uint64) error {
	return l.append(batches, nil, firstIndex, lastIndex)
}

// FrameHeadroom is how many bytes AppendOwned needs in front of the batches.
const FrameHeadroom = frameHeaderSize

// AppendOwned is Append without the copy: buf holds FrameHeadroom bytes of
// scratch space followed by the batches, and the log takes buf over (its
// frame header is written into the headroom and the frame cache may keep
// buf), so the caller must not touch buf afterwards. It is the apply path's
// way to write each byte once. Errors: as Append.
func (l *Log) AppendOwned(buf []byte, firstIndex, lastIndex uint64) error {
	if len(buf) < FrameHeadroom {
		return fmt.Errorf("append: buffer of %d bytes has no room for a frame header: %w", len(buf), ErrInvalidBatch)
	}
	return l.append(buf[FrameHeadroom:], buf, firstIndex, lastIndex)
}

// append writes batches as a frame; owned, when not nil, is a buffer the log
// may keep whose first frameHeaderSize bytes precede batches.
func (l *Log) append(batches, owned []byte, firstIndex, lastIndex uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed, end, lastIdx := l.closed, l.end, l.lastIndex
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("append: log failed earlier: %w", l.failed)
	}
	// Frames' Raft ranges must not overlap: Open's scan treats an overlap as
	// the end of the valid log.
	if firstIndex > lastIndex || firstIndex <= lastIdx {
		return fmt.Errorf("append raft indexes [%d,%d] after %d: %w", firstIndex, lastIndex, lastIdx, ErrOutOfOrder)
	}
	if len(batches) > l.opts.MaxFrameBytes {
		return fmt.Errorf("append of %d bytes, limit %d: %w", len(batches), l.opts.MaxFrameBytes, ErrFrameTooLarge)
	}
	h := frameHeader{FirstIndex: firstIndex, LastIndex: lastIndex, BaseOffset: end, LastOffset: end - 1,
		MaxTs: -1, MaxTsOff: -1, AppendTime: l.opts.Now().UnixMilli(), OrigLen: uint32(len(batches))}
	precompressed := 0
	err := EachBatch(batches, func(bh BatchHeader, b []byte) error {
		if bh.BaseOffset != h.LastOffset+1 {
			return fmt.Errorf("batch base offset %d, want %d: %w", bh.BaseOffset, h.LastOffset+1, ErrOutOfOrder)
		}
		h.LastOffset = bh.LastOffset()
		h.Records += uint32(bh.RecordCount)
		if bh.MaxTimestamp > h.MaxTs {
			h.MaxTs, h.MaxTsOff = bh.MaxTimestamp, bh.BaseOffset
		}
		if bh.Compression() != 0 {
			precompressed += len(b)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrOutOfOrder) && !errors.Is(err, ErrInvalidBatch) {
			err = fmt.Errorf("%w: %w", ErrInvalidBatch, err)
		}
		return fmt.Errorf("append: %w", err)
	}
	if err := l.maybeRoll(int64(frameHeaderSize + len(batches))); err != nil {
		return fmt.Errorf("append: roll segment: %w", err)
	}
	act := l.segs[len(l.segs)-1] // only the writer changes segs' tail

	// Build the frame: header, then the payload compressed or raw. The
	// frame is a fresh allocation (bytes.Join does not zero it) or the
	// caller's owned buffer: for a raw frame the cache keeps its payload.
	var hdr [frameHeaderSize]byte
	var frame, data []byte // data: the decoded payload, for the cache
	codec := l.opts.ActiveCodec
	switch {
	case len(batches) == 0:
		codec = CodecNone
	case precompressed*2 >= len(batches):
		codec, h.Flags = CodecNone, flagPrecompressed
	}
	if codec != CodecNone {
		var ok bool
		l.scratch, ok = compress(codec, l.scratch[:0], batches)
		if ok {
			frame = bytes.Join([][]byte{hdr[:], l.scratch}, nil)
			data = slices.Clone(batches)
		} else {
			codec = CodecNone
		}
	}
	if codec == CodecNone {
		if owned != nil {
			frame = owned
		} else {
			frame = bytes.Join([][]byte{hdr[:], batches}, nil)
		}
		data = frame[frameHeaderSize:]
	}
	h.Codec = codec
	h.StoredLen = uint32(len(frame) - frameHeaderSize)
	putFrameHeader(frame, &h)
	h.CRC = sealFrame(frame)

	pos := act.meta.Size
	act.reserve(pos+int64(len(frame)), l.opts.SegmentBytes)
	if _, err := act.f.WriteAt(frame, pos); err != nil {
		if terr := act.f.Truncate(pos); terr != nil {
			l.failed = fmt.Errorf("write %s: %w; cutting the partial frame: %w", act.path(logSuffix), err, terr)
			return fmt.Errorf("append: %w", l.failed)
		}
		return fmt.Errorf("append: write %s at %d: %w", act.path(logSuffix), pos, err)
	}
	act.startWriteback(pos + int64(len(frame)))
	l.mu.Lock()
	if e, ok := act.ib.add(&h, pos); ok {
		act.idx = append(act.idx, e)
	}
	act.meta.add(&h, pos)
	if !h.empty() {
		l.end = h.LastOffset + 1
	}
	l.lastIndex = lastIndex
	if h.MaxTs > l.maxTs {
		l.maxTs, l.maxTsOff = h.MaxTs, h.MaxTsOff
	}
	l.mu.Unlock()
	if !h.empty() {
		l.cache.put(frameKey{act.id, pos}, &cachedFrame{hdr: h, data: data})
	}
	return nil
}

// SetRoll changes SegmentBytes and SegmentAge of an open log (zero means
// the default, as in Options); they apply from the next Append. It is how a
// topic's segment.bytes and segment.ms change at run time.
func (l *Log) SetRoll(segmentBytes int64, age time.Duration) {
	if segmentBytes <= 0 {
		segmentBytes = DefaultSegmentBytes
	}
	if age <= 0 {
		age = DefaultSegmentAge
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.opts.SegmentBytes = min(segmentBytes, maxSegmentBytes)
	l.opts.SegmentAge = age
}

// maybeRoll seals the active segment and starts a new one if a frame of
// frameSize bytes would take it past SegmentBytes, or it is older than
// SegmentAge. A segment that holds no record is never rolled (its successor
// would have the same base offset).
func (l *Log) maybeRoll(frameSize int64) error {
	act := l.segs[len(l.segs)-1]
	if act.meta.End == act.meta.Base {
		return nil
	}
	bySize := act.meta.Size+frameSize > l.opts.SegmentBytes
	byAge := l.opts.SegmentAge > 0 && l.opts.Now().Sub(time.UnixMilli(act.meta.FirstAppend)) > l.opts.SegmentAge
	if !bySize && !byAge {
		return nil
	}
	return l.roll()
}

// roll seals the active segment: fsync it (so that no later frame can be
// durable while an earlier one is not), write its index files, create the
// next segment. Writer only.
func (l *Log) roll() error {
	act := l.segs[len(l.segs)-1]
	act.unreserve()
	if err := act.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", act.path(logSuffix), err)
	}
	if err := writeIndexes(l.fs, l.dir, &act.meta, act.idx); err != nil {
		// Not fatal: Open rebuilds a missing index from the log.
		l.log.Warn("write segment index", "segment", act.path(logSuffix), "err", err)
	}
	next, err := l.createSegment(act.meta.End)
	if err != nil {
		return err
	}
	l.mu.Lock()
	act.sealed = true
	act.idx = slices.Clip(act.idx)
	l.segs = append(l.segs, next)
	l.mu.Unlock()
	l.log.Debug("rolled segment", "sealed", act.path(logSuffix), "size", act.meta.Size, "next_base", next.meta.Base)
	l.sealer.enqueue(act)
	return nil
}

// Sync makes every appended frame durable (fsync of the active segment).
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	act := l.segs[len(l.segs)-1]
	if err := act.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", act.path(logSuffix), err)
	}
	return nil
}

// Close stops the background rewrite, syncs and closes the files. Readers
// still running finish on the files they hold. Further calls return ErrClosed.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	l.sealer.stop()
	l.rewriters.Wait()
	act := l.segs[len(l.segs)-1]
	act.unreserve()
	err := act.f.Sync()
	if err != nil {
		err = fmt.Errorf("close: sync %s: %w", act.path(logSuffix), err)
	}
	l.mu.Lock()
	segs := l.segs
	l.segs = nil
	l.mu.Unlock()
	for _, s := range segs {
		l.cache.dropSegment(s.id)
		s.release()
	}
	return err
}

// TruncateFront moves the log start offset to offset (retention,
// DeleteRecords) and deletes every segment that lies wholly below it. The new
// start is persisted atomically before any file is deleted. If offset is
// EndOffset the active segment is rolled first so it can go too. An offset at
// or below StartOffset is a no-op.
//
// Errors: ErrClosed; ErrOffsetOutOfRange if offset > EndOffset; I/O errors.
func (l *Log) TruncateFront(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed, start, end, lastIdx := l.closed, l.start, l.end, l.lastIndex
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if offset > end {
		return fmt.Errorf("truncate front to %d, end offset %d: %w", offset, end, ErrOffsetOutOfRange)
	}
	if offset <= start {
		return nil
	}
	if act := l.segs[len(l.segs)-1]; offset == end && act.meta.End > act.meta.Base {
		if err := l.roll(); err != nil {
			return fmt.Errorf("truncate front: roll: %w", err)
		}
	}
	// The state records LastIndex: it must not claim frames a crash could
	// still take away.
	act := l.segs[len(l.segs)-1]
	if err := act.f.Sync(); err != nil {
		return fmt.Errorf("truncate front: sync %s: %w", act.path(logSuffix), err)
	}
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if err := writeState(l.fs, l.dir, logState{Start: offset, End: end, LastIndex: lastIdx}); err != nil {
		return fmt.Errorf("truncate front: write state: %w", err)
	}
	l.mu.Lock()
	l.start = offset
	var gone []*segment
	for len(l.segs) > 1 && l.segs[0].meta.End <= offset {
		gone = append(gone, l.segs[0])
		l.segs = l.segs[1:]
	}
	if len(gone) > 0 {
		l.maxTs, l.maxTsOff = -1, -1
		for _, s := range l.segs {
			if s.meta.MaxTs > l.maxTs {
				l.maxTs, l.maxTsOff = s.meta.MaxTs, s.meta.MaxTsOff
			}
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, s := range gone {
		for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			if err := l.fs.Remove(s.path(suf)); err != nil {
				errs = append(errs, err)
			}
		}
		l.cache.dropSegment(s.id)
		s.release()
	}
	if len(gone) > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The start offset is persisted; a file left behind is below it and
		// Open deletes it.
		return fmt.Errorf("truncate front: delete segments: %w", err)
	}
	return nil
}

// StartOffset is the log start offset: the first offset Read accepts.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// EndOffset is the next offset to be written (the high watermark).
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

// LastIndex is the last Raft index stored in the files (0 if none).
func (l *Log) LastIndex() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastIndex
}

// MaxTimestamp returns the largest timestamp in the log and the offset of
// the record carrying it (Kafka ListOffsets MAX_TIMESTAMP), or (-1, -1) if the
// log has no record. Segments deleted by TruncateFront no longer count. The
// record is found by decoding the batch that holds the timestamp when the
// batch is uncompressed and uses CreateTime; otherwise (or if the read
// fails) the offset is that batch's first offset at or after StartOffset.
func (l *Log) MaxTimestamp() (timestamp, offset int64) {
	l.mu.RLock()
	ts, off, start := l.maxTs, l.maxTsOff, l.start
	l.mu.RUnlock()
	if ts < 0 || off < 0 {
		return -1, -1
	}
	off = max(off, start)
	b, err := l.Read(off, 1)
	if err != nil || len(b) == 0 {
		return ts, off
	}
	bh, err := ParseBatchHeader(b)
	if err != nil || bh.MaxTimestamp != ts {
		return ts, off
	}
	if o, _, ok := recordAtOrAfter(&bh, b[:bh.Size()], ts, start); ok {
		return ts, o
	}
	return ts, off
}

// Size is the stored bytes of all segments' .log files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.meta.Size
	}
	return n
}

// Segments describes the segments, oldest first; the last is active.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, 0, len(l.segs))
	for _, s := range l.segs {
		m := s.meta
		si := SegmentInfo{BaseOffset: m.Base, EndOffset: m.End, Size: m.Size, MaxTimestamp: m.MaxTs,
			FirstIndex: m.FirstIndex, LastIndex: m.LastIndex, Sealed: s.sealed, Rewritten: m.Rewritten != noRewrite}
		if m.LastPos >= 0 {
			si.Created = time.UnixMilli(m.FirstAppend)
		}
		out = append(out, si)
	}
	return out
}
