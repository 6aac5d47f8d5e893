package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
)

// Checkpoint is a pinned, consistent image of a Log for a Raft snapshot: the
// segment files as they were (sealed ones are immutable, the active one is
// append-only and pinned at its length), the start and end offsets and the
// last Raft index. Pinning keeps the files open, so retention and the
// background rewrite may go on; their old contents stay readable until Close.
type Checkpoint struct {
	mu        sync.Mutex
	views     []segView
	start     int64
	end       int64
	lastIndex uint64
	closed    bool
}

// Checkpoint pins the current segments. It is cheap (no I/O) and safe while
// Append continues. The caller must Close it.
//
// Errors: ErrClosed.
func (l *Log) Checkpoint() (*Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	c := &Checkpoint{start: l.start, end: l.end, lastIndex: l.lastIndex}
	for _, s := range l.segs {
		s.acquire()
		c.views = append(c.views, segView{s: s, limit: s.meta.Size, idx: s.idx, meta: s.meta})
	}
	return c, nil
}

// LastIndex is the last Raft index the checkpoint contains.
func (c *Checkpoint) LastIndex() uint64 { return c.lastIndex }

// Snapshot stream layout (little-endian):
//
//	header:  magic "CHKS" u32, version u32, start i64, end i64, lastIndex u64,
//	         segments u32, crc32c of the preceding header bytes u32
//	segment: base i64, length i64, crc32c of these 16 bytes u32,
//	         then length bytes of the .log file, then their crc32c u32
//	trailer: magic "CHKE" u32
const (
	streamMagic   = 0x534b4843 // "CHKS"
	streamEnd     = 0x454b4843 // "CHKE"
	streamVersion = 1
	streamHdrSize = 4 + 4 + 8 + 8 + 8 + 4 + 4
	streamSegSize = 8 + 8 + 4
)

// WriteTo streams the pinned segments to w in a self-describing format that
// Restore reads. Indexes are not sent: Restore rebuilds them while it
// verifies every frame.
//
// Errors: ErrClosed; read errors of the pinned files; w's errors.
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	cw := &countWriter{w: w}
	le := binary.LittleEndian
	h := make([]byte, 0, streamHdrSize)
	h = le.AppendUint32(h, streamMagic)
	h = le.AppendUint32(h, streamVersion)
	h = le.AppendUint64(h, uint64(c.start))
	h = le.AppendUint64(h, uint64(c.end))
	h = le.AppendUint64(h, c.lastIndex)
	h = le.AppendUint32(h, uint32(len(c.views)))
	h = le.AppendUint32(h, crc32.Checksum(h, castagnoli))
	if _, err := cw.Write(h); err != nil {
		return cw.n, err
	}
	buf := make([]byte, 1<<20)
	for _, v := range c.views {
		sh := make([]byte, 0, streamSegSize)
		sh = le.AppendUint64(sh, uint64(v.meta.Base))
		sh = le.AppendUint64(sh, uint64(v.limit))
		sh = le.AppendUint32(sh, crc32.Checksum(sh, castagnoli))
		if _, err := cw.Write(sh); err != nil {
			return cw.n, err
		}
		var crc uint32
		for pos := int64(0); pos < v.limit; {
			n := min(int64(len(buf)), v.limit-pos)
			if _, err := v.s.f.ReadAt(buf[:n], pos); err != nil {
				return cw.n, fmt.Errorf("checkpoint: read %s at %d: %w", v.s.path(logSuffix), pos, err)
			}
			crc = crc32.Update(crc, castagnoli, buf[:n])
			if _, err := cw.Write(buf[:n]); err != nil {
				return cw.n, err
			}
			pos += n
		}
		if _, err := cw.Write(le.AppendUint32(nil, crc)); err != nil {
			return cw.n, err
		}
	}
	_, err := cw.Write(le.AppendUint32(nil, streamEnd))
	return cw.n, err
}

// Close unpins the files. Further WriteTo calls return ErrClosed.
func (c *Checkpoint) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	releaseViews(c.views)
	c.views = nil
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// restoreTmp and restoreOld are the sibling directories Restore uses.
func restoreTmp(dir string) string { return filepath.Clean(dir) + ".restore" + tmpSuffix }
func restoreOld(dir string) string { return filepath.Clean(dir) + ".restore-old" + tmpSuffix }

// Restore replaces dir's contents with the snapshot stream r (written by
// Checkpoint.WriteTo). It writes and verifies everything in a sibling
// temporary directory first (every frame's CRC, offsets continuous, indexes
// rebuilt), then swaps it in with renames, so a crash leaves either the old
// log or the new one; Open finishes an interrupted swap. The Log on dir must
// be closed; the caller Opens it afterwards.
//
// Errors: a *CorruptError (ErrCorrupt) for a damaged or inconsistent
// stream; I/O errors.
func Restore(dir string, r io.Reader, opts *Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	fsys := o.FS
	if err := recoverRestore(fsys, dir); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	tmp := restoreTmp(dir)
	if err := fsys.RemoveAll(tmp); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := fsys.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := restoreInto(fsys, tmp, bufio.NewReaderSize(r, 64<<10), o.IndexIntervalBytes); err != nil {
		fsys.RemoveAll(tmp)
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	old := restoreOld(dir)
	if err := fsys.RemoveAll(old); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if _, err := fsys.Stat(dir); err == nil {
		if err := fsys.Rename(dir, old); err != nil {
			return fmt.Errorf("restore %s: %w", dir, err)
		}
	}
	if err := fsys.Rename(tmp, dir); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := fsys.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := fsys.RemoveAll(old); err != nil {
		return fmt.Errorf("restore %s: remove old contents: %w", dir, err)
	}
	return nil
}

// recoverRestore finishes or undoes a Restore interrupted by a crash. The old
// directory exists only once the new one was complete and synced, so: if
// dir is missing, the new one is moved in; leftovers are removed.
func recoverRestore(fsys FS, dir string) error {
	tmp, old := restoreTmp(dir), restoreOld(dir)
	_, errOld := fsys.Stat(old)
	if errOld == nil {
		if _, err := fsys.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := fsys.Rename(tmp, dir); err != nil {
				return fmt.Errorf("finish interrupted restore: %w", err)
			}
		}
		if err := fsys.RemoveAll(old); err != nil {
			return err
		}
	}
	if _, err := fsys.Stat(tmp); err == nil {
		return fsys.RemoveAll(tmp)
	}
	return nil
}

func restoreInto(fsys FS, dir string, r io.Reader, interval int) error {
	le := binary.LittleEndian
	streamErr := func(pos int64, format string, args ...any) error {
		return &CorruptError{Segment: "snapshot stream", Pos: pos, Reason: fmt.Sprintf(format, args...)}
	}
	var read int64
	readFull := func(b []byte) error {
		n, err := io.ReadFull(r, b)
		read += int64(n)
		if err != nil {
			return streamErr(read, "truncated: %v", err)
		}
		return nil
	}
	h := make([]byte, streamHdrSize)
	if err := readFull(h); err != nil {
		return err
	}
	if le.Uint32(h) != streamMagic || le.Uint32(h[4:]) != streamVersion ||
		crc32.Checksum(h[:streamHdrSize-4], castagnoli) != le.Uint32(h[streamHdrSize-4:]) {
		return streamErr(0, "bad header")
	}
	st := logState{Start: int64(le.Uint64(h[8:])), End: int64(le.Uint64(h[16:])), LastIndex: le.Uint64(h[24:])}
	nsegs := int(le.Uint32(h[32:]))
	if nsegs < 1 || st.Start < 0 || st.End < st.Start {
		return streamErr(0, "bad header values")
	}
	buf := make([]byte, 256<<10)
	var prev *segMeta
	for i := 0; i < nsegs; i++ {
		sh := make([]byte, streamSegSize)
		if err := readFull(sh); err != nil {
			return err
		}
		if crc32.Checksum(sh[:16], castagnoli) != le.Uint32(sh[16:]) {
			return streamErr(read-streamSegSize, "bad segment header")
		}
		base, length := int64(le.Uint64(sh)), int64(le.Uint64(sh[8:]))
		if base < 0 || length < 0 || (prev != nil && base != prev.End) {
			return streamErr(read-streamSegSize, "segment base %d length %d does not follow", base, length)
		}
		path := filepath.Join(dir, segmentName(base)+logSuffix)
		f, err := fsys.Create(path)
		if err != nil {
			return err
		}
		var crc uint32
		for pos := int64(0); pos < length; {
			n := min(int64(len(buf)), length-pos)
			if err := readFull(buf[:n]); err != nil {
				f.Close()
				return err
			}
			crc = crc32.Update(crc, castagnoli, buf[:n])
			if _, err := f.WriteAt(buf[:n], pos); err != nil {
				f.Close()
				return err
			}
			pos += n
		}
		tail := make([]byte, 4)
		if err := readFull(tail); err != nil {
			f.Close()
			return err
		}
		if le.Uint32(tail) != crc {
			f.Close()
			return streamErr(read, "segment %d data crc mismatch", base)
		}
		res, err := scanFrames(f, base, length, interval)
		if err == nil && res.stopErr != nil {
			err = &CorruptError{Segment: path, Pos: res.stopPos, Reason: "restored segment: " + res.stopErr.Error()}
		}
		if err == nil && i < nsegs-1 {
			err = writeIndexes(fsys, dir, &res.meta, res.idx)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		prev = &res.meta
	}
	tail := make([]byte, 4)
	if err := readFull(tail); err != nil {
		return err
	}
	if le.Uint32(tail) != streamEnd {
		return streamErr(read, "bad trailer")
	}
	if prev.End != st.End {
		return streamErr(read, "segments end at offset %d, header says %d", prev.End, st.End)
	}
	if err := writeState(fsys, dir, st); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}
