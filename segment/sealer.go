package segment

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// sealer rewrites sealed segments from the active codec to
// Options.SealedCodec in one background goroutine. A rewrite reads the old
// file through its own reference, writes "<base>.log.rewrite.tmp", fsyncs
// it, and then, holding Log.fileMu (so TruncateFront cannot delete the
// segment meanwhile), renames it over the old file, writes the new index
// files and swaps the segment in the list. Readers that pinned the old file
// keep reading it; new readers get the new one. A crash leaves either the
// old file (and a .tmp that Open deletes) or the new file, whose index Open
// rebuilds if the crash came before the index files were replaced.
type sealer struct {
	l      *Log
	target Codec
	mu     sync.Mutex
	queue  []*segment
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	active bool
}

func startSealer(l *Log) *sealer {
	s := &sealer{l: l, target: l.opts.SealedCodec, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	s.active = !l.opts.DisableBackgroundRewrite && l.opts.SealedCodec != l.opts.ActiveCodec
	if !s.active {
		close(s.done)
		return s
	}
	go s.run()
	return s
}

// enqueue schedules a sealed segment for rewriting, if it needs it.
func (s *sealer) enqueue(seg *segment) {
	if !s.active || seg.meta.Rewritten == s.target || seg.meta.Size == 0 {
		return
	}
	seg.acquire()
	s.mu.Lock()
	s.queue = append(s.queue, seg)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sealer) stop() {
	if !s.active {
		return
	}
	close(s.quit)
	<-s.done
	s.mu.Lock()
	for _, seg := range s.queue {
		seg.release()
	}
	s.queue = nil
	s.mu.Unlock()
}

func (s *sealer) stopping() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

func (s *sealer) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		var seg *segment
		if len(s.queue) > 0 {
			seg = s.queue[0]
			s.queue = s.queue[1:]
		}
		s.mu.Unlock()
		if seg == nil {
			select {
			case <-s.quit:
				return
			case <-s.wake:
				continue
			}
		}
		if err := s.rewrite(seg); err != nil && !errors.Is(err, errStopping) {
			s.l.log.Error("rewrite sealed segment", "segment", seg.path(logSuffix), "codec", s.target, "err", err)
		}
		seg.release()
		if s.stopping() {
			return
		}
	}
}

var errStopping = errors.New("segment: log closing")

// sealedFrameBytes is the payload size the rewrite merges frames up to. It
// makes the sealed ratio independent of the append size (4 KiB appends of
// JSON-like text seal to the same ratio as 64 KiB ones, see the package doc)
// while a read of one offset decompresses at most this much.
const sealedFrameBytes = 256 << 10

// rewrite rewrites old to the target codec and swaps it in.
func (s *sealer) rewrite(old *segment) error {
	l := s.l
	tmp := old.path(logSuffix + ".rewrite" + tmpSuffix)
	f, err := l.fs.Create(tmp)
	if err != nil {
		return err
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
		if len(pdata) > 0 && s.target != CodecNone {
			var ok bool
			if buf, ok = compress(s.target, buf[:0], pdata); ok {
				h.Codec, payload = s.target, buf
			}
		}
		return write(h, payload)
	}
	for pos := int64(0); pos < old.meta.Size; {
		if s.stopping() {
			return errStopping
		}
		h, stored, err := readFrame(old.f, pos, old.meta.Size)
		if err != nil {
			return l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: pos, Reason: err.Error()})
		}
		if h.Flags&flagPrecompressed != 0 {
			if err := flush(); err != nil {
				return err
			}
			if err := write(h, stored); err != nil {
				return err
			}
			pos += h.size()
			continue
		}
		data, err := decodeFramePayload(&h, stored)
		if err != nil {
			return l.corrupt(&CorruptError{Segment: old.path(logSuffix), Pos: pos, Reason: err.Error()})
		}
		pos += h.size()
		if have && len(pdata)+len(data) > sealedFrameBytes {
			if err := flush(); err != nil {
				return err
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
		return err
	}
	if meta.End != old.meta.End || meta.LastIndex != old.meta.LastIndex {
		return fmt.Errorf("rewrite ended at offset %d index %d, want %d %d", meta.End, meta.LastIndex, old.meta.End, old.meta.LastIndex)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	meta.Rewritten = s.target

	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.RLock()
	i := slices.Index(l.segs, old)
	l.mu.RUnlock()
	if i < 0 || s.stopping() {
		return nil // deleted by TruncateFront meanwhile, or closing
	}
	if err := l.fs.Rename(tmp, old.path(logSuffix)); err != nil {
		return err
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
	l.log.Debug("rewrote sealed segment", "segment", old.path(logSuffix), "codec", s.target, "old_size", old.meta.Size, "new_size", meta.Size)
	return nil
}
