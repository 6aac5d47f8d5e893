package segment

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// File names in a partition directory. Segments are named by their base
// offset in 20 digits, as Kafka does.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	tmpSuffix       = ".tmp"
	metaFileName    = "meta"
)

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// parseSegmentName returns the base offset of a "<20 digits>.log" name.
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(stem, 10, 64)
	return v, err == nil && v >= 0
}

// segment is one .log file and its in-memory index. A sealed segment is
// immutable; the active one grows under Log.mu. The file is shared by the
// Log and by readers and checkpoints through a reference count: it is closed
// when the last reference goes, so a reader keeps reading a segment that
// retention deleted or the background rewrite replaced.
type segment struct {
	id   uint64 // unique per file object, the cache key
	dir  string
	f    File
	refs atomic.Int64

	// Guarded by Log.mu while active; immutable once sealed.
	meta   segMeta
	idx    []indexEntry
	ib     indexBuilder
	sealed bool

	// reserved is the file offset up to which blocks are preallocated past
	// the data (see reserve); the writer's alone.
	reserved int64
	// writtenBack is the file offset up to which writeback was started
	// (see startWriteback); the writer's alone.
	writtenBack int64
}

var segmentIDs atomic.Uint64

func newSegment(dir string, f File, meta segMeta, idx []indexEntry, ib indexBuilder) *segment {
	// What the file held when opened is not this process's to write out.
	s := &segment{id: segmentIDs.Add(1), dir: dir, f: f, meta: meta, idx: idx, ib: ib, writtenBack: meta.Size}
	s.refs.Store(1)
	return s
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentName(s.meta.Base)+suffix)
}

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// scanResult is what scanning a segment's frames from the start found.
type scanResult struct {
	meta segMeta
	idx  []indexEntry
	ib   indexBuilder
	// stopPos and stopErr: where and why the scan stopped before the end of
	// the file (stopErr nil: it reached the end cleanly).
	stopPos int64
	stopErr *frameReadError
}

// scanFrames reads and verifies every frame of f from the start up to size,
// checking that frames continue each other (offsets from base, Raft indexes
// increasing). It stops at the first frame that fails.
func scanFrames(f File, base, size int64, interval int) (scanResult, error) {
	r := scanResult{meta: newSegMeta(base), ib: newIndexBuilder(interval)}
	pos := int64(0)
	for pos < size {
		h, _, err := readFrame(f, pos, size)
		if err == nil {
			switch {
			case h.BaseOffset != r.meta.End:
				err = &frameReadError{err: fmt.Errorf("frame base offset %d, want %d", h.BaseOffset, r.meta.End)}
			case r.meta.LastPos >= 0 && h.FirstIndex <= r.meta.LastIndex:
				err = &frameReadError{err: fmt.Errorf("frame raft index %d not after %d", h.FirstIndex, r.meta.LastIndex)}
			}
		}
		if err != nil {
			var fe *frameReadError
			if !errors.As(err, &fe) {
				fe = &frameReadError{err: err}
			}
			if fe.io {
				return r, fmt.Errorf("read frame at %d: %w", pos, fe.err)
			}
			r.stopPos, r.stopErr = pos, fe
			return r, nil
		}
		if e, ok := r.ib.add(&h, pos); ok {
			r.idx = append(r.idx, e)
		}
		r.meta.add(&h, pos)
		pos += h.size()
	}
	r.stopPos = pos
	return r, nil
}

// loadSealed opens a sealed segment: its index files if they match the log
// file, otherwise a verifying scan that rebuilds them (rebuilt reports that).
func loadSealed(fs FS, dir string, base int64, interval int) (s *segment, rebuilt bool, err error) {
	path := filepath.Join(dir, segmentName(base)+logSuffix)
	f, err := fs.Open(path)
	if err != nil {
		return nil, false, err
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	if meta, idx, ierr := readIndexes(fs, dir, base); ierr == nil && indexMatches(f, &meta, base, size) {
		s := newSegment(dir, f, meta, idx, indexBuilder{})
		s.sealed = true
		return s, false, nil
	}
	r, err := scanFrames(f, base, size, interval)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	if r.stopErr != nil {
		f.Close()
		return nil, false, &CorruptError{Segment: path, Pos: r.stopPos, Reason: "sealed segment: " + r.stopErr.Error()}
	}
	s = newSegment(dir, f, r.meta, r.idx, indexBuilder{})
	s.sealed = true
	return s, true, nil
}

// readIndexes reads and decodes a segment's .index and .timeindex files.
func readIndexes(fs FS, dir string, base int64) (segMeta, []indexEntry, error) {
	stem := filepath.Join(dir, segmentName(base))
	oi, err := readFile(fs, stem+indexSuffix)
	if err != nil {
		return segMeta{}, nil, err
	}
	ti, err := readFile(fs, stem+timeIndexSuffix)
	if err != nil {
		return segMeta{}, nil, err
	}
	return decodeIndexes(oi, ti)
}

// indexMatches checks an index summary against the log file: same base,
// same size, and the last frame where the index says, with the CRC it says.
func indexMatches(f File, m *segMeta, base, size int64) bool {
	if m.Base != base || m.Size != size {
		return false
	}
	if size == 0 {
		return true
	}
	var hb [frameHeaderSize]byte
	if _, err := f.ReadAt(hb[:], m.LastPos); err != nil {
		return false
	}
	h, err := parseFrameHeader(hb[:])
	return err == nil && h.CRC == m.LastCRC && m.LastPos+h.size() == size
}

// writeIndexes writes a sealed segment's index files (tmp + rename).
func writeIndexes(fs FS, dir string, m *segMeta, idx []indexEntry) error {
	oi, ti := encodeIndexes(m, idx)
	stem := filepath.Join(dir, segmentName(m.Base))
	// The time index first: a crash between the two renames leaves a pair
	// that disagrees, which Open detects and rebuilds.
	if err := writeFileAtomic(fs, stem+timeIndexSuffix, ti); err != nil {
		return err
	}
	return writeFileAtomic(fs, stem+indexSuffix, oi)
}
